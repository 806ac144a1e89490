"""textgan-train emulates bf16 products on a CPU without bf16 kernels, and warns when told to run them natively."""

import contextlib

from hydra_compose import compose_config

import textgan.kernels.numerics
from textgan.kernels.bf16_products import EmulatedBF16Products
from textgan.train import _bf16_products


def test_bf16_on_a_cpu_without_kernels_is_emulated_and_native_on_request_is_warned_of(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(textgan.kernels.numerics, "cpu_has_bf16_kernels", lambda: False)
    bf16 = ("trainer=cpu", "trainer.precision=bf16-mixed")
    with caplog.at_level("INFO", logger="textgan.train"):
        chosen = _bf16_products(compose_config(tmp_path, *bf16))
    assert isinstance(chosen, EmulatedBF16Products)
    assert "computed in float32 and rounded to bf16" in caplog.text and "no bf16 kernels" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="textgan.train"):
        chosen = _bf16_products(compose_config(tmp_path, *bf16, "bf16_products=native"))
    assert isinstance(chosen, contextlib.nullcontext)
    assert "bf16_products=auto" in caplog.text and "trainer.precision=32-true" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="textgan.train"):
        chosen = _bf16_products(compose_config(tmp_path, "trainer=cpu"))  # 32-true: nothing to do or say
    assert isinstance(chosen, contextlib.nullcontext) and caplog.text == ""


def test_bf16_on_a_cpu_with_kernels_runs_them_unless_emulation_is_asked_for(tmp_path, monkeypatch):
    monkeypatch.setattr(textgan.kernels.numerics, "cpu_has_bf16_kernels", lambda: True)
    bf16 = ("trainer=cpu", "trainer.precision=bf16-mixed")
    assert isinstance(_bf16_products(compose_config(tmp_path, *bf16)), contextlib.nullcontext)
    forced = _bf16_products(compose_config(tmp_path, *bf16, "bf16_products=emulated"))
    assert isinstance(forced, EmulatedBF16Products)
