"""The CPU floating-point mode that textgan-train sets (``flush_denormal``)."""

import pytest
import torch

from textgan.numerics import flush_denormals


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
