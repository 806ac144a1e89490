"""How long generated sentences are, and how many never end.

* ``mean_length``: the mean number of tokens a reader sees per sample: a row's ids before its first
  ``stop_token``, ``skip_tokens`` removed (on a text corpus: the words before ``<eos>``, pads and ``<bos>``
  dropped, as ``copies`` and decoding count them).
* ``unterminated_rate``: the share of samples without ``stop_token`` in any of their T positions: sentences the
  length limit cut off rather than the generator ended. An objective that takes probability from the stop token
  (SentiGAN's probability-weighted penalty does, docs/schemes/sentigan.md) shows here first, as a run-on style
  that BLEU only punishes indirectly.

Both are exact counts over token ids, vectorised over the rows (no Python loop per sample).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _rows(tokens: np.ndarray) -> np.ndarray:
    rows = np.asarray(tokens, dtype=np.int64)
    if rows.ndim != 2:
        raise ValueError(f"token rows must be (N, T), got shape {rows.shape}")
    if rows.shape[0] == 0:
        raise ValueError("sentence lengths of no samples")
    return rows


def sentence_lengths(tokens: np.ndarray, stop_token: int, skip_tokens: Sequence[int] = ()) -> np.ndarray:
    """Token ids (N, T), an array or a CPU tensor -> (N,) int64: each row's tokens before its first
    ``stop_token`` (all T without one), ``skip_tokens`` not counted."""
    rows = _rows(tokens)
    stops = rows == stop_token
    ends = np.where(stops.any(axis=1), stops.argmax(axis=1), rows.shape[1])  # (N,) first stop, or T
    before_end = np.arange(rows.shape[1]) < ends[:, None]  # (N, T)
    counted = before_end & ~np.isin(rows, np.asarray(skip_tokens, dtype=np.int64))
    return counted.sum(axis=1)


def mean_length(tokens: np.ndarray, stop_token: int, skip_tokens: Sequence[int] = ()) -> float:
    """The mean of :func:`sentence_lengths`."""
    return float(sentence_lengths(tokens, stop_token, skip_tokens).mean())


def unterminated_rate(tokens: np.ndarray, stop_token: int) -> float:
    """The share of rows (N, T) with no ``stop_token`` in any position."""
    rows = _rows(tokens)
    return float((~(rows == stop_token).any(axis=1)).mean())
