"""Fixtures of the command tests: a tiny corpus as a dataset folder, tiny generator checkpoints, a tiny oracle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from textgan.data.build import build_dataset
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import BOS_ID
from textgan.models.io import save_generator
from textgan.models.lstm import LSTMGenerator

TRAIN = ["a man rides a horse .", "two dogs play in the park .", "a cat sits on the mat .", "the dog runs ."]
TEST = ["a dog rides a horse .", "the cat and the dog play .", "two men sit in the park ."]


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def tiny_dataset(folder: Path, train: list[str] = TRAIN) -> Path:
    """A dataset folder built from ``train`` and ``TEST`` under ``folder``; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(TEST) + "\n")
    build_dataset(folder / "ds", folder / "train.txt", folder / "test.txt")
    return folder / "ds"


def tiny_checkpoint(
    path: Path, vocab_size: int, max_length: int, fingerprint: str, sharpen: float = 1.0
) -> Path:
    """A small LSTM generator saved with ``save_generator``; ``sharpen`` scales its logits (peakier samples)."""
    build = {
        "_target_": "textgan.models.lstm.LSTMGenerator",
        "vocab_size": vocab_size,
        "max_length": max_length,
        "embedding_dim": 8,
        "hidden_dim": 8,
        "start_token": BOS_ID,
    }
    generator = LSTMGenerator(**{k: v for k, v in build.items() if k != "_target_"})
    with torch.no_grad():
        generator.output.weight.mul_(sharpen)
        generator.output.bias.copy_(torch.linspace(-sharpen, sharpen, vocab_size))
    metadata = {"vocab_size": vocab_size, "max_length": max_length, "vocab_fingerprint": fingerprint}
    return save_generator(path, generator, build, metadata)


def tiny_run_checkpoint(run: Path, generator_file: Path, stage: str = "adversarial") -> Path:
    """A run folder ``run`` as training leaves it: a copy of ``generator_file`` and a Lightning checkpoint
    ``checkpoints/<stage>/last.ckpt`` holding its weights as ``generator.*``; returns the checkpoint's path."""
    (run / "checkpoints" / stage).mkdir(parents=True)
    (run / "generator.pt").write_bytes(generator_file.read_bytes())
    payload = torch.load(generator_file, weights_only=True)
    state = {f"generator.{key}": value for key, value in payload["state_dict"].items()}
    torch.save({"state_dict": state, "epoch": 0}, run / "checkpoints" / stage / "last.ckpt")
    return run / "checkpoints" / stage / "last.ckpt"


def tiny_oracle(path: Path, vocab_size: int = 20, size: int = 8) -> Path:
    """An oracle ``.npz`` (``textgan.data.oracle`` layout) with N(0, 1) parameters."""
    rng = np.random.default_rng(0)
    arrays = {"embedding": rng.normal(size=(vocab_size, size)), "W_out": rng.normal(size=(size, vocab_size))}
    arrays["b_out"] = rng.normal(size=vocab_size)
    for gate in "ifoc":
        arrays[f"W_{gate}"], arrays[f"U_{gate}"] = (
            rng.normal(size=(size, size)),
            rng.normal(size=(size, size)),
        )
        arrays[f"b_{gate}"] = rng.normal(size=size)
    np.savez(path, **{key: value.astype(np.float32) for key, value in arrays.items()})
    return path


@pytest.fixture
def reference_lines() -> list[str]:
    """The test split of ``make_dataset``'s folders: the BLEU references."""
    return list(TEST)


@pytest.fixture
def make_dataset() -> Callable[..., Path]:
    """``make_dataset(folder, train=TRAIN)``: a dataset folder of the tiny corpus."""
    return tiny_dataset


@pytest.fixture
def make_checkpoint() -> Callable[..., Path]:
    """``make_checkpoint(path, vocab_size, max_length, fingerprint, sharpen=1.0)``: a generator file."""
    return tiny_checkpoint


@pytest.fixture
def make_run_checkpoint() -> Callable[..., Path]:
    """``make_run_checkpoint(run, generator_file, stage="adversarial")``: a run's Lightning checkpoint."""
    return tiny_run_checkpoint


@pytest.fixture
def make_oracle() -> Callable[..., Path]:
    """``make_oracle(path, vocab_size=20, size=8)``: an oracle ``.npz``."""
    return tiny_oracle


@pytest.fixture
def text_setup(tmp_path) -> tuple[Path, TextDataModule, Path]:
    """(dataset folder, its set-up DataModule, a checkpoint with its vocabulary)."""
    dataset_dir = tiny_dataset(tmp_path / "corpus")
    datamodule = TextDataModule(dataset_dir=str(dataset_dir))
    datamodule.setup()
    checkpoint = tiny_checkpoint(
        tmp_path / "gen.pt", datamodule.vocab_size, datamodule.max_length, datamodule.vocab_fingerprint
    )
    return dataset_dir, datamodule, checkpoint


CHINESE = ["今天天气很好。", "我们去公园散步吧！", "他在图书馆看书。", "今天我们去看书吧。", "天气很好，我们去散步。"]


@pytest.fixture
def broken_bytes_setup(tmp_path) -> tuple[Path, TextDataModule, Path, int, int]:
    """A byte-level BPE dataset of Chinese lines and a generator that writes characters it leaves unfinished.

    Returns (dataset folder, its set-up DataModule, the generator file, ``天``'s id, the id of the byte 0xE4 alone).
    The generator ignores its state: each step draws ``天``, the lone lead byte 0xE4 (a character's first
    byte without the two after it) or ``<eos>`` with probability 1/3 each.
    """
    from textgan.data.tokenizer import EOS_ID, TokenizerOptions

    folder = tmp_path / "zh"
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(CHINESE) + "\n", encoding="utf-8")
    build_dataset(folder / "ds", folder / "train.txt", folder / "train.txt", TokenizerOptions("byte_bpe", 300))
    datamodule = TextDataModule(dataset_dir=str(folder / "ds"))
    datamodule.setup()
    tokenizer = datamodule.tokenizer
    sky = tokenizer.encode("天").ids[0]
    assert tokenizer.encode("天").ids[:2] == [sky, EOS_ID]  # one token (the stored tokenizer pads to T)
    lead_byte = tokenizer.token_to_id(tokenizer.pre_tokenizer.pre_tokenize_str("今")[0][0][0])  # 0xE4 alone
    build = {
        "_target_": "textgan.models.lstm.LSTMGenerator",
        "vocab_size": datamodule.vocab_size,
        "max_length": datamodule.max_length,
        "embedding_dim": 8,
        "hidden_dim": 8,
        "start_token": BOS_ID,
    }
    generator = LSTMGenerator(**{k: v for k, v in build.items() if k != "_target_"})
    with torch.no_grad():
        generator.output.weight.zero_()
        generator.output.bias.fill_(-30.0)
        generator.output.bias[[sky, lead_byte, EOS_ID]] = 0.0
    metadata = {
        "vocab_size": datamodule.vocab_size,
        "max_length": datamodule.max_length,
        "vocab_fingerprint": datamodule.vocab_fingerprint,
    }
    checkpoint = save_generator(tmp_path / "zh.pt", generator, build, metadata)
    return folder / "ds", datamodule, checkpoint, sky, lead_byte
