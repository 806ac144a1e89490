"""The discriminator interface shared by the CNN text discriminators.

A discriminator scores sentences: ``forward(inputs) -> logits (B, R)``, ``R = num_outputs`` scores per
sentence (RelGAN's multiple representations; 1 for SeqGAN). ``inputs`` is either

* a LongTensor (B, T) of token ids (real data, hard samples): the embedding is a table lookup, or
* a float tensor (B, T, V) of one-hot or relaxed one-hot rows (Gumbel-Softmax samples): the embedding is the
  product ``inputs @ embedding`` (B, T, E), through which gradients reach the generator.

Both give the same embeddings, bit for bit, for one-hot rows (a product with one 1 and zeros is exact), and
the lookup avoids the (B*T, V) x (V, E) product. The work is per sentence, so one call on a concatenated
(2B, ...) batch of real and fake sentences costs about the same as two calls (measured for RelGAN's).

Every discriminator here ends in one affine output map, so ``forward`` is ``score(embedded_features(embed(x)))``:
``sentence_features(inputs)`` (B, F) is the vector that output map reads, dropout included in training mode, the
feature vector that TextGAN's feature matching compares between real and generated sentences (an attribute
``features``, the convolution layer of the CNN discriminators, keeps its name so that checkpoints still load).
"""

from __future__ import annotations

import torch
from torch import nn

from textgan.config_ranges import integer


class TextDiscriminator(nn.Module):
    """Base class: token / one-hot inputs -> embeddings (B, T, E) -> ``classify`` -> logits (B, R).

    Args:
        vocab_size: ``V``.
        max_length: the sentence length ``T`` the discriminator is built for.
        embedding_dim: ``E``.
        num_outputs: ``R``, logits per sentence.
    """

    config_ranges = {"embedding_dim": integer(1)}

    def __init__(self, vocab_size: int, max_length: int, embedding_dim: int, num_outputs: int) -> None:
        super().__init__()
        self.vocab_size, self.max_length, self.num_outputs = vocab_size, max_length, num_outputs
        self.embedding = nn.Embedding(vocab_size, embedding_dim)

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids or (B, T, V) one-hot / relaxed rows -> (B, T, E) embeddings."""
        if not inputs.is_floating_point():
            if inputs.dim() != 2:
                raise ValueError(f"token inputs must be (B, T), got shape {tuple(inputs.shape)}")
            return self.embedding(inputs)
        if inputs.dim() != 3 or inputs.shape[-1] != self.vocab_size:
            raise ValueError(
                f"one-hot inputs must be (B, T, {self.vocab_size}), got shape {tuple(inputs.shape)}"
            )
        return inputs @ self.embedding.weight  # (B, T, V) @ (V, E)

    def embedded_features(self, embedded: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embeddings -> (B, F) features: what the output map reads."""
        raise NotImplementedError

    def score(self, features: torch.Tensor) -> torch.Tensor:
        """The output map: (B, F) features -> (B, R) logits."""
        raise NotImplementedError

    def classify(self, embedded: torch.Tensor) -> torch.Tensor:
        """(B, T, E) embeddings -> (B, R) logits."""
        return self.score(self.embedded_features(embedded))

    def sentence_features(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids or (B, T, V) one-hot / relaxed rows -> (B, F), the input of the output map.

        ``score(sentence_features(x))`` is ``forward(x)``, the same operations (dropout included in training
        mode, so one call draws one mask)."""
        return self.embedded_features(self.embed(inputs))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids or (B, T, V) one-hot rows -> (B, R) logits."""
        return self.classify(self.embed(inputs))

    def regularization(self) -> torch.Tensor:
        """A penalty the discriminator's own loss should add (zero unless a subclass defines one)."""
        return self.embedding.weight.new_zeros(())
