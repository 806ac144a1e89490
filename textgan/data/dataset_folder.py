"""The dataset folder: what ``textgan-tokenize`` writes and ``TextDataModule`` reads, written and read back.

Layout::

    tokenizer.json    the ``tokenizers`` tokenizer; on its own it reproduces the stored rows:
                      ``Tokenizer.from_file(...).encode(line).ids == row`` (eos appended, cut, padded)
    train/, test/     ``datasets.Dataset.save_to_disk`` folders with columns ``input_ids`` (T int32 ids),
                      ``length`` (ids before padding, eos included), ``text`` (the whitespace-normalised
                      line) and ``line`` (its 1-based line number in the source); a labelled corpus
                      also ``label`` (the row's class id)
    manifest.json     what was built from what (see ``build_dataset_from_lines``)
    labels.json       a labelled corpus's class names in id order (``textgan.data.class_labels``)

The vocabulary, the special tokens and the row layout are ``textgan.data.tokenizer``'s. Every position, pads
included, is training data (as in RelGAN). The row length T (``max_length``: ``auto``, ``none`` or N) is chosen
as ``textgan.data.row_length`` says: by default outlying long training lines are dropped and T is the longest line
left; a longer line keeps its first T - 1 tokens and the eos (the tokenizer's own truncation). Dropped and cut
lines are counted and reported.

Corpus files come in through ``textgan.data.build.build_dataset``: read by ``textgan.data.corpus_files``
(checked, then read with ``datasets``) and tokenised here, or streamed when larger than memory
(``textgan.data.large_corpus``). Blank lines are skipped, counted and reported. CRLF line endings and a UTF-8 byte
order mark are removed when the lines are read, in every mode. Folders are written to a temporary sibling and
renamed into place, so a failed build never damages an existing folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from textgan.atomic_files import atomic_directory
from textgan.data.corpus_files import drop_blank_lines, file_sha256, quiet_datasets
from textgan.data.row_length import (
    AUTO,
    LengthCap,
    check_max_length,
    drop_longer_than,
    drop_overlong,
    fixed_length_rows,
    row_length,
)
from textgan.data.tokenizer import (
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKEN_IDS,
    UNK_ID,
    TokenizerOptions,
    encode_lines,
    set_fixed_length,
    train_tokenizer,
    vocab_fingerprint,
)

FORMAT_VERSION = 1
MANIFEST_FILE, TOKENIZER_FILE = "manifest.json", "tokenizer.json"
SPLITS = ("train", "test")
MAX_LISTED_LINES = 20  # line numbers kept in the manifest and warnings, per split and problem
LAYOUT = (
    "w_1 .. w_n <eos> <pad>..; <bos> is the generator's start token, not stored; cut lines keep T-1 + <eos>"
)


# ---------------------------------------------------------------------------------------------- writing
def build_dataset_from_lines(
    out_dir: str | Path,
    lines: dict[str, list[str]],
    sources: dict[str, dict[str, Any]],
    options: TokenizerOptions,
    max_length: int | str | None = AUTO,
    build_options: dict[str, Any] | None = None,
    class_ids: dict[str, list[int]] | None = None,
    class_labels: Any = None,
    line_numbers: dict[str, list[int]] | None = None,
) -> dict[str, Any]:
    """Tokenise train and test lines into the dataset folder ``out_dir`` (atomically); returns the manifest.

    A labelled corpus (``textgan.data.labelled_build``) also gives ``class_ids`` (aligned with ``lines``)
    and ``class_labels`` (a ``ClassLabels``, saved as ``labels.json``); each split then has a ``label`` column,
    the kept rows' class ids, and its manifest entry ``class_counts``. ``line_numbers`` (aligned with
    ``lines``): the source line numbers stored in the ``line`` column, when the lines are not the source's.

    Manifest keys: ``format_version``, ``layout``, ``special_tokens`` (name -> id), ``tokenizer`` (file and
    options), ``vocab_size``, ``vocab_fingerprint``, ``max_length`` and ``max_length_from`` (``auto``, ``data``
    for none, or ``argument``), ``length_cap`` (``auto``'s rule, percentile and cap; else None), ``train_is_test``
    (one source for both splits), ``splits`` (per split: ``source`` (path, sha256 and bytes, or the hub
    dataset), ``lines`` kept, ``source_lines``, ``blank_lines_skipped`` + ``blank_line_numbers``,
    ``dropped_long_lines`` + ``dropped_line_numbers``, ``dropped_over_limit`` + ``dropped_over_limit_numbers``
    (lines of more than ``options.drop_longer_than`` tokens), ``cut_lines`` + ``cut_line_numbers``,
    ``longest_line_tokens`` (eos included),
    ``tokens`` (eos included, pads not), ``unk_tokens``), ``build_options`` (what a rebuild is compared on)
    and ``created``.
    Line number lists keep the first ``MAX_LISTED_LINES``.
    """
    max_length = check_max_length(max_length)
    kept, numbers, blank, labels = {}, {}, {}, {}
    for split in SPLITS:
        labels[split] = sources[split].get("path") or f"{sources[split].get('hub_dataset')} [{split}]"
        kept[split], numbers[split], blank[split] = drop_blank_lines(lines[split], labels[split])
    tokenizer, encoded = _tokenize(kept, options)
    over_limit: dict[str, list[int]] = {split: [] for split in SPLITS}
    if options.drop_longer_than is not None:
        for split in SPLITS:
            kept[split], numbers[split], over_limit[split] = drop_longer_than(
                kept[split], numbers[split], [len(ids) - 1 for ids in encoded[split]], options.drop_longer_than
            )
            if not kept[split]:
                raise ValueError(
                    f"{labels[split]}: every line is longer than drop_longer_than={options.drop_longer_than} tokens"
                )
        if any(over_limit.values()):  # the vocabulary without the dropped lines
            tokenizer, encoded = _tokenize(kept, options)
    dropped, cap = {split: [] for split in SPLITS}, None
    if max_length == AUTO:
        train_lengths = [len(ids) for ids in encoded["train"]]
        cap = LengthCap.of(train_lengths)
        kept["train"], numbers["train"], dropped["train"] = drop_overlong(
            kept["train"], numbers["train"], train_lengths, cap, labels["train"]
        )
        if dropped["train"]:  # the vocabulary (and the BPE merges) without the dropped lines
            tokenizer, encoded = _tokenize(kept, options)
    lengths = {split: [len(ids) for ids in encoded[split]] for split in SPLITS}
    longest = {split: max(lengths[split]) for split in SPLITS}
    length = row_length(max_length, lengths["train"], lengths["test"], cap)
    set_fixed_length(tokenizer, length)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "layout": LAYOUT,
        "special_tokens": dict(SPECIAL_TOKEN_IDS),
        "tokenizer": {"file": TOKENIZER_FILE, **asdict(options)},
        "vocab_size": tokenizer.get_vocab_size(),
        "vocab_fingerprint": vocab_fingerprint(tokenizer),
        "max_length": length,
        "max_length_from": {AUTO: "auto", None: "data"}.get(max_length, "argument"),
        "length_cap": cap.manifest() if cap else None,
        "train_is_test": sources["train"] == sources["test"],
        "splits": {},
        "build_options": build_options or {},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _check_replaceable(Path(out_dir))
    with atomic_directory(out_dir) as tmp:
        tokenizer.save(str(tmp / TOKENIZER_FILE))
        for split in SPLITS:
            label = sources[split].get("path", split)
            ids, lengths, cut_numbers = fixed_length_rows(
                encoded[split], length, numbers[split], label, pad_id=PAD_ID, eos_id=EOS_ID
            )
            row_labels = [class_ids[split][n - 1] for n in numbers[split]] if class_ids is not None else None
            source_lines = [line_numbers[split][n - 1] for n in numbers[split]] if line_numbers else numbers[split]
            _save_split(tmp / split, ids, lengths, kept[split], source_lines, row_labels)
            manifest["splits"][split] = {
                "source": sources[split],
                "lines": len(kept[split]),
                "source_lines": len(lines[split]),
                "blank_lines_skipped": len(blank[split]),
                "blank_line_numbers": blank[split][:MAX_LISTED_LINES],
                "dropped_long_lines": len(dropped[split]),
                "dropped_line_numbers": dropped[split][:MAX_LISTED_LINES],
                "dropped_over_limit": len(over_limit[split]),
                "dropped_over_limit_numbers": over_limit[split][:MAX_LISTED_LINES],
                "cut_lines": len(cut_numbers),
                "cut_line_numbers": cut_numbers[:MAX_LISTED_LINES],
                "longest_line_tokens": longest[split],
                "tokens": int(lengths.sum()),
                "unk_tokens": int((ids == UNK_ID).sum()),
            }
            if row_labels is not None:
                counts = np.bincount(np.asarray(row_labels, dtype=np.int64), minlength=class_labels.num_classes)
                manifest["splits"][split]["class_counts"] = counts.tolist()
        if class_labels is not None:
            class_labels.save(tmp)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def is_up_to_date(
    dataset_dir: str | Path,
    train_file: str | Path,
    test_file: str | Path,
    options: TokenizerOptions,
    max_length: int | str | None,
) -> bool:
    """Whether ``dataset_dir`` was built from files with these contents (sha256) and these options."""
    try:
        manifest = read_manifest(dataset_dir)
    except (FileNotFoundError, ValueError):
        return False
    wanted = {"tokenizer": asdict(options), "max_length": check_max_length(max_length)}
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("build_options") != wanted:
        return False
    for split, path in (("train", train_file), ("test", test_file)):
        source = manifest["splits"][split]["source"]
        if not Path(path).is_file() or source.get("sha256") != file_sha256(path):
            return False
    return True


def _tokenize(kept: dict[str, list[str]], options: TokenizerOptions) -> tuple[Tokenizer, dict[str, list]]:
    """The tokenizer trained on the kept lines (``vocab_from``'s splits) and each split's ids, eos appended."""
    vocab_lines = kept["train"] + (kept["test"] if options.vocab_from == "train+test" else [])
    tokenizer = train_tokenizer(vocab_lines, options)
    return tokenizer, {split: encode_lines(tokenizer, kept[split]) for split in SPLITS}


def _check_replaceable(target: Path) -> None:
    """Refuse (FileExistsError) to replace anything but a dataset folder (one with a manifest) or an empty one."""
    if target.exists() and not (target / MANIFEST_FILE).is_file() and any(target.iterdir()):
        raise FileExistsError(f"{target}: exists and is not a textgan dataset folder (no {MANIFEST_FILE})")


def _save_split(
    path: Path,
    ids: np.ndarray,
    lengths: np.ndarray,
    texts: list[str],
    numbers: list[int],
    labels: list[int] | None = None,
) -> None:
    import datasets

    features = {
        "input_ids": datasets.Sequence(datasets.Value("int32"), length=ids.shape[1]),
        "length": datasets.Value("int32"),
        "text": datasets.Value("string"),
        "line": datasets.Value("int64"),
    }
    columns = {"input_ids": ids, "length": lengths, "text": texts, "line": numbers}
    if labels is not None:  # a labelled corpus: the rows' class ids
        features["label"] = datasets.Value("int64")
        columns["label"] = labels
    features = datasets.Features(features)
    with quiet_datasets():
        datasets.Dataset.from_dict(columns, features=features).save_to_disk(str(path))


# ---------------------------------------------------------------------------------------------- reading back
def read_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder, with a clear error when the folder is not one."""
    path = Path(dataset_dir) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset_dir}: not a dataset folder (no {MANIFEST_FILE}); "
            "build one with textgan-tokenize"
        )
    manifest = json.loads(path.read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {manifest.get('format_version')}, expected {FORMAT_VERSION}"
        )
    return manifest


def load_tokenizer(dataset_dir: str | Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(dataset_dir) / TOKENIZER_FILE))


def load_split(dataset_dir: str | Path, split: str) -> tuple[np.ndarray, list[str]]:
    """A stored split: ids (N, T) int64 and the whitespace-normalised source lines."""
    import datasets

    with quiet_datasets():
        stored = datasets.load_from_disk(str(Path(dataset_dir) / split)).with_format("numpy")[:]
    return np.asarray(stored["input_ids"], dtype=np.int64), [str(text) for text in stored["text"]]
