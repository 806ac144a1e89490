"""Text metrics: BLEU-n and Self-BLEU-n exactly as Texygen / RelGAN compute them with nltk, but fast.

Imports only the standard library and numpy (nltk is needed only by the tests that check equality with it).
The distribution metrics are modules of their own, imported where used: ``language_model`` (LM and reverse-LM
scores, torch), ``frechet`` (FED, numpy) and ``mauve`` (MAUVE through the optional ``mauve-text`` package).
"""

from textgan.metrics.bleu import BleuReferences, bleu, bleu_scores, sentence_bleu_scores
from textgan.metrics.self_bleu import self_bleu, self_bleu_scores, sentence_self_bleu_scores

__all__ = [
    "BleuReferences",
    "bleu",
    "bleu_scores",
    "self_bleu",
    "self_bleu_scores",
    "sentence_bleu_scores",
    "sentence_self_bleu_scores",
]
