"""Convolutions over time with several window sizes, each max-pooled over all positions (Kim, 2014).

The feature extractor of both CNN discriminators. Input ``x`` (N, T, d) is a batch of ``N`` sequences of
``T`` vectors of width ``d``; a filter of window ``f`` spans ``f`` consecutive vectors in full (a conv2d
kernel (f, d) with VALID padding), and each filter yields one feature: ``relu(max_t (w . x[t:t+f]) + b)``,
which equals the max-pool of ``relu(conv + b)`` because adding ``b`` and ReLU are monotone.

Two exact implementations:

* ``"torch"``: unfold the time axis and multiply by all filters of one window size at once, then ``amax``
  (:func:`conv_max_torch`, below). Plain autograd; the choice on GPUs, and the specification.
* ``"native"`` (CPU): :mod:`textgan.kernels.conv_max` finds the maximum and its argmax without materialising
  the (N, T', C) scores, adds the bias and applies the ReLU, and back-propagates through the argmax (what
  autograd does for ``max``; on tied maxima the first position takes the whole gradient).

``"auto"`` picks ``native`` for CPU tensors with narrow windows (at most ``conv_max.NATIVE_MAX_TAPS`` = f * d values,
RelGAN's case) when the kernels could be built, ``torch`` otherwise (:func:`textgan.kernels.conv_max.applies`).
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, integer, list_of, one_of
from textgan.kernels import conv_max
from textgan.kernels.policy import BACKENDS


def conv_max_torch(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Reference: x (N, T, d), weight (C, f, d) -> max over the T - f + 1 positions of the scores (N, C)."""
    channels, window, width = weight.shape
    windows = x.unfold(1, window, 1).transpose(2, 3).flatten(2)  # (N, T', f * d)
    scores = windows @ weight.reshape(channels, window * width).t()  # (N, T', C)
    return scores.amax(dim=1)


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
        """Whether ``forward(x)`` runs the native kernel (:func:`textgan.kernels.conv_max.applies`)."""
        return conv_max.applies(x, max(self.filter_sizes) * self.width, self.backend)

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
        if self.uses_native(x):  # the same function in one native pass each way
            return conv_max.conv_max_relu(x, weights, biases)  # (N, C_total)
        scores = torch.cat([conv_max_torch(x, w) for w in weights], dim=1)
        return torch.relu(scores + biases)  # (N, C_total)
