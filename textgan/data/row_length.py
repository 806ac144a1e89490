"""The row length T of a dataset folder, and what happens to lines longer than it.

``max_length`` (``textgan-tokenize --max-length``, ``TextDataModule(max_length=...)``, ``build_dataset``) is one of:

* ``"auto"`` (the default): a training line longer than twice the 99th percentile of the training lines'
  lengths (tokens, eos included; the percentile is an observed length: at least 99% of the lines are no
  longer) is an outlier, e.g. a pasted document or a lost line break. Outlying training lines are DROPPED,
  counted and warned about, and the vocabulary is built without them: cutting them instead would teach the
  generator sentences that stop mid-way, and BLEU compares whole sentences. T is then the longest remaining
  line of either split; a test line longer than the cap is CUT to T (counted and warned about, as below), so
  the test split, the benchmark, keeps every sentence, and its full text stays the BLEU reference. Corpora
  without outliers are untouched: COCO's longest caption, 38 tokens with the eos, is under its cap of 44
  (2 x 22); EMNLP News's 49 under 92.
* ``None`` or ``"none"``: T is the longest line of either split and nothing is dropped or cut (the behaviour
  before ``"auto"``: one 5,000-token line makes every row 5,001 ids long).
* an integer N >= 2: T = N; a longer line of either split keeps its first N - 1 tokens and the eos.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from textgan.data.corpus_files import DataWarning, list_lines

AUTO = "auto"
AUTO_PERCENTILE = 99
AUTO_FACTOR = 2
AUTO_RULE = "auto: twice the 99th percentile of training line lengths (tokens, eos included)"
MAX_LENGTH_HELP = (
    "row length T, eos included. auto (default): training lines longer than twice the 99th percentile of "
    "training line lengths are dropped (counted and warned about; the vocabulary is built without them), so "
    "one overlong line does not pad every row, and T is the longest line left; a longer test line is cut, "
    "keeping every reference sentence. none: the longest line, nothing dropped or cut. N: cut longer lines of "
    "both splits to N tokens (eos kept)"
)


def check_max_length(value: Any) -> int | str | None:
    """``max_length`` normalised: ``"auto"``, None (also for ``"none"``, any case) or an int >= 2.

    Anything else raises ValueError: T needs room for at least one token and the eos.
    """
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return None
    if isinstance(value, str) and value.lower() == AUTO:
        return AUTO
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 2:
        return int(value)
    raise ValueError(
        f"max_length must be 'auto', None ('none') or an integer >= 2 (room for a token and the eos), got {value!r}"
    )


def max_length_argument(text: str) -> int | str | None:
    """``--max-length``'s argparse type: ``auto``, ``none`` or an integer >= 2."""
    import argparse

    try:
        return check_max_length(int(text) if text.lstrip("-").isdigit() else text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or an integer >= 2, got {text!r}") from None


@dataclass(frozen=True)
class LengthCap:
    """The ``"auto"`` cap of a corpus: ``cap = AUTO_FACTOR * percentile_tokens`` (tokens, eos included)."""

    percentile_tokens: int
    cap: int

    @classmethod
    def of(cls, train_lengths: Sequence[int]) -> LengthCap:
        """The cap of these training line lengths (their ``AUTO_PERCENTILE``-th percentile, observed)."""
        percentile = int(np.percentile(np.asarray(train_lengths), AUTO_PERCENTILE, method="inverted_cdf"))
        return cls(percentile, AUTO_FACTOR * percentile)

    def manifest(self) -> dict[str, Any]:
        """The cap as the dataset folder's ``manifest.json`` records it (``length_cap``)."""
        return {
            "rule": AUTO_RULE,
            "percentile": AUTO_PERCENTILE,
            "percentile_tokens": self.percentile_tokens,
            "factor": AUTO_FACTOR,
            "cap": self.cap,
        }


def drop_overlong(
    lines: list[str], numbers: list[int], lengths: Sequence[int], cap: LengthCap, label: str
) -> tuple[list[str], list[int], list[int]]:
    """Training lines without those longer than ``cap`` (warned about, counted, with line numbers and sizes).

    Returns (kept lines, their line numbers, line numbers of the dropped lines).
    """
    kept_lines, kept_numbers, dropped = drop_longer_than(lines, numbers, lengths, cap.cap)
    if not dropped:
        return lines, numbers, []
    sizes = {numbers[row]: f"{length} tokens" for row, length in enumerate(lengths) if length > cap.cap}
    warnings.warn(
        f"{label}: dropped {len(dropped):,} of {len(lines):,} training lines longer than {cap.cap} tokens, eos "
        f"included (auto cap: twice the {AUTO_PERCENTILE}th percentile of training line lengths, "
        f"{cap.percentile_tokens}): {list_lines(dropped, sizes)}; pass --max-length N (cut instead) or none "
        "(keep all) to change",
        DataWarning,
        3,
    )
    return kept_lines, kept_numbers, dropped


def drop_longer_than(
    lines: list[str], numbers: list[int], lengths: Sequence[int], limit: int
) -> tuple[list[str], list[int], list[int]]:
    """The lines of at most ``limit`` tokens (``lengths``: tokens per line, counted as ``limit`` is), as
    ``TokenizerOptions.drop_longer_than`` and the ``auto`` cap ask.

    Returns (kept lines, their line numbers, line numbers of the dropped lines).
    """
    kept = [row for row, length in enumerate(lengths) if length <= limit]
    dropped = [numbers[row] for row, length in enumerate(lengths) if length > limit]
    return [lines[row] for row in kept], [numbers[row] for row in kept], dropped


def row_length(
    max_length: int | str | None, train_lengths: Sequence[int], test_lengths: Sequence[int], cap: LengthCap | None
) -> int:
    """T: ``max_length`` itself, else the longest line of both splits, test lines over the cap left out."""
    if isinstance(max_length, int):
        return max_length
    test_lengths = [n for n in test_lengths if cap is None or n <= cap.cap]
    return max([*train_lengths, *test_lengths])


def fixed_length_rows(
    encoded: list[list[int]], max_length: int, numbers: list[int], label: str, *, pad_id: int, eos_id: int
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Rows of T ids: padded with ``pad_id``, or cut to their first T - 1 ids and ``eos_id`` (warned about).

    Args:
        encoded: ids of each line, eos included.
        max_length: T.
        numbers: the line number of each line, for the warning.
        label: the source, for the warning.

    Returns:
        (N, T) int32 ids, (N,) int32 lengths (eos included, pads not), line numbers of the cut lines.
    """
    ids = np.full((len(encoded), max_length), pad_id, dtype=np.int32)
    lengths = np.zeros(len(encoded), dtype=np.int32)
    cut = []
    for row, sequence in enumerate(encoded):
        if len(sequence) > max_length:
            sequence = [*sequence[: max_length - 1], eos_id]
            cut.append(row)
        ids[row, : len(sequence)] = sequence
        lengths[row] = len(sequence)
    cut_numbers = [numbers[row] for row in cut]
    if cut:
        sizes = {numbers[row]: f"{len(encoded[row])} tokens" for row in cut}
        warnings.warn(
            f"{label}: {len(cut)} line(s) longer than max_length={max_length} tokens (eos included) were cut: "
            f"{list_lines(cut_numbers, sizes)}",
            DataWarning,
            3,
        )
    return ids, lengths, cut_numbers
