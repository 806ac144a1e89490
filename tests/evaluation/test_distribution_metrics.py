"""LM, reverse-LM, MAUVE and FED on a small grammar corpus: what each one catches, and what BLEU misses.

The corpus is sentences of a small English grammar. Against its test split we score four sample sets: the
test split itself (identical), fresh sentences of the grammar (good), four training sentences repeated (mode
collapse) and the grammar's words in random order (disjoint).
"""

from __future__ import annotations

import random

import pytest
import torch

from textgan.data.build import build_dataset
from textgan.data.text import TextDataModule
from textgan.evaluation.distribution import (
    distribution_metrics,
    parse_metrics,
    reference_lm_path,
    rows_from_samples,
    rows_from_texts,
)
from textgan.evaluation.language_model import LanguageModelSettings
from textgan.evaluation.sample_metrics import SampleMetrics

ADJECTIVES = ["big", "small", "red", "old", "young", "happy", "sad", "tall"]
NOUNS = ["dog", "cat", "man", "woman", "horse", "bird", "boy", "girl", "cow", "duck"]
VERBS = ["sees", "chases", "likes", "holds", "feeds", "follows"]
PLACES = ["park", "street", "field", "house", "garden"]
SETTINGS = LanguageModelSettings(embedding_dim=16, hidden_dim=48, max_epochs=8, learning_rate=1e-2)


def noun_phrase(rng: random.Random) -> list[str]:
    return [rng.choice(["the", "a"]), *([rng.choice(ADJECTIVES)] if rng.random() < 0.5 else []), rng.choice(NOUNS)]


def sentences(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = noun_phrase(rng) + [rng.choice(VERBS)] + noun_phrase(rng)
        if rng.random() < 0.5:
            words += ["in", "the", rng.choice(PLACES)]
        lines.append(" ".join(words + ["."]))
    return lines


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grammar")
    train, test = sentences(800, seed=0), sentences(300, seed=1)
    (folder / "train.txt").write_text("\n".join(train) + "\n")
    (folder / "test.txt").write_text("\n".join(test) + "\n")
    build_dataset(folder / "ds", folder / "train.txt", folder / "test.txt")
    datamodule = TextDataModule(dataset_dir=str(folder / "ds"))
    datamodule.setup()
    shuffled = random.Random(2)
    sets = {
        "identical": list(datamodule.test_texts),
        "good": sentences(300, seed=3),
        "collapsed": [train[i % 4] for i in range(300)],
        "disjoint": [" ".join(shuffled.sample(line.split(), len(line.split()))) for line in sentences(300, seed=4)],
    }
    results = {}
    for name, texts in sets.items():
        rows = rows_from_texts(datamodule, texts)
        metrics = distribution_metrics(datamodule, rows, texts, settings=SETTINGS, cache_dir=folder / "lm", seed=25)
        metrics.update(SampleMetrics(datamodule).text(datamodule.text_words(texts)))
        results[name] = metrics
    return datamodule, results, folder


def test_identical_sets_score_as_identical(scored):
    _, results, _ = scored
    assert results["identical"]["mauve"] == pytest.approx(1.0, abs=1e-6)
    assert results["identical"]["fed"] == pytest.approx(0.0, abs=1e-6)


def test_disjoint_sets_score_as_far_apart(scored):
    _, results, _ = scored
    good, disjoint = results["good"], results["disjoint"]
    assert disjoint["mauve"] < 0.2 < good["mauve"]
    assert disjoint["fed"] > 5 * good["fed"]
    assert disjoint["lm_score"] > good["lm_score"] + 1.0  # word soup is unlikely under the real-data LM


def test_mode_collapse_is_caught_by_reverse_lm_and_mauve_but_not_by_bleu(scored):
    _, results, _ = scored
    good, collapsed = results["good"], results["collapsed"]
    for n in (2, 3, 4, 5):  # quality BLEU: real training sentences score at least as well as fresh ones
        assert collapsed[f"bleu{n}"] >= good[f"bleu{n}"] - 0.02
    assert collapsed["lm_score"] < good["lm_score"] + 0.5  # the LM score misses it too: each sentence is fine
    assert collapsed["reverse_lm_score"] > good["reverse_lm_score"] + 1.0
    assert collapsed["mauve"] < good["mauve"] - 0.3
    assert collapsed["self_bleu5"] > 0.99  # (Self-BLEU, a diversity metric, sees it as well)


def test_the_reference_lm_is_cached_and_reused(scored):
    datamodule, results, folder = scored
    path = reference_lm_path(datamodule, SETTINGS, folder / "lm")
    assert path.exists() and path.with_suffix(".json").exists()
    stamp = path.stat().st_mtime_ns
    texts = sentences(50, seed=9)
    rows = rows_from_texts(datamodule, texts)
    first = distribution_metrics(datamodule, rows, texts, ["lm"], settings=SETTINGS, cache_dir=folder / "lm")
    assert path.stat().st_mtime_ns == stamp  # loaded, not trained again
    path.write_bytes(b"damaged")  # an unreadable cache is trained again, to the same model
    again = distribution_metrics(datamodule, rows, texts, ["lm"], settings=SETTINGS, cache_dir=folder / "lm")
    assert again == first
    other = LanguageModelSettings(embedding_dim=16, hidden_dim=24, max_epochs=2)
    assert reference_lm_path(datamodule, other, folder / "lm") != path  # other settings, another file


def test_rows_follow_the_stored_layout(scored):
    datamodule, _, _ = scored
    rows = rows_from_texts(datamodule, list(datamodule.test_texts[:20]))
    assert torch.equal(rows, datamodule.test_tokens[:20])
    long = rows_from_texts(datamodule, [" ".join(["dog"] * 100)])
    assert long.shape[1] == datamodule.max_length and long[0, -1] == datamodule.eos_token
    sampled = torch.tensor([[5, datamodule.eos_token, 7, 8]])
    assert rows_from_samples(datamodule, sampled).tolist() == [[5, datamodule.eos_token, 0, 0]]


def test_metric_lists_are_checked():
    assert parse_metrics("all", ("lm", "fed")) == ["lm", "fed"]
    assert parse_metrics("fed, lm", ("lm", "fed")) == ["fed", "lm"]
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['bleu9'\]"):
        parse_metrics("lm,bleu9", ("lm", "fed"))
