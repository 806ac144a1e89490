"""Copies of training sentences and duplicate samples: exact against sets of tuples, however the corpus is split."""

from __future__ import annotations

import numpy as np
import pytest

from textgan.metrics import copy_rate, sentence_rows, unique_rate


def reference_sentences(rows: np.ndarray, stop: int | None, skip: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Each row's sentence as a tuple: its ids before the first ``stop``, ``skip`` ids dropped (plain Python)."""
    sentences = []
    for row in rows.tolist():
        if stop is not None and stop in row:
            row = row[: row.index(stop)]
        sentences.append(tuple(token for token in row if token not in skip))
    return sentences


def test_sentence_rows_cut_at_the_stop_token_and_drop_skipped_ids():
    rows = np.array([[5, 0, 6, 2, 7], [5, 6, 2, 0, 0], [1, 5, 6, 3, 2], [5, 6, 3, 4, 4]])
    normalised = sentence_rows(rows, stop_token=2, skip_tokens=(0, 1), width=6)
    assert normalised.tolist() == [
        [5, 6, -1, -1, -1, -1],
        [5, 6, -1, -1, -1, -1],
        [5, 6, 3, -1, -1, -1],
        [5, 6, 3, 4, 4, -1],
    ]
    assert sentence_rows(rows).tolist() == rows.tolist()  # no stop token, nothing skipped: the rows as they are
    with pytest.raises(ValueError, match="width 3 is shorter than the rows"):
        sentence_rows(rows, width=3)
    with pytest.raises(ValueError, match=r"must be \(N, T\)"):
        sentence_rows(rows[0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_copy_and_unique_rates_equal_the_set_definitions(seed):
    rng = np.random.default_rng(seed)
    vocabulary, stop, skip = 5, 2, (0, 1)  # a small vocabulary: many repeats and many copies
    corpus = rng.integers(0, vocabulary, size=(300, 6))
    samples = np.concatenate([rng.integers(0, vocabulary, size=(150, 6)), corpus[rng.integers(0, 300, size=50)]])
    training = set(reference_sentences(corpus, stop, skip))
    generated = reference_sentences(samples, stop, skip)
    normalised = sentence_rows(samples, stop_token=stop, skip_tokens=skip)
    corpus_rows = sentence_rows(corpus, stop_token=stop, skip_tokens=skip)
    expected = sum(sentence in training for sentence in generated) / len(generated)
    assert 0.25 <= expected < 1.0
    assert copy_rate(normalised, corpus_rows) == expected
    assert copy_rate(normalised, iter(np.array_split(corpus_rows, 7))) == expected  # streamed in chunks
    assert unique_rate(normalised) == len(set(generated)) / len(generated) < 1.0


def test_no_copies_and_all_distinct():
    corpus = sentence_rows(np.array([[3, 4, 5], [4, 5, 3]]))
    samples = sentence_rows(np.array([[5, 4, 3], [3, 5, 4]]))
    assert copy_rate(samples, corpus) == 0.0
    assert copy_rate(samples, np.empty((0, 3), dtype=np.int64)) == 0.0
    assert unique_rate(samples) == 1.0
    assert unique_rate(sentence_rows(np.array([[3, 4, 5]] * 4))) == 0.25


def test_mismatched_widths_and_empty_samples_are_refused():
    samples = sentence_rows(np.array([[3, 4, 5]]))
    with pytest.raises(ValueError, match="corpus rows of width 4, samples of width 3"):
        copy_rate(samples, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="copy_rate of no samples"):
        copy_rate(samples[:0], samples)
    with pytest.raises(ValueError, match="unique_rate of no samples"):
        unique_rate(samples[:0])
