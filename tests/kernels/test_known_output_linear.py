"""known_output_linear: the loop's logits forward, a linear layer's gradients backward."""

import pytest
import torch
import torch.nn.functional as F

from textgan.kernels.known_output_linear import known_output_linear


def _inputs(dtype=torch.float32):
    torch.manual_seed(0)
    hidden = torch.randn(4, 7, 6, requires_grad=True)
    weight = torch.randn(11, 6, requires_grad=True)
    bias = torch.randn(11, requires_grad=True)
    return hidden, weight, bias


def _grads(output, upstream, *tensors):
    return torch.autograd.grad((output.float() * upstream).sum(), tensors)


def test_forward_is_the_given_output_and_gradients_are_the_linear_layers():
    hidden, weight, bias = _inputs()
    upstream = torch.randn(4, 7, 11)
    with torch.no_grad():
        precomputed = torch.stack([F.linear(step, weight, bias) for step in hidden.unbind(1)], dim=1)
    output = known_output_linear(hidden, weight, bias, precomputed)
    assert torch.equal(output, precomputed)
    expected = _grads(F.linear(hidden, weight, bias), upstream, hidden, weight, bias)
    for got, want in zip(_grads(output, upstream, hidden, weight, bias), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)


def test_without_bias_and_with_bfloat16_autocast_gradients_follow_the_autocast_linear():
    hidden, weight, _ = _inputs()
    upstream = torch.randn(4, 7, 11)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reference = F.linear(hidden, weight)
        with torch.no_grad():
            precomputed = F.linear(hidden, weight)
        output = known_output_linear(hidden, weight, None, precomputed)
    assert output.dtype == reference.dtype == torch.bfloat16
    got = _grads(output, upstream, hidden, weight)
    want = _grads(reference, upstream, hidden, weight)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.float32
        assert torch.allclose(g, w, rtol=2e-2, atol=2e-2 * float(w.abs().max()))


def test_a_mismatched_output_is_refused():
    hidden, weight, bias = _inputs()
    with pytest.raises(ValueError, match="does not match"):
        known_output_linear(hidden, weight, bias, torch.zeros(4, 7, 10))
