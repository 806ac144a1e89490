"""textgan-train names a bf16 precision that this CPU would run ~20x slower than float32, and the option to use."""

from hydra_compose import compose_config

import textgan.numerics
from textgan.train import _warn_if_slow_precision


def test_textgan_train_warns_before_a_slow_bf16_cpu_run(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(textgan.numerics, "cpu_has_bf16_kernels", lambda: False)
    with caplog.at_level("WARNING", logger="textgan.train"):
        _warn_if_slow_precision(compose_config(tmp_path, "trainer=cpu", "trainer.precision=bf16-mixed"))
    assert "trainer.precision=32-true" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="textgan.train"):
        _warn_if_slow_precision(compose_config(tmp_path, "trainer=cpu"))  # 32-true: nothing to say
    assert caplog.text == ""
