"""A labelled corpus -> a labelled dataset folder: the folder of ``textgan.data.dataset_folder`` plus class labels.

Besides the usual files the folder holds ``labels.json`` (``ClassLabels``: names in id order and how labels were
made) and a ``label`` column (class ids) in each split; the manifest records every split's ``class_counts``.
Sources: one file (``train_file`` alone: the test split is held out by ``labelled_corpus.split_rows``), two
files, or a ``datasets`` dataset (a folder saved with ``save_to_disk``, or a hub name). Rows whose rating equals
a threshold are dropped before the split (``LabelOptions.ties``) and counted in the manifest.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgan.data.class_labels import ClassLabels
from textgan.data.corpus_files import check_text_file, file_sha256, quiet_datasets
from textgan.data.dataset_folder import SPLITS, build_dataset_from_lines, read_manifest
from textgan.data.labelled_corpus import (
    LabelledRows,
    LabelOptions,
    assign_classes,
    class_names_of,
    read_labelled_file,
    rows_of_dataset,
    split_rows,
)
from textgan.data.row_length import check_max_length
from textgan.data.tokenizer import TokenizerOptions


def build_options(options: TokenizerOptions, max_length: int | str | None, labelling: LabelOptions) -> dict[str, Any]:
    """What a labelled folder's rebuild is compared on: tokenizer, row length and labelling."""
    return {"tokenizer": asdict(options), "max_length": check_max_length(max_length), "labels": labelling.record()}


def build_labelled_dataset(
    out_dir: str | Path,
    train_file: str | Path,
    test_file: str | Path | None,
    labelling: LabelOptions,
    options: TokenizerOptions | None = None,
    max_length: int | str | None = "auto",
) -> dict[str, Any]:
    """Read, label, split (when ``test_file`` is None) and tokenise a labelled file; returns the manifest."""
    options = options or TokenizerOptions()
    files = {"train": Path(train_file)} if test_file is None else {"train": Path(train_file), "test": Path(test_file)}
    described = {split: check_text_file(path) for split, path in files.items()}
    rows = [read_labelled_file(path, labelling) for path in files.values()]
    if test_file is None:
        sources = {split: {**described["train"], "held_out": split == "test"} for split in SPLITS}
        return _build_split_once(out_dir, rows[0], sources, labelling, options, max_length)
    return _build(out_dir, dict(zip(SPLITS, rows, strict=True)), described, labelling, options, max_length)


def build_labelled_from_dataset(
    out_dir: str | Path,
    datasets_by_split: dict[str, Any],
    source: str,
    labelling: LabelOptions,
    options: TokenizerOptions | None = None,
    max_length: int | str | None = "auto",
) -> dict[str, Any]:
    """A labelled folder from ``datasets.Dataset`` objects: ``{"train": ..., "test": ...}``, or only ``"train"``
    (the test split then held out as from one file). A ``ClassLabel`` label column gives the class names."""
    options = options or TokenizerOptions()
    rows = {split: rows_of_dataset(ds, f"{source} [{split}]", labelling) for split, ds in datasets_by_split.items()}
    known = class_names_of(datasets_by_split["train"].features[labelling.label_column])
    sources = {split: {"dataset": source, "split": split, "fingerprint": getattr(ds, "_fingerprint", None)}
               for split, ds in datasets_by_split.items()}  # fmt: skip
    if "test" not in rows:
        sources = {split: {**sources["train"], "held_out": split == "test"} for split in SPLITS}
        return _build_split_once(out_dir, rows["train"], sources, labelling, options, max_length, known)
    return _build(out_dir, rows, sources, labelling, options, max_length, known)


def _build_split_once(
    out_dir: str | Path,
    rows: LabelledRows,
    sources: dict[str, dict[str, Any]],
    labelling: LabelOptions,
    options: TokenizerOptions,
    max_length: int | str | None,
    known: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    classes, (ids,) = assign_classes([rows], labelling, known)
    usable = [i for i, class_id in enumerate(ids) if class_id is not None]
    train, test = split_rows(len(usable), labelling.test_fraction, labelling.split_seed)
    by_split = {}
    for split, picked in (("train", train), ("test", test)):
        chosen = [usable[i] for i in picked]
        by_split[split] = LabelledRows(
            rows.source, [rows.texts[i] for i in chosen], [ids[i] for i in chosen], [rows.lines[i] for i in chosen]
        )
    dropped = {"train": len(ids) - len(usable), "test": 0}
    return _write(out_dir, by_split, sources, classes, dropped, labelling, options, max_length)


def _build(
    out_dir: str | Path,
    rows: dict[str, LabelledRows],
    sources: dict[str, dict[str, Any]],
    labelling: LabelOptions,
    options: TokenizerOptions,
    max_length: int | str | None,
    known: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    classes, ids = assign_classes([rows[split] for split in SPLITS], labelling, known)
    by_split, dropped = {}, {}
    for split, split_ids in zip(SPLITS, ids, strict=True):
        keep = [i for i, class_id in enumerate(split_ids) if class_id is not None]
        source = rows[split]
        by_split[split] = LabelledRows(
            source.source,
            [source.texts[i] for i in keep],
            [split_ids[i] for i in keep],
            [source.lines[i] for i in keep],
        )
        dropped[split] = len(split_ids) - len(keep)
    return _write(out_dir, by_split, sources, classes, dropped, labelling, options, max_length)


def _write(
    out_dir: str | Path,
    rows: dict[str, LabelledRows],
    sources: dict[str, dict[str, Any]],
    classes: ClassLabels,
    dropped: dict[str, int],
    labelling: LabelOptions,
    options: TokenizerOptions,
    max_length: int | str | None,
) -> dict[str, Any]:
    for split in SPLITS:
        if not rows[split].texts:
            raise ValueError(f"{rows[split].source}: no {split} rows left after labelling (all dropped)")
    sources = {split: {**sources[split], "rows_dropped_by_label": dropped[split]} for split in SPLITS}
    return build_dataset_from_lines(
        out_dir,
        {split: rows[split].texts for split in SPLITS},
        sources,
        options,
        max_length,
        build_options(options, max_length, labelling),
        class_ids={split: rows[split].labels for split in SPLITS},
        class_labels=classes,
        line_numbers={split: rows[split].lines for split in SPLITS},
    )


def is_labelled_up_to_date(
    dataset_dir: str | Path,
    train_file: str | Path,
    test_file: str | Path | None,
    labelling: LabelOptions,
    options: TokenizerOptions,
    max_length: int | str | None,
) -> bool:
    """Whether ``dataset_dir`` was built from files with these contents (sha256) and these options."""
    try:
        manifest = read_manifest(dataset_dir)
    except (FileNotFoundError, ValueError):
        return False
    if manifest.get("build_options") != build_options(options, max_length, labelling):
        return False
    if not ClassLabels.exists(dataset_dir):
        return False
    files = {"train": train_file, "test": test_file if test_file is not None else train_file}
    for split, path in files.items():
        source = manifest["splits"][split]["source"]
        if not Path(path).is_file() or source.get("sha256") != file_sha256(path):
            return False
    return True


def load_labels(dataset_dir: str | Path, split: str) -> torch.Tensor:
    """The class ids (N,) of a labelled folder's split, as a LongTensor aligned with its rows."""
    import datasets

    with quiet_datasets():
        stored = datasets.load_from_disk(str(Path(dataset_dir) / split))
    if "label" not in stored.column_names:
        raise ValueError(f"{dataset_dir}/{split}: no 'label' column, though labels.json is there: rebuild the folder")
    return torch.from_numpy(np.asarray(stored.with_format("numpy")["label"], dtype=np.int64))
