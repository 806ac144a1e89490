"""A stored split's token rows read in place: the (N, T) ids of memory-mapped Arrow files, never loaded whole.

``TokenRows`` is what ``TextDataModule.train_tokens`` holds. It answers what training asks of the training
split (its length and shape, a batch of rows by index, a prefix) by copying just those rows, as int64, out of
the Arrow files ``datasets`` memory-maps; the operating system pages the file in and out, so a split larger
than memory trains as a small one does. Rows come back as the LongTensors an in-memory split would give.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch


class TokenRows:
    """(N, T) token ids of one stored split (``input_ids``), indexable like a LongTensor of that shape."""

    def __init__(self, split_dir: str | Path) -> None:
        self._open(Path(split_dir))

    def __getstate__(self) -> dict[str, Any]:  # DataLoader workers reopen the files instead of copying the rows
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._open(Path(state["path"]))

    def _open(self, split_dir: Path) -> None:
        import datasets

        from textgan.data.corpus_files import quiet_datasets

        with quiet_datasets():
            stored = datasets.load_from_disk(str(split_dir))
        table = stored.data.table  # the memory-mapped Arrow table (no indices mapping: as saved)
        self._length = int(stored.features["input_ids"].length)
        self._chunks = [self._view(chunk) for chunk in table.column("input_ids").chunks if len(chunk)]
        self._starts = np.cumsum([0] + [len(chunk) for chunk in self._chunks])
        self.path = split_dir
        self._keep_alive = stored  # the mapped files stay open as long as the views exist

    def _view(self, chunk: Any) -> np.ndarray:
        """A zero-copy (rows, T) int32 view of one Arrow chunk of fixed-size lists."""
        values = chunk.flatten().to_numpy(zero_copy_only=True)
        return values.reshape(len(chunk), self._length)

    # ---- what training asks of a tensor ---------------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), self._length))

    @property
    def dtype(self) -> torch.dtype:
        return torch.int64

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __repr__(self) -> str:
        return f"TokenRows({self.path}, shape={tuple(self.shape)})"

    def __getitem__(self, index: Any) -> torch.Tensor:
        """Rows by int, slice, index list, array or tensor: a LongTensor copy of just those rows."""
        if isinstance(index, (int, np.integer)):
            return self[torch.tensor([int(index)])][0]
        if isinstance(index, slice):
            rows = np.arange(*index.indices(len(self)))
        else:
            rows = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < -len(self) or rows.max() >= len(self)):
            raise IndexError(f"row index out of range for {len(self)} rows")
        rows = np.where(rows < 0, rows + len(self), rows)
        out = np.empty((rows.size, self._length), dtype=np.int64)
        if len(self._chunks) == 1:
            out[:] = self._chunks[0][rows]
        else:
            chunk_of = np.searchsorted(self._starts, rows, side="right") - 1
            for chunk in np.unique(chunk_of):
                where = chunk_of == chunk
                out[where] = self._chunks[chunk][rows[where] - self._starts[chunk]]
        return torch.from_numpy(out)

    def blocks(self, rows: int = 65_536) -> Iterator[torch.Tensor]:
        """The rows in order, ``rows`` at a time (LongTensors)."""
        for start in range(0, len(self), rows):
            yield self[start : start + rows]

    def id_counts(self, minlength: int = 0) -> np.ndarray:
        """How often each id occurs in the rows, pads included: (max(minlength, largest id + 1),) int64."""
        counts = np.zeros(minlength, dtype=np.int64)
        for chunk in self._chunks:
            found = np.bincount(chunk.ravel(), minlength=len(counts))
            found[: len(counts)] += counts
            counts = found
        return counts

    def to_tensor(self) -> torch.Tensor:
        """Every row as one LongTensor (N, T): for small splits and for consumers that need it whole."""
        return self[:]

    def sha256(self) -> str:
        """A hash of the ids in row order (int32 bytes), read block by block."""
        digest = hashlib.sha256()
        for chunk in self._chunks:
            digest.update(np.ascontiguousarray(chunk).tobytes())
        return digest.hexdigest()


class RowDataset(torch.utils.data.Dataset):
    """Map-style dataset over (N, T) rows (a tensor or ``TokenRows``): a batch is fetched with one indexing."""

    def __init__(self, rows: torch.Tensor | TokenRows) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.rows[index]

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        return self.rows[torch.as_tensor(indices, dtype=torch.long)]


class LabelledRowDataset(RowDataset):
    """``RowDataset`` of rows with class labels (N,): an item, or a batch, is ``(tokens, labels)``."""

    def __init__(self, rows: torch.Tensor | TokenRows, labels: torch.Tensor) -> None:
        super().__init__(rows)
        if len(labels) != len(rows):
            raise ValueError(f"{len(labels)} labels for {len(rows)} rows: they must be aligned row by row")
        self.labels = labels

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rows[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        return self.rows[index], self.labels[index]


def batch_as_is(batch: torch.Tensor) -> torch.Tensor:
    """Collate for ``RowDataset``: ``__getitems__`` already returns the (B, T) batch (or ``(tokens, labels)``)."""
    return batch
