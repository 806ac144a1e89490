"""Exact n-gram identities for a whole set of sentences at once, with numpy.

BLEU needs, per sentence and n-gram order ``k``, how often each k-gram occurs. Hashing every n-gram tuple in
Python is the slow part of nltk; here every k-gram of a sentence set gets a dense integer id by induction on
``k``, entirely in numpy:

* order 1: the token's id in a vocabulary (a dict: tokens are any hashable values, compared as Python does);
* order k: the pair (id of the (k-1)-gram starting at the same position, id of the k-th token), packed into
  one int64 ``code = prev_id * V + token_id`` and made dense with ``np.unique``.

Ids are exact (no hashing collisions): two k-grams get the same id iff their tokens are equal. ``NGramIndex``
keeps the sorted code table of every order, so sentences outside the indexed set (hypotheses scored against
an indexed reference set) are mapped into the same id space with ``np.searchsorted``; a k-gram absent from the
index gets id -1 (it cannot match any indexed sentence). Codes stay below ``P**2`` for ``P`` indexed tokens,
so int64 holds them up to about 3e9 tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np


def as_token_lists(sentences: Iterable[Any]) -> list[Sequence[Any]]:
    """Sentences as token sequences; numpy arrays and torch tensors become lists of Python scalars.

    Tensors must be converted: a torch scalar hashes by identity, so equal token ids would never match.
    A ``str`` sentence is refused (it would be scored character by character): split it into tokens first.
    """
    result = []
    for sentence in sentences:
        if isinstance(sentence, (str, bytes)):
            raise TypeError(
                f"a sentence must be a sequence of tokens, got the string {sentence[:40]!r}: split it first"
            )
        if hasattr(sentence, "tolist"):  # numpy array or torch tensor
            sentence = sentence.tolist()
        result.append(sentence)
    return result


@dataclass(frozen=True)
class EncodedSentences:
    """Token ids of a sentence set, concatenated (P tokens over S sentences).

    Attributes:
        tokens: (P,) int64 token ids (-1: a token the vocabulary lacks, only when encoding without growing).
        lengths: (S,) int64 sentence lengths.
        sentence: (P,) int64 index of the sentence each position belongs to.
        remaining: (P,) int64 number of tokens from each position to its sentence's end (itself included): a
            k-gram starts at a position iff ``remaining >= k``.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    sentence: np.ndarray
    remaining: np.ndarray

    @property
    def num_sentences(self) -> int:
        return len(self.lengths)


def encode(sentences: Sequence[Sequence[Any]], vocabulary: dict[Any, int], *, grow: bool) -> EncodedSentences:
    """Map tokens to ids through ``vocabulary``: ``grow=True`` adds unseen tokens, else they map to -1."""
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    flat = [token for sentence in sentences for token in sentence]
    if grow:
        for token in dict.fromkeys(flat):
            if token not in vocabulary:
                vocabulary[token] = len(vocabulary)
        ids = map(vocabulary.__getitem__, flat)
    else:
        ids = map(vocabulary.get, flat, repeat(-1, len(flat)))
    tokens = np.fromiter(ids, dtype=np.int64, count=len(flat))
    sentence = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    remaining = lengths[sentence] - (np.arange(len(tokens), dtype=np.int64) - starts[sentence])
    return EncodedSentences(tokens=tokens, lengths=lengths, sentence=sentence, remaining=remaining)


class NGramIndex:
    """Dense ids of every n-gram of orders 1..max_order occurring in a set of sentences.

    Attributes:
        vocabulary: token -> id (order-1 ids).
        encoded: the indexed sentences, encoded.
        position_ids: per order k (list index k - 1), a (P,) int64 array: id of the k-gram starting at each
            position of the indexed sentences, -1 where none starts (fewer than k tokens left).
        num_grams: per order, the number of distinct k-grams (ids are ``0 .. num_grams - 1``).
    """

    def __init__(self, sentences: Sequence[Sequence[Any]], max_order: int):
        if max_order < 1:
            raise ValueError(f"max_order must be >= 1, got {max_order}")
        self.max_order = max_order
        self.vocabulary: dict[Any, int] = {}
        self.encoded = encode(sentences, self.vocabulary, grow=True)
        self._tables: list[np.ndarray | None] = [None]  # order k >= 2: sorted distinct codes
        tokens, remaining = self.encoded.tokens, self.encoded.remaining
        self.position_ids: list[np.ndarray] = [tokens]
        self.num_grams: list[int] = [len(self.vocabulary)]
        for k in range(2, max_order + 1):
            positions = np.flatnonzero(remaining >= k)
            codes = self.position_ids[-1][positions] * self._radix + tokens[positions + k - 1]
            table, inverse = np.unique(codes, return_inverse=True)
            ids = np.full(len(tokens), -1, dtype=np.int64)
            ids[positions] = inverse.reshape(-1)
            self._tables.append(table)
            self.position_ids.append(ids)
            self.num_grams.append(len(table))

    @property
    def _radix(self) -> int:
        return max(len(self.vocabulary), 1)

    def lookup(self, sentences: Sequence[Sequence[Any]]) -> tuple[EncodedSentences, list[np.ndarray]]:
        """Encode other sentences in this index's id space.

        Returns the encoding and, per order k, a (P,) array of the id of the k-gram starting at each position
        (-1 where none starts or the k-gram does not occur in the indexed sentences).
        """
        encoded = encode(sentences, self.vocabulary, grow=False)
        tokens, remaining = encoded.tokens, encoded.remaining
        position_ids = [tokens]
        for k in range(2, self.max_order + 1):
            positions = np.flatnonzero(remaining >= k)
            previous, last = position_ids[-1][positions], tokens[positions + k - 1]
            codes = previous * self._radix + last
            table = self._tables[k - 1]
            where = np.minimum(np.searchsorted(table, codes), max(len(table) - 1, 0))
            found = (previous >= 0) & (last >= 0) & (len(table) > 0)
            if len(table):
                found &= table[where] == codes
            ids = np.full(len(tokens), -1, dtype=np.int64)
            ids[positions] = np.where(found, where, -1)
            position_ids.append(ids)
        return encoded, position_ids


def sentence_gram_counts(
    sentence: np.ndarray, gram_ids: np.ndarray, num_grams: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occurrence counts of each (sentence, gram) pair, over the positions whose gram id is >= 0.

    Args:
        sentence: (P,) sentence index of each position.
        gram_ids: (P,) gram id starting at each position, -1 to skip.
        num_grams: an upper bound on the gram ids.

    Returns:
        ``(sentences, grams, counts)``, three (Q,) int64 arrays over the Q distinct pairs, sorted by sentence
        then gram.
    """
    keep = gram_ids >= 0
    keys = sentence[keep] * max(num_grams, 1) + gram_ids[keep]
    pairs, counts = np.unique(keys, return_counts=True)
    return pairs // max(num_grams, 1), pairs % max(num_grams, 1), counts.astype(np.int64)
