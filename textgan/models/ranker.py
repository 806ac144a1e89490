"""RankGAN's ranker: sentence features from SeqGAN's CNN, compared by cosine relevance (Lin et al., NeurIPS 2017).

Lin, Li, He, Zhang and Sun, "Adversarial Ranking for Language Generation", replace the classifier by a
ranker: a CNN maps each sentence ``u`` to a feature vector ``y_u``, the relevance of ``u`` to a reference
sentence ``s`` is ``alpha(u | s) = cos(y_u, y_s)``, and the rank scores built on it
(:func:`textgan.estimators.rankgan.log_rank_scores`) are a softmax with inverse temperature ``gamma`` over a
comparison set. The feature extractor is our SeqGAN discriminator up to the input of its output layer
(:meth:`textgan.models.seqgan_discriminator.SeqGANDiscriminator.sentence_features`: embedding, the
convolutions max-pooled over time, the highway and its dropout), the CNN RankGAN describes; its output layer
is built with it and never used.

``forward(tokens)`` returns the features (N, F): a ranker scores sentences only relative to others, so it has
no per-sentence logit.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from textgan.config_ranges import Arguments, Refusals, number
from textgan.models.max_over_time_conv import FILTER_BANK_RANGES, paired_filters
from textgan.models.seqgan_discriminator import SEQGAN_FILTER_SIZES, SEQGAN_NUM_FILTERS, SeqGANDiscriminator


class Ranker(nn.Module):
    """SeqGAN's CNN features for RankGAN: (N, T) ids or (N, T, V) rows -> (N, F) sentence features.

    Args:
        vocab_size, max_length: from the data.
        embedding_dim: embedding width (64).
        filter_sizes / num_filters: conv windows and filter counts (windows > ``max_length`` are dropped).
        dropout: drop probability after the highway (0.25, SeqGAN's keep probability 0.75).
        backend: ``"auto"``, ``"native"`` or ``"torch"`` for the CNN's conv + max-pool and highway.
    """

    config_ranges = {**FILTER_BANK_RANGES, "dropout": number(0, 1)}

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
        backend: str = "auto",
    ) -> None:
        super().__init__()
        self.vocab_size, self.max_length = vocab_size, max_length
        with warnings.catch_warnings():  # windows longer than the sentences: dropped, as SeqGAN's CNN does
            warnings.simplefilter("ignore")
            self.cnn = SeqGANDiscriminator(
                vocab_size, max_length, embedding_dim, filter_sizes, num_filters, dropout, 0.0, backend
            )

    @property
    def out_features(self) -> int:
        return self.cnn.features.out_features

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Sentence features ``y_u``: (N, T) ids or (N, T, V) rows -> (N, F), dropout included in train mode."""
        return self.cnn.sentence_features(inputs)
