"""The data's sample metrics: BLEU / Self-BLEU of text under the data's protocol, their reference tables cached
beside the splits; NLL_oracle, and BLEU against the oracle's training sentences as nltk computes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_corpus import TEST, TRAIN, offline_hub, write_corpus  # noqa: F401  (offline_hub: autouse)

from textgan import metrics
from textgan.data.build import build_dataset
from textgan.data.oracle_datamodule import OracleDataModule
from textgan.data.text import TextDataModule
from textgan.evaluation.sample_metrics import SampleMetrics, bleu_references_path
from textgan.metrics import BleuReferences


def text_module(folder: Path, **kwargs) -> TextDataModule:
    """The tiny corpus above as a set-up ``TextDataModule`` built under ``folder``."""
    write_corpus(folder)
    build_dataset(folder / "ds", folder / "train.txt", folder / "test.txt", **kwargs.pop("build", {}))
    datamodule = TextDataModule(dataset_dir=str(folder / "ds"), **kwargs)
    datamodule.setup()
    return datamodule


def test_text_scores_are_the_metric_functions(tmp_path):
    datamodule = text_module(tmp_path / "corpus", bleu_orders=(2, 3, 4, 5))
    scores = SampleMetrics(datamodule)(datamodule.train_tokens.to_tensor())
    names = [f"bleu{n}" for n in (2, 3, 4, 5)] + [f"self_bleu{n}" for n in (2, 3, 4, 5)]
    assert sorted(scores) == sorted([*names, "copy_rate", "unique_rate", "mean_length", "unterminated_rate"])
    assert scores["copy_rate"] == 1.0  # the training sentences themselves
    assert scores["unique_rate"] == len(set(TRAIN)) / len(TRAIN)
    assert scores["mean_length"] == pytest.approx(np.mean([len(line.split()) for line in TRAIN]), abs=1e-12)
    assert scores["unterminated_rate"] == 0.0  # every training row ends at <eos>
    hypotheses = [line.split() for line in TRAIN]
    references = [line.split() for line in TEST]
    for n in (2, 3, 4, 5):
        assert 0.0 <= scores[f"bleu{n}"] <= 1.0 and 0.0 <= scores[f"self_bleu{n}"] <= 1.0
        assert scores[f"bleu{n}"] == pytest.approx(metrics.bleu(hypotheses, references, n), abs=1e-9)
        assert scores[f"self_bleu{n}"] == pytest.approx(metrics.self_bleu(hypotheses, n), abs=1e-9)


def test_protocol_limits_are_applied(tmp_path):
    datamodule = text_module(tmp_path / "corpus", max_hypotheses=2, max_references=1, self_bleu_samples=3)
    scores = SampleMetrics(datamodule)(datamodule.train_tokens.to_tensor())
    hypotheses = [line.split() for line in TRAIN]
    assert scores["bleu3"] == pytest.approx(metrics.bleu(hypotheses[:2], [TEST[0].split()], 3), abs=1e-9)
    assert scores["self_bleu3"] == pytest.approx(metrics.self_bleu(hypotheses[:3], 3), abs=1e-9)
    assert datamodule.protocol()["num_references"] == 1


def test_test_sentences_score_perfect_bleu_against_themselves(tmp_path):
    from textgan.data.tokenizer import TokenizerOptions

    datamodule = text_module(tmp_path / "corpus", build={"options": TokenizerOptions(vocab_from="train+test")})
    scores = SampleMetrics(datamodule)(datamodule.test_tokens)
    assert all(scores[f"bleu{n}"] == pytest.approx(1.0) for n in (2, 3, 4, 5))


def test_bleu_reference_tables_are_cached_beside_the_splits(tmp_path):
    rng = np.random.default_rng(0)
    vocabulary = "a the man dog cat rides sits on in park mat red big .".split()
    lines = [" ".join(rng.choice(vocabulary, size=rng.integers(3, 10))) for _ in range(200)]
    (tmp_path / "train.txt").write_text("\n".join(lines[:120]) + "\n")
    (tmp_path / "test.txt").write_text("\n".join(lines[120:]) + "\n")
    build_dataset(tmp_path / "ds", tmp_path / "train.txt", tmp_path / "test.txt")

    def text_scores(**kwargs) -> tuple[TextDataModule, dict[str, float]]:
        datamodule = TextDataModule(dataset_dir=str(tmp_path / "ds"), **kwargs)
        datamodule.setup()
        return datamodule, SampleMetrics(datamodule).text(samples)

    samples = [line.split() for line in lines[:50]]
    first, scores = text_scores(max_references=60)
    cache = bleu_references_path(first, 5)
    assert cache.is_file() and cache.parent.parent == tmp_path / "ds"
    fresh = BleuReferences(first.references[:60], max_order=5).scores(samples, (2, 3, 4, 5))
    assert {n: scores[f"bleu{n}"] for n in (2, 3, 4, 5)} == fresh  # the cached tables score exactly
    stamp = cache.stat().st_mtime_ns
    assert text_scores(max_references=60)[1] == scores and cache.stat().st_mtime_ns == stamp  # read, not rebuilt
    other = TextDataModule(dataset_dir=str(tmp_path / "ds"))  # all references: its own tables
    other.setup()
    assert bleu_references_path(other, 5) != cache
    cache.write_bytes(b"damaged")
    assert text_scores(max_references=60)[1] == scores


def test_one_instance_builds_its_tables_once(tmp_path, monkeypatch):
    datamodule = text_module(tmp_path / "corpus")
    sample_metrics = SampleMetrics(datamodule)
    first = sample_metrics(datamodule.test_tokens)
    monkeypatch.setattr(type(datamodule), "references", property(lambda self: pytest.fail("tables built again")))
    bleu_references_path(datamodule, 5).unlink()  # nor read again
    assert sample_metrics(datamodule.test_tokens) == first


def test_oracle_bleu_is_nltks_against_the_training_sentences_and_self_bleu_against_the_other_samples(tmp_path):
    bleu_score = pytest.importorskip("nltk.translate.bleu_score")
    smoothing = bleu_score.SmoothingFunction().method1

    def nltk_bleu(references, hypothesis, n):  # the Texygen / RelGAN definition
        return bleu_score.sentence_bleu(references, hypothesis, (1 / n,) * n, smoothing_function=smoothing)

    data = OracleDataModule(vocab_size=6, embedding_dim=4, hidden_dim=4, max_length=5, num_train=40, num_test=8,
                            cache_dir=str(tmp_path), bleu_orders=[2, 3])  # fmt: skip
    data.setup()
    samples = data.oracle.sample(12, generator=torch.Generator().manual_seed(1))
    scores = SampleMetrics(data)(samples)
    rows, references = samples.tolist(), data.train_tokens.tolist()
    for n in (2, 3):
        assert scores[f"bleu{n}"] == pytest.approx(np.mean([nltk_bleu(references, row, n) for row in rows]), abs=1e-12)
        others = [nltk_bleu(rows[:i] + rows[i + 1 :], rows[i], n) for i in range(len(rows))]
        assert scores[f"self_bleu{n}"] == pytest.approx(np.mean(others), abs=1e-12)
    assert set(scores) == {"nll_oracle", "bleu2", "bleu3", "self_bleu2", "self_bleu3", "copy_rate", "unique_rate"}
    assert scores["nll_oracle"] == data.oracle.nll(samples)
    plain = OracleDataModule(vocab_size=6, embedding_dim=4, hidden_dim=4, max_length=5, num_train=40, num_test=8,
                             cache_dir=str(tmp_path))  # fmt: skip
    plain.setup()
    assert set(SampleMetrics(plain)(samples)) == {"nll_oracle", "copy_rate", "unique_rate"}  # the default: no BLEU


def test_words_need_a_text_corpus(tmp_path):
    data = OracleDataModule(vocab_size=6, embedding_dim=4, hidden_dim=4, max_length=5, cache_dir=str(tmp_path))
    with pytest.raises(TypeError, match="needs a text corpus, not OracleDataModule"):
        SampleMetrics(data).text([["a"], ["b"]])


def test_copies_of_text_compare_sentences_as_they_decode(tmp_path):
    from textgan.data.tokenizer import BOS_ID, EOS_ID, PAD_ID

    datamodule = text_module(tmp_path / "corpus")
    training = datamodule.train_tokens.to_tensor()
    first = training[0].clone()
    end = int((first == EOS_ID).nonzero()[0])
    after_eos = first.clone()
    after_eos[end + 1 :] = 7  # tokens after <eos> are not part of the sentence
    with_specials = torch.full_like(first, PAD_ID)  # <bos> and a pad before the words: dropped in decoding
    with_specials[:2] = torch.tensor([BOS_ID, PAD_ID])
    with_specials[2 : end + 3] = first[: end + 1][: len(first) - 2]
    truncated = first.clone()
    truncated[end - 1 :] = PAD_ID  # the sentence without its last word: no copy
    novel = first.clone()
    novel[0] = 4 if int(first[0]) != 4 else 5
    samples = torch.stack([first, after_eos, with_specials, truncated, novel])
    decoded = datamodule.decode(samples)
    expected = [text in set(datamodule.decode(training)) for text in decoded]
    assert expected == [True, True, True, False, False]
    scores = SampleMetrics(datamodule).copies(samples)
    assert scores["copy_rate"] == 3 / 5
    assert scores["unique_rate"] == len(set(decoded)) / 5 == 3 / 5


def test_lengths_of_text_count_the_words_a_sample_decodes_to(tmp_path):
    from textgan.data.tokenizer import BOS_ID, EOS_ID, PAD_ID

    datamodule = text_module(tmp_path / "corpus")
    first = datamodule.train_tokens.to_tensor()[0].clone()
    end = int((first == EOS_ID).nonzero()[0])
    with_specials = torch.full_like(first, PAD_ID)  # <bos> and a pad before the words: not words
    with_specials[:2] = torch.tensor([BOS_ID, PAD_ID])
    with_specials[2 : end + 3] = first[: end + 1][: len(first) - 2]
    run_on = torch.full_like(first, 4)  # one word in every position, never <eos>
    samples = torch.stack([first, with_specials, run_on])
    words = [len(text.split()) for text in datamodule.decode(samples)]
    assert words == [end, end, len(first)]
    scores = SampleMetrics(datamodule).lengths(samples)
    assert scores == {"mean_length": pytest.approx(sum(words) / 3, abs=1e-12), "unterminated_rate": 1 / 3}


def test_copies_on_the_oracle_are_of_its_training_rows(tmp_path):
    data = OracleDataModule(vocab_size=6, embedding_dim=4, hidden_dim=4, max_length=5, num_train=40, num_test=8,
                            cache_dir=str(tmp_path))  # fmt: skip
    data.setup()
    samples = torch.cat(
        [
            data.train_tokens[:3],
            data.train_tokens[:1],
            data.oracle.sample(6, generator=torch.Generator().manual_seed(2)),
        ]
    )
    training = {tuple(row) for row in data.train_tokens.tolist()}
    rows = [tuple(row) for row in samples.tolist()]
    scores = SampleMetrics(data)(samples)
    assert scores["copy_rate"] == sum(row in training for row in rows) / len(rows) >= 4 / 10
    assert scores["unique_rate"] == len(set(rows)) / len(rows) <= 9 / 10
