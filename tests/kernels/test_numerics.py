"""The CPU floating-point mode that textgan-train sets (``flush_denormal``)."""

import pytest
import torch

from textgan.kernels.numerics import flush_denormals


def test_flushing_makes_subnormal_results_zero_and_can_be_undone():
    tiny = torch.tensor([1e-30], dtype=torch.float32)
    try:
        if not flush_denormals(True):
            pytest.skip("this CPU cannot flush subnormal floats")
        assert float((tiny * 1e-10)[0]) == 0.0  # 1e-40 is subnormal in float32
        assert float((tiny * 1e-5)[0]) == pytest.approx(1e-35)  # normal numbers are untouched
        flush_denormals(False)
        assert 0.0 < float((tiny * 1e-10)[0]) < 1.2e-38
    finally:
        flush_denormals(False)


def test_bf16_on_a_cpu_without_bf16_kernels_is_named_with_the_option_to_use_instead():
    from textgan.kernels.numerics import slow_bf16_warning

    warning = slow_bf16_warning("bf16-mixed", on_cpu=True, native=False)
    assert warning is not None
    assert "trainer.precision=bf16-mixed" in warning and "trainer.precision=32-true" in warning
    assert slow_bf16_warning("bf16-true", on_cpu=True, native=False) is not None
    assert slow_bf16_warning("bf16-mixed", on_cpu=True, native=True) is None  # AVX-512 / AMX cores
    assert slow_bf16_warning("bf16-mixed", on_cpu=False, native=False) is None  # a GPU run
    assert slow_bf16_warning("32-true", on_cpu=True, native=False) is None


def test_bf16_products_are_emulated_only_on_cpus_without_kernels_unless_forced():
    from textgan.kernels.numerics import bf16_products_mode

    assert bf16_products_mode("auto", "bf16-mixed", on_cpu=True, native=False) == "emulated"
    assert bf16_products_mode("auto", "bf16-true", on_cpu=True, native=True) == "native"
    assert bf16_products_mode("native", "bf16-mixed", on_cpu=True, native=False) == "native"
    assert bf16_products_mode("emulated", "bf16-mixed", on_cpu=True, native=True) == "emulated"
    assert bf16_products_mode("emulated", "32-true", on_cpu=True, native=False) is None  # no bf16 products
    assert bf16_products_mode("emulated", "bf16-mixed", on_cpu=False, native=False) is None  # a GPU run
    with pytest.raises(ValueError, match="bf16_products must be 'auto', 'native' or 'emulated', got 'fast'"):
        bf16_products_mode("fast", "bf16-mixed", on_cpu=True)


def test_the_kernel_query_is_torchs_own():
    from textgan.kernels.numerics import cpu_has_bf16_kernels

    assert cpu_has_bf16_kernels() is bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())

