"""Tokenising a corpus into a dataset folder: round trip, layout, manifest, options, rebuilds."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from textgan.data.build import build_dataset
from textgan.data.dataset_folder import is_up_to_date, load_split, load_tokenizer, read_manifest
from textgan.data.tokenizer import BOS_ID, EOS_ID, PAD_ID, UNK_ID, TokenizerOptions, words

TRAIN = [
    "a man rides a horse .",
    "a  woman   rides a bike .",  # odd spacing: stored whitespace-normalised
    "two dogs play in the park .",
    "a cat sits on the mat .",
    "the man and the woman walk the dog .",
    "a horse runs in the park .",
]
TEST = [
    "a dog rides a zebra .",
    "the cat and the dog .",
    "two men play in the snow .",
]  # zebra, men, snow: unseen


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def write_corpus(folder: Path, train: list[str] = TRAIN, test: list[str] = TEST) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(test))  # no final newline, like the COCO files
    return folder / "train.txt", folder / "test.txt"


def strip_layout(row: list[int]) -> list[int]:
    """Ids before the eos (the layout is tokens, eos, pads)."""
    return row[: row.index(EOS_ID)]


def test_round_trip_and_layout(tmp_path):
    train, test = write_corpus(tmp_path / "corpus")
    manifest = build_dataset(tmp_path / "ds", train, test)
    tokenizer = load_tokenizer(tmp_path / "ds")
    ids, texts = load_split(tmp_path / "ds", "train")
    assert texts == [" ".join(line.split()) for line in TRAIN]
    assert ids.shape == (len(TRAIN), manifest["max_length"])
    for row, text in zip(ids.tolist(), texts, strict=True):
        n = len(text.split())
        assert row[n] == EOS_ID and all(token == PAD_ID for token in row[n + 1 :])
        assert tokenizer.decode(strip_layout(row)) == text  # encode -> decode is the identity
        assert BOS_ID not in row and UNK_ID not in row
    # tokenizer.json alone reproduces the stored rows (eos appended, padded to T)
    reloaded = Tokenizer.from_file(str(tmp_path / "ds" / "tokenizer.json"))
    assert [encoding.ids for encoding in reloaded.encode_batch(texts)] == ids.tolist()


def test_manifest_contents(tmp_path):
    train, test = write_corpus(tmp_path / "corpus")
    manifest = build_dataset(tmp_path / "ds", train, test)
    assert manifest == read_manifest(tmp_path / "ds")
    assert manifest["special_tokens"] == {"pad": 0, "bos": 1, "eos": 2, "unk": 3}
    assert (
        manifest["tokenizer"]["model"] == "word_level" and manifest["tokenizer"]["file"] == "tokenizer.json"
    )
    train_words = {w for line in TRAIN for w in line.split()}
    assert manifest["vocab_size"] == len(train_words) + 4 == load_tokenizer(tmp_path / "ds").get_vocab_size()
    assert manifest["max_length"] == max(len(line.split()) for line in TRAIN + TEST) + 1
    assert manifest["max_length_from"] == "auto" and manifest["train_is_test"] is False
    assert manifest["length_cap"]["cap"] >= manifest["max_length"]  # no outlier here: nothing dropped
    assert manifest["vocab_fingerprint"].startswith("sha256:") and len(manifest["vocab_fingerprint"]) == 71
    for split, path, lines in (("train", train, TRAIN), ("test", test, TEST)):
        facts = manifest["splits"][split]
        assert facts["source"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert facts["source"]["path"] == str(path.resolve())
        assert facts["lines"] == facts["source_lines"] == len(lines)
        assert facts["blank_lines_skipped"] == facts["cut_lines"] == 0
        assert facts["tokens"] == sum(len(line.split()) + 1 for line in lines)
    assert manifest["splits"]["train"]["unk_tokens"] == 0
    assert manifest["splits"]["test"]["unk_tokens"] == 3  # zebra, men, snow
    for name in ("tokenizer.json", "manifest.json", "train", "test"):
        assert (tmp_path / "ds" / name).exists()


def test_unknown_words_map_to_unk_and_decode_visibly(tmp_path):
    train, test = write_corpus(tmp_path / "corpus")
    build_dataset(tmp_path / "ds", train, test)
    ids, _ = load_split(tmp_path / "ds", "test")
    assert load_tokenizer(tmp_path / "ds").decode(
        strip_layout(ids[0].tolist()), skip_special_tokens=False
    ) == ("a dog rides a <unk> .")


def test_vocabulary_is_deterministic_and_fingerprinted(tmp_path):
    train, test = write_corpus(tmp_path / "corpus")
    first = build_dataset(tmp_path / "a", train, test)
    second = build_dataset(tmp_path / "b", train, test)
    assert first["vocab_fingerprint"] == second["vocab_fingerprint"]
    vocab = load_tokenizer(tmp_path / "a").get_vocab()
    assert (vocab["."], vocab["a"], vocab["the"]) == (4, 5, 6)  # by frequency (6, 6, 5), ties in string order
    both = build_dataset(tmp_path / "c", train, test, TokenizerOptions(vocab_from="train+test"))
    assert both["vocab_fingerprint"] != first["vocab_fingerprint"]
    assert both["splits"]["test"]["unk_tokens"] == 0


def test_options_words_lowercase_and_vocab_cap(tmp_path):
    train, test = write_corpus(tmp_path / "corpus", ["The wheel. A Dog, a cat."] * 3, ["a dog."])
    manifest = build_dataset(
        tmp_path / "ds", train, test, TokenizerOptions(pre_tokenizer="words", lowercase=True)
    )
    tokenizer = load_tokenizer(tmp_path / "ds")
    assert words(tokenizer, "The wheel.") == ["the", "wheel", "."]
    assert manifest["max_length"] == len("the wheel . a dog , a cat .".split()) + 1
    capped = build_dataset(tmp_path / "capped", train, test, TokenizerOptions(vocab_size=6))
    assert capped["vocab_size"] == 6  # 4 specials + the 2 most frequent words


def test_bpe_round_trip(tmp_path):
    train, test = write_corpus(tmp_path / "corpus", TRAIN * 5)
    manifest = build_dataset(tmp_path / "ds", train, test, TokenizerOptions(model="bpe", vocab_size=60))
    assert manifest["tokenizer"]["model"] == "bpe" and manifest["vocab_size"] <= 60
    tokenizer = load_tokenizer(tmp_path / "ds")
    ids, texts = load_split(tmp_path / "ds", "train")
    for row, text in zip(ids.tolist(), texts, strict=True):
        assert tokenizer.decode(strip_layout(row)) == text


def test_up_to_date_follows_contents_and_options(tmp_path):
    train, test = write_corpus(tmp_path / "corpus")
    options = TokenizerOptions()
    build_dataset(tmp_path / "ds", train, test, options)  # max_length="auto", the default
    assert is_up_to_date(tmp_path / "ds", train, test, options, "auto")
    assert not is_up_to_date(tmp_path / "ds", train, test, options, None)  # none: no cap, another build
    assert not is_up_to_date(tmp_path / "ds", train, test, options, 20)
    assert not is_up_to_date(tmp_path / "ds", train, test, TokenizerOptions(lowercase=True), "auto")
    build_dataset(tmp_path / "ds", train, test, options, max_length="none")
    assert is_up_to_date(tmp_path / "ds", train, test, options, None)  # "none" and None are one setting
    train.write_text(train.read_text() + "one more line .\n")
    assert not is_up_to_date(tmp_path / "ds", train, test, options, None)
    assert not is_up_to_date(tmp_path / "missing", train, test, options, None)


@pytest.mark.shared_data
def test_coco_matches_the_published_data(shared_data, tmp_path):
    options = TokenizerOptions(pre_tokenizer="words", lowercase=True)
    manifest = build_dataset(
        tmp_path / "coco", shared_data / "coco/train.txt", shared_data / "coco/test.txt", options
    )
    assert manifest["splits"]["train"]["lines"] == manifest["splits"]["test"]["lines"] == 10_000
    assert manifest["vocab_size"] == 4605 + 4  # RelGAN's nltk tokenisation gives 4,682 words
    assert manifest["max_length"] == 38  # RelGAN: 37 tokens, no eos
    assert manifest["splits"]["train"]["cut_lines"] == manifest["splits"]["train"]["blank_lines_skipped"] == 0
