"""The highway layer and dropout that follow the max-pooled features in SeqGAN's and RelGAN's discriminators.

Both reference implementations apply ``highway(h, size, num_layers=1, bias=0)`` and then dropout with keep
probability 0.75 (Srivastava et al., 2015, as written in their shared ``highway`` helper)::

    g = relu(x W_g + b_g)      t = sigmoid(x W_t + b_t + gate_bias)      out = dropout(t * g + (1 - t) * x)

``W_g`` and ``W_t`` are stored as the two halves of one (2F, F) linear, so one matrix product serves both: on
RelGAN's (8192, 1200) features it is the discriminator's most expensive layer. On a CPU the dozen elementwise
passes that follow it in torch are fused into one pass each way by a kernel of
:mod:`textgan.models.native_kernels` (bf16 pre-activations under autocast included); elsewhere, or without the
kernels, the same maths runs in torch, with the same dropout masks.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.models import native_kernels


def dropout_bits(shape: torch.Size | tuple[int, ...], p: float) -> tuple[torch.Tensor, int, float] | None:
    """16 random bits per element for dropout with drop probability ``p``: (bits int16, threshold, scale).

    An element is kept iff ``bits < threshold``, with probability ``q = round((1 - p) * 2**16) / 2**16``
    (exact for p = 0.25), and then scaled by ``scale = 1 / q``. Four elements per 64-bit draw make the mask
    about 10x cheaper than ``bernoulli_`` on a CPU. None when ``q`` rounds to 0 or 1 (use ``nn.Dropout``).
    """
    keep_levels = round((1.0 - p) * 65536)
    if not 0 < keep_levels < 65536:
        return None
    count = int(torch.Size(shape).numel())
    words = torch.randint(-(2**63), 2**63 - 1, ((count + 3) // 4,), dtype=torch.int64)
    bits = words.view(torch.int16)[:count].view(shape)
    return bits, keep_levels - 32768, 65536 / keep_levels


class Dropout(nn.Dropout):
    """``nn.Dropout`` drawing its CPU masks with :func:`dropout_bits`; CUDA and in-place use go to torch's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        mask = None if x.device.type != "cpu" or self.inplace else dropout_bits(x.shape, self.p)
        if mask is None:
            return super().forward(x)
        bits, threshold, scale = mask
        return torch.where(bits < threshold, x, 0.0) * scale


def _highway_torch(a: torch.Tensor, x: torch.Tensor, gate_bias: float) -> torch.Tensor:
    """Reference gate: a = [x W_g + b_g | x W_t + b_t] (N, 2F), x (N, F) -> (N, F) in float32 or wider.

    Computed in float32 at least, as the native kernel does (bf16 pre-activations under autocast included).
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    transform, gate = a.to(dtype).chunk(2, dim=-1)
    gate = torch.sigmoid(gate + gate_bias) if gate_bias else torch.sigmoid(gate)
    return torch.lerp(x.to(dtype), torch.relu(transform), gate)  # x + t * (g - x)


def _kernel(direction: str, a: torch.Tensor):
    """float32 a: float32 output; bfloat16 a (autocast): the output, and its gradient, in bfloat16."""
    return getattr(native_kernels.library(), f"highway_{direction}_{'bf16' if a.dtype == torch.bfloat16 else 'f32'}")


class _NativeHighway(torch.autograd.Function):
    """Fused gate + dropout: a (N, 2F) float32 / bfloat16, x (N, F) float32 -> (N, F) in a's type.

    Under autocast (bfloat16 ``a``) the output is rounded to bfloat16 in the kernel, the cast the next product
    would make, and the gradient arriving from that product's backward (bfloat16) is read as it is: the same
    values as a float32 output cast by autocast, two (N, F) passes fewer.
    """

    @staticmethod
    def forward(ctx, a, x, bits, threshold: int, scale: float, gate_bias: float) -> torch.Tensor:
        kernel = _kernel("forward", a)
        rows, features = x.shape
        out = torch.empty_like(x, dtype=a.dtype)
        bits_ptr = None if bits is None else bits.data_ptr()

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                a.data_ptr(), x.data_ptr(), bits_ptr, threshold, scale, gate_bias, n0, n1, features,
                out.data_ptr(),
            )  # fmt: skip

        native_kernels.parallel_rows(rows, work)
        ctx.save_for_backward(a, x, bits)
        ctx.threshold, ctx.scale, ctx.gate_bias = threshold, scale, gate_bias
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        a, x, bits = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True (WGAN-GP): differentiable torch maths
            transform, gate = a.float().chunk(2, dim=-1)
            t = torch.sigmoid(gate + ctx.gate_bias)
            if bits is not None:
                grad = torch.where(bits < ctx.threshold, grad, 0.0) * ctx.scale
            grad_a = torch.cat(
                [grad * t * (transform > 0), grad * (torch.relu(transform) - x) * t * (1 - t)], -1
            )
            return grad_a.to(a.dtype), grad * (1 - t), None, None, None, None
        kernel = _kernel("backward", a)
        rows, features = x.shape
        grad = grad.to(a.dtype).contiguous()
        grad_a, grad_x = torch.empty_like(a), torch.empty_like(x)
        bits_ptr = None if bits is None else bits.data_ptr()

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                a.data_ptr(), x.data_ptr(), bits_ptr, ctx.threshold, ctx.scale, ctx.gate_bias, n0, n1,
                features, grad.data_ptr(), grad_a.data_ptr(), grad_x.data_ptr(),
            )  # fmt: skip

        native_kernels.parallel_rows(rows, work)
        return grad_a, grad_x, None, None, None, None


class Highway(nn.Module):
    """One highway layer followed by dropout: (..., F) -> (..., F) (see the module docstring).

    Args:
        features: ``F``.
        bias: give both products a bias (SeqGAN's ``linear`` has one, RelGAN's has none).
        gate_bias: constant added to the gate pre-activation (both references pass 0).
        dropout: drop probability after the layer (an ``nn.Dropout`` child: ``eval()`` disables it).
        backend: ``"auto"`` (native kernel for CPU tensors when built), ``"native"`` or ``"torch"``.
    """

    def __init__(
        self,
        features: int,
        bias: bool = False,
        gate_bias: float = 0.0,
        dropout: float = 0.0,
        backend: str = "auto",
    ) -> None:
        super().__init__()
        if backend not in ("auto", "native", "torch"):
            raise ValueError(f"backend must be 'auto', 'native' or 'torch', not {backend!r}")
        self.features, self.gate_bias, self.backend = features, gate_bias, backend
        self.linear = nn.Linear(features, 2 * features, bias=bias)
        self.dropout = Dropout(dropout)

    def uses_native(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` runs the fused kernel (float32 maths: not for float64 inputs)."""
        if self.backend == "torch" or x.device.type != "cpu" or x.dtype == torch.float64:
            return False
        if self.backend == "native" and not native_kernels.available():
            raise RuntimeError("backend='native' requested but the native CPU kernels could not be built")
        return native_kernels.available()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.linear(x)  # (..., 2F) = [transform | gate] pre-activations
        if not self.uses_native(x):
            return self.dropout(_highway_torch(a, x, self.gate_bias))
        shape = x.shape
        x = x.float().reshape(-1, self.features).contiguous()  # (N, F)
        a = a.reshape(-1, 2 * self.features)
        a = (a if a.dtype == torch.bfloat16 else a.float()).contiguous()  # (N, 2F)
        dropping = self.dropout.training and self.dropout.p > 0
        mask = dropout_bits(x.shape, self.dropout.p) if dropping else None
        if dropping and mask is None:  # p too close to 0 or 1 for 16-bit masks: torch's own dropout
            return self.dropout(_highway_torch(a, x, self.gate_bias)).view(shape)
        bits, threshold, scale = mask or (None, 0, 1.0)
        return _NativeHighway.apply(a, x, bits, threshold, scale, float(self.gate_bias)).view(shape)
