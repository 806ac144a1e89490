"""The sample metrics of class-conditional generation: samples generated for given classes, scored per class.

For generated ids (N, T) and the classes they were generated for, ``labels`` (N,), on labelled data:

* ``class_accuracy``: the fraction of samples that the data's classifier (``class_classifier``: a bag-of-n-grams
  logistic classifier trained on the real training split) assigns to the class they were generated for;
  ``classifier_accuracy``: that classifier's own accuracy on the real test split, the ceiling to read it against;
* ``bleu{n}/<class>``: BLEU-n (``textgan.metrics.bleu``, unchanged) of the samples generated for the class
  against that class's references: its test sentences (text corpora: the first ``max_references`` of them,
  the first ``max_hypotheses`` samples) or its training sentences (the k-oracle, as the oracle's BLEU);
* ``self_bleu{n}/<class>``: Self-BLEU-n (``textgan.metrics.self_bleu``) among the samples of the class (the
  first ``self_bleu_samples``); left out for a class with fewer than two samples;
* ``nll_oracle`` (the k-oracle only): the conditional NLL_oracle, each sample scored by its class's oracle
  (``KOracleDataModule.nll_oracle``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from textgan.data.base import TokenDataModule
from textgan.data.k_oracle_datamodule import KOracleDataModule
from textgan.data.text import TextDataModule
from textgan.data.tokenizer import encode_lines
from textgan.evaluation.class_classifier import ClassifierSettings, TrainedClassifier, class_classifier
from textgan.metrics import BleuReferences, self_bleu_scores


class ClassMetrics:
    """Per-class metrics of a labelled DataModule (see the module docstring); call it on (samples, labels).

    The classifier and the per-class BLEU reference tables are built on first use and serve every later call.
    """

    def __init__(self, datamodule: TokenDataModule, settings: ClassifierSettings | None = None) -> None:
        if not datamodule.num_classes:
            raise ValueError(f"{type(datamodule).__name__} holds no class labels: per-class metrics need them")
        self.datamodule, self.settings = datamodule, settings or ClassifierSettings()
        self._classifier: TrainedClassifier | None = None
        self._references: dict[int, BleuReferences] = {}

    @property
    def classifier(self) -> TrainedClassifier:
        if self._classifier is None:
            self._classifier = class_classifier(self.datamodule, self.settings)
        return self._classifier

    def __call__(self, samples: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
        data = self.datamodule
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1).cpu()
        samples = samples.cpu()
        if len(labels) != len(samples):
            raise ValueError(f"{len(labels)} labels for {len(samples)} samples: give one class per sample")
        if len(labels) and (labels.min() < 0 or labels.max() >= data.num_classes):
            raise ValueError(f"labels must be class ids in [0, {data.num_classes}): {data.class_labels.describe()}")
        metrics = {
            "class_accuracy": self.classifier.model.accuracy(samples, labels),
            "classifier_accuracy": self.classifier.held_out_accuracy,
        }
        if isinstance(data, KOracleDataModule):
            metrics["nll_oracle"] = data.nll_oracle(samples, labels)
        if getattr(data, "bleu_orders", ()):
            metrics.update(self.per_class_bleu(self._words(samples), labels))
        return metrics

    def of_texts(self, texts: Sequence[str], labels: torch.Tensor) -> dict[str, float]:
        """The same metrics (but NLL_oracle) of sentences written as text (a samples file), with their classes:
        encoded by the corpus's tokenizer for the classifier, split into its words for BLEU."""
        data = self.datamodule
        if not isinstance(data, TextDataModule):
            raise TypeError(f"sentences as text need a text corpus, not {type(data).__name__}")
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        ids = encode_lines(data.tokenizer, list(texts))
        tokens = torch.full((len(ids), max(map(len, ids))), data.pad_token, dtype=torch.long)
        for row, sentence in enumerate(ids):
            tokens[row, : len(sentence)] = torch.tensor(sentence, dtype=torch.long)
        metrics = {
            "class_accuracy": self.classifier.model.accuracy(tokens, labels),
            "classifier_accuracy": self.classifier.held_out_accuracy,
        }
        metrics.update(self.per_class_bleu(data.text_words(texts), labels))
        return metrics

    def _words(self, samples: torch.Tensor) -> list[list]:
        data = self.datamodule
        return data.sample_words(samples) if isinstance(data, TextDataModule) else samples.tolist()

    def per_class_bleu(self, hypotheses: Sequence[Sequence], labels: torch.Tensor) -> dict[str, float]:
        """``bleu{n}/<class>`` and ``self_bleu{n}/<class>`` of word (or id) lists ``hypotheses`` generated for
        ``labels``, each class against its own references."""
        data, metrics = self.datamodule, {}
        orders = tuple(data.bleu_orders)
        for c in range(data.num_classes):
            rows = (labels == c).nonzero().flatten().tolist()
            if not rows:
                continue
            name = data.class_labels.name(c)
            own = [hypotheses[i] for i in rows]
            bleu = self.references(c).scores(own[: getattr(data, "max_hypotheses", None)], orders)
            metrics.update({f"bleu{n}/{name}": float(bleu[n]) for n in orders})
            if len(own) >= 2:
                self_bleu = self_bleu_scores(own, orders, max_samples=data.self_bleu_samples)
                metrics.update({f"self_bleu{n}/{name}": float(self_bleu[n]) for n in orders})
        return metrics

    def references(self, c: int) -> BleuReferences:
        """Class ``c``'s BLEU references: its test sentences (text; the first ``max_references``) or its training
        sentences (the k-oracle)."""
        if c not in self._references:
            data = self.datamodule
            if isinstance(data, TextDataModule):
                rows = (data.test_labels == c).nonzero().flatten().tolist()
                words = [data.references[i] for i in rows][: data.max_references]
            else:
                words = data.train_tokens[data.train_labels == c].tolist()
            if not words:
                raise ValueError(f"class {data.class_labels.name(c)!r} has no reference sentences")
            self._references[c] = BleuReferences(words, max(data.bleu_orders))
        return self._references[c]


def split_labelled_lines(
    path: str, lines: list[str], datamodule: TokenDataModule
) -> tuple[list[str], torch.Tensor | None]:
    """Lines ``<class><TAB><sentence>`` of a samples file on labelled data -> (sentences, class ids); other files
    (unlabelled data, or lines without a tab) -> (lines, None). A class the data do not have is refused, naming
    the file and line."""
    classes = datamodule.class_labels
    if classes is None or not all("\t" in line for line in lines if line.strip()):
        return lines, None
    texts, ids = [], []
    for number, line in enumerate(lines, start=1):
        label, _, text = line.partition("\t")
        try:
            ids.append(classes.id(label))
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: {error}") from None
        texts.append(text)
    return texts, torch.tensor(ids, dtype=torch.long)
