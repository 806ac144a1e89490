"""The sample metrics of each kind of data: what ``evaluate_generator`` scores besides NLL_gen.

* the synthetic oracle (``OracleDataModule``): ``nll_oracle``, the samples' mean per-token NLL (nats) under the
  oracle; with ``data.bleu_orders``, also ``bleu{n}`` of the samples against the oracle's training sentences and
  ``self_bleu{n}`` of each sample against the others (RelGAN's quality-diversity view of the oracle);
* a text corpus (``TextDataModule``): ``bleu{n}`` of each decoded sample against the test split's sentences and
  ``self_bleu{n}`` against the other samples, at word level (``<unk>`` in a sample never matches a reference
  word), averaged over sentences as Texygen / RelGAN do, under the data's protocol: ``bleu_orders``, the first
  ``max_hypotheses`` samples against the first ``max_references`` test sentences, Self-BLEU of the first
  ``self_bleu_samples``;
* both: ``copy_rate``, the share of samples that are a training sentence verbatim, and ``unique_rate``, the share
  of distinct samples (``textgan.metrics.copies``; a text corpus's sentences end at ``<eos>``);
* a text corpus: ``mean_length``, the tokens a sample decodes to (words, with a word-level vocabulary), and
  ``unterminated_rate``, the share of samples without ``<eos>`` (``textgan.metrics.lengths``; the oracle's rows
  all have length T);
* labelled data and samples generated for given classes (``labels``): besides the above (BLEU of all samples
  against all references), the per-class metrics of ``textgan.evaluation.class_metrics``: ``class_accuracy``,
  ``classifier_accuracy``, ``bleu{n}/<class>``, ``self_bleu{n}/<class>`` and, on the k-oracle, the conditional
  ``nll_oracle``.

The DataModule hands tokens and words (``train_tokens``, ``sample_words``, ``references``); the n-gram tables of
the BLEU references are built here, once per ``SampleMetrics``, so one instance serves every evaluation of a run.
A text corpus's tables are also cached in its dataset folder (``bleu_references/``), where the next run reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from textgan.atomic_files import atomic_write
from textgan.data.base import TokenDataModule
from textgan.data.oracle_datamodule import OracleDataModule
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import BOS_ID, EOS_ID, PAD_ID
from textgan.evaluation.class_metrics import ClassMetrics
from textgan.metrics import (
    BleuReferences,
    copy_rate,
    mean_length,
    self_bleu_scores,
    sentence_rows,
    unique_rate,
    unterminated_rate,
)

_TRAINING_BLOCK = 65_536  # training rows normalised at a time for copy_rate


class SampleMetrics:
    """The sample metrics of ``datamodule`` (see the module docstring); call it on generated ids (N, T)."""

    def __init__(self, datamodule: TokenDataModule) -> None:
        self.datamodule = datamodule
        self._bleu_references: BleuReferences | None = None  # built on first use
        self._class_metrics: ClassMetrics | None = None

    def __call__(self, samples: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, float]:
        """``nll_oracle`` (oracle), ``bleu{n}``, ``self_bleu{n}``, ``copy_rate``, ``unique_rate`` and, on text,
        ``mean_length`` and ``unterminated_rate`` of generated ids (N, T); none for other data.

        ``labels`` (N,): the classes the samples were generated for (labelled data): the per-class metrics too.
        """
        data = self.datamodule
        if labels is not None:
            if not data.num_classes:
                raise ValueError(f"samples came with class labels, but {type(data).__name__} holds no classes")
            if self._class_metrics is None:
                self._class_metrics = ClassMetrics(data)
            metrics = self(samples) if isinstance(data, (OracleDataModule, TextDataModule)) else {}
            return {**metrics, **self._class_metrics(samples, labels)}
        if isinstance(data, OracleDataModule):
            metrics = {"nll_oracle": data.oracle.nll(samples)}
            if data.bleu_orders:
                metrics.update(self._bleu(samples.tolist(), max_hypotheses=None))
            return {**metrics, **self.copies(samples)}
        if isinstance(data, TextDataModule):
            return {**self.text(data.sample_words(samples)), **self.copies(samples), **self.lengths(samples)}
        return {}

    def lengths(self, samples: torch.Tensor) -> dict[str, float]:
        """``mean_length`` (tokens up to ``<eos>``, pads and ``<bos>`` dropped, as they decode) and
        ``unterminated_rate`` (samples with no ``<eos>``) of generated ids (N, T) of a text corpus."""
        rows = samples.cpu().numpy()
        return {
            "mean_length": mean_length(rows, EOS_ID, skip_tokens=(PAD_ID, BOS_ID)),
            "unterminated_rate": unterminated_rate(rows, EOS_ID),
        }

    def copies(self, samples: torch.Tensor) -> dict[str, float]:
        """``copy_rate`` (samples that are a training sentence verbatim) and ``unique_rate`` (distinct samples)
        of generated ids (N, T), sentences compared whole: a text corpus's up to ``<eos>``, pads and ``<bos>``
        dropped, as they decode; the oracle's whole rows."""
        data = self.datamodule
        training = data.train_tokens
        if training is None:
            raise RuntimeError("copy_rate compares with the training split: call setup() first")
        text = isinstance(data, TextDataModule)
        stop, skip = (EOS_ID, (PAD_ID, BOS_ID)) if text else (None, ())
        width = max(samples.shape[1], training.shape[1])

        def normalise(rows: torch.Tensor) -> np.ndarray:
            return sentence_rows(rows.cpu().numpy(), stop_token=stop, skip_tokens=skip, width=width)

        blocks = (training[start : start + _TRAINING_BLOCK] for start in range(0, len(training), _TRAINING_BLOCK))
        generated = normalise(samples)
        return {
            "copy_rate": copy_rate(generated, (normalise(block) for block in blocks)),
            "unique_rate": unique_rate(generated),
        }

    def text(self, hypotheses: Sequence[Sequence[str]]) -> dict[str, float]:
        """BLEU-n and Self-BLEU-n of word lists (decoded samples, or the sentences of a file split by
        ``text_words``) under the text corpus's protocol."""
        if not isinstance(self.datamodule, TextDataModule):
            raise TypeError(f"BLEU of words needs a text corpus, not {type(self.datamodule).__name__}")
        return self._bleu(hypotheses, max_hypotheses=self.datamodule.max_hypotheses)

    def _bleu(self, hypotheses: Sequence[Sequence], max_hypotheses: int | None) -> dict[str, float]:
        data = self.datamodule
        orders = data.bleu_orders
        if self._bleu_references is None:
            self._bleu_references = self._references(max(orders))
        bleu = self._bleu_references.scores(hypotheses[:max_hypotheses], orders)
        self_bleu = self_bleu_scores(hypotheses, orders, max_samples=data.self_bleu_samples)
        scores = {f"bleu{n}": float(bleu[n]) for n in orders}
        scores.update({f"self_bleu{n}": float(self_bleu[n]) for n in orders})
        return scores

    def _references(self, max_order: int) -> BleuReferences:
        data = self.datamodule
        if isinstance(data, TextDataModule):
            return text_references(data, max_order)
        if data.train_tokens is None:
            raise RuntimeError("the oracle's BLEU references are its training sentences: call setup() first")
        return BleuReferences(data.train_tokens.tolist(), max_order)


def bleu_references_path(datamodule: TextDataModule, max_order: int) -> Path:
    """Where a text corpus's BLEU tables are cached: in its dataset folder (a rebuild replaces the folder)."""
    test_sha = str(datamodule.manifest["splits"]["test"]["source"].get("sha256", datamodule.vocab_fingerprint))[:12]
    limit = "all" if datamodule.max_references is None else datamodule.max_references
    return datamodule.dataset_dir / "bleu_references" / f"{test_sha}-n{max_order}-refs-{limit}.npz"


def text_references(datamodule: TextDataModule, max_order: int) -> BleuReferences:
    """The test split's BLEU tables (its first ``max_references`` sentences): read from the cache, or built and
    cached. A folder that cannot be written to (read-only, full) is used without a cache."""
    path = bleu_references_path(datamodule, max_order)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return BleuReferences.from_arrays(dict(arrays))
        except (OSError, ValueError, KeyError):
            pass  # damaged: built again below
    references = BleuReferences(datamodule.references[: datamodule.max_references], max_order=max_order)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez(handle, **references.to_arrays())

    try:
        atomic_write(path, write)
    except OSError:
        pass
    return references
