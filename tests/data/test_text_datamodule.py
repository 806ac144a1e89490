"""TextDataModule: built on first use and cached, facts, decoding, BLEU / Self-BLEU, the data configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_corpus import TEST, TRAIN, offline_hub, write_corpus  # noqa: F401  (offline_hub: autouse)

from textgan.data.base import TokenDataModule
from textgan.data.build import build_dataset
from textgan.data.oracle_datamodule import OracleDataModule
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from textgan.evaluation.data import data_config
from textgan.models.io import build_from_config


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_corpus(tmp_path / "corpus")


def text_module(corpus: Path, dataset_dir: Path, **kwargs) -> TextDataModule:
    datamodule = TextDataModule(
        dataset_dir=str(dataset_dir), train_file="train.txt", test_file="test.txt", root=str(corpus), **kwargs
    )
    datamodule.setup("fit")
    return datamodule


def test_builds_on_first_use_then_reuses_the_folder(corpus, tmp_path, capsys):
    datamodule = text_module(corpus, tmp_path / "ds", batch_size=2)
    assert "tokenised" in capsys.readouterr().out
    longest = max(len(line.split()) for line in TRAIN + TEST) + 1
    assert datamodule.train_tokens.shape == (len(TRAIN), longest) and datamodule.train_tokens.dtype == torch.long
    assert datamodule.test_tokens.shape == (len(TEST), longest)
    assert (datamodule.max_length, datamodule.start_token, datamodule.pad_token) == (longest, BOS_ID, PAD_ID)
    assert datamodule.vocab_size == len({w for line in TRAIN for w in line.split()}) + 4
    assert datamodule.vocab_fingerprint == datamodule.manifest["vocab_fingerprint"]
    assert next(iter(datamodule.train_dataloader())).shape == (2, longest)

    created = datamodule.manifest["created"]
    again = text_module(corpus, tmp_path / "ds")
    assert "tokenised" not in capsys.readouterr().out and again.manifest["created"] == created
    (corpus / "train.txt").write_text("\n".join(TRAIN + ["zebras eat grass ."]) + "\n")
    rebuilt = text_module(corpus, tmp_path / "ds")
    assert "tokenised" in capsys.readouterr().out and rebuilt.vocab_size == again.vocab_size + 3


def test_default_folder_lives_under_the_cache_dir(corpus, tmp_path):
    datamodule = TextDataModule(
        train_file=str(corpus / "train.txt"),
        test_file=str(corpus / "test.txt"),
        cache_dir=str(tmp_path / "cache"),
    )
    datamodule.setup()
    assert datamodule.dataset_dir.parent == tmp_path / "cache" and datamodule.dataset_dir.name.startswith("corpus-")
    prebuilt = TextDataModule(dataset_dir=str(datamodule.dataset_dir))  # a built folder on its own
    prebuilt.setup()
    assert torch.equal(prebuilt.test_tokens, datamodule.test_tokens)
    with pytest.raises(ValueError, match="max_length=40 was asked for: rebuild it"):
        TextDataModule(dataset_dir=str(datamodule.dataset_dir), max_length=40).setup()


def test_decode_stops_at_eos_and_drops_padding(corpus, tmp_path):
    datamodule = text_module(corpus, tmp_path / "ds")
    assert datamodule.decode(datamodule.test_tokens) == [
        "a dog rides a <unk> .",
        "the cat and the dog .",
        "two <unk> play in the park .",
    ]
    man, horse = datamodule.tokenizer.token_to_id("man"), datamodule.tokenizer.token_to_id("horse")
    rows = torch.tensor([[man, PAD_ID, horse, EOS_ID, man], [BOS_ID, man, man, man, man], [EOS_ID, man, 0, 0, 0]])
    assert datamodule.decode(rows) == ["man horse", "man man man man", ""]
    assert datamodule.sample_words(rows) == [["man", "horse"], ["man"] * 4, []]
    assert datamodule.references == [line.split() for line in TEST]  # the real words, not <unk>


def test_oracle_fingerprint_is_its_number_of_ids(tmp_path):
    oracle = OracleDataModule(vocab_size=50, max_length=5, cache_dir=str(tmp_path))
    assert oracle.vocab_fingerprint == "ids:50"


@pytest.mark.shared_data
def test_coco_config_reads_the_shared_data(shared_data, tmp_path):
    config = data_config("coco", [f"dataset_dir={tmp_path / 'coco'}"], seed=7)
    assert config["_target_"] == "textgan.data.text.TextDataModule" and config["seed"] == 7
    assert Path(config["root"]).is_absolute() and (Path(config["root"]) / config["train_file"]).is_file()
    datamodule = build_from_config(config, base=TokenDataModule, package="textgan.data")
    datamodule.setup()
    assert (datamodule.vocab_size, datamodule.max_length, datamodule.batch_size) == (4609, 38, 64)
    assert default_dataset_dir_is_in_the_repository_cache()


def default_dataset_dir_is_in_the_repository_cache() -> bool:
    repository = Path(__file__).resolve().parents[2]
    return Path(data_config("coco")["dataset_dir"]) == repository / ".cache" / "text" / "coco"


@pytest.mark.shared_data
def test_emnlp_config_needs_a_training_file(shared_data, tmp_path):
    with pytest.raises(ValueError, match="no training file .*emnlp_news/test.txt: set train_file=PATH"):
        config = data_config("emnlp_news", [f"dataset_dir={tmp_path / 'emnlp'}"])
        build_from_config(config, base=TokenDataModule, package="textgan.data")
    config = data_config("emnlp_news", [f"dataset_dir={tmp_path / 'emnlp'}", "test_as_train=true"])
    datamodule = build_from_config(config, base=TokenDataModule, package="textgan.data")
    datamodule.setup()
    assert datamodule.manifest["train_is_test"] and datamodule.test_tokens.shape == (10_000, 49)


def test_train_file_without_test_file_is_refused(corpus):
    with pytest.raises(ValueError, match="without test_file"):
        TextDataModule(train_file="train.txt", root=str(corpus))
    with pytest.raises(ValueError, match="needs dataset_dir, or train_file and test_file"):
        TextDataModule()
    with pytest.raises(FileNotFoundError, match="not a dataset folder"):
        TextDataModule(dataset_dir=str(corpus)).setup()


def test_prebuilt_folder_from_build_dataset(corpus, tmp_path):
    build_dataset(tmp_path / "ds", corpus / "train.txt", corpus / "test.txt", max_length=20)
    datamodule = TextDataModule(dataset_dir=str(tmp_path / "ds"), max_length=20)
    datamodule.setup()
    assert datamodule.train_tokens.shape[1] == 20
