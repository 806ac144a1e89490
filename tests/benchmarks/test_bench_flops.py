"""The benchmark's MFU counts what its docstring says: 2 m n k per product, convolutions in their dense torch
formulation, forward and backward; the utilisation refuses a zero time or peak."""

from __future__ import annotations

import pytest
import torch

from textgan.benchmarks.flops import count_flops, gemm_flops_per_second, utilisation
from textgan.models.max_over_time_conv import MaxOverTimeConv


def test_a_product_forward_and_backward_counts_three_products():
    a = torch.randn(7, 5, requires_grad=True)
    b = torch.randn(5, 3, requires_grad=True)
    assert count_flops(lambda: a @ b) == 2 * 7 * 5 * 3
    # backward: grad_a = g @ b.T and grad_b = a.T @ g, each 2 m n k again
    assert count_flops(lambda: (a @ b).sum().backward()) == 3 * 2 * 7 * 5 * 3


def test_the_discriminators_convolution_is_counted_in_its_torch_formulation():
    width, length, batch = 4, 9, 6
    conv = MaxOverTimeConv(width, filter_sizes=[2, 3], num_filters=[5, 7], backend="torch")
    x = torch.randn(batch, length, width)
    expected = sum(2 * batch * (length - f + 1) * c * (f * width) for f, c in [(2, 5), (3, 7)])
    assert count_flops(lambda: conv(x)) == expected


def test_utilisation_is_achieved_over_peak_and_refuses_a_zero_time():
    assert utilisation(10**9, 0.5, 4e9) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="seconds"):
        utilisation(10**9, 0.0, 4e9)


def test_the_gemm_peak_is_a_plausible_rate():
    rate = gemm_flops_per_second("cpu", "fp32", n=256, repeats=2)
    assert 1e7 < rate < 1e14  # between a very slow core and more than any CPU's FP32 peak
