"""textgan-tokenize: a dataset folder from local files or a datasets dataset, and errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

from textgan.cli.tokenize import main
from textgan.data.dataset_folder import load_split, read_manifest

TRAIN = ["a man rides a horse .", "a  woman   rides a bike .", "two dogs play in the park ."]  # odd spacing kept
TEST = ["a dog rides a zebra .", "the cat and the dog ."]


def write_corpus(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(TRAIN) + "\n")
    (folder / "test.txt").write_text("\n".join(TEST))  # no final newline, like the COCO files
    return folder / "train.txt", folder / "test.txt"


def test_builds_a_folder_and_reports_errors(tmp_path, capsys):
    train, test = write_corpus(tmp_path / "corpus")
    out = tmp_path / "ds"
    assert main(["--train", str(train), "--test", str(test), "--max-length", "12", "--out", str(out)]) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["max_length"] == 12
    assert main(["--test", str(test), "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("textgan-tokenize: error:") and "--test-as-train" in error
    assert main(["--test", str(test), "--test-as-train", "--out", str(tmp_path / "y")]) == 0
    assert read_manifest(tmp_path / "y")["train_is_test"] is True


def test_reads_a_datasets_dataset_by_name(tmp_path, monkeypatch):
    """The hub path, offline: ``load_dataset`` also takes a local folder of split files as the name."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_cache")
    folder = tmp_path / "local_dataset"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps({"sentence": line}) + "\n" for line in TRAIN))
    (folder / "test.jsonl").write_text("".join(json.dumps({"sentence": line}) + "\n" for line in TEST))
    argv = ["--hub-dataset", str(folder), "--text-column", "sentence", "--out", str(tmp_path / "ds")]
    assert main(argv) == 0
    manifest = read_manifest(tmp_path / "ds")
    assert manifest["splits"]["train"]["source"]["hub_dataset"] == str(folder)
    assert manifest["splits"]["test"]["lines"] == len(TEST)
    _, texts = load_split(tmp_path / "ds", "train")
    assert texts == [" ".join(line.split()) for line in TRAIN]


def test_a_corpus_of_nul_bytes_is_refused_in_one_line(tmp_path, capsys):
    """``head -c 3000 /dev/zero > z.dat``: one line naming the file, line and byte, not a datasets traceback."""
    _, test = write_corpus(tmp_path / "corpus")
    zeros = tmp_path / "z.dat"
    zeros.write_bytes(bytes(3000))
    out = tmp_path / "ds"
    assert main(["--train", str(zeros), "--test", str(test), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error == (
        f"textgan-tokenize: error: {zeros}, line 1: NUL byte at byte 1 of the line: binary data (an archive, or a "
        "file padded with zeros), not text; expected UTF-8 text, one sentence per line\n"
    )
    assert not out.exists()
