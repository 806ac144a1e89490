"""BLEU-n and Self-BLEU-n against nltk itself (the Texygen / RelGAN definition), sentence by sentence.

The reference implementation is ``nltk.translate.bleu_score.sentence_bleu(references, hypothesis,
(1/n,) * n, smoothing_function=SmoothingFunction().method1)``, called once per hypothesis and order.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from textgan import metrics

bleu_score = pytest.importorskip("nltk.translate.bleu_score")

ORDERS = (2, 3, 4, 5)
TOL = 1e-12


def nltk_bleu(references, hypothesis, n: int) -> float:
    smoothing = bleu_score.SmoothingFunction().method1
    return bleu_score.sentence_bleu(references, hypothesis, (1 / n,) * n, smoothing_function=smoothing)


def nltk_self_bleu(samples, n: int, num_hypotheses: int | None = None) -> list[float]:
    count = len(samples) if num_hypotheses is None else num_hypotheses
    return [nltk_bleu(samples[:i] + samples[i + 1 :], samples[i], n) for i in range(count)]


def random_sentences(rng: random.Random, count: int, vocab, lengths=(0, 1, 2, 3, 4, 5, 6, 8, 11, 15)):
    return [[rng.choice(vocab) for _ in range(rng.choice(lengths))] for _ in range(count)]


def assert_close_lists(ours: list[float], expected: list[float]) -> None:
    assert len(ours) == len(expected)
    worst = max(abs(a - b) for a, b in zip(ours, expected, strict=True))
    assert worst <= TOL, f"largest per-sentence difference {worst}"


@pytest.fixture
def corpus():
    """References with every length 0..15, hypotheses with the hard cases added."""
    rng = random.Random(1)
    vocab = ["a", "b", "c", "d", "e", "f"]  # small: n-grams up to 5 match often
    references = random_sentences(rng, 60, vocab) + [[], ["a"], ["a", "b", "a", "b", "a", "b"]]
    references.append(["c", "a", "d", "b", "e", "f", "a"])
    hypotheses = random_sentences(rng, 300, vocab)
    hypotheses += [
        [],  # empty: score 0
        ["a"],  # one token that matches
        ["z"],  # one token no reference has
        ["z", "y", "x", "w"],  # no unigram match at all: score 0
        ["a", "b"],  # shorter than n for n >= 3
        ["a", "b", "c", "d"],  # shorter than 5
        list(references[-1]),  # identical to a reference
        list(references[-1]),  # ... twice
        ["a"] * 14,  # clipping: one n-gram repeated
        ["a", "b", "z", "a", "b"],
    ]
    return hypotheses, references


def test_sentence_bleu_equals_nltk_on_every_sentence(corpus):
    hypotheses, references = corpus
    ours = metrics.sentence_bleu_scores(hypotheses, references, ORDERS)
    assert sorted(ours) == list(ORDERS)
    for n in ORDERS:
        assert_close_lists(ours[n], [nltk_bleu(references, h, n) for h in hypotheses])
    assert ours[2][300] == 0.0 and ours[2][303] == 0.0  # empty, no unigram match
    assert ours[5][306] == pytest.approx(1.0, abs=TOL)  # identical to a reference


def test_bleu_means_equal_nltk_means(corpus):
    hypotheses, references = corpus
    scores = metrics.bleu_scores(hypotheses, references, orders=ORDERS)
    for n in ORDERS:
        expected = [nltk_bleu(references, h, n) for h in hypotheses]
        assert scores[n] == pytest.approx(sum(expected) / len(expected), abs=TOL)
        assert metrics.bleu(hypotheses, references, n) == scores[n]


def test_integer_tokens_numpy_rows_and_tensors():
    rng = random.Random(2)
    references = random_sentences(rng, 40, [0, 1, 2, 3, 4])
    hypotheses = random_sentences(rng, 80, [0, 1, 2, 3, 4, 9])
    for n in (1, 2, 4):
        expected = [nltk_bleu(references, h, n) for h in hypotheses]
        assert_close_lists(metrics.sentence_bleu_scores(hypotheses, references, (n,))[n], expected)
    # rows of an id array: numpy and torch scalars must match as the equal Python ints do
    rows = np.array([h[:3] + [0] * (3 - len(h[:3])) for h in hypotheses])
    expected = [nltk_bleu(references, row.tolist(), 3) for row in rows]
    assert_close_lists(metrics.sentence_bleu_scores(rows, references, (3,))[3], expected)
    assert_close_lists(metrics.sentence_bleu_scores(torch.from_numpy(rows), references, (3,))[3], expected)


def test_closest_reference_length_ties_go_to_the_shorter():
    references = [["a"] * 13, ["a"] * 11, ["b"] * 30]
    for hypothesis in (["a"] * 12, ["a"] * 10, ["a"] * 31, ["a"] * 21):
        for n in ORDERS:
            ours = metrics.sentence_bleu_scores([hypothesis], references, (n,))[n][0]
            assert ours == pytest.approx(nltk_bleu(references, hypothesis, n), abs=TOL)


def test_self_bleu_equals_nltk_leave_one_out():
    rng = random.Random(3)
    samples = random_sentences(rng, 130, ["a", "b", "c", "d", "e"])
    samples += [list(samples[i]) for i in (0, 1, 2, 7, 7, 40)]  # duplicates stay references of each other
    samples += [[], ["q"], ["a"], ["c", "c", "c", "c", "c", "c", "c", "c"], ["c"] * 9]
    rng.shuffle(samples)
    ours = metrics.sentence_self_bleu_scores(samples, ORDERS)
    means = metrics.self_bleu_scores(samples, ORDERS)
    for n in ORDERS:
        expected = nltk_self_bleu(samples, n)
        assert_close_lists(ours[n], expected)
        assert means[n] == pytest.approx(sum(expected) / len(expected), abs=TOL)
        assert metrics.self_bleu(samples, n) == means[n]


def test_self_bleu_unique_holder_of_the_maximum_falls_back_to_the_second_largest():
    samples = [["a", "a", "a", "b"], ["a", "a", "b"], ["a", "b", "b"], ["a", "a", "a", "b"], ["b", "a"]]
    for n in (1, 2, 3):
        assert_close_lists(metrics.sentence_self_bleu_scores(samples, (n,))[n], nltk_self_bleu(samples, n))
        assert_close_lists(
            metrics.sentence_self_bleu_scores(samples[:3], (n,))[n], nltk_self_bleu(samples[:3], n)
        )


def test_protocol_options_equal_nltk_on_the_truncated_lists(corpus):
    hypotheses, references = corpus
    for n in (2, 5):
        ours = metrics.sentence_bleu_scores(hypotheses, references, (n,), max_hypotheses=25, max_references=9)
        assert_close_lists(ours[n], [nltk_bleu(references[:9], h, n) for h in hypotheses[:25]])
        expected = [nltk_bleu(references[:9], h, n) for h in hypotheses[:25]]
        got = metrics.bleu(hypotheses, references, n, max_hypotheses=25, max_references=9)
        assert got == pytest.approx(sum(expected) / len(expected), abs=TOL)
        assert metrics.bleu(hypotheses, references, n, max_hypotheses=10**6) == metrics.bleu(
            hypotheses, references, n
        )
    samples = hypotheses[:120]
    for n in (3, 4):
        # max_samples: the first k samples alone (Texygen's fast mode with k = 500)
        expected = nltk_self_bleu(samples[:30], n)
        assert metrics.self_bleu(samples, n, max_samples=30) == pytest.approx(sum(expected) / 30, abs=TOL)
        # max_hypotheses: the first k samples, each against all the others
        expected = nltk_self_bleu(samples, n, num_hypotheses=20)
        assert_close_lists(metrics.sentence_self_bleu_scores(samples, (n,), max_hypotheses=20)[n], expected)


def test_prepared_references_score_several_hypothesis_sets(corpus):
    hypotheses, references = corpus
    prepared = metrics.BleuReferences(references, max_order=5)
    for part in (hypotheses[:50], hypotheses[50:]):
        assert prepared.scores(part, ORDERS) == metrics.bleu_scores(part, references, ORDERS)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="reference"):
        metrics.bleu([["a"]], [], 2)
    with pytest.raises(ValueError, match="hypothesis"):
        metrics.bleu([], [["a"]], 2)
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.self_bleu([["a", "b"]], 2)
    with pytest.raises(ValueError, match="order"):
        metrics.bleu_scores([["a"]], [["a"]], orders=(0, 2))
    with pytest.raises(ValueError, match="max_references"):
        metrics.bleu([["a"]], [["a"]], 2, max_references=0)
    with pytest.raises(TypeError, match="split it first"):
        metrics.bleu(["a cat sat"], [["a", "cat"]], 2)
    with pytest.raises(ValueError, match="max_order"):
        metrics.BleuReferences([["a"]], max_order=2).scores([["a"]], (3,))


def read_tokens(path, count: int) -> list[list[str]]:
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().split("\n")[:count]
    return [line.split(" ") for line in lines]


@pytest.mark.slow  # nltk on a thousand COCO sentences
@pytest.mark.shared_data
def test_coco_sentences_equal_nltk(shared_data):
    hypotheses = read_tokens(shared_data / "coco" / "test.txt", 200)
    references = read_tokens(shared_data / "coco" / "train.txt", 1000)
    assert len(hypotheses) == 200 and len(references) == 1000
    ours = metrics.sentence_bleu_scores(hypotheses, references, ORDERS)
    smoothing = bleu_score.SmoothingFunction().method1
    weights = [(1 / n,) * n for n in ORDERS]  # nltk scores several weights from one count: same arithmetic
    expected = [
        bleu_score.sentence_bleu(references, h, weights, smoothing_function=smoothing) for h in hypotheses
    ]
    for column, n in enumerate(ORDERS):
        assert_close_lists(ours[n], [row[column] for row in expected])
    assert 0.05 < sum(ours[5]) / 200 < 0.5
