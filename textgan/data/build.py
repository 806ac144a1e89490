"""Corpus files -> a dataset folder: the one door of ``textgan-tokenize`` and ``TextDataModule``.

Two local text files that fit in memory are read whole and tokenised by
``dataset_folder.build_dataset_from_lines``; files over ``STREAMED_BYTES`` in all, or a build with ``num_proc`` > 1,
go through ``large_corpus.build_dataset_streamed`` instead (the same folder, never in memory at once). Either way
the folder is the one ``textgan.data.dataset_folder`` describes.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from textgan.data.corpus_files import check_text_file, read_text_files
from textgan.data.dataset_folder import build_dataset_from_lines
from textgan.data.large_corpus import build_dataset_streamed
from textgan.data.row_length import AUTO, check_max_length
from textgan.data.tokenizer import TokenizerOptions

STREAMED_BYTES = 256 * 2**20  # files larger than this in all are built streamed


def build_dataset(
    out_dir: str | Path,
    train_file: str | Path,
    test_file: str | Path,
    options: TokenizerOptions | None = None,
    max_length: int | str | None = AUTO,
    num_proc: int = 1,
) -> dict[str, Any]:
    """Check, read and tokenise two local text files into ``out_dir``; returns the manifest.

    ``train_file`` and ``test_file`` may be the same file (e.g. only a test split exists); the manifest then
    shows the same source for both. Files over ``STREAMED_BYTES`` in all, or ``num_proc`` > 1, are built
    streamed (see the module docstring).
    """
    options, max_length = options or TokenizerOptions(), check_max_length(max_length)
    files = {"train": Path(train_file), "test": Path(test_file)}
    sizes = [path.stat().st_size for path in files.values() if path.is_file()]
    if num_proc > 1 or sum(sizes) > STREAMED_BYTES:
        return build_dataset_streamed(out_dir, train_file, test_file, options, max_length, num_proc=num_proc)
    sources = {split: check_text_file(path) for split, path in files.items()}
    lines = read_text_files(files)
    build_options = {"tokenizer": asdict(options), "max_length": max_length}
    return build_dataset_from_lines(out_dir, lines, sources, options, max_length, build_options)
