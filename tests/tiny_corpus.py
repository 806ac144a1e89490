"""A five-sentence corpus for the text data and sample-metric tests, and the offline switch they run under."""

from __future__ import annotations

from pathlib import Path

import pytest

TRAIN = [
    "a man rides a horse .",
    "two dogs play in the park .",
    "a cat sits on the mat .",
    "the man and the woman walk the dog .",
    "a horse runs in the park .",
]
TEST = ["a dog rides a zebra .", "the cat and the dog .", "two men play in the park ."]


def write_corpus(folder: Path) -> Path:
    """``folder`` (created) with ``train.txt`` and ``test.txt`` holding the sentences above, one per line."""
    folder.mkdir()
    (folder / "train.txt").write_text("\n".join(TRAIN) + "\n")
    (folder / "test.txt").write_text("\n".join(TEST) + "\n")
    return folder


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch):
    """Nothing reaches the network: ``datasets`` and the hub read local files only (import it into a test module)."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
