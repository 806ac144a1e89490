"""Reading a text corpus: refuse bad files with a message naming file and line, skip blank lines (counted).

Checks run on the raw bytes before ``datasets`` reads the file, because ``datasets`` reports invalid UTF-8
without the file or line, and takes some binary files (512 NUL bytes: an empty tar archive) for archives. Line
numbers are 1-based physical lines (``\n``, ``\r\n`` or ``\r``), the same lines ``datasets``' text builder yields.
"""

from __future__ import annotations

import codecs
import hashlib
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NUL = b"\0"  # never in text; in archives, binary files and files padded with zeros


class DataWarning(UserWarning):
    """Input that was fixed up rather than refused: blank lines skipped, long lines cut."""


@contextmanager
def quiet_datasets() -> Iterator[None]:
    """No ``datasets`` progress bars inside (reading and saving a few local files is instant)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_text_file(path: str | Path) -> dict[str, Any]:
    """Refuse a missing, empty, non-UTF-8 or binary file with a message naming it (and the line); describe it.

    Binary means holding a NUL byte: no text has one, while archives, other binary files and files padded with
    zeros do (``datasets`` would even open a file of 512 zeros as an empty tar archive and fail without naming
    it). Reads the file in blocks (a corpus may be larger than memory). Returns ``{"path", "sha256", "bytes"}``
    for the manifest.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    digest, size = hashlib.sha256(), 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                decoder.decode(block)
                if NUL in block:
                    _raise_at_nul_byte(path)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        _raise_at_bad_line(path)
        raise
    if not size:
        raise ValueError(f"{path}: file is empty")
    return {"path": str(path.resolve()), "sha256": digest.hexdigest(), "bytes": size}


def _raise_at_bad_line(path: Path) -> None:
    """Raise the ValueError naming the first line of ``path`` that is not UTF-8 (line by line, streamed)."""
    with open(path, "rb") as handle:
        number = 0
        for raw in handle:
            for line in raw.splitlines() or [raw]:  # universal newlines, like the reader (a lone CR too)
                number += 1
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as error:
                    bad = line[error.start : error.start + 4].hex(" ")
                    raise ValueError(
                        f"{path}, line {number}: invalid UTF-8 at byte {error.start + 1} of the line ({bad}): "
                        f"{error.reason}; convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                    ) from None


def _raise_at_nul_byte(path: Path) -> None:
    """Raise the ValueError naming the first line of ``path`` that holds a NUL byte (line by line, streamed)."""
    with open(path, "rb") as handle:
        number = 0
        for raw in handle:
            for line in raw.splitlines() or [raw]:  # universal newlines, like the reader (a lone CR too)
                number += 1
                if NUL in line:
                    raise ValueError(
                        f"{path}, line {number}: NUL byte at byte {line.index(NUL) + 1} of the line: binary "
                        "data (an archive, or a file padded with zeros), not text; expected UTF-8 text, one "
                        "sentence per line"
                    )


def read_text_files(files: dict[str, Path]) -> dict[str, list[str]]:
    """Lines of each split's file, read with ``datasets``' text builder (universal newlines, no line breaks).

    ``datasets`` writes its Arrow cache into a temporary folder that is removed afterwards, so nothing
    outside the dataset folder is touched.
    """
    with tempfile.TemporaryDirectory(prefix="textgan-read-") as cache, quiet_datasets():
        loaded = load_text_dataset(files, cache)
        return {split: list(loaded[split]["text"]) for split in files}


def load_text_dataset(files: dict[str, Path], cache_dir: str | Path) -> Any:
    """``datasets``' text builder over each split's file (a ``DatasetDict``), caching in ``cache_dir``.

    A failure of the builder names no file (a traceback ending in ``DatasetGenerationError``); it is raised as
    one ValueError naming the files instead.
    """
    import datasets

    try:
        return datasets.load_dataset(
            "text",
            data_files={split: str(path) for split, path in files.items()},
            keep_linebreaks=False,
            cache_dir=str(cache_dir),
        )
    except datasets.exceptions.DatasetGenerationError as error:
        cause = error.__cause__ or error
        reason = (str(cause).strip().splitlines() or [""])[0]
        names = " / ".join(dict.fromkeys(str(path) for path in files.values()))
        raise ValueError(
            f"{names}: datasets' text reader failed ({type(cause).__name__}: {reason}); expected UTF-8 text, one "
            "sentence per line"
        ) from None


def read_hub_dataset(
    name: str, splits: dict[str, str], text_column: str = "text", config: str | None = None
) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]]]:
    """Lines and source descriptions of a hub dataset (needs network or a warm ``datasets`` cache)."""
    import datasets

    lines, sources = {}, {}
    for split, hub_split in splits.items():
        loaded = datasets.load_dataset(name, config, split=hub_split)
        if text_column not in loaded.column_names:
            raise ValueError(
                f"{name} [{hub_split}]: no column {text_column!r} (columns: {loaded.column_names})"
            )
        lines[split] = [str(text) for text in loaded[text_column]]
        sources[split] = {
            "hub_dataset": name,
            "config": config,
            "split": hub_split,
            "text_column": text_column,
            "fingerprint": loaded._fingerprint,
        }
    return lines, sources


def drop_blank_lines(lines: list[str], label: str) -> tuple[list[str], list[int], list[int]]:
    """Whitespace-normalise lines and skip blank ones (warned about, with their line numbers).

    Returns (kept lines, their 1-based line numbers, line numbers of the blank lines).
    """
    kept, numbers, blank = [], [], []
    for number, line in enumerate(lines, start=1):
        text = " ".join(line.lstrip("\ufeff").split())
        if text:
            kept.append(text)
            numbers.append(number)
        else:
            blank.append(number)
    if blank and kept:
        warnings.warn(f"{label}: skipped {len(blank)} blank line(s) ({list_lines(blank)})", DataWarning, 2)
    if not lines:
        raise ValueError(f"{label}: no lines (the split is empty); expected one sentence per line")
    if not kept:
        raise ValueError(f"{label}: no usable lines ({len(lines)} line(s), all blank)")
    return kept, numbers, blank


def list_lines(numbers: list[int], extra: dict[int, str] | None = None) -> str:
    shown = [f"line {n}" + (f" ({extra[n]})" if extra else "") for n in numbers[:5]]
    return ", ".join(shown) + (f", ... {len(numbers) - 5} more" if len(numbers) > 5 else "")
