"""The data interface every training regime reads: fixed-length token tensors plus a few facts about them.

A ``TokenDataModule`` holds ``train_tokens`` and ``test_tokens`` as LongTensors (N, T) once ``setup()`` ran
(a text corpus's ``train_tokens`` is a ``TokenRows``: read in place from its memory-mapped Arrow files, indexed
like a LongTensor),
and knows how to turn token ids back into text (``decode``); scoring samples is the evaluation's
(``textgan.evaluation.sample_metrics``). Subclasses (the synthetic oracle, tokenised text corpora) only fill
those in.

A *labelled* DataModule (class-conditional data) also holds ``train_labels`` / ``test_labels``, LongTensors (N,)
of class ids aligned row by row with the tokens, and its ``class_labels`` (``ClassLabels``); its MLE and
adversarial loaders then yield ``(tokens (B, T), labels (B,))`` tuples instead of bare token batches.
``num_classes`` is 0 for unlabelled data.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, IterableDataset, Sampler

from textgan.config_ranges import integer
from textgan.data.class_labels import ClassLabels
from textgan.data.token_rows import LabelledRowDataset, RowDataset, TokenRows, batch_as_is


class TokenDataModule(L.LightningDataModule):
    """Base DataModule: MLE epochs over ``train_tokens`` and endless random batches for adversarial steps."""

    config_ranges = {"batch_size": integer(1), "num_workers": integer(0), "seed": integer(0)}

    def __init__(self, batch_size: int = 64, num_workers: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_tokens: torch.Tensor | TokenRows | None = None
        self.test_tokens: torch.Tensor | None = None
        self.train_labels: torch.Tensor | None = None  # (N,) class ids when labelled
        self.test_labels: torch.Tensor | None = None
        self._class_labels: ClassLabels | None = None  # set by labelled subclasses

    # ---- classes (labelled data) -----------------------------------------------------------------------
    @property
    def class_labels(self) -> ClassLabels | None:
        """The classes of a labelled corpus (names in id order); None for unlabelled data."""
        return self._class_labels

    @property
    def num_classes(self) -> int:
        """How many classes the labels take (0: unlabelled data, an unconditional generator's)."""
        return 0 if self._class_labels is None else self._class_labels.num_classes

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

    @property
    def vocab_fingerprint(self) -> str:
        """What the token ids mean, for refusing a checkpoint trained on other data: here only how many ids.

        Text corpora override it with a hash of the vocabulary (``sha256:...``).
        """
        return f"ids:{self.vocab_size}"

    # ---- text ------------------------------------------------------------------------------------------
    def decode(self, tokens: torch.Tensor) -> list[str]:
        """Token ids (N, T) -> one string per sequence."""
        return [" ".join(str(int(t)) for t in row) for row in tokens]

    def decode_and_count_invalid(self, tokens: torch.Tensor) -> tuple[list[str], list[int]]:
        """``decode``'s strings and, per sequence, the invalid UTF-8 byte sequences left out of it.

        Only a byte-level tokenizer can produce them (``TextDataModule``); here there are none.
        """
        texts = self.decode(tokens)
        return texts, [0] * len(texts)

    # ---- loaders ---------------------------------------------------------------------------------------
    @staticmethod
    def _require(tensor: torch.Tensor | None, name: str) -> torch.Tensor:
        if tensor is None:
            raise RuntimeError(f"{name} is not available: call prepare_data() and setup() first")
        return tensor

    def _train_rows(self) -> RowDataset:
        tokens = self._require(self.train_tokens, "train_tokens")
        if self.num_classes:
            return LabelledRowDataset(tokens, self._require(self.train_labels, "train_labels"))
        return RowDataset(tokens)

    def train_dataloader(self) -> DataLoader:
        """Shuffled epochs of (B, T) batches, for MLE pretraining; epoch ``e``'s order depends on (seed, e) only.

        Labelled data: ``(tokens (B, T), labels (B,))`` batches.
        """
        dataset = self._train_rows()
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=EpochShuffle(len(dataset), self.seed),
            num_workers=self.num_workers,
            collate_fn=batch_as_is,
            drop_last=False,
        )

    def random_batches(self, batches_per_step: int, start_step: int = 0) -> DataLoader:
        """An endless stream of ``batches_per_step * batch_size`` random training sequences per step.

        One adversarial iteration consumes one item, split into a fresh real batch per generator and
        discriminator update (RelGAN draws ``random_batch()`` for every update). Item ``i`` depends only on
        ``(seed, i)``, so a run resumed at step ``start_step`` sees the same data as an uninterrupted one.
        Labelled data: each item is ``(tokens, labels)``, the labels of the same rows.
        """
        labels = self._require(self.train_labels, "train_labels") if self.num_classes else None
        stream = RandomBatchStream(
            self._require(self.train_tokens, "train_tokens"),
            batches_per_step * self.batch_size,
            self.seed,
            start_step,
            labels=labels,
        )
        return DataLoader(stream, batch_size=None, num_workers=0)

    def test_split_batches(self) -> DataLoader:
        """The test split in (B, T) batches (NLL_gen). Not a Lightning hook: training has no validation loop."""
        dataset = RowDataset(self._require(self.test_tokens, "test_tokens"))
        return DataLoader(dataset, batch_size=max(self.batch_size, 256), collate_fn=batch_as_is)


class EpochShuffle(Sampler[int]):
    """A random order of ``size`` indices per epoch, seeded by ``(seed, epoch)``: no state carries over.

    Lightning calls ``set_epoch`` before every epoch, so a run resumed at epoch ``e`` shuffles epoch ``e``
    exactly as an uninterrupted run does (a DataLoader's own generator would restart at epoch 0's order).
    Under data-parallel training (an initialised process group of N ranks) rank r takes positions r, r + N,
    r + 2N, ... of the epoch's order, padded by wrapping so that every rank gets the same count: the first
    batches of B / N on each rank together are the single-process run's first batch of B.
    """

    def __init__(self, size: int, seed: int) -> None:
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        _, world = rank_and_world()
        return -(-self.size // world)

    def __iter__(self):
        rank, world = rank_and_world()
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        if world > 1:
            order = order.repeat(2)[: len(self) * world][rank::world]
        for block in order.split(65_536):  # a block of Python ints at a time, not one per row of the split
            yield from block.tolist()


def rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class RandomBatchStream(IterableDataset):
    """Endless batches of ``size`` rows drawn with replacement; batch ``i`` is seeded by ``(seed, i, rank)``.

    With ``labels`` (N,) each batch is ``(tokens, labels)`` of the same rows.
    """

    def __init__(
        self, tokens: torch.Tensor, size: int, seed: int, start_step: int = 0, labels: torch.Tensor | None = None
    ) -> None:
        super().__init__()
        self.tokens, self.size, self.seed, self.start_step = tokens, size, seed, start_step
        self.labels = labels

    def __iter__(self):
        step, (rank, _) = self.start_step, rank_and_world()
        generator = torch.Generator()
        while True:  # under data-parallel training each rank draws its own batches
            generator.manual_seed(self.seed * 1_000_003 + step + rank * 1_000_000_007)
            rows = torch.randint(len(self.tokens), (self.size,), generator=generator)
            yield self.tokens[rows] if self.labels is None else (self.tokens[rows], self.labels[rows])
            step += 1
