"""A linear layer whose output was already computed step by step: one batched product for its gradients.

A free-running generator must project each step's hidden state to logits inside its loop (the next token
depends on them). Recording those per-step products in the graph makes the backward pass run ``T`` small
weight-gradient products of size (V, B) x (B, H), each allocating and accumulating a (V, H) gradient: slow, and
the churn of those blocks fragments the CPU heap.

:func:`known_output_linear` instead takes the stacked hidden states (B, T, H) and the logits the loop already
computed without a graph (B, T, V), returns those exact logits, and back-propagates as
``hidden @ weight.T + bias`` would: one (B*T, V) x (V, H) product for the hidden states' gradient and one
(V, B*T) x (B*T, H) product for the weight's. The forward values are bitwise the loop's, so tokens chosen from
them stay consistent with the graph.
"""

from __future__ import annotations

import torch


class _KnownOutputLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, output):
        ctx.save_for_backward(hidden, weight)
        ctx.has_bias = bias is not None
        return output.view_as(output)

    @staticmethod
    def backward(ctx, grad_output):
        hidden, weight = ctx.saved_tensors
        dtype = grad_output.dtype  # the loop's compute dtype: bfloat16 under CPU autocast, as nn.Linear's grads
        grad = grad_output.reshape(-1, grad_output.shape[-1])  # (N, V)
        grad_hidden = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_hidden = (grad @ weight.to(dtype)).to(hidden.dtype).view(hidden.shape)
        if ctx.needs_input_grad[1]:
            grad_weight = (grad.t() @ hidden.reshape(-1, hidden.shape[-1]).to(dtype)).to(weight.dtype)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.float().sum(dim=0).to(weight.dtype)
        return grad_hidden, grad_weight, grad_bias, None


def known_output_linear(
    hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, output: torch.Tensor
) -> torch.Tensor:
    """``output`` (..., V), already equal to ``hidden @ weight.T + bias``, with that product's gradients.

    Args:
        hidden: (..., H) inputs of the projection, with their graph.
        weight / bias: the projection's parameters, (V, H) and (V,) or None.
        output: the projection's values, computed without a graph; returned as a view.
    """
    if output.shape[:-1] != hidden.shape[:-1] or output.shape[-1] != weight.shape[0]:
        raise ValueError(f"output {tuple(output.shape)} does not match hidden {tuple(hidden.shape)} x weight.T")
    return _KnownOutputLinear.apply(hidden, weight, bias, output)
