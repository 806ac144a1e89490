"""The highway layer's product, gate and dropout as one autograd node with a native CPU kernel each way.

The layer (:class:`textgan.models.highway.Highway`, which holds the torch formulation, the specification)::

    a = x W^T + b = [x W_g + b_g | x W_t + b_t]      out = dropout(t * relu(a_g) + (1 - t) * x),  t = sigmoid(a_t)

On RelGAN's (8192, 1200) features the dozen elementwise passes that follow the product in torch are fused into
one pass each way (``highway_forward`` / ``highway_backward`` in ``csrc/native_kernels.c``, bf16
pre-activations under autocast included), and the product and the kernel form one autograd node
(:class:`_NativeHighway`), which takes bf16 features as they come from the native convolution under autocast
(no cast before the product; their gradient goes back in bf16).

Dropout masks are counter-based (SplitMix64 words of one seed drawn from torch's stream,
:func:`dropout_bits_from_seed`), so the kernel computes them where it needs them instead of reading a mask, and
the torch path (:class:`textgan.models.highway.Dropout`) draws exactly the same masks from the same seed.
"""

from __future__ import annotations

import torch

from textgan.kernels import build
from textgan.kernels.parallel import parallel_rows
from textgan.kernels.policy import native_applies
from textgan.kernels.weight_casts import autocast_dtype

INPUT_TYPES = (torch.float32, torch.bfloat16, torch.float16)  # float32 maths: any but float64

_GOLDEN, _MIX1, _MIX2 = (c - 2**64 for c in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB))


def _shift_right(z: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 words (torch's ``>>`` is arithmetic)."""
    return (z >> bits) & ((1 << (64 - bits)) - 1)


def counter_words(seed: int, count: int) -> torch.Tensor:
    """Words ``0 .. count - 1`` of SplitMix64's stream ``seed``: ``splitmix64(seed + i)`` as int64 (wrapping).

    The same function as ``splitmix64`` in ``csrc/native_kernels.c``, which computes the dropout words of a row
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


def _kernel(direction: str, a: torch.Tensor, x: torch.Tensor):
    """float32 a: float32 output; bfloat16 a (autocast): the output, and its gradient, in bfloat16, with x (and
    its gradient) in float32 or (``bf16x``) bfloat16."""
    kind = "f32" if a.dtype != torch.bfloat16 else "bf16x" if x.dtype == torch.bfloat16 else "bf16"
    return getattr(build.library(), f"highway_{direction}_{kind}")


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

        parallel_rows(rows, work)
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

        parallel_rows(rows, work)
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


def applies(x: torch.Tensor, weight: torch.Tensor, p: float, training: bool, backend: str = "auto") -> bool:
    """Whether :func:`highway` runs for features ``x`` and the layer's product ``weight``, with dropout ``p``
    while ``training``: CPU, the product computed as ``nn.Linear`` would in float32 or bf16 (autocast), and a
    drop probability 16-bit masks can express."""
    dropping = training and p > 0
    fits = _product_dtype(x, weight) is not None and (not dropping or dropout_levels(p) is not None)
    return native_applies(x, dtypes=INPUT_TYPES, fits=fits, backend=backend)


def highway(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, gate_bias: float, p: float, training: bool
) -> torch.Tensor:
    """The highway layer and its dropout, (..., F) -> (..., F), in one native node (see :func:`applies`)."""
    dtype = _product_dtype(x, weight)
    dropping = training and p > 0
    levels = dropout_levels(p) if dropping else (0, 1.0)
    shape = x.shape
    x = x.reshape(-1, shape[-1])  # (N, F): float32, or bfloat16 features under autocast as they come
    x = (x if dtype == x.dtype == torch.bfloat16 else x.float()).contiguous()
    seed = dropout_seed() if dropping else 0  # the draw the torch path's Dropout makes
    return _NativeHighway.apply(x, weight, bias, dtype, dropping, seed, *levels, float(gate_bias)).view(shape)
