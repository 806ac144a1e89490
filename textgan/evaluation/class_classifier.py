"""The judge of class-conditional samples: a bag-of-n-grams logistic classifier trained on the real training split.

``NgramClassifier`` scores a sentence (token ids) by the mean of its n-gram features' class weights plus a bias:
unigram features are the token ids, n-gram features (n >= 2) are hashed into ``buckets`` shared slots. A
sentence is its ids up to its first ``<eos>``, without ``<pad>`` / ``<bos>`` (text corpora), or the whole row
(the oracles' rows). It is trained by ``train_class_classifier`` on the real training split (deterministic on
CPU: zero initial weights, a seeded batch order, Adam), and its accuracy on the real test split is reported
beside every class accuracy of generated sentences (``held_out_accuracy``): a class accuracy means as much as
the judge is right. ``class_classifier`` caches the trained classifier in the dataset folder (the k-oracle's
cache folder), keyed by a fingerprint of the training and test rows, their labels and the settings.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from textgan.atomic_files import atomic_torch_save
from textgan.data.base import TokenDataModule

CLASSIFIER_DIR = "class_classifier"


@dataclass(frozen=True)
class ClassifierSettings:
    """How the classifier is built and trained (all part of its cache key)."""

    orders: tuple[int, ...] = (1, 2)
    buckets: int = 2**16
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 0.05
    weight_decay: float = 0.0
    seed: int = 0


class NgramClassifier(nn.Module):
    """Logistic regression on the mean of a sentence's n-gram features (see the module docstring).

    Args:
        vocab_size: token ids lie in [0, vocab_size).
        num_classes: classes scored.
        orders: n-gram orders used (1: token ids; >= 2 hashed into ``buckets`` slots).
        ignored: ids that are never features (``<pad>``, ``<bos>``); ``eos``: a sentence ends before it.
    """

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        orders: tuple[int, ...] = (1, 2),
        buckets: int = 2**16,
        ignored: tuple[int, ...] = (),
        eos: int | None = None,
    ) -> None:
        super().__init__()
        self.vocab_size, self.num_classes, self.orders, self.buckets = vocab_size, num_classes, tuple(orders), buckets
        self.ignored, self.eos = tuple(ignored), eos
        features = (vocab_size if 1 in self.orders else 0) + (buckets if any(n > 1 for n in self.orders) else 0)
        self.weight = nn.Parameter(torch.zeros(features, num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def features(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature ids (N, F) of each row and their mask (N, F): which positions hold a feature."""
        tokens = tokens.long()
        valid = torch.ones_like(tokens, dtype=torch.bool)
        if self.eos is not None:
            valid &= (tokens == self.eos).long().cumsum(dim=1) == 0  # before the first <eos>
        for token in self.ignored:
            valid &= tokens != token
        ids, masks, offset = [], [], 0
        if 1 in self.orders:
            ids.append(tokens)
            masks.append(valid)
            offset = self.vocab_size
        for n in (n for n in self.orders if n > 1):
            if tokens.shape[1] < n:
                continue
            code = torch.zeros_like(tokens[:, : tokens.shape[1] - n + 1])
            mask = torch.ones_like(code, dtype=torch.bool)
            for k in range(n):  # a polynomial hash of the n ids, then a slot
                window = tokens[:, k : tokens.shape[1] - n + 1 + k]
                code = (code * 1_000_003 + window) % (2**31 - 1)
                mask &= valid[:, k : tokens.shape[1] - n + 1 + k]
            ids.append(offset + (code * n) % self.buckets)
            masks.append(mask)
        return torch.cat(ids, dim=1), torch.cat(masks, dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Class logits (N, k) of token rows (N, T)."""
        ids, mask = self.features(tokens.to(self.weight.device))
        weights = self.weight[ids] * mask.unsqueeze(-1)
        return weights.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1) + self.bias

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """Predicted class ids (N,)."""
        if len(tokens) == 0:
            return torch.empty(0, dtype=torch.long)
        return torch.cat([self(chunk).argmax(dim=-1).cpu() for chunk in torch.split(tokens, batch_size)])

    @torch.no_grad()
    def accuracy(self, tokens: torch.Tensor, labels: torch.Tensor) -> float:
        """The fraction of rows whose predicted class is their label."""
        if len(labels) == 0:
            raise ValueError("accuracy of no sentences")
        return float((self.predict(tokens) == labels.cpu().long()).double().mean())


def train_class_classifier(
    tokens: torch.Tensor,
    labels: torch.Tensor,
    vocab_size: int,
    num_classes: int,
    settings: ClassifierSettings = ClassifierSettings(),  # noqa: B008 (frozen)
    ignored: tuple[int, ...] = (),
    eos: int | None = None,
) -> NgramClassifier:
    """Fit ``NgramClassifier`` on rows ``tokens`` (N, T) with class ids ``labels`` (N,): cross-entropy, Adam,
    ``epochs`` passes in batches of a seeded order (the same classifier for the same data and settings)."""
    model = NgramClassifier(vocab_size, num_classes, settings.orders, settings.buckets, ignored, eos)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    labels = labels.long()
    with torch.enable_grad():  # also when called under no_grad (the evaluation)
        _fit(model, optimizer, tokens, labels, settings, generator)
    return model.eval()


def _fit(model, optimizer, tokens, labels, settings, generator) -> None:
    for _ in range(settings.epochs):
        for rows in torch.randperm(len(tokens), generator=generator).split(settings.batch_size):
            loss = nn.functional.cross_entropy(model(tokens[rows]), labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


@dataclass
class TrainedClassifier:
    """A classifier of the data's classes and its accuracy on the real test split."""

    model: NgramClassifier
    held_out_accuracy: float
    path: Path | None = None


def _tensor(rows: Any) -> torch.Tensor:
    return rows.to_tensor() if hasattr(rows, "to_tensor") else torch.as_tensor(rows)


def data_fingerprint(datamodule: TokenDataModule, settings: ClassifierSettings) -> str:
    """sha256 of the training and test rows, their labels, the vocabulary and the classifier settings."""
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    digest.update(datamodule.vocab_fingerprint.encode())
    for rows in (datamodule.train_tokens, datamodule.train_labels, datamodule.test_tokens, datamodule.test_labels):
        digest.update(np.ascontiguousarray(_tensor(rows).numpy()).tobytes())
    return digest.hexdigest()


def cache_folder(datamodule: TokenDataModule) -> Path | None:
    """Where a data module's classifier is cached: its dataset folder, or its cache folder (the k-oracle)."""
    folder = getattr(datamodule, "dataset_dir", None) or getattr(datamodule, "cache_dir", None)
    return Path(folder) / CLASSIFIER_DIR if folder else None


def class_classifier(
    datamodule: TokenDataModule,
    settings: ClassifierSettings = ClassifierSettings(),  # noqa: B008 (frozen)
) -> TrainedClassifier:
    """The classifier of a labelled DataModule (after ``setup``): read from the cache, or trained on the training
    split, scored on the test split and cached. A folder that cannot be written is used without a cache."""
    if not datamodule.num_classes or datamodule.train_labels is None or datamodule.test_labels is None:
        raise ValueError(f"{type(datamodule).__name__} holds no class labels: class accuracy needs labelled data")
    eos = getattr(datamodule, "eos_token", None)  # text rows end at <eos>; <bos> is never a word there
    ignored = (datamodule.pad_token, datamodule.start_token) if eos is not None else ()
    folder = cache_folder(datamodule)
    path = folder / f"ngram-{data_fingerprint(datamodule, settings)[:16]}.pt" if folder else None
    model = NgramClassifier(
        datamodule.vocab_size, datamodule.num_classes, settings.orders, settings.buckets, ignored, eos
    )
    if path is not None and path.is_file():
        try:
            stored = torch.load(path, weights_only=True)
            model.load_state_dict(stored["state_dict"])
            return TrainedClassifier(model.eval(), float(stored["held_out_accuracy"]), path)
        except (OSError, RuntimeError, KeyError):
            pass  # damaged: trained again below
    train_tokens = _tensor(datamodule.train_tokens)
    model = train_class_classifier(
        train_tokens, datamodule.train_labels, datamodule.vocab_size, datamodule.num_classes, settings, ignored, eos
    )
    accuracy = model.accuracy(_tensor(datamodule.test_tokens), datamodule.test_labels)
    if path is not None:
        try:
            atomic_torch_save({"state_dict": model.state_dict(), "held_out_accuracy": accuracy}, path)
        except OSError:
            path = None
    return TrainedClassifier(model, accuracy, path)
