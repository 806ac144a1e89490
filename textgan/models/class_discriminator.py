"""Multi-class discriminators: ``k`` real classes and one fake class, ``(B, T) -> (B, k + 1)`` logits.

SentiGAN (Wang and Wan, IJCAI 2018, Sec. 3.1) asks its discriminator for a softmax over ``k + 1`` classes: the
``i``-th probability ``D_i(X)`` that ``X`` is a real sentence of class ``i``, the last that it was generated
(the semi-supervised GAN discriminator of Salimans et al., 2016). These are RelGAN's and SeqGAN's CNNs with
that output layer: the features are theirs (``sentence_features``), only ``score`` changes.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from textgan.config_ranges import integer
from textgan.models.relgan_discriminator import RelGANDiscriminator
from textgan.models.seqgan_discriminator import SeqGANDiscriminator


class ClassDiscriminator:
    """Mixin: ``num_classes`` real classes, class index ``fake_class = num_classes`` for generated sentences."""

    num_classes: int

    @property
    def fake_class(self) -> int:
        """The index of the "generated" class, after the ``k`` real ones."""
        return self.num_classes

    def class_probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        """``softmax`` of the ``k + 1`` logits: (B, k + 1), float32."""
        return torch.softmax(self(inputs).float(), dim=-1)


def _check(num_classes: int) -> None:
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1 (the real classes; the fake class is added), got {num_classes}")


class ClassRelGANDiscriminator(ClassDiscriminator, RelGANDiscriminator):
    """RelGAN's multi-representation CNN with ``k + 1`` logits per representation, averaged over them.

    Args: ``num_classes`` (``k``, from the data), then those of :class:`RelGANDiscriminator`. The output
    layer ``hidden_size -> k + 1`` is initialised as RelGAN's (truncated normal, std 1/sqrt(fan_in), zero bias).
    """

    config_ranges = {"num_classes": integer(1)}  # with those of RelGANDiscriminator (inherited)

    def __init__(self, num_classes: int, vocab_size: int, max_length: int, **options) -> None:
        _check(num_classes)
        super().__init__(vocab_size, max_length, **options)
        self.num_classes = num_classes
        self.num_outputs = num_classes + 1
        self.logit = nn.Linear(self.hidden.out_features, num_classes + 1)
        std = 1.0 / math.sqrt(self.logit.in_features)
        nn.init.trunc_normal_(self.logit.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(self.logit.bias)
        if options.get("spectral_norm"):
            apply_spectral_norm(self.logit)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """(B, R * F) -> (B, k + 1): every representation's class logits, averaged over the ``R``."""
        batch = features.shape[0]
        per_rep = self.logit(self.hidden(features.reshape(batch * self.num_rep, -1)))  # (B * R, k + 1)
        return per_rep.view(batch, self.num_rep, -1).mean(dim=1)


class ClassSeqGANDiscriminator(ClassDiscriminator, SeqGANDiscriminator):
    """SeqGAN's CNN (SentiGAN's discriminator is this CNN with ``k + 1`` softmax outputs).

    Args: ``num_classes`` (``k``, from the data), then those of :class:`SeqGANDiscriminator`. The output
    layer is initialised as in SentiGAN's code (truncated normal std 0.1, bias 0.1), and
    :meth:`regularization` is its ``l2_reg_lambda * l2_loss`` of that layer.
    """

    config_ranges = {"num_classes": integer(1)}  # with those of SeqGANDiscriminator (inherited)

    def __init__(self, num_classes: int, vocab_size: int, max_length: int, **options) -> None:
        _check(num_classes)
        super().__init__(vocab_size, max_length, **options)
        self.num_classes = num_classes
        self.num_outputs = num_classes + 1
        self.logit = nn.Linear(self.logit.in_features, num_classes + 1)
        nn.init.trunc_normal_(self.logit.weight, std=0.1, a=-0.2, b=0.2)
        nn.init.constant_(self.logit.bias, 0.1)

    def regularization(self) -> torch.Tensor:
        """``l2_reg_lambda * (|W|^2 + |b|^2) / 2`` of the output layer (TensorFlow's ``l2_loss``)."""
        return self.l2_reg_lambda * (self.logit.weight.square().sum() + self.logit.bias.square().sum()) / 2
