"""Text metrics: BLEU-n and Self-BLEU-n exactly as Texygen / RelGAN compute them with nltk, but fast; and the
share of samples that copy a training sentence or repeat another sample (``copies``); sample lengths and the share
that never ends (``lengths``).

Metrics take tokens and numbers: they import only the standard library and numpy (nltk is needed only by the
tests that check equality with it), never a model. The distribution metrics are modules of their own, imported
where used: ``frechet`` (FED, numpy) and ``mauve`` (MAUVE through the optional ``mauve-text`` package); the LM
and reverse-LM scores, which train a model, are ``textgan.evaluation.language_model``'s.
"""

from textgan.metrics.bleu import BleuReferences, bleu, bleu_scores, sentence_bleu_scores
from textgan.metrics.copies import copy_rate, sentence_rows, unique_rate
from textgan.metrics.lengths import mean_length, sentence_lengths, unterminated_rate
from textgan.metrics.self_bleu import self_bleu, self_bleu_scores, sentence_self_bleu_scores

__all__ = [
    "BleuReferences",
    "bleu",
    "bleu_scores",
    "copy_rate",
    "mean_length",
    "self_bleu",
    "self_bleu_scores",
    "sentence_rows",
    "sentence_bleu_scores",
    "sentence_lengths",
    "sentence_self_bleu_scores",
    "unique_rate",
    "unterminated_rate",
]
