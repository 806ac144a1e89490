"""Convolutions over time with several window sizes, each max-pooled over all positions (Kim, 2014).

The feature extractor of both CNN discriminators. Input ``x`` (N, T, d) is a batch of ``N`` sequences of
``T`` vectors of width ``d``; a filter of window ``f`` spans ``f`` consecutive vectors in full (a conv2d
kernel (f, d) with VALID padding), and each filter yields one feature: ``relu(max_t (w . x[t:t+f]) + b)``,
which equals the max-pool of ``relu(conv + b)`` because adding ``b`` and ReLU are monotone.

Two exact implementations:

* ``"torch"``: unfold the time axis and multiply by all filters of one window size at once, then ``amax``.
  Plain autograd; the choice on GPUs.
* ``"native"`` (CPU): a kernel of :mod:`textgan.models.native_kernels` finds the maximum and its argmax
  without materialising the (N, T', C) scores, adds the bias and applies the ReLU, and back-propagates through
  the argmax (what autograd does for ``max``). Its backward is differentiable again when a double backward is
  requested (WGAN-GP's penalty): it then switches to gather / scatter_add in torch. On tied maxima the first
  position takes the whole gradient (as TensorFlow's max-pool does) where ``amax`` splits it; ties come from
  repeated tokens, whose windows are equal, so the parameters' gradients agree either way. Under bf16
  autocast it returns its float32 features rounded to bfloat16 (autocast's type for a convolution's output),
  which the highway's product reads without a cast, and it reads their bfloat16 gradient as it comes.

``"auto"`` picks ``native`` for CPU tensors with narrow windows (at most ``NATIVE_MAX_TAPS`` = f * d values,
RelGAN's case) when the kernels could be built, ``torch`` otherwise: for wide windows (SeqGAN's 64 to 1280
values) the matrix product is efficient and measured as fast or faster than the kernel.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, integer, list_of, one_of
from textgan.models import native_kernels
from textgan.models.weight_casts import autocast_dtype

NATIVE_MAX_TAPS = 16  # "auto" uses the native kernel up to this window size f * d
NATIVE_MAX_LENGTH = 2**15 - 1  # and for sequences up to this length
BACKWARD_CHUNK = 256  # rows the backward kernel takes per call: a chunk's rows stay in cache across window sizes


def conv_max_torch(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Reference: x (N, T, d), weight (C, f, d) -> max over the T - f + 1 positions of the scores (N, C)."""
    channels, window, width = weight.shape
    windows = x.unfold(1, window, 1).transpose(2, 3).flatten(2)  # (N, T', f * d)
    scores = windows @ weight.reshape(channels, window * width).t()  # (N, T', C)
    return scores.amax(dim=1)


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
    """(C, L) filter -> (L, Cp) float32 contiguous, zero-padded to a multiple of ``native_kernels.BLOCK``."""
    channels, taps = weight.shape
    padded = torch.zeros(taps, -(-channels // native_kernels.BLOCK) * native_kernels.BLOCK)
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
        lib = native_kernels.library()
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

        native_kernels.parallel_rows(rows, work)
        ctx.save_for_backward(x, idx, *weights)
        ctx.step, ctx.padded, ctx.channels, ctx.offsets = step, padded, channels, offsets
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, idx, *weights = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: build a graph of the gradients themselves
            grad_x, grad_weights, grad_bias = _gather_backward(x, ctx.step, weights, idx, grad.float())
            return grad_x, None, None, grad_bias, *grad_weights
        lib = native_kernels.library()
        rows, row = x.shape
        grad = (grad if grad.dtype == torch.bfloat16 else grad.float()).contiguous()
        kernel = lib.conv_max_backward_bf16 if grad.dtype == torch.bfloat16 else lib.conv_max_backward
        size = grad.element_size()
        total = grad.shape[1]
        parts = native_kernels.num_parts(rows)
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

        native_kernels.parallel_rows(rows, work)
        grad_weights = [g.sum(0)[:, :count].t() for g, count in zip(grad_filters, ctx.channels, strict=True)]
        return grad_x, None, None, grad_bias.sum(0), *grad_weights


BACKENDS = ("auto", "native", "torch")
# the config ranges of a discriminator built on this layer (filter_sizes, num_filters, backend)
FILTER_BANK_RANGES = {
    "filter_sizes": list_of(integer(1)), "num_filters": list_of(integer(1)), "backend": one_of(*BACKENDS)
}  # fmt: skip


def paired_filters(arguments: Arguments) -> Refusals:
    """The config relation of a discriminator built on this layer: one filter count per filter size."""
    sizes, counts = arguments["filter_sizes"], arguments["num_filters"]
    if len(sizes) != len(counts):
        yield "num_filters", f"a list of {len(sizes)}, one count per filter size"


class MaxOverTimeConv(nn.Module):
    """Conv2d filters of shape (f, d) over (T, d) sequences, ReLU, max-pooled over time.

    Args:
        width: ``d``, the width of each time step's vector (the conv kernel spans it fully).
        filter_sizes / num_filters: window lengths ``f`` and filter counts, one conv per pair.
        backend: ``"auto"``, ``"native"`` or ``"torch"`` (see the module docstring).

    ``forward``: (N, T, d) -> (N, sum(num_filters)) features, ordered by filter size then filter (TensorFlow's
    ``concat`` over the channel axis). The weights live in ``nn.Conv2d(1, C, (f, d))`` modules, so
    ``conv(x.unsqueeze(1))`` is the textbook computation and spectral norm can be applied to them as usual.
    """

    def __init__(
        self, width: int, filter_sizes: list[int], num_filters: list[int], backend: str = "auto"
    ) -> None:
        super().__init__()
        if len(filter_sizes) != len(num_filters) or not filter_sizes:
            raise ValueError(f"filter_sizes {filter_sizes} and num_filters {num_filters} must pair up")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'auto', 'native' or 'torch', not {backend!r}")
        self.width, self.backend = width, backend
        self.filter_sizes, self.num_filters = list(filter_sizes), list(num_filters)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, n, (f, width)) for f, n in zip(filter_sizes, num_filters, strict=True)
        )

    @property
    def out_features(self) -> int:
        return sum(self.num_filters)

    def uses_native(self, x: torch.Tensor) -> bool:
        """Whether ``forward(x)`` runs the native kernel (float32 maths: not for float64 inputs)."""
        if self.backend == "torch" or x.device.type != "cpu" or x.dtype == torch.float64:
            return False
        if self.backend == "auto" and max(self.filter_sizes) * self.width > NATIVE_MAX_TAPS:
            return False
        if x.shape[-2] > NATIVE_MAX_LENGTH:  # the kernel keeps positions as int16
            return False
        if self.backend == "native" and not native_kernels.available():
            raise RuntimeError("backend='native' requested but the native CPU kernels could not be built")
        return native_kernels.available()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num, length, width = x.shape  # (N, T, d)
        if width != self.width:
            raise ValueError(f"expected vectors of width {self.width}, got {width}")
        if length < max(self.filter_sizes):
            raise ValueError(
                f"sequences of length {length} are shorter than the widest filter {self.filter_sizes}"
            )
        weights = [conv.weight.squeeze(1) for conv in self.convs]  # (C, f, d) each
        biases = torch.cat([conv.bias for conv in self.convs])  # (C_total,)
        if self.uses_native(x):
            flat = [w.reshape(w.shape[0], -1).float() for w in weights]  # (C, f * d)
            rows = x.float().reshape(num, length * width).contiguous()  # (N, T * d)
            # autocast's type for a convolution's output
            dtype = torch.bfloat16 if autocast_dtype("cpu") == torch.bfloat16 else torch.float32
            return _NativeConvMax.apply(rows, width, dtype, biases.float(), *flat)  # (N, C_total)
        scores = torch.cat([conv_max_torch(x, w) for w in weights], dim=1)
        return torch.relu(scores + biases)  # (N, C_total)
