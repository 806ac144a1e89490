"""Two stacked linear layers computed as their composed affine map: the same values and gradients."""

import pytest
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from textgan.kernels.composed_linear import composed_linear


def layers(bias: bool = True, dtype=torch.float64) -> tuple[nn.Linear, nn.Linear]:
    torch.manual_seed(0)
    return nn.Linear(12, 5, bias=bias).to(dtype), nn.Linear(5, 2, bias=bias).to(dtype)


@pytest.mark.parametrize("bias", [True, False])
def test_values_and_every_gradient_equal_the_two_layers(bias):
    first, second = layers(bias)
    x = torch.randn(3, 7, 12, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 7, 2, dtype=torch.float64)
    parameters = [x, *first.parameters(), *second.parameters()]
    fused = composed_linear(x, first, second)
    reference = second(first(x))
    assert fused.shape == reference.shape and torch.allclose(fused, reference, rtol=1e-12, atol=1e-12)
    for got, want in zip(
        torch.autograd.grad((fused * weight).sum(), parameters),
        torch.autograd.grad((reference * weight).sum(), parameters),
        strict=True,
    ):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gradients_of_gradients_equal_the_two_layers():
    """WGAN-GP differentiates the input's gradient with respect to the parameters."""
    first, second = layers()
    x = torch.randn(6, 12, dtype=torch.float64, requires_grad=True)
    results = []
    for output in (composed_linear(x, first, second), second(first(x))):
        (grad_x,) = torch.autograd.grad(output.square().sum(), x, create_graph=True)
        results.append(torch.autograd.grad(grad_x.square().sum(), [x, *first.parameters(), *second.parameters()]))
    for got, want in zip(*results, strict=True):
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)


def test_only_the_requested_gradients_are_formed():
    first, second = layers()
    for parameter in [*first.parameters(), *second.parameters()]:
        parameter.requires_grad_(False)
    x = torch.randn(4, 12, dtype=torch.float64, requires_grad=True)
    (grad_x,) = torch.autograd.grad(composed_linear(x, first, second).sum(), x)
    assert torch.allclose(grad_x, torch.autograd.grad(second(first(x)).sum(), x)[0])
    assert first.weight.grad is None and second.weight.grad is None


def test_under_autocast_the_output_has_autocasts_type_and_the_parameters_float32_gradients():
    first, second = layers(dtype=torch.float32)
    x = torch.randn(64, 12).to(torch.bfloat16).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = composed_linear(x, first, second)
        reference = second(first(x))
    assert fused.dtype == reference.dtype == torch.bfloat16
    assert torch.allclose(fused.float(), reference.float(), rtol=0.02, atol=0.02)
    parameters = [x, *first.parameters(), *second.parameters()]
    got = torch.autograd.grad(fused.float().sum(), parameters)
    want = torch.autograd.grad(reference.float().sum(), parameters)
    assert got[0].dtype == torch.bfloat16 and all(g.dtype == torch.float32 for g in got[1:])
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a.float(), b.float(), rtol=0.03, atol=0.05)


def test_spectral_norm_parametrised_layers_receive_their_gradients_through_the_parametrisation():
    first, second = layers(dtype=torch.float32)
    spectral_norm(first), spectral_norm(second)
    first.eval(), second.eval()  # no power iteration step: both passes see the same normalised weights
    x = torch.randn(5, 12)
    originals = [first.parametrizations.weight.original, second.parametrizations.weight.original]
    got = torch.autograd.grad(composed_linear(x, first, second).sum(), originals)
    want = torch.autograd.grad(second(first(x)).sum(), originals)
    for a, b in zip(got, want, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)
