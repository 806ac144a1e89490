"""Copies and duplicates among generated sentences: how much of a sample set is memorised or repeated.

* ``copy_rate``: the share of samples that are a training sentence verbatim (the complement of the "novel" share
  reported for text GANs and VAEs). A generator that overfits a small corpus scores high BLEU and class accuracy
  by reproducing its training sentences; this says how often it does.
* ``unique_rate``: the share of distinct sentences among the samples (1 when no two are equal; 1/N when every
  sample is the same sentence): mode collapse in one number, beside Self-BLEU's n-gram view.

Both compare whole sentences exactly, as token ids. A sentence is a row's ids up to (not including) its first
``stop_token`` with the ``skip_tokens`` removed, the units a reader sees after decoding (on a text corpus: up to
``<eos>``, pads and ``<bos>`` dropped; on the synthetic oracle: the whole row). Rows are compared as byte strings
after this normalisation, by sorting and binary search: exact (no hashing), O((N + M) log N) time for N samples
and M training sentences, memory for the samples only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

_FILL = -1  # after a sentence's last token: no token id is negative


def sentence_rows(
    tokens: np.ndarray,
    stop_token: int | None = None,
    skip_tokens: Sequence[int] = (),
    width: int | None = None,
) -> np.ndarray:
    """Token ids (N, T), an array or a CPU tensor -> (N, width) int64: each row's sentence (see the module
    docstring) moved to the front, the rest filled with -1, so that two rows are equal exactly when their
    sentences are. ``width`` (>= T) pads rows of different lengths to one width."""
    rows = np.asarray(tokens, dtype=np.int64)
    if rows.ndim != 2:
        raise ValueError(f"token rows must be (N, T), got shape {rows.shape}")
    count, length = rows.shape
    width = length if width is None else width
    if width < length:
        raise ValueError(f"width {width} is shorter than the rows ({length} tokens)")
    keep = np.ones_like(rows, dtype=bool)
    if stop_token is not None:
        keep &= np.cumsum(rows == stop_token, axis=1) == 0  # before the first stop token
    for token in skip_tokens:
        keep &= rows != token
    order = np.argsort(~keep, axis=1, kind="stable")  # kept tokens first, in their order
    packed = np.take_along_axis(np.where(keep, rows, _FILL), order, axis=1)
    out = np.full((count, width), _FILL, dtype=np.int64)
    out[:, :length] = packed
    return out


def _as_strings(rows: np.ndarray) -> np.ndarray:
    """(N, W) int64 -> (N,) fixed-size byte strings, one per row, equal exactly when the rows are."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()


def copy_rate(samples: np.ndarray, corpus: Iterable[np.ndarray]) -> float:
    """The share of samples that are one of ``corpus``'s sentences.

    ``samples``: normalised rows (N, W) from ``sentence_rows``; ``corpus``: the training sentences' normalised
    rows, in one array or in chunks of the same width (a large split read block by block). Only the N samples are
    held: the corpus streams past them once, so a corpus larger than memory costs one pass and no more memory.
    """
    if len(samples) == 0:
        raise ValueError("copy_rate of no samples")
    keys = _as_strings(samples)
    distinct = np.unique(keys)
    found = np.zeros(len(distinct), dtype=bool)
    for chunk in [corpus] if isinstance(corpus, np.ndarray) else corpus:
        if chunk.shape[1] != samples.shape[1]:
            raise ValueError(f"corpus rows of width {chunk.shape[1]}, samples of width {samples.shape[1]}")
        if len(chunk) == 0:
            continue
        sentences = _as_strings(chunk)
        position = np.minimum(np.searchsorted(distinct, sentences), len(distinct) - 1)
        found[position[distinct[position] == sentences]] = True
    return float(found[np.searchsorted(distinct, keys)].mean())


def unique_rate(samples: np.ndarray) -> float:
    """The share of distinct sentences among the samples (normalised rows, (N, width)): distinct / N."""
    if len(samples) == 0:
        raise ValueError("unique_rate of no samples")
    return len(np.unique(_as_strings(samples))) / len(samples)
