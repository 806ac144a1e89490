"""TextGAN-PyTorch's RelGAN discriminator as switches on RelGAN's: which of its departures changes training?

TextGAN-PyTorch (williamSYSU/TextGAN-PyTorch at 7ff8909: ``models/RelGAN_D.py`` and ``init_params`` of
``models/discriminator.py`` with its default ``dis_init="uniform"``) builds RelGAN's multi-representation CNN with
the same embedding split, convolutions, max-pool, dropout and output layers as
:class:`textgan.models.relgan_discriminator.RelGANDiscriminator`, and two departures, each a switch of
:class:`TextGANPyTorchRelGANDiscriminator`, on by default (the peer's discriminator); with both off it computes
exactly what ``RelGANDiscriminator`` computes with the same weights:

* ``tied_highway``: one ``Linear(F, F)`` with a bias drives both the gate and the transform,
  ``h = x W + b``, ``out = sigmoid(h) * relu(h) + (1 - sigmoid(h)) * x`` (RelGAN: two bias-free products);
* ``uniform_init``: every parameter with a dimension, biases and the embedding included, drawn from
  ``U(-0.05, 0.05)`` (RelGAN: truncated normals, the convolutions' with std ``sqrt(2 / window)``, about 20 to 30
  times wider than the peer's, and zero biases).

For docs/experiments/relgan-peer-implementation.md; use ``discriminator=relgan`` for anything else. The tied layer
runs through :class:`textgan.models.highway.Highway`'s kernel with its one weight given for both halves, so it costs
what RelGAN's highway costs.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.models.highway import Highway
from textgan.models.relgan_discriminator import RelGANDiscriminator

UNIFORM_INIT_BOUND = 0.05  # the peer's init_params with dis_init="uniform"


class TiedHighway(Highway):
    """A highway layer whose gate and transform are one linear map with a bias (TextGAN-PyTorch's), then dropout:
    ``lerp(x, relu(h), sigmoid(h))`` with ``h = x W + b``; ``linear`` is ``nn.Linear(F, F)``."""

    def __init__(self, features: int, dropout: float = 0.0, backend: str = "auto") -> None:
        super().__init__(features, bias=True, gate_bias=0.0, dropout=dropout, backend=backend)

    def make_linear(self, features: int, bias: bool) -> nn.Linear:
        return nn.Linear(features, features, bias=bias)

    def stacked_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The one map given for both halves: ``([W; W], [b; b])``."""
        return torch.cat([self.linear.weight] * 2), torch.cat([self.linear.bias] * 2)


class TextGANPyTorchRelGANDiscriminator(RelGANDiscriminator):
    """:class:`RelGANDiscriminator` with the peer's tied highway and uniform initialisation where switched on.

    Args: as :class:`RelGANDiscriminator`, and
        tied_highway: one linear map with a bias for the highway's gate and transform (the peer's).
        uniform_init: every parameter with a dimension from ``U(-0.05, 0.05)`` (the peer's ``dis_init``).
    """

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        embedding_dim: int = 64,
        num_rep: int = 64,
        filter_sizes: tuple[int, ...] | list[int] = (2, 3, 4, 5),
        num_filters: tuple[int, ...] | list[int] = (300, 300, 300, 300),
        hidden_size: int = 100,
        dropout: float = 0.25,
        spectral_norm: bool = False,
        backend: str = "auto",
        tied_highway: bool = True,
        uniform_init: bool = True,
    ) -> None:
        # read by make_highway and reset_parameters, which RelGANDiscriminator.__init__ calls: set first
        self.tied_highway, self.uniform_init = tied_highway, uniform_init
        super().__init__(
            vocab_size, max_length, embedding_dim, num_rep, filter_sizes, num_filters, hidden_size, dropout,
            spectral_norm, backend,
        )  # fmt: skip

    def make_highway(self, features: int, dropout: float, backend: str) -> Highway:
        """The peer's :class:`TiedHighway` with ``tied_highway``, RelGAN's highway without."""
        if self.tied_highway:
            return TiedHighway(features, dropout=dropout, backend=backend)
        return super().make_highway(features, dropout, backend)

    def reset_parameters(self) -> None:
        """RelGAN's initialisation, or with ``uniform_init`` the peer's (see the module docstring)."""
        if not self.uniform_init:
            super().reset_parameters()
            return
        for parameter in self.parameters():
            if parameter.dim() > 0:
                nn.init.uniform_(parameter, -UNIFORM_INIT_BOUND, UNIFORM_INIT_BOUND)
