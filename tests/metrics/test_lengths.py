"""Sentence lengths and the share of samples that never end, on hand-built rows and against a per-row loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textgan.metrics import mean_length, sentence_lengths, unterminated_rate

STOP, PAD, BOS = 2, 0, 1


def reference_lengths(rows: np.ndarray, stop: int, skip: tuple[int, ...]) -> list[int]:
    """Each row read token by token until the stop token, skipped tokens not counted."""
    lengths = []
    for row in rows.tolist():
        count = 0
        for token in row:
            if token == stop:
                break
            count += token not in skip
        lengths.append(count)
    return lengths


def test_hand_built_rows():
    rows = np.array(
        [
            [5, 6, 7, STOP, PAD, PAD],  # three words, ended
            [BOS, 5, STOP, 8, 9, STOP],  # <bos> not a word; what follows the first <eos> not part of it
            [5, 6, 7, 8, 9, 10],  # run on: all six positions, no <eos>
            [STOP, 5, 6, 7, 8, 9],  # the empty sentence
            [PAD, 5, PAD, 6, PAD, 7],  # pads inside: not words; no <eos>
        ]
    )
    assert sentence_lengths(rows, STOP, (PAD, BOS)).tolist() == [3, 1, 6, 0, 3]
    assert sentence_lengths(rows, STOP).tolist() == [3, 2, 6, 0, 6]  # nothing skipped
    assert mean_length(rows, STOP, (PAD, BOS)) == pytest.approx(13 / 5)
    assert unterminated_rate(rows, STOP) == 2 / 5


def test_random_rows_match_the_loop_and_tensors_are_accepted():
    generator = np.random.default_rng(0)
    rows = generator.integers(0, 12, size=(500, 21))
    expected = reference_lengths(rows, STOP, (PAD, BOS))
    assert sentence_lengths(torch.from_numpy(rows), STOP, (PAD, BOS)).tolist() == expected
    assert mean_length(rows, STOP, (PAD, BOS)) == pytest.approx(np.mean(expected), abs=1e-12)
    assert unterminated_rate(rows, STOP) == np.mean([STOP not in row for row in rows.tolist()])


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"must be \(N, T\), got shape \(3,\)"):
        mean_length(np.zeros(3), STOP)
    with pytest.raises(ValueError, match="of no samples"):
        unterminated_rate(np.zeros((0, 4)), STOP)
