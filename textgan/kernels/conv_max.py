"""The convolution over time + max-pool + bias + ReLU of the CNN discriminators in a native CPU kernel.

Why: at COCO size RelGAN's discriminator handles (128 sentences x 64 representations) = 8192 rows of 1200
features, and every torch formulation of a convolution with 2 to 5 taps followed by a max over time
materialises the (N, T', C) scores (0.35 GB per filter size), with products of 2 to 5 inner terms far below
BLAS peak. ``conv_max_forward`` (``csrc/native_kernels.c``) keeps the running maximum and its argmax in
registers, adds the bias and applies the ReLU; ``conv_max_backward`` scatters through the argmax (exactly
autograd's gradient of ``max``). Its backward is differentiable again when a double backward is requested
(WGAN-GP's penalty): it then switches to gather / scatter_add in torch. On tied maxima the first position takes
the whole gradient (as TensorFlow's max-pool does) where ``amax`` splits it; ties come from repeated tokens,
whose windows are equal, so the parameters' gradients agree either way. Under bf16 autocast it returns its
float32 features rounded to bfloat16 (autocast's type for a convolution's output), which the highway's product
reads without a cast, and it reads their bfloat16 gradient as it comes.

The torch formulation, the specification, is :func:`textgan.models.max_over_time_conv.conv_max_torch`.
:func:`applies` says when this kernel runs (through :func:`textgan.kernels.policy.native_applies`): CPU inputs
other than float64, windows of at most ``NATIVE_MAX_TAPS`` = f * d values under ``backend="auto"`` (RelGAN's
case: for wide windows, SeqGAN's 64 to 1280 values, the matrix product is efficient and measured as fast or
faster than the kernel), sequences up to ``NATIVE_MAX_LENGTH``.
"""

from __future__ import annotations

import torch

from textgan.kernels import build
from textgan.kernels.parallel import num_parts, parallel_rows
from textgan.kernels.policy import native_applies
from textgan.kernels.weight_casts import autocast_dtype

BLOCK = 64  # filter columns one conv_max iteration keeps in registers (LANES * NVEC in csrc/native_kernels.c)
NATIVE_MAX_TAPS = 16  # backend "auto" uses the native kernel up to this window size f * d
NATIVE_MAX_LENGTH = 2**15 - 1  # and for sequences up to this length (the kernel keeps positions as int16)
BACKWARD_CHUNK = 256  # rows the backward kernel takes per call: a chunk's rows stay in cache across window sizes
INPUT_TYPES = (torch.float32, torch.bfloat16, torch.float16)  # read as float32: any but float64


def applies(x: torch.Tensor, taps: int, backend: str = "auto") -> bool:
    """Whether :func:`conv_max_relu` runs for inputs ``x`` (N, T, d) and a widest window of ``taps`` = f * d."""
    fits = (backend == "native" or taps <= NATIVE_MAX_TAPS) and x.shape[-2] <= NATIVE_MAX_LENGTH
    return native_applies(x, dtypes=INPUT_TYPES, fits=fits, backend=backend)


def conv_max_relu(x: torch.Tensor, weights: list[torch.Tensor], biases: torch.Tensor) -> torch.Tensor:
    """``relu(max_t conv(x, w) + b)`` for x (N, T, d), filters (C_i, f_i, d) and biases (C_total,) -> (N, C_total)
    in float32, or bfloat16 under CPU bf16 autocast (autocast's type for a convolution's output)."""
    num, length, width = x.shape
    flat = [w.reshape(w.shape[0], -1).float() for w in weights]  # (C, f * d)
    rows = x.float().reshape(num, length * width).contiguous()  # (N, T * d)
    dtype = torch.bfloat16 if autocast_dtype("cpu") == torch.bfloat16 else torch.float32
    return _NativeConvMax.apply(rows, width, dtype, biases.float(), *flat)  # (N, C_total)


def _gather_backward(
    x: torch.Tensor, step: int, weights: list[torch.Tensor], idx: torch.Tensor, grad: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """Differentiable gradients through the ReLU and the argmax (for double backward), the native maths.

    ``idx`` is the kernel's: the argmax position where the ReLU is on, -1 where it is off."""
    grad = grad * (idx >= 0)  # (N, C_total)
    idx = idx.clamp_min(0)
    grad_x = torch.zeros_like(x)  # (N, row)
    grad_weights, sizes = [], [weight.shape[0] for weight in weights]
    for weight, index, g in zip(weights, idx.split(sizes, 1), grad.split(sizes, 1), strict=True):
        taps = weight.shape[1]
        positions = index.long().unsqueeze(-1) * step + torch.arange(taps, device=x.device)  # (N, C, L)
        windows = x.gather(1, positions.flatten(1)).view_as(positions)  # (N, C, L)
        grad_weights.append(torch.einsum("nc,ncl->cl", g, windows))
        grad_x = grad_x.scatter_add(1, positions.flatten(1), (g.unsqueeze(-1) * weight).flatten(1))
    return grad_x, grad_weights, grad.sum(0)


def _pad_filter(weight: torch.Tensor) -> torch.Tensor:
    """(C, L) filter -> (L, Cp) float32 contiguous, zero-padded to a multiple of ``BLOCK``."""
    channels, taps = weight.shape
    padded = torch.zeros(taps, -(-channels // BLOCK) * BLOCK)
    padded[:, :channels] = weight.detach().t()
    return padded


class _NativeConvMax(torch.autograd.Function):
    """x (N, row) float32, bias (C_total,), filters (C_i, L_i) -> relu(max_t conv + bias) (N, C_total) in
    ``dtype``: float32, or bfloat16 (under autocast, the type a convolution returns there), rounded once from the
    float32 sums; its gradient then arrives, and is read, in bfloat16.

    The kernel keeps, per feature, the argmax position as int16, -1 where the ReLU is off: all the backward
    pass reads besides the gradient (a quarter of the bytes of an int32 position and the output)."""

    @staticmethod
    def forward(
        ctx, x: torch.Tensor, step: int, dtype: torch.dtype, bias: torch.Tensor, *weights: torch.Tensor
    ) -> torch.Tensor:
        lib = build.library()
        kernel = lib.conv_max_forward_bf16 if dtype == torch.bfloat16 else lib.conv_max_forward
        rows, row = x.shape
        channels = [weight.shape[0] for weight in weights]
        offsets = [sum(channels[:i]) for i in range(len(channels))]
        total = sum(channels)
        padded = [_pad_filter(weight) for weight in weights]
        bias_values = bias.detach().float().contiguous()
        out = torch.empty(rows, total, dtype=dtype)
        size = out.element_size()
        idx = torch.empty(rows, total, dtype=torch.int16)

        def work(part: int, n0: int, n1: int) -> None:
            for weight, count, offset in zip(padded, channels, offsets, strict=True):
                taps, width = weight.shape
                steps = (row - taps) // step + 1
                kernel(
                    x.data_ptr(), n0, n1, row, step, steps, weight.data_ptr(), taps, count, width,
                    bias_values.data_ptr() + 4 * offset, out.data_ptr() + size * offset,
                    idx.data_ptr() + 2 * offset, total,
                )  # fmt: skip

        parallel_rows(rows, work)
        ctx.save_for_backward(x, idx, *weights)
        ctx.step, ctx.padded, ctx.channels, ctx.offsets = step, padded, channels, offsets
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, idx, *weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: build a graph of the gradients themselves
            grad_x, grad_weights, grad_bias = _gather_backward(x, ctx.step, weights, idx, grad.float())
            return grad_x, None, None, grad_bias, *grad_weights
        lib = build.library()
        rows, row = x.shape
        grad = (grad if grad.dtype == torch.bfloat16 else grad.float()).contiguous()
        kernel = lib.conv_max_backward_bf16 if grad.dtype == torch.bfloat16 else lib.conv_max_backward
        size = grad.element_size()
        total = grad.shape[1]
        parts = num_parts(rows)
        grad_x = torch.zeros_like(x)
        # the parameters' gradients are summed over rows: one partial sum per thread, added afterwards
        grad_filters = [torch.zeros(parts, *weight.shape) for weight in ctx.padded]
        grad_bias = torch.zeros(parts, total)

        def work(part: int, n0: int, n1: int) -> None:
            for c0 in range(n0, n1, BACKWARD_CHUNK):  # every window size over a chunk of rows, then the next
                c1 = min(c0 + BACKWARD_CHUNK, n1)
                for weight, count, offset, grad_w in zip(
                    ctx.padded, ctx.channels, ctx.offsets, grad_filters, strict=True
                ):
                    kernel(
                        x.data_ptr(), c0, c1, row, ctx.step, weight.data_ptr(), weight.shape[0], count,
                        weight.shape[1], idx.data_ptr() + 2 * offset, grad.data_ptr() + size * offset, total,
                        grad_x.data_ptr(), grad_w[part].data_ptr(), grad_bias[part].data_ptr() + 4 * offset,
                    )  # fmt: skip

        parallel_rows(rows, work)
        grad_weights = [g.sum(0)[:, :count].t() for g, count in zip(grad_filters, ctx.channels, strict=True)]
        return grad_x, None, None, grad_bias.sum(0), *grad_weights
