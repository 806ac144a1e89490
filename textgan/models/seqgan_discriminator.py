"""SeqGAN's discriminator: Kim's (2014) CNN sentence classifier with a highway layer (Yu et al., 2017).

Faithful to LantaoYu/SeqGAN ``discriminator.py`` with the hyper-parameters of ``sequence_gan.py`` (as also
used by TextGAN-PyTorch's ``CNNDiscriminator``):

* embedding 64, initialised uniform(-1, 1);
* conv2d kernels (f, 64) over the (T, 64) embedded sentence, VALID, with filter sizes
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20] and [100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160]
  filters, initialised truncated normal std 0.1 with bias 0.1; ReLU; max-pool over time -> 1720 features.
  Windows longer than ``max_length`` have no valid position and are dropped (with the matching filter
  counts), which TensorFlow would have rejected;
* highway ``highway(h, size, 1, 0)``: SeqGAN's ``linear`` has a bias in both products (TensorFlow's default
  Glorot-uniform initialiser for matrices *and* biases) and the gate bias is 0 (the helper's default is -2,
  but the discriminator passes 0);
* dropout with keep probability 0.75 (``p = 0.25``), then the output layer.

Output: SeqGAN scores two classes (fake = 0, real = 1) with a softmax. ``softmax(s)[1] = sigmoid(s_1 - s_0)``,
so one logit ``s_1 - s_0`` per sentence, read with sigmoid / BCE-with-logits, is the same model with the
redundant direction removed: weight and bias are the differences of the two columns (initialised truncated
normal with std 0.1 * sqrt(2), matching the difference of two std-0.1 columns, and bias 0.1 - 0.1 = 0).
SeqGAN also adds ``l2_reg_lambda * (|W|^2 + |b|^2) / 2`` of the output layer to its loss (lambda = 0.2);
:meth:`regularization` returns the equivalent penalty for the single logit (see there). Output (B, 1).

SeqGAN computes rewards with ``dropout_keep_prob = 1``: call ``eval()`` for rollout rewards.
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, number
from textgan.models.discriminator import TextDiscriminator
from textgan.models.highway import Highway
from textgan.models.max_over_time_conv import FILTER_BANK_RANGES, MaxOverTimeConv, paired_filters

SEQGAN_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
SEQGAN_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


class SeqGANDiscriminator(TextDiscriminator):
    """SeqGAN's CNN discriminator: (B, T) ids or (B, T, V) one-hot -> (B, 1) logit of "real".

    Args:
        vocab_size, max_length: from the data.
        embedding_dim: embedding width (64).
        filter_sizes / num_filters: conv windows and filter counts (windows > ``max_length`` are dropped).
        dropout: drop probability after the highway (SeqGAN keeps 0.75, so 0.25).
        l2_reg_lambda: weight of SeqGAN's L2 penalty on the output layer, returned by :meth:`regularization`.
        backend: ``"auto"``, ``"native"`` or ``"torch"`` for the conv + max-pool and the highway + dropout.
    """

    config_ranges = {**FILTER_BANK_RANGES, "dropout": number(0, 1), "l2_reg_lambda": number(0)}

    @classmethod
    def config_relations(cls, arguments: Arguments) -> Refusals:
        yield from paired_filters(arguments)

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        embedding_dim: int = 64,
        filter_sizes: tuple[int, ...] | list[int] = SEQGAN_FILTER_SIZES,
        num_filters: tuple[int, ...] | list[int] = SEQGAN_NUM_FILTERS,
        dropout: float = 0.25,
        l2_reg_lambda: float = 0.2,
        backend: str = "auto",
    ) -> None:
        super().__init__(vocab_size, max_length, embedding_dim, num_outputs=1)
        if len(filter_sizes) != len(num_filters):
            raise ValueError(
                f"filter_sizes {list(filter_sizes)} and num_filters {list(num_filters)} must pair up"
            )
        kept = [(f, n) for f, n in zip(filter_sizes, num_filters, strict=True) if f <= max_length]
        if not kept:
            raise ValueError(f"every filter size in {list(filter_sizes)} exceeds max_length={max_length}")
        if len(kept) < len(filter_sizes):
            dropped = [f for f in filter_sizes if f > max_length]
            warnings.warn(
                f"SeqGANDiscriminator: dropping windows {dropped} longer than max_length={max_length}",
                stacklevel=2,
            )
        self.l2_reg_lambda = l2_reg_lambda
        sizes, counts = [f for f, _ in kept], [n for _, n in kept]
        self.features = MaxOverTimeConv(embedding_dim, sizes, counts, backend)
        features = self.features.out_features
        self.highway = Highway(features, bias=True, gate_bias=0.0, dropout=dropout, backend=backend)
        self.logit = nn.Linear(features, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SeqGAN's initialisation (see the module docstring)."""
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for conv in self.features.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(conv.bias, 0.1)
        features = self.features.out_features
        with torch.no_grad():  # TensorFlow's Glorot uniform, per (F, F) half and per (F,) bias
            for half in self.highway.linear.weight.split(features):
                nn.init.xavier_uniform_(half)
            limit = math.sqrt(3.0 / features)
            nn.init.uniform_(self.highway.linear.bias, -limit, limit)
        std = 0.1 * math.sqrt(2.0)
        nn.init.trunc_normal_(self.logit.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(self.logit.bias)

    def embedded_features(self, embedded: torch.Tensor) -> torch.Tensor:
        features = self.features(embedded)  # (B, 1720): the whole embedding is one vector per time step
        return self.highway(features)  # (B, 1720), dropout included

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return self.logit(features)  # (B, 1)

    def regularization(self) -> torch.Tensor:
        """SeqGAN's ``l2_reg_lambda * l2_loss`` of the output layer, written for the single logit.

        With two class columns ``W_0, W_1`` the loss only sees ``w = W_1 - W_0``; the penalty
        ``(|W_0|^2 + |W_1|^2) / 2`` is smallest, ``|w|^2 / 4``, at ``W_1 = -W_0 = w / 2``, where L2 decay
        drives the unseen direction. So the single-logit penalty is ``l2_reg_lambda * (|w|^2 + b^2) / 4``.
        SeqGAN's data loss is the mean over the real and fake sentences together, i.e. half the ``standard``
        GAN loss's sum of two means: add ``2 * regularization()`` to that loss to keep SeqGAN's proportions.
        """
        return self.l2_reg_lambda * (self.logit.weight.square().sum() + self.logit.bias.square().sum()) / 4
