"""Bad input is refused with a message naming the file and the problem, or fixed up, counted and warned about.

Also: a failed tokenisation leaves an existing dataset folder exactly as it was, and a checkpoint trained on
another vocabulary is refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from textgan.data import dataset_folder
from textgan.data.build import build_dataset
from textgan.data.corpus_files import DataWarning
from textgan.data.dataset_folder import load_split, read_manifest
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import EOS_ID, TokenizerOptions
from textgan.evaluation.data import check_vocabulary

GOOD = ["a man rides a horse .", "two dogs play in the park .", "a cat sits on the mat ."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def good_file(tmp_path: Path, name: str = "good.txt") -> Path:
    return write(tmp_path / name, "\n".join(GOOD) + "\n")


def folder_snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "train.txt"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{missing}: file not found")):
        build_dataset(tmp_path / "ds", missing, good_file(tmp_path))


def test_empty_file_is_named(tmp_path):
    empty = write(tmp_path / "empty.txt", b"")
    with pytest.raises(ValueError, match=re.escape(f"{empty}: file is empty")):
        build_dataset(tmp_path / "ds", good_file(tmp_path), empty)


def test_only_blank_lines_is_refused(tmp_path):
    blank = write(tmp_path / "blank.txt", "\n   \n\t\n\n")
    with pytest.raises(ValueError, match=re.escape(f"{blank}: no usable lines (4 line(s), all blank)")):
        build_dataset(tmp_path / "ds", blank, good_file(tmp_path))


def test_invalid_utf8_names_file_and_line(tmp_path):
    bad = write(tmp_path / "latin1.txt", b"a man .\nb woman .\n" + "un caf\xe9 .\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=re.escape(f"{bad}, line 3: invalid UTF-8 at byte 7 of the line (e9 20 2e)")
    ):
        build_dataset(tmp_path / "ds", good_file(tmp_path), bad)


@pytest.mark.parametrize(
    ("content", "where"),
    [
        (bytes(3000), "line 1: NUL byte at byte 1"),  # datasets would read it as an empty tar archive
        (b"\0\n\0\n", "line 1: NUL byte at byte 1"),  # read as text, it would be two one-word sentences
        (b"a man .\r\nb wo\0man .\r\n", "line 2: NUL byte at byte 5"),  # a NUL in a line of text
    ],
    ids=["zeros", "nul-lines", "nul-in-line"],
)
@pytest.mark.parametrize("num_proc", [1, 2], ids=["in-memory", "streamed"])
def test_binary_file_is_named_with_line_and_byte(tmp_path, content, where, num_proc):
    bad = write(tmp_path / "z.dat", content)
    with pytest.raises(ValueError, match=re.escape(f"{bad}, {where} of the line: binary data")):
        build_dataset(tmp_path / "ds", bad, good_file(tmp_path), num_proc=num_proc)
    assert not (tmp_path / "ds").exists()


def test_a_failure_of_the_datasets_reader_names_the_files(tmp_path, monkeypatch):
    import datasets
    from datasets.arrow_writer import SchemaInferenceError

    def fail(*args, **kwargs):
        try:
            raise SchemaInferenceError("Please pass `features` or at least one example when writing data")
        except SchemaInferenceError as error:
            raise datasets.exceptions.DatasetGenerationError("An error occurred") from error

    monkeypatch.setattr(datasets, "load_dataset", fail)
    train, test = good_file(tmp_path, "train.txt"), good_file(tmp_path, "test.txt")
    message = f"{train} / {test}: datasets' text reader failed (SchemaInferenceError: Please pass `features`"
    with pytest.raises(ValueError, match=re.escape(message)):
        build_dataset(tmp_path / "ds", train, test)


def test_blank_lines_are_skipped_counted_and_warned(tmp_path):
    train = write(tmp_path / "train.txt", f"{GOOD[0]}\n\n{GOOD[1]}\n   \n{GOOD[2]}\n")
    with pytest.warns(DataWarning, match=re.escape(f"{train}: skipped 2 blank line(s) (line 2, line 4)")):
        manifest = build_dataset(tmp_path / "ds", train, good_file(tmp_path))
    facts = manifest["splits"]["train"]
    assert (facts["lines"], facts["source_lines"], facts["blank_lines_skipped"]) == (3, 5, 2)
    assert facts["blank_line_numbers"] == [2, 4]
    _, texts = load_split(tmp_path / "ds", "train")
    assert texts == GOOD


def test_long_line_is_cut_counted_and_warned(tmp_path):
    long_line = " ".join(["horse"] * 500)
    test = write(tmp_path / "test.txt", f"{GOOD[0]}\n{long_line}\n")
    with pytest.warns(
        DataWarning, match=f"{test}: 1 line\\(s\\) longer than max_length=10 .* line 2 \\(501 tokens\\)"
    ):
        manifest = build_dataset(tmp_path / "ds", good_file(tmp_path), test, max_length=10)
    assert manifest["splits"]["test"]["cut_lines"] == 1 and manifest["splits"]["test"][
        "cut_line_numbers"
    ] == [2]
    assert manifest["max_length_from"] == "argument"
    ids, _ = load_split(tmp_path / "ds", "test")
    assert ids.shape == (2, 10) and ids[1, -1] == EOS_ID  # first 9 tokens, then the eos


def test_failed_run_leaves_the_existing_folder_intact(tmp_path):
    train, test = good_file(tmp_path, "train.txt"), good_file(tmp_path, "test.txt")
    out = tmp_path / "ds"
    build_dataset(out, train, test)
    before = folder_snapshot(out)
    write(test, b"fine line\n\xff\xfe broken\n")  # fails while reading the test split
    with pytest.raises(ValueError, match="line 2: invalid UTF-8"):
        build_dataset(out, train, test, TokenizerOptions(lowercase=True))
    assert folder_snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "test.txt", "train.txt"]  # no leftovers


def test_failure_midway_through_writing_leaves_the_folder_intact(tmp_path, monkeypatch):
    train, test = good_file(tmp_path, "train.txt"), good_file(tmp_path, "test.txt")
    out = tmp_path / "ds"
    build_dataset(out, train, test)
    before = folder_snapshot(out)
    save_split = dataset_folder._save_split

    def fail_on_test(path, *args):
        if path.name == "test":
            raise OSError("disk full")
        save_split(path, *args)

    monkeypatch.setattr(dataset_folder, "_save_split", fail_on_test)  # train/ is written, then test/ fails
    with pytest.raises(OSError, match="disk full"):
        build_dataset(out, train, test, max_length=12)
    assert folder_snapshot(out) == before
    assert read_manifest(out)["max_length"] != 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "test.txt", "train.txt"]


def test_an_unrelated_folder_is_never_replaced(tmp_path):
    precious = write(tmp_path / "home" / "thesis.tex", "do not delete")
    with pytest.raises(FileExistsError, match="not a textgan dataset folder"):
        build_dataset(precious.parent, good_file(tmp_path), good_file(tmp_path))
    assert precious.read_text() == "do not delete"


def test_missing_training_file_says_what_to_set(tmp_path):
    test = good_file(tmp_path, "test.txt")
    with pytest.raises(ValueError, match="set train_file=PATH .* or test_as_train=true"):
        TextDataModule(test_file=str(test), dataset_dir=str(tmp_path / "ds"))
    datamodule = TextDataModule(test_file=str(test), test_as_train=True, dataset_dir=str(tmp_path / "ds"))
    datamodule.setup()
    assert torch.equal(datamodule.train_tokens.to_tensor(), datamodule.test_tokens)
    assert datamodule.manifest["train_is_test"] is True


def test_checkpoint_with_another_vocabulary_is_refused(tmp_path):
    train, test = good_file(tmp_path, "train.txt"), good_file(tmp_path, "test.txt")
    other = write(tmp_path / "other.txt", "completely different words here\n")
    datamodule = TextDataModule(dataset_dir=str(tmp_path / "ds"), train_file=str(train), test_file=str(test))
    datamodule.setup()
    foreign = build_dataset(tmp_path / "other_ds", other, test)
    metadata = {"vocab_fingerprint": foreign["vocab_fingerprint"], "vocab_size": foreign["vocab_size"]}
    with pytest.raises(
        ValueError, match="vocabulary mismatch: checkpoint gen.pt was trained on vocabulary"
    ) as error:
        check_vocabulary(metadata, datamodule, checkpoint="gen.pt")
    assert foreign["vocab_fingerprint"] in str(error.value) and datamodule.vocab_fingerprint in str(
        error.value
    )
    assert str(tmp_path / "ds") in str(error.value)
    check_vocabulary({"vocab_fingerprint": datamodule.vocab_fingerprint}, datamodule)  # the right one passes
    with pytest.raises(ValueError, match="vocabulary of 5 ids"):
        check_vocabulary({"vocab_size": 5}, datamodule)  # old checkpoints: the size is still checked
