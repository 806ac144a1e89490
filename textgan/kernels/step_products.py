"""A recurrent cell's per-step linear products, with their parameter gradients computed once for all steps.

Why: a recurrent cell applies the same linear layer at each of ``T`` steps. Autograd gives that layer's weight
its gradient step by step: ``T`` products ``g_t^T x_t`` of size (out, B) x (B, in), each allocating an (out, in)
block and adding it into the running sum (in bfloat16 under autocast, then cast back). At the oracle's size (RMC
1 x 2 x 256, B = 64, T = 20) the cell has four such layers with 1.8 M weights together, so one teacher-forced
backward pass runs 80 thin products and adds 20 x 1.8 M values into gradient blocks. Batching them takes the
bf16 MLE step from 0.172 to 0.164 s at two threads (0.261 to 0.241 s of CPU time at one thread).

How: :class:`StepProducts` casts each layer's parameters once per loop (to the autocast dtype, as ``F.linear``
would) through a node whose backward runs after every step's, since every step uses its output. Each step's
product records its input (detached, in the compute dtype) and, in the backward pass, its output gradient, and
returns only the input's gradient ``g_t @ W``, exactly the product autograd makes. The cast node's backward then
forms the weight gradient as one product over all steps, ``G^T X`` with ``G`` (T*B, out) and ``X`` (T*B, in),
and the bias gradient as one sum, and casts them to the parameters' dtype.

What changes: forward values are bitwise those of ``layer(x)`` under the same autocast; input gradients are
bitwise autograd's; parameter gradients are the same sums in another order, rounded once instead of once per
step (in float32 within rounding; in bfloat16 more accurate than per-step accumulation, see the tests).

Limits: for plain backward passes (``loss.backward()``, ``torch.autograd.grad`` without ``create_graph``); a
second-order pass through these products raises an error instead of returning a wrong gradient. A backward pass
that skips the parameters (``torch.autograd.grad`` of other inputs only) leaves them without the contribution,
as autograd would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from textgan.kernels.weight_casts import autocast_dtype


class _Record:
    """One layer's per-step inputs (forward) and output gradients (backward), by step index."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []
        self.grads: list[torch.Tensor | None] = []


class _CastOnce(torch.autograd.Function):
    @staticmethod
    def forward(ctx, record: _Record, dtype: torch.dtype, *parameters: torch.Tensor):
        ctx.record, ctx.dtypes = record, [p.dtype for p in parameters]
        ctx.set_materialize_grads(False)
        casts = tuple(p.to(dtype) for p in parameters)
        return casts if len(casts) > 1 else casts[0]

    @staticmethod
    def backward(ctx, *unused):
        if torch.is_grad_enabled():
            raise RuntimeError("StepProducts: second-order gradients (create_graph=True) are not supported")
        record: _Record = ctx.record
        steps = [t for t, grad in enumerate(record.grads) if grad is not None]
        if not steps:
            return None, None, *(None for _ in ctx.dtypes)
        grads = torch.cat([record.grads[t].reshape(-1, record.grads[t].shape[-1]) for t in steps])  # (N, out)
        inputs = torch.cat([record.inputs[t].reshape(-1, record.inputs[t].shape[-1]) for t in steps])  # (N, in)
        record.grads = [None] * len(record.grads)  # consumed: a second pass over a retained graph starts afresh
        result = [(grads.t() @ inputs).to(ctx.dtypes[0])]
        if len(ctx.dtypes) > 1:
            result.append(grads.sum(dim=0, dtype=torch.float32).to(ctx.dtypes[1]))
        return None, None, *result


class _StepLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, record: _Record, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None):
        computed = x.to(weight.dtype)
        ctx.record, ctx.step, ctx.input_dtype = record, len(record.inputs), x.dtype
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(weight)
        record.inputs.append(computed.detach())
        record.grads.append(None)
        return F.linear(computed, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor | None):
        if grad is None:
            return None, None, None, None
        (weight,) = ctx.saved_tensors
        ctx.record.grads[ctx.step] = grad.detach()
        grad_input = (grad @ weight).to(ctx.input_dtype) if ctx.needs_input_grad[1] else None
        return None, grad_input, None, None


class StepProducts:
    """Linear layers applied once per step of one recurrent loop, their parameter gradients batched over steps.

    Make one per loop (it holds that loop's records) and call :meth:`linear` in place of ``layer(x)``.
    """

    def __init__(self, device: torch.device) -> None:
        kind = device.type
        self.dtype = autocast_dtype(kind)
        self._layers: dict[nn.Linear, tuple[_Record, torch.Tensor, torch.Tensor | None]] = {}

    def linear(self, layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        """``layer(x)`` for x (..., in) -> (..., out), with the gradients described in the module docstring."""
        entry = self._layers.get(layer)
        if entry is None:
            record = _Record()
            parameters = (layer.weight,) if layer.bias is None else (layer.weight, layer.bias)
            casts = _CastOnce.apply(record, self.dtype or layer.weight.dtype, *parameters)
            weight, bias = (casts, None) if layer.bias is None else casts
            entry = self._layers[layer] = (record, weight, bias)
        record, weight, bias = entry
        return _StepLinear.apply(record, x, weight, bias)
