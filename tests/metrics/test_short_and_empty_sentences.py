"""Sentences with no n-grams of some order are valid input, scored exactly as nltk scores them; empty sets
are refused with a ValueError that says what is missing.

nltk's ``sentence_bleu`` (Texygen's and RelGAN's definition) gives 0 to an empty hypothesis or one without a
unigram match, and smooths a missing higher order (method1: ``0.1 / max(1, len - i + 1)``), so a sentence
shorter than n still has a BLEU-n. Self-BLEU must therefore also work when NO sample has n tokens.
"""

from __future__ import annotations

import pytest

from textgan import metrics

bleu_score = pytest.importorskip("nltk.translate.bleu_score")

TOL = 1e-12


def nltk_bleu(references, hypothesis, n: int) -> float:
    smoothing = bleu_score.SmoothingFunction().method1
    return bleu_score.sentence_bleu(references, hypothesis, (1 / n,) * n, smoothing_function=smoothing)


def nltk_self_bleu(samples, n: int) -> list[float]:
    return [nltk_bleu(samples[:i] + samples[i + 1 :], samples[i], n) for i in range(len(samples))]


@pytest.mark.parametrize(
    "samples",
    [
        [["a"], ["b"], ["a"]],  # no bigram anywhere
        [["a", "b"], ["b"], ["a", "b"]],  # no trigram anywhere
        [["a", "b", "c"], ["a", "b", "c"], ["c", "a"], ["b"]],  # no 4-gram anywhere
        [[], [], []],  # no token at all: every score 0, as in nltk
        [[], ["a"], []],
    ],
)
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_self_bleu_equals_nltk_when_no_sample_has_n_tokens(samples, n):
    ours = metrics.sentence_self_bleu_scores(samples, (n,))[n]
    expected = nltk_self_bleu(samples, n)
    assert max(abs(a - b) for a, b in zip(ours, expected, strict=True)) <= TOL
    assert metrics.self_bleu(samples, n) == pytest.approx(sum(expected) / len(expected), abs=TOL)


def test_several_orders_at_once_when_the_high_ones_have_no_ngrams():
    samples = [["a", "b"], ["a", "b"], ["b", "a"], ["a"]]
    scores = metrics.self_bleu_scores(samples, (2, 3, 4, 5))
    for n in (2, 3, 4, 5):
        expected = nltk_self_bleu(samples, n)
        assert scores[n] == pytest.approx(sum(expected) / len(expected), abs=TOL)
    assert scores[5] > 0.0  # smoothed, not zero: the unigrams and bigrams match


@pytest.mark.parametrize(
    ("hypotheses", "references"),
    [
        ([["a"], ["b", "a"]], [["a", "b", "c"], ["c"]]),  # hypotheses shorter than n
        ([["a", "b", "c"]], [["a"], ["b"]]),  # references shorter than n
        ([[], []], [["a", "b"]]),  # empty hypotheses: 0
        ([["a", "b"]], [[], []]),  # empty references: 0
    ],
)
@pytest.mark.parametrize("n", [2, 3, 5])
def test_bleu_equals_nltk_on_sentences_shorter_than_n(hypotheses, references, n):
    ours = metrics.sentence_bleu_scores(hypotheses, references, (n,))[n]
    expected = [nltk_bleu(references, h, n) for h in hypotheses]
    assert max(abs(a - b) for a, b in zip(ours, expected, strict=True)) <= TOL


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda: metrics.bleu([], [["a"]], 2), "BLEU needs at least one hypothesis, got none"),
        (lambda: metrics.bleu_scores([], [["a"]], (2, 3)), "BLEU needs at least one hypothesis, got none"),
        (lambda: metrics.bleu([["a"]], [], 2), "BLEU needs at least one reference sentence, got none"),
        (lambda: metrics.BleuReferences([["a"]]).scores([]), "BLEU needs at least one hypothesis, got none"),
        (lambda: metrics.self_bleu([], 2), "Self-BLEU needs at least 2 samples, got 0"),
        (lambda: metrics.self_bleu([[]], 2), "Self-BLEU needs at least 2 samples, got 1"),
        (lambda: metrics.self_bleu([["a"], ["b"]], 2, max_hypotheses=0), "max_hypotheses"),
    ],
)
def test_empty_sets_are_refused_with_a_value_error(call, problem):
    with pytest.raises(ValueError, match=problem):
        call()
