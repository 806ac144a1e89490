"""RelGAN's discriminator: a CNN over several embedded representations of the sentence (Nie et al., 2019).

Faithful to ``discriminator`` in weilinie/RelGAN ``models/rmc_vanilla.py`` (defaults of ``run.py``):

* embedding (V, 64) initialised truncated normal with std 1/sqrt(V); its 64 columns are ``num_rep = 64``
  representations of width ``emb_dim_single = embedding_dim // num_rep = 1``;
* conv2d over the (T, 64) "image" with one input channel, kernels (f, emb_dim_single), stride
  (1, emb_dim_single), VALID, bias: the *same* filters slide over every representation, so each
  representation is a separate sequence of T vectors of width ``emb_dim_single``. Filter sizes [2, 3, 4, 5]
  with 300 filters each; ReLU; max-pool over all time positions -> 1200 features per (sentence,
  representation), i.e. (B * num_rep, 1200);
* highway with gate bias 0 and bias-free products; dropout with keep probability 0.75 (``p = 0.25``); linear
  1200 -> 100 then linear 100 -> 1, both with bias and *no* nonlinearity between them (as in the reference),
  computed as the one affine map they compose to (:mod:`textgan.kernels.composed_linear`: the same two
  parameters and their gradients, without the (B * R, 100) activations); logits reshaped to (B, num_rep).
* Initialisation as RelGAN's ``ops.py``: linears truncated normal with std 1/sqrt(fan_in) and zero bias; convs
  truncated normal with std sqrt(2 / (k_h * k_w * in_channels)) and zero bias (TensorFlow truncates at 2 std).

Performance on a CPU: the convolution + max-pool and the highway gate + dropout run in the native kernels of
:mod:`textgan.kernels.conv_max` and :mod:`textgan.kernels.highway` (``backend="auto"``). What remains is
dominated by the highway's matrix products on (B * 64, 1200) x (1200, 2400): about 47 GFLOP forward and 94
backward per 128 sentences, at BLAS peak, twice as fast under ``torch.autocast("cpu", dtype=torch.bfloat16)``.

Dropout is ``highway.dropout``, an ``nn.Dropout``: RelGAN applies it in every discriminator call, generator
steps included, so keep the module in ``train()`` mode there to be faithful; ``eval()`` disables it.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from textgan.config_ranges import Arguments, Refusals, integer, number
from textgan.kernels.composed_linear import composed_linear
from textgan.models.discriminator import TextDiscriminator
from textgan.models.generator import trunc_normal_linear_
from textgan.models.highway import Highway
from textgan.models.max_over_time_conv import FILTER_BANK_RANGES, MaxOverTimeConv, paired_filters


def _trunc_normal_(tensor: torch.Tensor, std: float) -> None:
    nn.init.trunc_normal_(tensor, std=std, a=-2 * std, b=2 * std)


class RelGANDiscriminator(TextDiscriminator):
    """RelGAN's multi-representation CNN discriminator: (B, T) ids / (B, T, V) one-hot -> (B, num_rep) logits.

    Args:
        vocab_size, max_length: from the data (``max_length`` is the padded sentence length).
        embedding_dim: total embedding width (``dis_emb_dim``), split into ``num_rep`` representations.
        num_rep: number of representations ``R``; each sentence gets ``R`` logits.
        filter_sizes / num_filters: conv windows and filter counts.
        hidden_size: width of the linear layer between the highway and the logits (100).
        dropout: drop probability after the highway (RelGAN keeps 0.75, so 0.25).
        spectral_norm: apply spectral normalisation to the convs and the two output linears (RelGAN's ``sn``;
            torch's power iteration, one step per training forward).
        backend: ``"auto"``, ``"native"`` or ``"torch"``: whether the conv + max-pool and the highway +
            dropout use the native CPU kernels (see :class:`MaxOverTimeConv` and :class:`Highway`).
    """

    config_ranges = {**FILTER_BANK_RANGES, "num_rep": integer(1), "hidden_size": integer(1), "dropout": number(0, 1)}

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        yield from paired_filters(arguments)
        if arguments["embedding_dim"] % arguments["num_rep"]:
            yield "num_rep", f"a divisor of {{embedding_dim}}={arguments['embedding_dim']}"

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
    ) -> None:
        if num_rep < 1 or embedding_dim % num_rep:
            raise ValueError(
                f"embedding_dim={embedding_dim} must be a positive multiple of num_rep={num_rep}"
            )
        if max(filter_sizes) > max_length:
            raise ValueError(f"filter sizes {list(filter_sizes)} exceed max_length={max_length}")
        super().__init__(vocab_size, max_length, embedding_dim, num_outputs=num_rep)
        self.num_rep, self.emb_dim_single = num_rep, embedding_dim // num_rep
        self.features = MaxOverTimeConv(self.emb_dim_single, list(filter_sizes), list(num_filters), backend)
        features = self.features.out_features
        self.highway = self.make_highway(features, dropout, backend)
        self.hidden = nn.Linear(features, hidden_size)
        self.logit = nn.Linear(hidden_size, 1)
        self.reset_parameters()
        if spectral_norm:
            for module in [*self.features.convs, self.hidden, self.logit]:
                apply_spectral_norm(module)

    def make_highway(self, features: int, dropout: float, backend: str) -> Highway:
        """RelGAN's highway on the pooled features: gate bias 0, bias-free products, then dropout."""
        return Highway(features, bias=False, gate_bias=0.0, dropout=dropout, backend=backend)

    def reset_parameters(self) -> None:
        """RelGAN's initialisation (see the module docstring)."""
        _trunc_normal_(self.embedding.weight, 1.0 / math.sqrt(self.vocab_size))
        trunc_normal_linear_(self)  # highway (fan-in 1200 for both halves), hidden, logit
        for conv in self.features.convs:
            window, width = conv.kernel_size
            _trunc_normal_(conv.weight, math.sqrt(2.0 / (window * width * conv.in_channels)))
            nn.init.zeros_(conv.bias)

    def embedded_features(self, embedded: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, R * F): every representation's highway output (dropout included), side by side."""
        batch, length, _ = embedded.shape  # (B, T, E)
        # each representation is its own sequence of width emb_dim_single: (B * R, T, d)
        per_rep = embedded.reshape(batch, length, self.num_rep, self.emb_dim_single).transpose(1, 2)
        features = self.features(per_rep.reshape(batch * self.num_rep, length, self.emb_dim_single))
        return self.highway(features).reshape(batch, -1)  # (B * R, F) -> (B, R * F)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """(B, R * F) -> (B, R): the output map, ``logit(hidden(.))`` per representation."""
        batch = features.shape[0]
        # logit(hidden(.)) with no nonlinearity between: one composed affine map, the same two layers' maths
        logits = composed_linear(features.reshape(batch * self.num_rep, -1), self.hidden, self.logit)  # (B * R, 1)
        return logits.view(batch, self.num_rep)  # (B, R)
