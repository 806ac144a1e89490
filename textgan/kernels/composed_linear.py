"""Two linear layers with nothing between them, computed as the one affine map they compose to.

RelGAN's discriminator ends in ``linear(1200 -> 100)`` followed directly by ``linear(100 -> 1)``, with no
nonlinearity between (``models/rmc_vanilla.py``): the logit is ``w2 (W1 h + b1) + b2 = (w2 W1) h + (w2 b1 + b2)``.
Both layers stay parameters of their own (initialisation, spectral norm, optimiser state, checkpoints are
unchanged); only the arithmetic is reassociated. Forward, the composed (1, 1200) row is formed once per call
and each of the B * R rows costs 1,200 multiply-adds instead of 120,100. Backward, with ``g`` the logits'
gradient and ``s = g^T h`` the gradient-weighted sum of the input rows, the layers' gradients are

    dh = g (w2 W1)      dW1 = w2^T s      db1 = w2^T sum(g)      dw2 = s W1^T + sum(g) b1^T      db2 = sum(g)

so the (B * R, 100) hidden activations and their three (B * R) x 1200 x 100 products are never formed: about
3 GFLOP per discriminator call at RelGAN's oracle size (B * R = 4096), ~5 ms of a 2-core CPU's bf16 time.
The values are the two layers' within rounding (the sums are taken in another order). Under autocast the input
product runs in the autocast dtype and the output has that dtype, as ``nn.Linear``'s would; the parameters'
gradients are formed in float32. Gradients of gradients (WGAN-GP's penalty) work: the backward pass is torch
operations, recorded when a graph is requested.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.kernels.weight_casts import autocast_dtype


class _ComposedLinear(torch.autograd.Function):
    """x (N, F), w1 (H, F), b1 (H,) or None, w2 (O, H), b2 (O,) or None -> (N, O)."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, dtype):
        weight, bias = _composed(w1, b1, w2, b2)  # float32 (O, F), (O,)
        with torch.autocast(x.device.type, enabled=False):
            out = (x.to(dtype) @ weight.to(dtype).t()).to(weight.dtype)
            if bias is not None:
                out = out + bias
        ctx.save_for_backward(x, w1, b1, w2, b2)
        ctx.dtype = dtype
        return out.to(dtype)

    @staticmethod
    def backward(ctx, grad):
        x, w1, b1, w2, b2 = ctx.saved_tensors
        need_x, need_w1, need_b1, need_w2, need_b2 = ctx.needs_input_grad[:5]
        dtype = ctx.dtype
        wide = torch.promote_types(w1.dtype, torch.float32)  # the parameters' gradients are formed in this
        with torch.autocast(x.device.type, enabled=False):
            grad = grad.to(wide)  # (N, O)
            total = grad.sum(0)  # (O,)
            weighted = (grad.t().to(dtype) @ x.to(dtype)).to(wide) if need_w1 or need_w2 else None  # (O, F): g^T x
            grad_x = grad_w1 = grad_b1 = grad_w2 = grad_b2 = None
            if need_x:
                weight, _ = _composed(w1, None, w2, None)
                grad_x = (grad.to(dtype) @ weight.to(dtype)).to(x.dtype)
            if need_w1:
                grad_w1 = (w2.t().to(wide) @ weighted).to(w1.dtype)
            if need_b1 and b1 is not None:
                grad_b1 = (w2.t().to(wide) @ total).to(b1.dtype)
            if need_w2:
                grad_w2 = weighted @ w1.t().to(wide)
                if b1 is not None:
                    grad_w2 = grad_w2 + total.unsqueeze(1) * b1.to(wide)
                grad_w2 = grad_w2.to(w2.dtype)
            if need_b2 and b2 is not None:
                grad_b2 = total.to(b2.dtype)
        return grad_x, grad_w1, grad_b1, grad_w2, grad_b2, None


def _composed(w1, b1, w2, b2) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The composed map's weight ``w2 w1`` (O, F) and bias ``w2 b1 + b2`` (O,), in float32 or wider."""
    wide = torch.promote_types(w1.dtype, torch.float32)
    w2 = w2.to(wide)
    weight = w2 @ w1.to(wide)
    if b1 is None and b2 is None:
        return weight, None
    bias = torch.zeros(w2.shape[0], dtype=wide, device=w2.device) if b1 is None else w2 @ b1.to(wide)
    return weight, bias if b2 is None else bias + b2.to(wide)


def composed_linear(x: torch.Tensor, first: nn.Linear, second: nn.Linear) -> torch.Tensor:
    """``second(first(x))`` for x (..., F) -> (..., O), computed as one affine map (see the module docstring)."""
    kind = x.device.type
    dtype = autocast_dtype(kind) or torch.promote_types(x.dtype, first.weight.dtype)
    shape = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    out = _ComposedLinear.apply(flat, first.weight, first.bias, second.weight, second.bias, dtype)
    return out.view(*shape, second.out_features)
