"""Labelled corpora: a text column and a label column of a TSV / CSV / JSONL file or a ``datasets`` dataset.

Rows are read with their source line numbers (``read_labelled_file``), their labels turned into class ids
(``assign_classes``): either category names (each distinct label a class, sorted, or the order ``label_names``
gives) or, with ``thresholds``, a numeric rating cut into ``len(thresholds) + 1`` bins, class ``i`` holding the
ratings between ``thresholds[i - 1]`` and ``thresholds[i]``. A rating equal to a threshold is dropped
(``ties="drop"``, the default: it belongs to neither side) or given to the class above (``"upper"``) or below
(``"lower"``). One file is split into training and test rows by ``split_rows``: a permutation of the usable rows
seeded by ``split_seed``, its first ``round(test_fraction * N)`` rows the test split; both keep file order.

Columns are names (a header row for TSV / CSV, keys for JSONL) or 0-based indices (TSV / CSV without a header,
like the sentiment files: ``id, rating, text``). Bad input raises a ValueError naming file, line and option.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from textgan.data.class_labels import ClassLabels

FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}
TIES = ("drop", "upper", "lower")


@dataclass(frozen=True)
class LabelOptions:
    """Where text and label are, and how labels become classes (see the module docstring).

    Args:
        text_column, label_column: a column name, or a 0-based index (an int or a string of digits).
        thresholds: cut a numeric label into classes at these values (increasing); None: labels are names.
        label_names: the class names, in id order (with thresholds: one per bin, lowest first).
        ties: a rating equal to a threshold: ``drop``, ``upper`` or ``lower``.
        header: TSV / CSV: whether the first row names the columns (None: when a column is given by name).
        test_fraction, split_seed: the held-out test split made from one file.
    """

    text_column: str = "text"
    label_column: str = "label"
    thresholds: tuple[float, ...] | None = None
    label_names: tuple[str, ...] | None = None
    ties: str = "drop"
    header: bool | None = None
    test_fraction: float = 0.1
    split_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text_column", str(self.text_column))
        object.__setattr__(self, "label_column", str(self.label_column))
        if self.thresholds is not None:
            values = tuple(float(t) for t in self.thresholds)
            if not values or any(b <= a for a, b in zip(values, values[1:], strict=False)):
                raise ValueError(f"--label-thresholds must be increasing numbers, got {list(self.thresholds)}")
            object.__setattr__(self, "thresholds", values)
        if self.label_names is not None:
            object.__setattr__(self, "label_names", tuple(str(name) for name in self.label_names))
            if self.thresholds is not None and len(self.label_names) != len(self.thresholds) + 1:
                raise ValueError(
                    f"--label-names gives {len(self.label_names)} names for {len(self.thresholds)} threshold(s): "
                    f"thresholds make {len(self.thresholds) + 1} classes, one name each (lowest first)"
                )
        if self.ties not in TIES:
            raise ValueError(f"--label-ties must be one of {', '.join(TIES)}, got {self.ties!r}")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"--test-fraction must lie strictly between 0 and 1, got {self.test_fraction}")

    def record(self) -> dict[str, Any]:
        """What ``labels.json`` and the manifest keep of these options."""
        record = asdict(self)
        record.pop("extra")
        record["thresholds"] = list(self.thresholds) if self.thresholds is not None else None
        record["label_names"] = list(self.label_names) if self.label_names is not None else None
        return record


@dataclass
class LabelledRows:
    """Rows of one source: texts, raw labels and 1-based source line numbers, aligned."""

    source: str
    texts: list[str]
    labels: list[Any]
    lines: list[int]


def _column_index(column: str) -> int | None:
    return int(column) if column.isdigit() else None


def file_format(path: Path) -> str:
    """``tsv``, ``csv`` or ``jsonl`` from the file's suffix; refuses others, naming the file."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: a labelled corpus must be .tsv, .csv or .jsonl (got {path.suffix or 'no suffix'})")
    return fmt


def read_labelled_file(path: str | Path, options: LabelOptions) -> LabelledRows:
    """Text and raw label of every non-blank row of a TSV / CSV / JSONL file, with its line number."""
    path = Path(path)
    fmt = file_format(path)
    if fmt == "jsonl":
        return _read_jsonl(path, options)
    text_index, label_index = _column_index(options.text_column), _column_index(options.label_column)
    header = options.header if options.header is not None else (text_index is None or label_index is None)
    rows = LabelledRows(str(path), [], [], [])
    with open(path, encoding="utf-8", newline="") as handle:
        delimiter = "\t" if fmt == "tsv" else ","
        quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL  # TSV text keeps its quote marks
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        line = 0
        for record in reader:
            first_line, line = line + 1, reader.line_num
            if not record or not any(cell.strip() for cell in record):
                continue
            if header:
                names = [cell.strip().lstrip("\ufeff") for cell in record]
                text_index = _find_column(path, first_line, names, options.text_column, "--text-column")
                label_index = _find_column(path, first_line, names, options.label_column, "--label-column")
                header = False
                continue
            wanted = max(text_index, label_index)
            if len(record) <= wanted:
                raise ValueError(
                    f"{path}, line {first_line}: {len(record)} column(s), but --text-column {options.text_column} "
                    f"and --label-column {options.label_column} need {wanted + 1} (is the delimiter "
                    f"{'a tab' if fmt == 'tsv' else 'a comma'}?)"
                )
            rows.texts.append(record[text_index])
            rows.labels.append(record[label_index].strip())
            rows.lines.append(first_line)
    if not rows.texts:
        raise ValueError(f"{path}: no labelled rows")
    return rows


def _find_column(path: Path, line: int, names: list[str], column: str, option: str) -> int:
    if column in names:
        return names.index(column)
    index = _column_index(column)
    if index is not None and index < len(names):
        return index
    raise ValueError(f"{path}, line {line} (header): no column {column!r} for {option}; the columns are {names}")


def _read_jsonl(path: Path, options: LabelOptions) -> LabelledRows:
    rows = LabelledRows(str(path), [], [], [])
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"{path}, line {number}: not JSON ({error.msg}); expected one object per line"
                ) from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
            for column, option in ((options.text_column, "--text-column"), (options.label_column, "--label-column")):
                if column not in record:
                    raise ValueError(f"{path}, line {number}: no key {column!r} for {option}; keys: {sorted(record)}")
            rows.texts.append(str(record[options.text_column]))
            rows.labels.append(record[options.label_column])
            rows.lines.append(number)
    if not rows.texts:
        raise ValueError(f"{path}: no labelled rows")
    return rows


def rows_of_dataset(dataset: Any, source: str, options: LabelOptions) -> LabelledRows:
    """Rows of a ``datasets.Dataset`` (line = row index + 1); a ``ClassLabel`` column gives its names."""
    for column, option in ((options.text_column, "--text-column"), (options.label_column, "--label-column")):
        if column not in dataset.column_names:
            raise ValueError(f"{source}: no column {column!r} for {option}; columns: {dataset.column_names}")
    labels = list(dataset[options.label_column])
    feature = dataset.features[options.label_column]
    if hasattr(feature, "int2str") and options.thresholds is None:
        labels = [feature.int2str(int(label)) for label in labels]
    texts = [str(text) for text in dataset[options.text_column]]
    return LabelledRows(source, texts, labels, list(range(1, len(texts) + 1)))


def class_names_of(feature: Any) -> tuple[str, ...] | None:
    """A ``datasets.ClassLabel``'s names, or None for any other feature."""
    names = getattr(feature, "names", None)
    return tuple(names) if names else None


def assign_classes(
    sources: list[LabelledRows], options: LabelOptions, known_names: tuple[str, ...] | None = None
) -> tuple[ClassLabels, list[list[int | None]]]:
    """Class ids of every row of every source (None: dropped, a rating equal to a threshold), and the classes.

    ``known_names``: the label column's own class names (a ``datasets.ClassLabel``), used when
    ``label_names`` is not given.
    """
    if options.thresholds is not None:
        ids = [[_bin(source, i, options) for i in range(len(source.labels))] for source in sources]
        names = options.label_names or _bin_names(options.thresholds)
        return ClassLabels(names, _record(options)), ids
    for source in sources:
        for label, line in zip(source.labels, source.lines, strict=True):
            if str(label).strip() == "":
                raise ValueError(f"{source.source}, line {line}: empty label in --label-column {options.label_column}")
    names = options.label_names or known_names
    if names is None:
        distinct = {str(label).strip() for source in sources for label in source.labels}
        numeric = all(_is_number(label) for label in distinct)
        names = tuple(sorted(distinct, key=lambda name: (float(name), name) if numeric else (0.0, name)))
    classes = ClassLabels(tuple(names), _record(options))
    index = {name: i for i, name in enumerate(classes.names)}
    ids = []
    for source in sources:
        source_ids = []
        for label, line in zip(source.labels, source.lines, strict=True):
            key = str(label).strip()
            if key not in index:
                raise ValueError(
                    f"{source.source}, line {line}: label {key!r} is not one of --label-names ({classes.describe()})"
                )
            source_ids.append(index[key])
        ids.append(source_ids)
    return classes, ids


def _record(options: LabelOptions) -> dict[str, Any]:
    return {**options.record(), **options.extra}


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _bin(source: LabelledRows, i: int, options: LabelOptions) -> int | None:
    raw = source.labels[i]
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"{source.source}, line {source.lines[i]}: label {raw!r} in --label-column {options.label_column} is "
            "not a finite number, but --label-thresholds cuts numbers into classes"
        )
    thresholds = options.thresholds
    below = sum(1 for t in thresholds if t < value)  # thresholds strictly below the value
    if value in thresholds:
        if options.ties == "drop":
            return None
        return below + 1 if options.ties == "upper" else below
    return below


def _bin_names(thresholds: tuple[float, ...]) -> tuple[str, ...]:
    """``<0``, ``>0`` for one threshold; ``<0``, ``0..2``, ``>2`` for two: when no names are given."""
    edges = [f"{t:g}" for t in thresholds]
    middle = [f"{a}..{b}" for a, b in zip(edges, edges[1:], strict=False)]
    return (f"<{edges[0]}", *middle, f">{edges[-1]}")


def split_rows(count: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of ``count`` rows: the first ``round(test_fraction * count)`` of a permutation seeded
    by ``seed`` are the test rows; both come back sorted (file order)."""
    num_test = int(round(test_fraction * count))
    if num_test < 1 or num_test >= count:
        raise ValueError(
            f"--test-fraction {test_fraction} of {count} usable rows leaves {num_test} test and {count - num_test} "
            "training rows: each split needs at least one"
        )
    order = np.random.default_rng(seed).permutation(count)
    return np.sort(order[num_test:]), np.sort(order[:num_test])
