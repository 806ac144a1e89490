"""Building a dataset folder from corpus files larger than memory: the same folder, streamed through Arrow.

``build_dataset_streamed`` writes exactly what ``dataset_folder.build_dataset_from_lines`` writes (the same
tokenizer, rows, columns and manifest; a test builds both and compares them), but never holds a split in
memory: the files are read by ``datasets``' text builder into memory-mapped Arrow files in a scratch folder
beside the output, and every pass over the lines (normalising, the vocabulary, the lengths for the ``auto`` cap,
the fixed-length rows) runs as a batched ``Dataset.map`` over them, with ``num_proc`` worker processes. What
stays in memory is per line a few integers (line numbers and lengths), the vocabulary's counts and one batch.
``textgan.data.build.build_dataset`` chooses it for files over ``build.STREAMED_BYTES`` in all or when
``num_proc`` > 1.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from textgan.atomic_files import atomic_directory
from textgan.data import dataset_folder as folder
from textgan.data import tokenizer as tk
from textgan.data.corpus_files import DataWarning, check_text_file, list_lines, load_text_dataset, quiet_datasets
from textgan.data.row_length import AUTO, AUTO_PERCENTILE, LengthCap, check_max_length

BATCH_LINES = 10_000  # lines per map batch (bounds the memory of one batch)
SPLITS = ("train", "test")


def build_dataset_streamed(
    out_dir: str | Path,
    train_file: str | Path,
    test_file: str | Path,
    options: tk.TokenizerOptions | None = None,
    max_length: int | str | None = AUTO,
    *,
    num_proc: int = 1,
) -> dict[str, Any]:
    """``build_dataset``'s folder and manifest, streamed (see the module docstring); returns the manifest."""
    options, max_length = options or tk.TokenizerOptions(), check_max_length(max_length)
    if num_proc < 1:
        raise ValueError(f"num_proc must be at least 1, got {num_proc}")
    if options.drop_longer_than is not None:
        raise ValueError(
            f"drop_longer_than={options.drop_longer_than}: not available for a streamed build (files over "
            "256 MiB in all, or num_proc > 1); filter the files first, or build in memory with num_proc=1"
        )
    files = {"train": Path(train_file), "test": Path(test_file)}
    sources = {split: check_text_file(path) for split, path in files.items()}
    labels = {split: sources[split]["path"] for split in SPLITS}
    out_dir = Path(out_dir)
    folder._check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".textgan-build-", dir=out_dir.parent) as scratch, quiet_datasets():
        lines, source_lines, blank = _read_lines(files, labels, Path(scratch), num_proc)
        tokenizer = _train_tokenizer(lines, options)
        lengths = {split: _lengths(lines[split], tokenizer, num_proc) for split in SPLITS}
        dropped: dict[str, list[int]] = {split: [] for split in SPLITS}
        cap = None
        if max_length == AUTO:
            cap = LengthCap.of(lengths["train"])
            too_long = np.nonzero(lengths["train"] > cap.cap)[0]
            if too_long.size:
                numbers = _column(lines["train"], "line")
                dropped["train"] = numbers[too_long].tolist()
                _warn_dropped(labels["train"], dropped["train"], lengths["train"][too_long], len(numbers), cap)
                keep = np.ones(len(numbers), dtype=bool)
                keep[too_long] = False
                lines["train"] = lines["train"].map(
                    _keep_rows,
                    batched=True,
                    batch_size=BATCH_LINES,
                    with_indices=True,
                    fn_kwargs={"keep": keep},
                    num_proc=_procs(num_proc, len(keep)),
                )
                tokenizer = _train_tokenizer(lines, options)  # without the dropped lines, as build_dataset does
                lengths = {split: _lengths(lines[split], tokenizer, num_proc) for split in SPLITS}
        longest = {split: int(lengths[split].max()) for split in SPLITS}
        length = _row_length(max_length, lengths, cap)
        tk.set_fixed_length(tokenizer, length)
        manifest: dict[str, Any] = {
            "format_version": folder.FORMAT_VERSION,
            "layout": folder.LAYOUT,
            "special_tokens": dict(tk.SPECIAL_TOKEN_IDS),
            "tokenizer": {"file": folder.TOKENIZER_FILE, **asdict(options)},
            "vocab_size": tokenizer.get_vocab_size(),
            "vocab_fingerprint": tk.vocab_fingerprint(tokenizer),
            "max_length": length,
            "max_length_from": {AUTO: "auto", None: "data"}.get(max_length, "argument"),
            "length_cap": cap.manifest() if cap else None,
            "train_is_test": sources["train"] == sources["test"],
            "splits": {},
            "build_options": {"tokenizer": asdict(options), "max_length": max_length},
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with atomic_directory(out_dir) as tmp:
            tokenizer.save(str(tmp / folder.TOKENIZER_FILE))
            for split in SPLITS:
                rows = _fixed_length_rows(lines[split], tokenizer, length, num_proc)
                cut = np.nonzero(lengths[split] > length)[0]
                numbers = _column(lines[split], "line")
                cut_numbers = numbers[cut].tolist()
                if cut.size:
                    sizes = {int(numbers[row]): f"{int(lengths[split][row])} tokens" for row in cut[:5]}
                    warnings.warn(
                        f"{labels[split]}: {cut.size} line(s) longer than max_length={length} tokens (eos included) "
                        f"were cut: {list_lines(cut_numbers, sizes)}",
                        DataWarning,
                        2,
                    )
                rows.save_to_disk(str(tmp / split), num_proc=None)
                stored = np.minimum(lengths[split], length)
                manifest["splits"][split] = {
                    "source": sources[split],
                    "lines": len(numbers),
                    "source_lines": source_lines[split],
                    "blank_lines_skipped": len(blank[split]),
                    "blank_line_numbers": blank[split][: folder.MAX_LISTED_LINES],
                    "dropped_long_lines": len(dropped[split]),
                    "dropped_line_numbers": dropped[split][: folder.MAX_LISTED_LINES],
                    "dropped_over_limit": 0,  # drop_longer_than is refused above
                    "dropped_over_limit_numbers": [],
                    "cut_lines": int(cut.size),
                    "cut_line_numbers": cut_numbers[: folder.MAX_LISTED_LINES],
                    "longest_line_tokens": longest[split],
                    "tokens": int(stored.sum()),
                    "unk_tokens": _count_unk(rows),
                }
            (tmp / folder.MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _read_lines(
    files: dict[str, Path], labels: dict[str, str], scratch: Path, num_proc: int
) -> tuple[dict[str, Any], dict[str, int], dict[str, list[int]]]:
    """Each split's non-blank, whitespace-normalised lines with their 1-based numbers (``text``, ``line``),
    memory-mapped; the count of source lines and the blank lines' numbers (warned about as build_dataset does)."""
    import datasets

    loaded = load_text_dataset(files, scratch / "read")
    lines, source_lines, blank = {}, {}, {}
    for split in SPLITS:
        raw = loaded[split]
        source_lines[split] = len(raw)
        if not len(raw):
            raise ValueError(f"{labels[split]}: no lines (the split is empty); expected one sentence per line")
        kept = raw.map(  # a batched map may return fewer rows: the blank ones are left out here
            _normalise,
            batched=True,
            batch_size=BATCH_LINES,
            with_indices=True,
            features=datasets.Features({"text": datasets.Value("string"), "line": datasets.Value("int64")}),
            num_proc=_procs(num_proc, len(raw)),
        )
        mask = np.ones(len(raw) + 1, dtype=bool)
        mask[0] = False
        mask[_column(kept, "line")] = False
        blank[split] = (np.nonzero(mask)[0]).tolist()
        if not len(kept):
            raise ValueError(f"{labels[split]}: no usable lines ({len(raw)} line(s), all blank)")
        if blank[split]:
            shown = list_lines(blank[split])
            warnings.warn(f"{labels[split]}: skipped {len(blank[split])} blank line(s) ({shown})", DataWarning, 3)
        lines[split] = kept
    return lines, source_lines, blank


def _column(dataset: Any, name: str) -> np.ndarray:
    """One integer column as an int64 array, straight from the Arrow table (no Python objects per row).

    The datasets here come from maps (never ``select`` or ``filter``), so their table holds exactly their rows.
    """
    if dataset._indices is not None:
        raise RuntimeError("an indices mapping would make the Arrow table disagree with the rows")
    return np.asarray(dataset.data.column(name).to_numpy(), dtype=np.int64)


def _count_unk(rows: Any) -> int:
    """``<unk>`` ids among the stored rows, counted batch by batch."""
    numpy_rows = rows.with_format("numpy", columns=["input_ids"])
    return sum(
        int((numpy_rows[start : start + BATCH_LINES]["input_ids"] == tk.UNK_ID).sum())
        for start in range(0, len(rows), BATCH_LINES)
    )


def _row_length(max_length: int | str | None, lengths: dict[str, np.ndarray], cap: LengthCap | None) -> int:
    """``row_length`` on arrays: ``max_length`` itself, else the longest line, test lines over the cap left out."""
    if isinstance(max_length, int):
        return max_length
    test = lengths["test"] if cap is None else lengths["test"][lengths["test"] <= cap.cap]
    return int(max(lengths["train"].max(), test.max() if test.size else 0))


def _procs(num_proc: int, rows: int) -> int | None:
    """``num_proc`` for ``datasets`` (None: in this process), never more processes than batches."""
    procs = min(num_proc, -(-rows // BATCH_LINES))
    return procs if procs > 1 else None


def _normalise(batch: dict[str, list], indices: list[int]) -> dict[str, list]:
    """Whitespace-normalised non-blank lines and their 1-based numbers (blank lines dropped)."""
    texts = [" ".join(line.lstrip("\ufeff").split()) for line in batch["text"]]
    kept = [row for row, text in enumerate(texts) if text]
    return {"text": [texts[row] for row in kept], "line": [indices[row] + 1 for row in kept]}


def _keep_rows(batch: dict[str, list], indices: list[int], keep: np.ndarray) -> dict[str, list]:
    """The rows whose ``keep`` flag is set."""
    rows = [row for row, index in enumerate(indices) if keep[index]]
    return {name: [values[row] for row in rows] for name, values in batch.items()}


def _text_batches(dataset: Any) -> Iterator[list[str]]:
    for start in range(0, len(dataset), BATCH_LINES):
        yield dataset[start : start + BATCH_LINES]["text"]


def _train_tokenizer(lines: dict[str, Any], options: tk.TokenizerOptions) -> Tokenizer:
    def vocabulary_lines() -> Iterator[list[str]]:
        yield from _text_batches(lines["train"])
        if options.vocab_from == "train+test":
            yield from _text_batches(lines["test"])

    return tk.train_tokenizer(vocabulary_lines(), options)


def _unbounded(tokenizer: Tokenizer) -> Tokenizer:
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.no_truncation()
    copy.no_padding()
    return copy


def _lengths(dataset: Any, tokenizer: Tokenizer, num_proc: int) -> np.ndarray:
    """Tokens per line, eos included, neither cut nor padded (int64, one per line)."""
    counted = dataset.map(
        _count_tokens,
        batched=True,
        batch_size=BATCH_LINES,
        input_columns=["text"],
        remove_columns=dataset.column_names,
        fn_kwargs={"tokenizer": _unbounded(tokenizer)},
        num_proc=_procs(num_proc, len(dataset)),
    )
    return _column(counted, "n")


def _count_tokens(texts: list[str], tokenizer: Tokenizer) -> dict[str, list[int]]:
    return {"n": [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]}


def _fixed_length_rows(dataset: Any, tokenizer: Tokenizer, length: int, num_proc: int) -> Any:
    """The stored columns: ``input_ids`` (T int32), ``length``, ``text``, ``line``, as ``_save_split`` writes them."""
    import datasets

    features = datasets.Features(
        {
            "input_ids": datasets.Sequence(datasets.Value("int32"), length=length),
            "length": datasets.Value("int32"),
            "text": datasets.Value("string"),
            "line": datasets.Value("int64"),
        }
    )
    return dataset.map(
        _encode_rows,
        batched=True,
        batch_size=BATCH_LINES,
        features=features,
        fn_kwargs={"tokenizer": _unbounded(tokenizer), "length": length, "pad_id": tk.PAD_ID, "eos_id": tk.EOS_ID},
        num_proc=_procs(num_proc, len(dataset)),
    ).select_columns(["input_ids", "length", "text", "line"])


def _encode_rows(batch: dict[str, list], tokenizer: Tokenizer, length: int, pad_id: int, eos_id: int) -> dict:
    ids = np.full((len(batch["text"]), length), pad_id, dtype=np.int32)
    lengths = np.zeros(len(batch["text"]), dtype=np.int32)
    for row, encoding in enumerate(tokenizer.encode_batch(batch["text"])):
        sequence = encoding.ids
        if len(sequence) > length:
            sequence = [*sequence[: length - 1], eos_id]
        ids[row, : len(sequence)] = sequence
        lengths[row] = len(sequence)
    return {"input_ids": ids, "length": lengths, "text": batch["text"], "line": batch["line"]}


def _warn_dropped(label: str, dropped: list[int], sizes: np.ndarray, total: int, cap: LengthCap) -> None:
    shown = {number: f"{int(size)} tokens" for number, size in zip(dropped[:5], sizes[:5], strict=True)}
    warnings.warn(
        f"{label}: dropped {len(dropped):,} of {total:,} training lines longer than {cap.cap} tokens, eos "
        f"included (auto cap: twice the {AUTO_PERCENTILE}th percentile of training line lengths, "
        f"{cap.percentile_tokens}): {list_lines(dropped, shown)}; pass --max-length N (cut instead) or none "
        "(keep all) to change",
        DataWarning,
        3,
    )
