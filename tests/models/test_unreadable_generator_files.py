"""A checkpoint that cannot be used is refused with a ``CheckpointError``: one line naming the file, what is
wrong with it and what was expected, whether it is damaged (empty, truncated, a flipped byte), not a torch file
at all (text, random bytes) or a torch file that is not a textgan generator (keys, build, weights)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from test_generator_files import BUILD  # the tiny LSTM generator those tests save

from textgan.models.checkpoints import load_checkpoint
from textgan.models.io import load_generator, save_generator
from textgan.models.lstm import LSTMGenerator
from textgan.models.torch_files import CheckpointError


def tiny_generator(**changes) -> LSTMGenerator:
    torch.manual_seed(0)
    return LSTMGenerator(**{key: value for key, value in {**BUILD, **changes}.items() if key != "_target_"})


def good_file(path: Path) -> Path:
    return save_generator(path, tiny_generator(), BUILD, {"vocab_size": 12, "max_length": 6})


def flip_a_weight_byte(data: bytes) -> bytes:
    """The file with one byte of the last tensor's data changed (its zip entry's CRC no longer matches)."""
    import io
    import struct
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.header_offset)
    name_length, extra_length = struct.unpack("<HH", data[entry.header_offset + 26 : entry.header_offset + 30])
    start = entry.header_offset + 30 + name_length + extra_length  # the entry's first data byte
    return data[:start] + bytes([data[start] ^ 0xFF]) + data[start + 1 :]


def damaged(kind: str, good: bytes) -> bytes:
    return {
        "empty": b"",
        "text": b"a man rides a horse .\ntwo dogs play .\n",
        "random bytes": random.Random(0).randbytes(3000),
        "first half": good[: len(good) // 2],
        "last byte missing": good[:-1],
        "flipped weight byte": flip_a_weight_byte(good),
    }[kind]


PROBLEMS = {
    "empty": "is empty",
    "text": "not a PyTorch file",
    "random bytes": "not a PyTorch file",
    "first half": "truncated or damaged",
    "last byte missing": "truncated or damaged",
    "flipped weight byte": "damaged",
}


def assert_one_line_naming(error: pytest.ExceptionInfo, path: Path, problem: str) -> None:
    message = str(error.value)
    assert isinstance(error.value, ValueError)  # callers catching ValueError keep working
    assert str(path) in message and problem in message and "expected" in message
    assert "\n" not in message and len(message) < 600


@pytest.mark.parametrize("trust", [False, True])
@pytest.mark.parametrize("kind", list(PROBLEMS))
def test_a_damaged_or_foreign_file_is_named(tmp_path, kind, trust):
    good = good_file(tmp_path / "good.pt").read_bytes()
    path = tmp_path / "generator.pt"
    path.write_bytes(damaged(kind, good))
    with pytest.raises(CheckpointError) as error:
        load_generator(path, trust=trust)
    assert_one_line_naming(error, path, PROBLEMS[kind])


def test_text_is_recognised_as_text(tmp_path):
    path = tmp_path / "generator.pt"
    path.write_text("a man rides a horse .\n")
    with pytest.raises(CheckpointError, match="looks like text.*'a man rides a horse \\.'"):
        load_generator(path)


def test_a_legacy_torch_file_cut_short_is_named(tmp_path):
    path = tmp_path / "old.pt"
    payload = {"build": BUILD, "state_dict": tiny_generator().state_dict()}
    torch.save(payload, path, _use_new_zipfile_serialization=False)
    assert load_generator(path)[0].vocab_size == 12  # whole, it loads
    path.write_bytes(path.read_bytes()[:-40])
    for trust in (False, True):
        with pytest.raises(CheckpointError) as error:
            load_generator(path, trust=trust)
        assert_one_line_naming(error, path, "truncated or damaged")


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ([1, 2, 3], "holds a list, not a dict"),
        ({"build": BUILD}, "no 'state_dict'"),
        ({"state_dict": {}}, "no 'build'"),
        ({"build": [1], "state_dict": {}}, "'build' is a list"),
        ({"build": BUILD, "state_dict": [1]}, "'state_dict' is a list"),
        ({"build": {**BUILD, "depth": 3}, "state_dict": {}}, "'build' does not construct"),
        ({"build": BUILD, "state_dict": {"output.weight": torch.zeros(2)}}, "weights do not fit"),
        ({"build": BUILD, "state_dict": "WEIGHTS", "metadata": None}, "'state_dict' is a str"),
    ],
)
def test_a_torch_file_that_is_not_a_generator_file_is_named(tmp_path, payload, problem):
    path = tmp_path / "generator.pt"
    torch.save(payload, path)
    with pytest.raises(CheckpointError) as error:
        load_generator(path)
    assert_one_line_naming(error, path, problem)


def test_weights_of_another_architecture_are_named(tmp_path):
    path = tmp_path / "generator.pt"
    torch.save({"build": BUILD, "state_dict": tiny_generator(hidden_dim=5).state_dict()}, path)
    with pytest.raises(CheckpointError) as error:
        load_generator(path)
    assert_one_line_naming(error, path, "weights do not fit")
    assert "size mismatch" in str(error.value)


def test_metadata_must_be_a_dict(tmp_path):
    path = tmp_path / "generator.pt"
    torch.save({"build": BUILD, "state_dict": tiny_generator().state_dict(), "metadata": [1]}, path)
    with pytest.raises(CheckpointError) as error:
        load_generator(path)
    assert_one_line_naming(error, path, "'metadata' is a list")


def test_a_folder_or_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_generator(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_generator(tmp_path)


def run_folder(tmp_path: Path) -> Path:
    """A run folder with a generator file and a Lightning checkpoint holding its generator.* weights."""
    run = tmp_path / "run"
    run.mkdir()
    good_file(run / "generator.pt")
    state = {f"generator.{key}": value for key, value in tiny_generator().state_dict().items()}
    (run / "checkpoints" / "adversarial").mkdir(parents=True)
    torch.save({"state_dict": state, "epoch": 0}, run / "checkpoints" / "adversarial" / "last.ckpt")
    return run


@pytest.mark.parametrize("kind", ["empty", "text", "first half", "last byte missing", "flipped weight byte"])
def test_a_damaged_lightning_checkpoint_is_named(tmp_path, kind):
    checkpoint = run_folder(tmp_path) / "checkpoints" / "adversarial" / "last.ckpt"
    generator, metadata = load_checkpoint(checkpoint)
    assert metadata["vocab_size"] == 12 and generator.vocab_size == 12
    checkpoint.write_bytes(damaged(kind, checkpoint.read_bytes()))
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(checkpoint)
    assert_one_line_naming(error, checkpoint, PROBLEMS[kind])


def test_a_lightning_checkpoint_without_generator_weights_is_named(tmp_path):
    checkpoint = run_folder(tmp_path) / "checkpoints" / "adversarial" / "last.ckpt"
    torch.save({"epoch": 3}, checkpoint)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(checkpoint)
    assert_one_line_naming(error, checkpoint, "no generator.* weights")
