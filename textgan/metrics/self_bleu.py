"""Self-BLEU-n (Texygen): each sample scored by nltk's BLEU against all the other samples, averaged.

Definition (Texygen ``utils/metrics/SelfBleu.py``, ``get_bleu_parallel``): for sample i, hypothesis
``samples[i]``, references ``samples[:i] + samples[i + 1:]`` (leave-one-out by index: a duplicate of sample i
at another index stays a reference), score as in ``bleu.py``; the mean over samples. Lower means more diverse.

Speed: the leave-one-out clipping maximum of an n-gram g for sample i is ``max1(g)`` (the largest count of g
in any sample) unless sample i is the sample holding ``max1(g)``, in which case it is ``max2(g)``, the largest
count among the other samples (equal to ``max1`` when two samples tie). The reference lengths are the sorted
lengths of all samples with one copy of sample i's own length removed. Both come from one pass over the
samples, so N samples cost O(N * L * n), not nltk's O(N^2 * L * n).

Protocols:

* ``max_samples=k``: Self-BLEU of the first k samples alone (the first k are both the hypotheses and the
  references). Texygen's ``SelfBleu.get_score(is_fast=True)`` (its default; ``get_bleu_fast``) does exactly
  this with k = 500 (``sample_size``); ``is_fast=False`` scores all samples against all others (no options).
  Texygen's published COCO Self-BLEU table (docs/evaluation.md) is the all-samples protocol: its SeqGAN /
  LeakGAN samples reproduce it to the 3 printed decimals with no options (``scripts/bench_metrics.py``).
* ``max_hypotheses=k``: the first k samples are scored, each against ALL other samples.
* Samples with fewer than n tokens are valid and scored as nltk scores them (see ``bleu.py``), also when no
  sample has an n-gram of some order at all; an empty sample scores 0. Fewer than 2 samples raise ValueError.
* RelGAN's ``SelfBleu.get_bleu`` scores the first 200 samples against the list of all samples INCLUDING the
  hypothesis itself (no leave-one-out), so every sentence with at least n tokens scores 1; that is not the
  Texygen definition and is not reproduced here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from textgan.metrics.bleu import DEFAULT_ORDERS, check_orders, closest_lengths, first, mean, nltk_scores
from textgan.metrics.ngrams import NGramIndex, as_token_lists, sentence_gram_counts


def leave_one_out_max(sentences: np.ndarray, grams: np.ndarray, counts: np.ndarray, num_grams: int) -> np.ndarray:
    """For each (sentence, gram, count) triple, the max count of the gram over all OTHER sentences.

    Args:
        sentences, grams, counts: (Q,) distinct (sentence, gram) pairs and their counts
            (``sentence_gram_counts``' output); a pair absent means a count of 0.
        num_grams: the number of gram ids.

    Returns:
        (Q,) int64 leave-one-out maxima (empty when no sentence has a gram of this order).
    """
    if len(grams) == 0:  # e.g. bigrams of one-token samples: nothing to clip, and no first gram to index
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-counts, grams))  # by gram, then by count descending
    grams_sorted, counts_sorted, sentences_sorted = grams[order], counts[order], sentences[order]
    starts = np.flatnonzero(np.r_[True, grams_sorted[1:] != grams_sorted[:-1]])
    largest = np.zeros(num_grams, dtype=np.int64)
    holder = np.full(num_grams, -1, dtype=np.int64)
    second = np.zeros(num_grams, dtype=np.int64)
    largest[grams_sorted[starts]] = counts_sorted[starts]
    holder[grams_sorted[starts]] = sentences_sorted[starts]
    nexts = starts + 1
    has_second = nexts < len(grams_sorted)
    has_second[has_second] = grams_sorted[nexts[has_second]] == grams_sorted[starts[has_second]]
    second[grams_sorted[starts[has_second]]] = counts_sorted[nexts[has_second]]
    return np.where(holder[grams] == sentences, second[grams], largest[grams])


def sentence_self_bleu_scores(
    samples: Sequence[Sequence[Any]],
    orders: Iterable[int] = DEFAULT_ORDERS,
    *,
    max_samples: int | None = None,
    max_hypotheses: int | None = None,
) -> dict[int, list[float]]:
    """``{n: [BLEU-n of sample i against all other samples, for each scored i]}``, each equal to nltk's
    ``sentence_bleu(samples[:i] + samples[i + 1:], samples[i], (1/n,) * n, method1)``.

    ``max_samples`` first cuts the sample set to its first k; ``max_hypotheses`` then scores only its first k.
    """
    orders = check_orders(orders)
    samples = first(as_token_lists(samples), max_samples, "max_samples")
    if len(samples) < 2:
        raise ValueError(f"Self-BLEU needs at least 2 samples, got {len(samples)}")
    num_hypotheses = len(first(samples, max_hypotheses, "max_hypotheses"))
    max_order = max(orders)
    index = NGramIndex(samples, max_order)
    encoded = index.encoded
    numerators = np.zeros((max_order, num_hypotheses), dtype=np.int64)
    for k in range(1, max_order + 1):
        num_grams = index.num_grams[k - 1]
        sentences, grams, counts = sentence_gram_counts(encoded.sentence, index.position_ids[k - 1], num_grams)
        clipped = np.minimum(counts, leave_one_out_max(sentences, grams, counts, num_grams))
        scored = sentences < num_hypotheses
        numerators[k - 1] = np.bincount(sentences[scored], weights=clipped[scored], minlength=num_hypotheses)
    hyp_lengths = encoded.lengths[:num_hypotheses]
    ref_lengths = closest_lengths(np.sort(encoded.lengths), hyp_lengths, exclude_one=True)
    return nltk_scores(numerators, hyp_lengths, ref_lengths, orders)


def self_bleu_scores(
    samples: Sequence[Sequence[Any]],
    orders: Iterable[int] = DEFAULT_ORDERS,
    *,
    max_samples: int | None = None,
    max_hypotheses: int | None = None,
) -> dict[int, float]:
    """``{n: Self-BLEU-n}`` for several orders sharing one pass over the samples (see ``self_bleu``)."""
    scores = sentence_self_bleu_scores(samples, orders, max_samples=max_samples, max_hypotheses=max_hypotheses)
    return {n: mean(values) for n, values in scores.items()}


def self_bleu(
    samples: Sequence[Sequence[Any]],
    n: int,
    *,
    max_samples: int | None = None,
    max_hypotheses: int | None = None,
) -> float:
    """Self-BLEU-n (Texygen): the mean over samples of nltk's BLEU-n of each sample against all the others.

    Args:
        samples: generated sentences, token lists (any hashable tokens).
        n: the highest n-gram order.
        max_samples: use only the first k samples, as hypotheses and as references (Texygen's default fast
            mode: 500).
        max_hypotheses: score only the first k samples, each against all the other samples.
    """
    return self_bleu_scores(samples, (n,), max_samples=max_samples, max_hypotheses=max_hypotheses)[n]
