"""The highway layer and dropout that follow the max-pooled features in SeqGAN's and RelGAN's discriminators.

Both reference implementations apply ``highway(h, size, num_layers=1, bias=0)`` and then dropout with keep
probability 0.75 (Srivastava et al., 2015, as written in their shared ``highway`` helper)::

    g = relu(x W_g + b_g)      t = sigmoid(x W_t + b_t + gate_bias)      out = dropout(t * g + (1 - t) * x)

``W_g`` and ``W_t`` are stored as the two halves of one (2F, F) linear, so one matrix product serves both: on
RelGAN's (8192, 1200) features it is the discriminator's most expensive layer. On a CPU the dozen elementwise
passes that follow it in torch are fused into one pass each way by a kernel of
:mod:`textgan.models.native_kernels` (bf16 pre-activations under autocast included), and the product and the
kernel form one autograd node (:class:`_NativeHighway`), which takes bf16 features as they come from the
native convolution under autocast (no cast before the product; their gradient goes back in bf16); elsewhere, or
without the kernels, the same maths runs in torch, with the same dropout masks: counter-based (SplitMix64 words
of one seed drawn from torch's stream, :func:`dropout_bits_from_seed`), so the kernel computes them where it
needs them instead of reading a mask.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.models import native_kernels
from textgan.models.weight_casts import autocast_dtype

_GOLDEN, _MIX1, _MIX2 = (c - 2**64 for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 words (torch's ``>>`` is arithmetic)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def counter_words(seed: int, count: int) -> torch.Tensor:
    """Words ``0 .. count - 1`` of SplitMix64's stream ``seed``: ``splitmix64(seed + i)`` as int64 (wrapping).

    The same function as ``splitmix64`` in ``native_kernels.c``, which computes the dropout words of a row
    where it needs them, so the torch path reproduces the kernel's masks exactly.
    """
    z = torch.arange(count, dtype=torch.int64).add_(seed + _GOLDEN)
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def dropout_levels(p: float) -> tuple[int, float] | None:
    """(threshold, scale) of 16-bit dropout masks for drop probability ``p``; None when 16 bits cannot express it.

    An element is kept iff its 16 random bits (as int16) are ``< threshold``, with probability
    ``q = round((1 - p) * 2**16) / 2**16`` (exact for p = 0.25), and then scaled by ``scale = 1 / q``.
    None when ``q`` rounds to 0 or 1 (use ``nn.Dropout``).
    """
    keep_levels = round((1.0 - p) * 65536)
    if not 0 < keep_levels < 65536:
        return None
    return keep_levels - 32768, 65536 / keep_levels


def dropout_seed() -> int:
    """One draw from torch's random stream (so runs stay reproducible and resumable) naming a mask's words."""
    return int(torch.randint(0, 2**62, (1,)))


def dropout_bits_from_seed(seed: int, shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """The int16 bits of a mask of ``shape``: element ``e`` (row-major) is lane ``e % 4`` of word ``e // 4``."""
    count = int(torch.Size(shape).numel())
    return counter_words(seed, (count + 3) // 4).view(torch.int16)[:count].view(shape)


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose CPU masks are counter-based (:func:`dropout_bits_from_seed`, one draw of torch's
    stream per call): the masks the native highway kernel computes in place; CUDA and in-place use go to torch's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        levels = None if x.device.type != "cpu" or self.inplace else dropout_levels(self.p)
        if levels is None:
            return super().forward(x)
        threshold, scale = levels
        return torch.where(dropout_bits_from_seed(dropout_seed(), x.shape) < threshold, x, 0.0) * scale


def _highway_torch(a: torch.Tensor, x: torch.Tensor, gate_bias: float) -> torch.Tensor:
    """Reference gate: a = [x W_g + b_g | x W_t + b_t] (N, 2F), x (N, F) -> (N, F) in float32 or wider.

    Computed in float32 at least, as the native kernel does (bf16 pre-activations under autocast included).
    """
    dtype = torch.promote_types(x.dtype, torch.float32)
    transform, gate = a.to(dtype).chunk(2, dim=-1)
    gate = torch.sigmoid(gate + gate_bias) if gate_bias else torch.sigmoid(gate)
    return torch.lerp(x.to(dtype), torch.relu(transform), gate)  # x + t * (g - x)


def _kernel(direction: str, a: torch.Tensor, x: torch.Tensor):
    """float32 a: float32 output; bfloat16 a (autocast): the output, and its gradient, in bfloat16, with x (and
    its gradient) in float32 or (``bf16x``) bfloat16."""
    kind = "f32" if a.dtype != torch.bfloat16 else "bf16x" if x.dtype == torch.bfloat16 else "bf16"
    return getattr(native_kernels.library(), f"highway_{direction}_{kind}")


def _product_dtype(x: torch.Tensor, weight: torch.Tensor) -> torch.dtype | None:
    """The dtype of the highway's product as ``nn.Linear`` would compute it here: bfloat16 under CPU bfloat16
    autocast, float32 without autocast; None otherwise (the unfused path handles it)."""
    low = autocast_dtype("cpu")
    if low is not None:
        return torch.bfloat16 if low == torch.bfloat16 else None
    return torch.float32 if x.dtype == weight.dtype == torch.float32 else None


class _NativeHighway(torch.autograd.Function):
    """The highway's product and its fused gate + dropout as one node: x (N, F) -> (N, F).

    x is float32, or bfloat16 under autocast when it comes so (the native convolution's features there): the
    product reads it without a cast and its gradient is returned in bfloat16.

    Forward: ``a = x W^T + b`` in ``dtype`` (bfloat16 under autocast, as ``nn.Linear`` computes it there), then
    the kernel. Dropout (``dropping``) keeps an element iff its bits of :func:`dropout_bits_from_seed`
    ``(seed)`` are below ``threshold``: the kernel computes them where it needs them, each way, so no mask is
    drawn or stored. In bfloat16 the output is rounded to bfloat16 in the kernel (the cast the next product
    would make) and the gradient arriving from that product's backward is read as it is.

    Backward: the kernel gives the gradients of ``a`` and of the carry ``(1 - t) x``; the product's input
    gradient is added into the latter in place (autograd would cast it to float32 and add it as a third
    tensor), and in bfloat16 the weight's gradient is computed as ``(x^T grad_a)^T``, the faster layout of that
    product on a CPU (~10 % at oracle size), cast to float32 in the same pass that transposes it. The values
    are autocast's.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, dtype, dropping: bool, seed: int, threshold: int, scale: float, gate_bias):
        with torch.autocast("cpu", enabled=False):
            xp, wp = x.to(dtype), weight.to(dtype)
            a = torch.nn.functional.linear(xp, wp, None if bias is None else bias.to(dtype)).contiguous()
        kernel = _kernel("forward", a, x)
        rows, features = x.shape
        out = torch.empty_like(x, dtype=a.dtype)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                a.data_ptr(), x.data_ptr(), int(dropping), seed, threshold, scale, gate_bias, n0, n1, features,
                out.data_ptr(),
            )  # fmt: skip

        native_kernels.parallel_rows(rows, work)
        ctx.save_for_backward(x, weight, bias, xp, wp, a)
        ctx.dropping, ctx.seed, ctx.threshold, ctx.scale, ctx.gate_bias = dropping, seed, threshold, scale, gate_bias
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight, bias, xp, wp, a = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        nothing = (None,) * 6
        if torch.is_grad_enabled():  # create_graph=True (WGAN-GP): differentiable torch maths
            return (*_differentiable_backward(ctx, x, weight, bias, a.dtype, grad), *nothing)
        kernel = _kernel("backward", a, x)
        rows, features = x.shape
        grad = grad.to(a.dtype).contiguous()
        grad_a, grad_x = torch.empty_like(a), torch.empty_like(x)

        def work(part: int, n0: int, n1: int) -> None:
            kernel(
                a.data_ptr(), x.data_ptr(), int(ctx.dropping), ctx.seed, ctx.threshold, ctx.scale, ctx.gate_bias,
                n0, n1, features, grad.data_ptr(), grad_a.data_ptr(), grad_x.data_ptr(),
            )  # fmt: skip

        native_kernels.parallel_rows(rows, work)
        grad_weight = grad_bias = None
        with torch.autocast("cpu", enabled=False):
            if need_x:
                grad_x.add_(grad_a @ wp)  # the product's input gradient, read in its dtype
            if need_weight and a.dtype == weight.dtype:
                grad_weight = grad_a.t() @ xp
            elif need_weight:  # bfloat16: this layout runs faster, and the cast to float32 transposes it back
                grad_weight = (xp.t() @ grad_a).t().to(weight.dtype, memory_format=torch.contiguous_format)
            if need_bias and bias is not None:
                grad_bias = grad_a.sum(0).to(bias.dtype)
        return grad_x if need_x else None, grad_weight, grad_bias, *nothing


def _differentiable_backward(ctx, x, weight, bias, dtype, grad):
    """The gradients of x, weight and bias as torch operations on the inputs, so they can be differentiated."""
    a = torch.nn.functional.linear(x.to(dtype), weight.to(dtype), None if bias is None else bias.to(dtype))
    transform, gate = a.float().chunk(2, dim=-1)
    t = torch.sigmoid(gate + ctx.gate_bias)
    grad = grad.float()
    if ctx.dropping:
        grad = torch.where(dropout_bits_from_seed(ctx.seed, x.shape) < ctx.threshold, grad, 0.0) * ctx.scale
    grad_a = torch.cat([grad * t * (transform > 0), grad * (torch.relu(transform) - x) * t * (1 - t)], -1)
    grad_a = grad_a.to(dtype)
    grad_x = (grad * (1 - t) + (grad_a @ weight.to(dtype)).float()).to(x.dtype)
    grad_weight = (grad_a.t() @ x.to(dtype)).to(weight.dtype)
    grad_bias = None if bias is None else grad_a.sum(0).to(bias.dtype)
    return grad_x, grad_weight, grad_bias


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
        dtype = _product_dtype(x, self.linear.weight) if self.uses_native(x) else None
        dropping = self.dropout.training and self.dropout.p > 0
        levels = dropout_levels(self.dropout.p) if dropping else (0, 1.0)
        if dtype is None or levels is None:  # torch's maths (p too close to 0 or 1 for 16-bit masks: its dropout)
            return self.dropout(_highway_torch(self.linear(x), x, self.gate_bias))
        shape = x.shape
        x = x.reshape(-1, self.features)  # (N, F): float32, or bfloat16 features under autocast as they come
        x = (x if dtype == x.dtype == torch.bfloat16 else x.float()).contiguous()
        seed = dropout_seed() if dropping else 0  # the draw the torch path's Dropout makes
        weight, bias, gate_bias = self.linear.weight, self.linear.bias, float(self.gate_bias)
        return _NativeHighway.apply(x, weight, bias, dtype, dropping, seed, *levels, gate_bias).view(shape)
