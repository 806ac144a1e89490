"""The data interface every training regime reads: fixed-length token tensors plus a few facts about them.

A ``TokenDataModule`` holds ``train_tokens`` and ``test_tokens`` as LongTensors (N, T) once ``setup()`` ran,
and knows how to score generated samples (``sample_metrics``) and turn them back into text (``decode``).
Subclasses (the synthetic oracle, tokenised text corpora) only fill those in.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset


class TokenDataModule(L.LightningDataModule):
    """Base DataModule: MLE epochs over ``train_tokens`` and endless random batches for adversarial steps."""

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_tokens: torch.Tensor | None = None
        self.test_tokens: torch.Tensor | None = None

    # ---- facts the models are built from (valid after setup) -------------------------------------------
    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    @property
    def max_length(self) -> int:
        return int(self._require(self.train_tokens, "train_tokens").shape[1])

    @property
    def start_token(self) -> int:
        """Token id fed to the generator as its first input."""
        return 0

    @property
    def pad_token(self) -> int | None:
        """Padding id, or None when sequences are never padded."""
        return None

    # ---- evaluation hooks ------------------------------------------------------------------------------
    def sample_metrics(self, samples: torch.Tensor) -> dict[str, float]:
        """Scores of generated samples (N, T), e.g. NLL_oracle or BLEU; subclasses define them."""
        return {}

    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Token ids (N, T) -> one string per sequence."""
        return [" ".join(str(int(t)) for t in row) for row in tokens]

    # ---- loaders ---------------------------------------------------------------------------------------
    @staticmethod
    def _require(tensor: torch.Tensor | None, name: str) -> torch.Tensor:
        if tensor is None:
            raise RuntimeError(f"{name} is not available: call prepare_data() and setup() first")
        return tensor

    def train_dataloader(self) -> DataLoader:
        """Shuffled epochs of (B, T) batches, for MLE pretraining."""
        dataset = TensorDataset(self._require(self.train_tokens, "train_tokens"))
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=True,
            generator=generator,
            num_workers=self.num_workers,
            collate_fn=_stack_first,
            drop_last=False,
        )

    def random_batches(self, batches_per_step: int, num_steps: int) -> DataLoader:
        """``num_steps`` batches of ``batches_per_step * batch_size`` random training sequences each.

        One adversarial iteration consumes one such batch, split into a fresh real batch per generator and
        discriminator update (RelGAN draws ``random_batch()`` for every update).
        """
        dataset = TensorDataset(self._require(self.train_tokens, "train_tokens"))
        size = batches_per_step * self.batch_size
        sampler = RandomSampler(
            dataset,
            replacement=True,
            num_samples=size * num_steps,
            generator=torch.Generator().manual_seed(self.seed + 1),
        )
        return DataLoader(
            dataset, batch_size=size, sampler=sampler, num_workers=self.num_workers, collate_fn=_stack_first
        )

    def val_dataloader(self) -> DataLoader:
        """The test split in (B, T) batches (NLL_gen)."""
        dataset = TensorDataset(self._require(self.test_tokens, "test_tokens"))
        return DataLoader(dataset, batch_size=max(self.batch_size, 256), collate_fn=_stack_first)


def _stack_first(items: list[tuple[torch.Tensor]]) -> torch.Tensor:
    return torch.stack([item[0] for item in items])
