"""BLEU-n exactly as Texygen and RelGAN compute it with nltk, for 10k x 10k sentences in about a second.

The definition (Texygen ``utils/metrics/Bleu.py``, RelGAN the same): for every hypothesis,
``nltk.translate.bleu_score.sentence_bleu(references, hypothesis, weights=(1/n,) * n,
smoothing_function=SmoothingFunction().method1)`` with ALL reference sentences, then the plain mean over
hypotheses. Per sentence, nltk computes (orders i = 1..n):

* ``num_i = sum over the hypothesis's i-grams g of min(count_hyp(g), max over references of count_ref(g))``
  (clipped counts), ``den_i = max(1, hyp_len - i + 1)``;
* ``r`` = the reference length closest to ``hyp_len`` (ties: the shorter);
* if ``num_1 == 0``: the score is 0 (this covers the empty hypothesis);
* else ``p_i = num_i / den_i``, or ``(0 + 0.1) / den_i`` where ``num_i == 0`` (method1, epsilon 0.1);
  ``bp = 1`` if ``hyp_len > r`` else ``exp(1 - r / hyp_len)``;
  score ``= bp * exp(fsum(w * log(p_i) for i))`` with ``w = 1 / n``.

Here the per-sentence counts come from numpy (``ngrams.py``: exact dense n-gram ids, clipping maxima computed
once per reference set), and the last step above is done with the same Python float operations in the same
order as nltk (``math.log`` of the correctly rounded ``num / den``, ``math.fsum``, ``math.exp``), so every
sentence score is bit-identical to nltk's (the tests check 1e-12). The mean is a left-to-right float sum over
the count, as Texygen's ``score += ...; score / cnt`` does.

Protocols (``max_hypotheses``: the first k hypotheses; ``max_references``: the first m references):

* Texygen ``Bleu.get_score(is_fast=True)`` (its default): all generated sentences against the first 500 test
  sentences, ``max_references=500``; ``is_fast=False``: all against all (no options). Texygen's published COCO
  table (docs/evaluation.md, "on test dataset") is the all-against-all protocol: its SeqGAN / LeakGAN samples
  reproduce it to about 1e-3 with no options and nltk word tokenisation (``scripts/bench_metrics.py``).
* RelGAN ``Bleu.get_bleu``: the first ``sample_size`` generated sentences against the whole test set (shuffled
  in place first, which changes nothing: BLEU does not depend on reference order): ``max_hypotheses=200``
  (``sample_size`` is 200 in one published revision of RelGAN's ``utils/metrics/Bleu.py``, 100 in another).

Short and empty sentences are valid input, scored exactly as nltk scores them (they occur: a generator may
emit ``<eos>`` first): a sentence shorter than n has no n-grams of the orders above its length, and method1
smooths each missing order to ``0.1 / max(1, len - i + 1)`` instead of zeroing the score; an empty hypothesis,
or one sharing no unigram with the references, scores 0 (so does every hypothesis against references that hold
no token). Raising on them would change the published metric: Texygen's means count such samples. What has no
BLEU at all is an empty SET: no hypothesis or no reference raises ValueError (nltk would divide by zero or take
the minimum of nothing).

Tokenisation is the caller's: Texygen and RelGAN split lines with ``nltk.word_tokenize``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from textgan.metrics.ngrams import NGramIndex, as_token_lists, sentence_gram_counts

DEFAULT_ORDERS = (2, 3, 4, 5)
EPSILON = 0.1  # nltk SmoothingFunction().method1's epsilon


def check_orders(orders: Iterable[int]) -> tuple[int, ...]:
    """Orders as a tuple of distinct ints >= 1 (in the given order); refuse anything else."""
    orders = tuple(orders)
    if not orders:
        raise ValueError("orders must name at least one n-gram order")
    for n in orders:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"an n-gram order must be an int >= 1, got {n!r}")
    if len(set(orders)) != len(orders):
        raise ValueError(f"orders repeat: {orders}")
    return tuple(int(n) for n in orders)


def first(items: Sequence[Any], limit: int | None, name: str) -> Sequence[Any]:
    """``items[:limit]`` (all when ``limit`` is None); ``limit`` must be a positive int."""
    if limit is None:
        return items
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"{name} must be a positive int or None, got {limit!r}")
    return items[: int(limit)]


def closest_lengths(sorted_lengths: np.ndarray, hyp_lengths: np.ndarray, exclude_one: bool) -> np.ndarray:
    """nltk's ``closest_ref_length`` for many hypotheses: the reference length nearest each hypothesis length.

    Args:
        sorted_lengths: (R,) reference lengths, sorted ascending (a multiset).
        hyp_lengths: (H,) hypothesis lengths.
        exclude_one: remove one copy of each hypothesis's own length from the multiset first (Self-BLEU: the
            hypothesis is one of the sentences and is not its own reference).

    Returns:
        (H,) int64: ``min(lengths, key=lambda r: (abs(r - h), r))``, i.e. ties go to the shorter length.
    """
    left = np.searchsorted(sorted_lengths, hyp_lengths, side="left")
    right = np.searchsorted(sorted_lengths, hyp_lengths, side="right")
    equal = right - left - (1 if exclude_one else 0)
    last = len(sorted_lengths) - 1
    below = np.where(left > 0, sorted_lengths[np.clip(left - 1, 0, last)], np.iinfo(np.int64).min // 4)
    above = np.where(right <= last, sorted_lengths[np.clip(right, 0, last)], np.iinfo(np.int64).max // 4)
    nearest = np.where(hyp_lengths - below <= above - hyp_lengths, below, above)
    return np.where(equal > 0, hyp_lengths, nearest)


def nltk_scores(
    numerators: np.ndarray,
    hyp_lengths: np.ndarray,
    ref_lengths: np.ndarray,
    orders: Sequence[int],
) -> dict[int, list[float]]:
    """nltk's sentence BLEU (method1) from clipped counts, with nltk's float operations in nltk's order.

    Args:
        numerators: (max(orders), H) int clipped n-gram match counts, row i - 1 for order i.
        hyp_lengths: (H,) hypothesis lengths.
        ref_lengths: (H,) closest reference length of each hypothesis.
        orders: the n of each BLEU-n wanted.

    Returns:
        ``{n: [score of hypothesis 0, 1, ...]}``.
    """
    max_order = max(orders)
    hyp_len_list = hyp_lengths.tolist()
    denominators = np.maximum(1, hyp_lengths[None, :] - np.arange(max_order)[:, None])  # max(1, len - i + 1)
    weights = {n: 1 / n for n in orders}  # Texygen's tuple(1. / n for _ in range(n)): the same float
    scores: dict[int, list[float]] = {n: [] for n in orders}
    rows = zip(
        numerators[:max_order].T.tolist(),
        denominators.T.tolist(),
        hyp_len_list,
        ref_lengths.tolist(),
        strict=True,
    )
    for nums, dens, hyp_len, ref_len in rows:
        if nums[0] == 0:  # nltk: `if p_numerators[1] == 0: return 0`
            for n in orders:
                scores[n].append(0.0)
            continue
        # float(Fraction(num, den)) is the correctly rounded num / den, as is int / int in Python.
        logs = [math.log(num / den if num else (num + EPSILON) / den) for num, den in zip(nums, dens, strict=True)]
        bp = 1 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)  # hyp_len > 0 here
        for n in orders:
            w = weights[n]
            scores[n].append(bp * math.exp(math.fsum([w * log_p for log_p in logs[:n]])))
    return scores


def mean(values: Sequence[float]) -> float:
    """Left-to-right float sum over the count (Texygen's ``score += s; score / cnt``; not ``math.fsum``)."""
    total = 0.0
    for value in values:
        total += value
    return total / len(values)


class BleuReferences:
    """A reference set prepared once for BLEU: clipping maxima of every n-gram and sorted lengths.

    Scoring H hypotheses of L tokens then costs O(H * L * max_order) in numpy plus a short Python loop per
    hypothesis, whatever the number of references.

    Args:
        references: token lists (any hashable tokens; numpy / torch rows are converted to lists).
        max_order: the highest n-gram order that will be asked for.
    """

    def __init__(self, references: Iterable[Sequence[Any]], max_order: int = max(DEFAULT_ORDERS)):
        references = as_token_lists(references)
        if not references:
            raise ValueError("BLEU needs at least one reference sentence, got none")
        self.num_references = len(references)
        self.max_order = max_order
        self.index = NGramIndex(references, max_order)
        encoded = self.index.encoded
        self.sorted_lengths = np.sort(encoded.lengths)
        self.max_counts: list[np.ndarray] = []  # per order: (num_grams,) max count over references
        for k in range(1, max_order + 1):
            num_grams = self.index.num_grams[k - 1]
            _, grams, counts = sentence_gram_counts(encoded.sentence, self.index.position_ids[k - 1], num_grams)
            max_counts = np.zeros(num_grams, dtype=np.int64)
            np.maximum.at(max_counts, grams, counts)
            self.max_counts.append(max_counts)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """What scoring needs, as plain arrays (``np.savez`` without pickles): ``from_arrays`` restores it.

        The vocabulary's tokens are stored as strings, so references of string tokens (words) round-trip.
        """
        arrays = {
            "max_order": np.array(self.max_order),
            "num_references": np.array(self.num_references),
            "vocabulary": np.array(list(self.index.vocabulary), dtype=str),
            "sorted_lengths": self.sorted_lengths,
        }
        for k in range(1, self.max_order + 1):
            arrays[f"max_counts_{k}"] = self.max_counts[k - 1]
            if k >= 2:
                arrays[f"table_{k}"] = self.index._tables[k - 1]
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> BleuReferences:
        """A ``BleuReferences`` from ``to_arrays``' output, scoring exactly as the original (string tokens)."""
        self = cls.__new__(cls)
        self.max_order = int(arrays["max_order"])
        self.num_references = int(arrays["num_references"])
        self.sorted_lengths = np.asarray(arrays["sorted_lengths"])
        self.max_counts = [np.asarray(arrays[f"max_counts_{k}"]) for k in range(1, self.max_order + 1)]
        index = NGramIndex.__new__(NGramIndex)
        index.max_order = self.max_order
        index.vocabulary = {str(token): i for i, token in enumerate(arrays["vocabulary"].tolist())}
        index._tables = [None] + [np.asarray(arrays[f"table_{k}"]) for k in range(2, self.max_order + 1)]
        index.num_grams = [len(self.max_counts[k - 1]) for k in range(1, self.max_order + 1)]
        self.index = index
        return self

    def sentence_scores(
        self, hypotheses: Iterable[Sequence[Any]], orders: Iterable[int] = DEFAULT_ORDERS
    ) -> dict[int, list[float]]:
        """``{n: [BLEU-n of each hypothesis]}``, each equal to nltk's ``sentence_bleu`` (method1)."""
        orders = check_orders(orders)
        if max(orders) > self.max_order:
            raise ValueError(f"order {max(orders)} > max_order {self.max_order} of these references")
        hypotheses = as_token_lists(hypotheses)
        encoded, position_ids = self.index.lookup(hypotheses)
        numerators = np.zeros((max(orders), len(hypotheses)), dtype=np.int64)
        for k in range(1, max(orders) + 1):
            num_grams = self.index.num_grams[k - 1]
            sentences, grams, counts = sentence_gram_counts(encoded.sentence, position_ids[k - 1], num_grams)
            clipped = np.minimum(counts, self.max_counts[k - 1][grams])
            numerators[k - 1] = np.bincount(sentences, weights=clipped, minlength=len(hypotheses))
        ref_lengths = closest_lengths(self.sorted_lengths, encoded.lengths, exclude_one=False)
        return nltk_scores(numerators, encoded.lengths, ref_lengths, orders)

    def scores(self, hypotheses: Iterable[Sequence[Any]], orders: Iterable[int] = DEFAULT_ORDERS) -> dict[int, float]:
        """``{n: mean BLEU-n over the hypotheses}``."""
        hypotheses = as_token_lists(hypotheses)
        if not hypotheses:
            raise ValueError("BLEU needs at least one hypothesis, got none")
        return {n: mean(values) for n, values in self.sentence_scores(hypotheses, orders).items()}


def sentence_bleu_scores(
    hypotheses: Sequence[Sequence[Any]],
    references: Sequence[Sequence[Any]],
    orders: Iterable[int] = DEFAULT_ORDERS,
    *,
    max_hypotheses: int | None = None,
    max_references: int | None = None,
) -> dict[int, list[float]]:
    """``{n: [BLEU-n of each of the (first max_hypotheses) hypotheses against the (first max_references)
    references]}``, each equal to nltk's ``sentence_bleu(references, hypothesis, (1/n,) * n, method1)``."""
    orders = check_orders(orders)
    hypotheses = first(as_token_lists(hypotheses), max_hypotheses, "max_hypotheses")
    references = first(as_token_lists(references), max_references, "max_references")
    return BleuReferences(references, max(orders)).sentence_scores(hypotheses, orders)


def bleu_scores(
    hypotheses: Sequence[Sequence[Any]],
    references: Sequence[Sequence[Any]],
    orders: Iterable[int] = DEFAULT_ORDERS,
    *,
    max_hypotheses: int | None = None,
    max_references: int | None = None,
) -> dict[int, float]:
    """``{n: BLEU-n}`` for several orders sharing one pass over the data (see ``bleu``)."""
    scores = sentence_bleu_scores(
        hypotheses, references, orders, max_hypotheses=max_hypotheses, max_references=max_references
    )
    if not next(iter(scores.values())):
        raise ValueError("BLEU needs at least one hypothesis, got none")
    return {n: mean(values) for n, values in scores.items()}


def bleu(
    hypotheses: Sequence[Sequence[Any]],
    references: Sequence[Sequence[Any]],
    n: int,
    *,
    max_hypotheses: int | None = None,
    max_references: int | None = None,
) -> float:
    """BLEU-n as Texygen / RelGAN define it: nltk's sentence BLEU (uniform weights, method1 smoothing) of each
    hypothesis against all references, averaged over hypotheses.

    Args:
        hypotheses: generated sentences, token lists (any hashable tokens).
        references: reference sentences (e.g. the test split), token lists.
        n: the highest n-gram order (BLEU-n).
        max_hypotheses: score only the first k hypotheses (RelGAN: 200).
        max_references: use only the first m references (Texygen's default fast mode: 500).
    """
    return bleu_scores(hypotheses, references, (n,), max_hypotheses=max_hypotheses, max_references=max_references)[n]
