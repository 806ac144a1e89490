"""A recurrent discriminator: an LSTM reads the embedded sentence and its last state scores it (GSGAN's).

Kusner and Hernandez-Lobato (2016, "GANs for sequences of discrete elements with the Gumbel-softmax
distribution") pair their LSTM generator with an LSTM discriminator that reads the whole (relaxed) sequence
and outputs one score. Here: the shared embedding (a lookup for token ids, ``rows @ E`` for one-hot or
relaxed rows, see :mod:`textgan.models.discriminator`), one ``nn.LSTM`` layer over all ``T`` positions
(padding included: every sentence has the same length), dropout on the last hidden state, and a linear
layer to one logit of "real". Output (B, 1). On CPU the recurrence runs in float32 under autocast: oneDNN's LSTM
refuses bfloat16 inputs on CPUs without bf16 units, and the recurrence is a small share of an iteration.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer, number
from textgan.models.discriminator import TextDiscriminator


class LSTMDiscriminator(TextDiscriminator):
    """(B, T) ids or (B, T, V) rows -> embedding (B, T, E) -> LSTM -> last hidden state (B, H) -> (B, 1) logit.

    Args:
        vocab_size, max_length: from the data.
        embedding_dim: ``E``.
        hidden_size: ``H``, the LSTM's width.
        dropout: drop probability on the last hidden state.
    """

    config_ranges = {"hidden_size": integer(1), "dropout": number(0, 1)}

    def __init__(
        self, vocab_size: int, max_length: int, embedding_dim: int = 64, hidden_size: int = 64, dropout: float = 0.25
    ) -> None:
        super().__init__(vocab_size, max_length, embedding_dim, num_outputs=1)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.logit = nn.Linear(hidden_size, 1)
        nn.init.normal_(self.embedding.weight, std=0.1)

    def embedded_features(self, embedded: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, H): the last hidden state, dropout included."""
        if embedded.device.type == "cpu":  # oneDNN's CPU LSTM refuses bfloat16 without bf16 units
            with torch.autocast("cpu", enabled=False):
                _, (hidden, _) = self.lstm(embedded.float())  # hidden: (1, B, H), after the last position
        else:
            _, (hidden, _) = self.lstm(embedded)
        return self.dropout(hidden[-1])  # (B, H)

    def score(self, features: torch.Tensor) -> torch.Tensor:
        return self.logit(features)  # (B, 1)
