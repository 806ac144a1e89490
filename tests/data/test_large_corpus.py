"""The streamed build (corpora larger than memory) writes exactly the folder the in-memory build writes."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from textgan.data import large_corpus
from textgan.data.build import build_dataset
from textgan.data.large_corpus import build_dataset_streamed
from textgan.data.tokenizer import TokenizerOptions

WORDS = "a the man woman dog cat horse rides sits runs in on park mat street red big small and .".split()


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def corpus(folder: Path, lines: int = 600, seed: int = 0) -> tuple[Path, Path]:
    """A corpus with what the builders must agree on: blank lines, odd spacing, CRLF, a BOM, outliers."""
    rng = random.Random(seed)

    def sentence(words: int) -> str:
        return "  ".join(rng.choice(WORDS) for _ in range(words))

    train = [sentence(rng.randint(3, 12)) for _ in range(lines)]
    train[5], train[77], train[300] = "", "   ", sentence(80)  # blank, blank, an outlier for the auto cap
    train[0] = "\ufeff" + train[0]
    test = [sentence(rng.randint(3, 12)) for _ in range(lines // 3)] + ["zebra " + sentence(60), ""]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_bytes("\r\n".join(train).encode() + b"\r\n")
    (folder / "test.txt").write_text("\n".join(test))
    return folder / "train.txt", folder / "test.txt"


def folder_contents(folder: Path) -> dict:
    """What a dataset folder holds, without build timestamps and ``datasets``' fingerprints."""
    import datasets

    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.pop("created")
    for split in ("train", "test"):
        manifest["splits"][split]["source"].pop("path")
    splits = {}
    for split in ("train", "test"):
        stored = datasets.load_from_disk(str(folder / split))
        splits[split] = {"features": stored.features.to_dict(), "rows": stored.to_dict()}
    return {"manifest": manifest, "tokenizer": Tokenizer.from_file(str(folder / "tokenizer.json")).to_str(), **splits}


@pytest.mark.parametrize(
    ("options", "max_length"),
    [
        (TokenizerOptions(), "auto"),
        # byte_bpe, not bpe: tokenizers' BPE trainer breaks count ties by ids its end-of-word tokens get in
        # hash-map order, so two bpe builds of one corpus may differ (huggingface/tokenizers#1794)
        (TokenizerOptions(model="byte_bpe", vocab_size=300, lowercase=True), 9),
        (TokenizerOptions(model="char"), "auto"),
        (TokenizerOptions(pre_tokenizer="words", vocab_from="train+test", vocab_size=15), None),
    ],
)
def test_streamed_build_equals_the_in_memory_build(tmp_path, monkeypatch, options, max_length):
    train, test = corpus(tmp_path / "corpus")
    monkeypatch.setattr(large_corpus, "BATCH_LINES", 128)  # several batches, several processes
    with warnings.catch_warnings(record=True) as in_memory_warnings:
        warnings.simplefilter("always")
        build_dataset(tmp_path / "memory", train, test, options, max_length)
    with warnings.catch_warnings(record=True) as streamed_warnings:
        warnings.simplefilter("always")
        build_dataset_streamed(tmp_path / "streamed", train, test, options, max_length, num_proc=2)
    expected, got = folder_contents(tmp_path / "memory"), folder_contents(tmp_path / "streamed")
    assert got["manifest"] == expected["manifest"]
    assert got["tokenizer"] == expected["tokenizer"]
    for split in ("train", "test"):
        assert got[split]["features"] == expected[split]["features"]
        assert got[split]["rows"] == expected[split]["rows"]
    messages = sorted(str(w.message) for w in in_memory_warnings if "line" in str(w.message))
    assert sorted(str(w.message) for w in streamed_warnings if "line" in str(w.message)) == messages
    assert messages, "the corpus has blank, dropped or cut lines to warn about"


def test_streamed_build_refuses_what_the_in_memory_build_refuses(tmp_path):
    (tmp_path / "blank.txt").write_text("\n  \n\n")
    (tmp_path / "ok.txt").write_text("a dog .\n")
    with pytest.raises(ValueError, match=r"blank\.txt: no usable lines \(3 line\(s\), all blank\)"):
        build_dataset_streamed(tmp_path / "out", tmp_path / "blank.txt", tmp_path / "ok.txt")
    (tmp_path / "latin1.txt").write_bytes("a dog .\ncaf\xe9 .\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt, line 2: invalid UTF-8"):
        build_dataset_streamed(tmp_path / "out", tmp_path / "latin1.txt", tmp_path / "ok.txt")
    with pytest.raises(ValueError, match="num_proc must be at least 1"):
        build_dataset_streamed(tmp_path / "out", tmp_path / "ok.txt", tmp_path / "ok.txt", num_proc=0)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".textgan-build-*")), "the scratch folder is removed"


def test_a_streamed_build_refuses_drop_longer_than_by_name(tmp_path):
    corpus = tmp_path / "a.txt"
    corpus.write_text("one two three\nfour\n")
    with pytest.raises(ValueError, match="drop_longer_than=2: not available for a streamed build"):
        build_dataset_streamed(tmp_path / "ds", corpus, corpus, TokenizerOptions(drop_longer_than=2))
    assert not (tmp_path / "ds").exists()
