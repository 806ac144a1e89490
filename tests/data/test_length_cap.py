"""Overlong lines: by default (``max_length="auto"``) training lines longer than twice the 99th percentile of
the training lines' lengths are dropped, counted and warned about, instead of padding the whole corpus to them;
``max_length=N`` cuts and ``max_length=None`` / ``"none"`` keeps the longest line, as before."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from textgan.cli.tokenize import main as tokenize_main
from textgan.data.build import build_dataset
from textgan.data.corpus_files import DataWarning
from textgan.data.dataset_folder import build_dataset_from_lines, load_split, load_tokenizer
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import EOS_ID, TokenizerOptions

WORDS = ["a", "man", "rides", "horse", "two", "dogs", "play", "in", "the", "park", "cat", "sits"]
OUTLIER = " ".join(f"w{i}" for i in range(5000))  # a pasted document: 5,000 tokens on one line


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def sentences(count: int) -> list[str]:
    """``count`` lines of 3 to 7 words (4 to 8 tokens with the eos)."""
    return [" ".join(WORDS[(i + j) % len(WORDS)] for j in range(3 + i % 5)) for i in range(count)]


def corpus(tmp_path: Path, train: list[str], test: list[str]) -> tuple[Path, Path]:
    (tmp_path / "train.txt").write_text("\n".join(train) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(test) + "\n")
    return tmp_path / "train.txt", tmp_path / "test.txt"


def test_one_overlong_training_line_is_dropped_not_padded_to(tmp_path):
    train_lines = sentences(150) + [OUTLIER] + sentences(50)  # 201 lines, the outlier is line 151
    train, test = corpus(tmp_path, train_lines, sentences(20))
    expected = (
        f"{train}: dropped 1 of 201 training lines longer than 16 tokens, eos included (auto cap: twice the "
        "99th percentile of training line lengths, 8): line 151 (5001 tokens); pass --max-length N (cut "
        "instead) or none (keep all) to change"
    )
    with pytest.warns(DataWarning, match=re.escape(expected)):
        manifest = build_dataset(tmp_path / "ds", train, test)
    assert manifest["max_length"] == 8 and manifest["max_length_from"] == "auto"
    assert manifest["length_cap"] == {
        "rule": "auto: twice the 99th percentile of training line lengths (tokens, eos included)",
        "percentile": 99,
        "percentile_tokens": 8,
        "factor": 2,
        "cap": 16,
    }
    facts = manifest["splits"]["train"]
    assert (facts["lines"], facts["source_lines"], facts["dropped_long_lines"]) == (200, 201, 1)
    assert facts["dropped_line_numbers"] == [151] and facts["cut_lines"] == 0
    assert manifest["splits"]["test"]["dropped_long_lines"] == 0
    ids, texts = load_split(tmp_path / "ds", "train")
    assert ids.shape == (200, 8) and OUTLIER not in texts
    # the vocabulary is built without the dropped line: none of its 5,000 words has an id
    assert manifest["vocab_size"] == 4 + len(WORDS)
    assert load_tokenizer(tmp_path / "ds").token_to_id("w17") is None


def test_an_overlong_test_line_is_cut_and_kept_whole_as_a_reference(tmp_path):
    train, test = corpus(tmp_path, sentences(200), [*sentences(5), OUTLIER])
    with pytest.warns(DataWarning, match=r"1 line\(s\) longer than max_length=8 tokens .* line 6 \(5001 tokens\)"):
        manifest = build_dataset(tmp_path / "ds", train, test)
    assert manifest["max_length"] == 8  # the test line does not stretch the rows beyond the cap
    assert manifest["splits"]["test"]["cut_lines"] == 1 and manifest["splits"]["test"]["lines"] == 6
    ids, texts = load_split(tmp_path / "ds", "test")
    assert ids.shape == (6, 8) and ids[5, -1] == EOS_ID and texts[5] == OUTLIER


def test_without_outliers_nothing_changes(tmp_path):
    lines = sentences(300)
    train, test = corpus(tmp_path, lines, sentences(30))
    auto = build_dataset(tmp_path / "auto", train, test)
    longest = build_dataset(tmp_path / "none", train, test, max_length=None)
    assert auto["max_length"] == longest["max_length"] == 8
    assert auto["splits"]["train"]["dropped_long_lines"] == 0 and auto["length_cap"]["cap"] == 16
    assert longest["max_length_from"] == "data" and longest["length_cap"] is None
    assert (load_split(tmp_path / "auto", "train")[0] == load_split(tmp_path / "none", "train")[0]).all()


@pytest.mark.parametrize("none", [None, "none", "None"])
def test_none_keeps_the_longest_line(tmp_path, none):
    train, test = corpus(tmp_path, [*sentences(200), OUTLIER], sentences(5))
    manifest = build_dataset(tmp_path / "ds", train, test, max_length=none)
    assert manifest["max_length"] == 5001 and manifest["splits"]["train"]["dropped_long_lines"] == 0


def test_an_integer_cuts_as_before(tmp_path):
    train, test = corpus(tmp_path, [*sentences(200), OUTLIER], sentences(5))
    with pytest.warns(DataWarning, match="longer than max_length=6 tokens"):
        manifest = build_dataset(tmp_path / "ds", train, test, max_length=6)
    facts = manifest["splits"]["train"]
    assert manifest["max_length"] == 6 and facts["lines"] == 201 and facts["dropped_long_lines"] == 0
    assert facts["cut_lines"] > 1 and manifest["length_cap"] is None


@pytest.mark.parametrize("bad", [1, 0, -3, "sometimes", 2.5, True])
def test_a_bad_max_length_is_refused(tmp_path, bad):
    train, test = corpus(tmp_path, sentences(5), sentences(5))
    with pytest.raises(ValueError, match="max_length"):
        build_dataset(tmp_path / "ds", train, test, max_length=bad)


def test_an_empty_corpus_is_named(tmp_path):
    source = {"hub_dataset": "someone/empty"}
    with pytest.raises(ValueError, match=re.escape("someone/empty [train]: no lines (the split is empty)")):
        build_dataset_from_lines(
            tmp_path / "ds", {"train": [], "test": ["a b"]}, {"train": source, "test": source}, TokenizerOptions()
        )


def test_the_data_module_caps_by_default_and_rebuilds_when_the_cap_changes(tmp_path):
    train, test = corpus(tmp_path, [*sentences(200), OUTLIER], sentences(5))
    files = {"train_file": str(train), "test_file": str(test), "cache_dir": str(tmp_path / "cache")}
    with pytest.warns(DataWarning, match="dropped 1 of 201 training lines"):
        capped = TextDataModule(**files)
        capped.setup()
    assert capped.max_length == 8 and capped.manifest["build_options"]["max_length"] == "auto"
    uncapped = TextDataModule(**files, max_length="none")
    uncapped.setup()
    assert uncapped.max_length == 5001 and uncapped.manifest["build_options"]["max_length"] is None


# ---------------------------------------------------------------------------------------------- the command
def test_the_command_takes_auto_none_or_a_number_and_counts_what_it_dropped(tmp_path, capsys):
    train, test = corpus(tmp_path, [*sentences(200), OUTLIER], sentences(5))
    files = ["--train", str(train), "--test", str(test)]
    assert tokenize_main([*files, "--out", str(tmp_path / "auto")]) == 0
    captured = capsys.readouterr()
    assert "textgan-tokenize: warning: " in captured.err and "dropped 1 of 201 training lines" in captured.err
    assert "max_length 8 (auto: cap 16 = twice the 99th percentile 8)" in captured.out
    assert "train: 200 lines, 0 blank skipped, 1 dropped as too long, 0 cut" in captured.out
    assert tokenize_main([*files, "--max-length", "none", "--out", str(tmp_path / "none")]) == 0
    assert "max_length 5001 (data)" in capsys.readouterr().out
    assert tokenize_main([*files, "--max-length", "auto", "--out", str(tmp_path / "auto2")]) == 0
    assert "max_length 8 (auto" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_status:
        tokenize_main([*files, "--max-length", "longest", "--out", str(tmp_path / "x")])
    assert exit_status.value.code == 2
    assert "--max-length: expected auto, none or an integer >= 2, got 'longest'" in capsys.readouterr().err


def test_the_command_names_an_empty_corpus(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n \n")
    for name, problem in (("empty.txt", "file is empty"), ("blank.txt", "no usable lines")):
        argv = ["--train", str(tmp_path / name), "--test", str(tmp_path / name), "--out", str(tmp_path / "ds")]
        assert tokenize_main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("textgan-tokenize: error: ") and str(tmp_path / name) in err and problem in err
    assert not (tmp_path / "ds").exists()


# ---------------------------------------------------------------------------------------------- drop_longer_than
def test_drop_longer_than_leaves_long_lines_out_of_both_splits_and_the_vocabulary(tmp_path):
    train_lines = ["a b c", "a b c d e f", "b c", "x y z w v u t"]  # lines 2 and 4: 6 and 7 tokens
    test_lines = ["a b", "c a b d e f g"]  # line 2: 7 tokens
    train, test = corpus(tmp_path, train_lines, test_lines)
    manifest = build_dataset(tmp_path / "ds", train, test, TokenizerOptions(drop_longer_than=5))
    for split, kept, numbers in (("train", ["a b c", "b c"], [2, 4]), ("test", ["a b"], [2])):
        facts = manifest["splits"][split]
        assert (facts["dropped_over_limit"], facts["dropped_over_limit_numbers"]) == (len(numbers), numbers)
        assert load_split(tmp_path / "ds", split)[1] == kept
    vocab = load_tokenizer(tmp_path / "ds").get_vocab()
    assert {"a", "b", "c"} <= set(vocab) and not {"d", "x", "t"} & set(vocab)  # words of dropped lines only
    assert manifest["max_length"] == 4  # "a b c" + eos
    assert manifest["build_options"]["tokenizer"]["drop_longer_than"] == 5
    kept_all = build_dataset(tmp_path / "all", train, test, TokenizerOptions(drop_longer_than=7))
    assert kept_all["splits"]["train"]["dropped_over_limit"] == 0 and kept_all["max_length"] == 8


def test_drop_longer_than_names_a_split_left_empty_and_a_bad_limit(tmp_path):
    train, test = corpus(tmp_path, ["a b", "c"], ["a b c d"])
    with pytest.raises(ValueError, match=re.escape(f"{test}: every line is longer than drop_longer_than=2 tokens")):
        build_dataset(tmp_path / "ds", train, test, TokenizerOptions(drop_longer_than=2))
    assert not (tmp_path / "ds").exists()
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="drop_longer_than must be None .* or an integer >= 1"):
            TokenizerOptions(drop_longer_than=bad)


def test_the_data_module_rebuilds_when_drop_longer_than_changes_and_the_command_takes_it(tmp_path, capsys):
    train, test = corpus(tmp_path, sentences(40), sentences(10))  # lines of 3 to 7 words
    files = {"train_file": str(train), "test_file": str(test), "cache_dir": str(tmp_path / "cache")}
    everything = TextDataModule(**files)
    everything.setup()
    short = TextDataModule(**files, drop_longer_than=4)
    short.setup()
    assert everything.dataset_dir == short.dataset_dir  # the same folder, rebuilt for the new option
    assert everything.max_length == 8 and short.max_length == 5
    assert len(short.train_tokens) == sum(1 for line in sentences(40) if len(line.split()) <= 4)
    argv = ["--train", str(train), "--test", str(test), "--drop-longer-than", "4", "--out", str(tmp_path / "cli")]
    assert tokenize_main(argv) == 0
    assert load_split(tmp_path / "cli", "train")[1] == [line for line in sentences(40) if len(line.split()) <= 4]
