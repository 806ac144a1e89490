"""The synthetic oracle benchmark as a DataModule: training data sampled from the oracle LSTM, cached to disk."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import torch

from textgan.atomic_files import atomic_torch_save
from textgan.config_ranges import integer, list_of, optional
from textgan.data.base import TokenDataModule
from textgan.data.oracle import OracleLSTM


class OracleDataModule(TokenDataModule):
    """SeqGAN's synthetic benchmark: ``num_train`` (10,000) sequences from the oracle are the real data.

    Args:
        oracle_path: ``.npz`` of the oracle's parameters (the SeqGAN oracle), or None for a fresh oracle
            with N(0, 1) parameters drawn from ``oracle_seed`` (as RelGAN's code does).
        cache_dir: where the sampled training / test sets are cached, keyed by oracle, seed and sizes.
        bleu_orders: n of BLEU-n and Self-BLEU-n to score besides NLL_oracle (RelGAN's quality-diversity view of
            the oracle: BLEU-n of the samples against the oracle's own training sentences, Self-BLEU-n of the
            samples, each against the others); empty (the default): NLL_oracle only.
        self_bleu_samples: Self-BLEU on the first s samples (None: all).
    """

    config_ranges = {
        **{name: integer(1) for name in ("embedding_dim", "hidden_dim", "num_train", "num_test")},
        "oracle_seed": integer(0),
        "vocab_size": integer(2),
        "max_length": integer(2),  # at least one token and <eos>
        "bleu_orders": list_of(integer(1), empty=True),  # empty: NLL_oracle only
        "self_bleu_samples": optional(integer(2)),  # null: all
    }

    def __init__(
        self,
        oracle_path: str | None = None,
        oracle_seed: int = 0,
        vocab_size: int = 5000,
        embedding_dim: int = 32,
        hidden_dim: int = 32,
        max_length: int = 20,
        num_train: int = 10_000,
        num_test: int = 10_000,
        cache_dir: str = ".cache/oracle",
        batch_size: int = 64,
        seed: int = 0,
        num_workers: int = 0,
        bleu_orders: Sequence[int] = (),
        self_bleu_samples: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.bleu_orders = tuple(int(n) for n in bleu_orders)
        if any(n < 1 for n in self.bleu_orders):
            raise ValueError(f"data.bleu_orders must be n-gram orders >= 1, got {list(bleu_orders)}")
        if self_bleu_samples is not None and self_bleu_samples < 2:
            raise ValueError(f"data.self_bleu_samples must be >= 2 (or null for all), got {self_bleu_samples}")
        self.self_bleu_samples = self_bleu_samples
        self.oracle_path, self.oracle_seed = oracle_path, oracle_seed
        self.num_train, self.num_test, self.cache_dir = num_train, num_test, Path(cache_dir)
        if oracle_path:
            self.oracle = OracleLSTM.from_npz(oracle_path, max_length=max_length)
        else:
            self.oracle = OracleLSTM(vocab_size, embedding_dim, hidden_dim, max_length, seed=oracle_seed)

    @property
    def vocab_size(self) -> int:
        return self.oracle.vocab_size

    @property
    def max_length(self) -> int:
        return self.oracle.max_length

    def _cache_path(self) -> Path:
        fingerprint = hashlib.sha256()
        for tensor in self.oracle.buffers():
            fingerprint.update(tensor.detach().cpu().numpy().tobytes())
        key = f"{fingerprint.hexdigest()[:16]}-seed{self.seed}-n{self.num_train}-{self.num_test}-T{self.max_length}"
        return self.cache_dir / f"oracle-{key}.pt"

    def prepare_data(self) -> None:
        path = self._cache_path()
        if path.is_file():
            return
        generator = torch.Generator().manual_seed(self.seed)
        train = self.oracle.sample(self.num_train, generator=generator)
        test = self.oracle.sample(self.num_test, generator=generator)
        atomic_torch_save({"train": train, "test": test}, path)

    def setup(self, stage: str | None = None) -> None:
        if self.train_tokens is not None:
            return
        self.prepare_data()
        cached = torch.load(self._cache_path(), weights_only=True)
        self.train_tokens, self.test_tokens = cached["train"], cached["test"]
