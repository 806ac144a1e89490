"""DPGAN's discriminator: a language model whose cross-entropy scores "novelty" (Xu et al., EMNLP 2018).

Xu, Ren, Lin and Sun, "Diversity-Promoting GAN: A Cross-Entropy Based Generative Adversarial Network for
Diversified Text Generation" replace the binary classifier by a unidirectional LSTM language model ``D``. A
token's reward is its novelty under that model, ``R(y_t) = -log D(y_t | y_<t)``, and a sentence's is the mean
over its tokens; :mod:`textgan.estimators.dpgan` turns them into returns and trains ``D``. The model is our
LSTM generator's cell (:class:`textgan.models.lstm.LSTMGenerator`), one more instance, teacher-forced: the
start token is its first input, as for the generator.

``forward(tokens)`` returns the sentence-level novelty (B, 1), a score per sentence like the classifiers'
logits, so that code reading one score per sentence (evaluation, logging) works with it; DPGAN itself reads
:meth:`LanguageModelDiscriminator.novelty`, per token.
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer
from textgan.models.lstm import LSTMGenerator


class LanguageModelDiscriminator(nn.Module):
    """An LSTM language model over the vocabulary: (B, T) ids -> per-token novelty ``-log D(y_t | y_<t)``.

    Args:
        vocab_size, max_length: from the data.
        embedding_dim: token embedding width.
        hidden_size: the LSTM's width.
        start_token: the first input (token 0, the generators' convention).
    """

    config_ranges = {"embedding_dim": integer(1), "hidden_size": integer(1)}

    def __init__(
        self, vocab_size: int, max_length: int, embedding_dim: int = 32, hidden_size: int = 32, start_token: int = 0
    ) -> None:
        super().__init__()
        self.vocab_size, self.max_length = vocab_size, max_length
        self.language_model = LSTMGenerator(vocab_size, max_length, embedding_dim, hidden_size, start_token)

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """``log D(y_t | y_<t)`` under teacher forcing: (B, T) ids -> (B, T) float32."""
        if tokens.is_floating_point() or tokens.dim() != 2:
            raise ValueError(f"a language-model discriminator reads (B, T) token ids, got {tuple(tokens.shape)}")
        return self.language_model.log_prob(tokens)

    def novelty(self, tokens: torch.Tensor) -> torch.Tensor:
        """DPGAN's word-level reward ``-log D(y_t | y_<t)``: (B, T) ids -> (B, T), in nats."""
        return -self.log_prob(tokens)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """The sentence-level novelty, the mean of the tokens' novelty: (B, T) ids -> (B, 1)."""
        return self.novelty(tokens).mean(dim=1, keepdim=True)
