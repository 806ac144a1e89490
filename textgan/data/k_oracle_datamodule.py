"""The synthetic k-oracle benchmark: k oracle LSTMs, one per class; each class's sentences are its oracle's samples.

The class-conditional counterpart of SeqGAN's oracle (``OracleDataModule``): class ``c`` is the oracle
``oracles[c]``, an ``OracleLSTM`` of the same vocabulary and row length. Class 0 may be the SeqGAN oracle (an
``oracle_path``); the other classes (all of them without ``oracle_path``) are fresh oracles with SeqGAN's N(0, 1)
initialisation, class ``c`` drawn from seed ``oracle_seed + c``. ``train_per_class`` training and
``test_per_class`` test sentences are sampled from each oracle (class 0's first, then class 1's, ...), seeded by
``seed``, and cached.

Conditional NLL_oracle (``nll_oracle(tokens, labels)``): the mean per-token NLL (nats) of each sentence under its
own class's oracle, ``-(1 / (N T)) sum_i log p_{oracle[labels_i]}(tokens_i)``; with one class it is
``OracleLSTM.nll``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from textgan.atomic_files import atomic_torch_save
from textgan.config_ranges import integer, list_of, optional
from textgan.data.base import TokenDataModule
from textgan.data.class_labels import ClassLabels
from textgan.data.oracle import OracleLSTM


class KOracleDataModule(TokenDataModule):
    """k oracle LSTMs, one per class, and their samples as labelled real data (see the module docstring).

    Args:
        num_classes: k, the number of oracles (classes), at least 1.
        oracle_path: ``.npz`` of class 0's oracle (the SeqGAN oracle; it fixes vocabulary and sizes), or None
            for k fresh oracles.
        oracle_seed: class ``c``'s fresh oracle is drawn from seed ``oracle_seed + c``.
        vocab_size, embedding_dim, hidden_dim: the fresh oracles' sizes (taken from ``oracle_path`` if given).
        max_length: row length T.
        train_per_class, test_per_class: sentences sampled from each oracle per split.
        class_names: one name per class (default ``class0``, ``class1``, ...).
        cache_dir: where the samples are cached, keyed by the oracles' parameters, seed and sizes.
        bleu_orders: n of per-class BLEU-n (against that class's training sentences) and Self-BLEU-n; empty:
            conditional NLL_oracle only.
        self_bleu_samples: Self-BLEU on the first s samples of each class (None: all).
    """

    config_ranges = {
        **{name: integer(1) for name in ("embedding_dim", "hidden_dim", "train_per_class", "test_per_class")},
        "num_classes": integer(1),
        "oracle_seed": integer(0),
        "vocab_size": integer(2),
        "max_length": integer(2),
        "bleu_orders": list_of(integer(1), empty=True),
        "self_bleu_samples": optional(integer(2)),
    }

    def __init__(
        self,
        num_classes: int = 2,
        oracle_path: str | None = None,
        oracle_seed: int = 0,
        vocab_size: int = 5000,
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        max_length: int = 20,
        train_per_class: int = 5000,
        test_per_class: int = 5000,
        class_names: Sequence[str] | None = None,
        cache_dir: str = ".cache/k_oracle",
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
        bleu_orders: Sequence[int] = (),
        self_bleu_samples: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if num_classes < 1:
            raise ValueError(f"data.num_classes must be at least 1 (one oracle per class), got {num_classes}")
        names = tuple(class_names) if class_names is not None else tuple(f"class{c}" for c in range(num_classes))
        if len(names) != num_classes:
            raise ValueError(f"data.class_names has {len(names)} names for num_classes={num_classes}: give one each")
        self.bleu_orders = tuple(int(n) for n in bleu_orders)
        if any(n < 1 for n in self.bleu_orders):
            raise ValueError(f"data.bleu_orders must be n-gram orders >= 1, got {list(bleu_orders)}")
        if self_bleu_samples is not None and self_bleu_samples < 2:
            raise ValueError(f"data.self_bleu_samples must be >= 2 (or null for all), got {self_bleu_samples}")
        self.self_bleu_samples = self_bleu_samples
        self.train_per_class, self.test_per_class = train_per_class, test_per_class
        self.cache_dir = Path(cache_dir)
        oracles = []
        if oracle_path:
            oracles.append(OracleLSTM.from_npz(oracle_path, max_length=max_length))
            first = oracles[0]
            vocab_size, embedding_dim = first.embedding.shape
            hidden_dim = first.hidden_dim
        while len(oracles) < num_classes:
            seed_c = oracle_seed + len(oracles)
            oracles.append(OracleLSTM(vocab_size, embedding_dim, hidden_dim, max_length, seed=seed_c))
        self.oracles = torch.nn.ModuleList(oracles)
        self._class_labels = ClassLabels(names, {"k_oracle": {"oracle_path": oracle_path, "oracle_seed": oracle_seed}})

    @property
    def vocab_size(self) -> int:
        return self.oracles[0].vocab_size

    @property
    def max_length(self) -> int:
        return self.oracles[0].max_length

    def _cache_path(self) -> Path:
        fingerprint = hashlib.sha256()
        for tensor in self.oracles.buffers():
            fingerprint.update(tensor.detach().cpu().numpy().tobytes())
        key = (
            f"{fingerprint.hexdigest()[:16]}-k{len(self.oracles)}-seed{self.seed}"
            f"-n{self.train_per_class}-{self.test_per_class}-T{self.max_length}"
        )
        return self.cache_dir / f"k-oracle-{key}.pt"

    def prepare_data(self) -> None:
        path = self._cache_path()
        if path.is_file():
            return
        generator = torch.Generator().manual_seed(self.seed)
        splits = {}
        for split, per_class in (("train", self.train_per_class), ("test", self.test_per_class)):
            tokens = [oracle.sample(per_class, generator=generator) for oracle in self.oracles]
            labels = torch.arange(len(self.oracles)).repeat_interleave(per_class)
            splits[split] = torch.cat(tokens)
            splits[f"{split}_labels"] = labels
        atomic_torch_save(splits, path)

    def setup(self, stage: str | None = None) -> None:
        if self.train_tokens is not None:
            return
        self.prepare_data()
        cached = torch.load(self._cache_path(), weights_only=True)
        self.train_tokens, self.test_tokens = cached["train"], cached["test"]
        self.train_labels, self.test_labels = cached["train_labels"], cached["test_labels"]

    @torch.no_grad()
    def nll_oracle(self, tokens: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
        """Conditional NLL_oracle: mean per-token NLL (nats) of each row of ``tokens`` (N, T) under the oracle of
        its class ``labels`` (N,)."""
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1).cpu()
        if len(labels) != len(tokens):
            raise ValueError(f"{len(labels)} labels for {len(tokens)} sentences: give one class per sentence")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.oracles)):
            raise ValueError(
                f"labels must be class ids in [0, {len(self.oracles)}); got {int(labels.min())}..{int(labels.max())}"
            )
        total, count = 0.0, 0
        for c, oracle in enumerate(self.oracles):
            rows = tokens[(labels == c).to(tokens.device)]
            for chunk in torch.split(rows, batch_size):
                total += float(-oracle.token_log_prob(chunk).double().sum())
                count += chunk.numel()
        if count == 0:
            raise ValueError("nll_oracle() needs at least one token")
        return total / count
