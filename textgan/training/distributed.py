"""Data-parallel training (Lightning DDP) seen from textgan: ranks, per-rank shares, gathering, a sync check.

Under ``trainer=ddp_cpu`` / ``trainer=ddp_gpu`` every rank runs the whole ``textgan-train`` script (Lightning
starts ranks 1..N-1 as copies of the command). What differs between ranks, and what must not:

- *differs*: the MLE batches (each rank takes every N-th sentence of the epoch's order), the adversarial real
  batches and generated samples (random streams seeded with the rank), and each rank's share of the samples
  of an evaluation (gathered on rank 0, which scores them: the same number of samples as one process);
- *identical*: parameters and optimiser states (DDP averages the gradients), schedules, baselines' running
  state (buffers, broadcast from rank 0), the delayed rollout copy. :func:`parameter_checksum` makes that
  checkable: the run compares it across ranks at every checkpoint and stops if ranks diverged.
- *rank 0 only*: files (config, checkpoints, generators, summary, samples) and loggers.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from textgan.data.base import rank_and_world

RANK_VARIABLES = ("RANK", "SLURM_PROCID", "NODE_RANK", "LOCAL_RANK")  # torchrun, SLURM, Lightning's launcher


def is_rank_zero() -> bool:
    """True in the process that writes files and logs (always, when not distributed).

    Known before any process group exists, from the launcher's environment: Lightning's launcher sets
    ``LOCAL_RANK`` (and ``NODE_RANK``) for the ranks it starts, SLURM ``SLURM_PROCID``, torchrun ``RANK``.
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return all(os.environ.get(variable, "0") in ("0", "") for variable in RANK_VARIABLES)


def share(count: int, rank: int, world_size: int) -> int:
    """How many of ``count`` items rank ``rank`` takes when ``world_size`` ranks split them (sizes differ by <= 1)."""
    return count // world_size + (1 if rank < count % world_size else 0)


def gather_rows(rows: torch.Tensor) -> torch.Tensor:
    """Concatenate every rank's ``rows`` (N_r, ...) in rank order, N_r may differ; the input when not distributed."""
    _, world = rank_and_world()
    if world == 1:
        return rows
    sizes = [torch.zeros(1, dtype=torch.long, device=rows.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([rows.shape[0]], device=rows.device))
    largest = int(max(s.item() for s in sizes))
    padded = torch.zeros((largest, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([g[: int(s.item())] for g, s in zip(gathered, sizes, strict=True)])


def parameter_checksum(module: nn.Module) -> torch.Tensor:
    """An integer (int64) over the bit patterns of every parameter and buffer: equal bits, equal checksum.

    Each tensor's bytes are read as int32 words, weighted by their position (so a swap of two values changes
    it too) and summed with wrap-around; a single flipped bit anywhere changes the result.
    """
    total = torch.zeros((), dtype=torch.int64)
    for index, tensor in enumerate([*module.parameters(), *module.buffers()]):
        words = tensor.detach().contiguous().cpu().view(-1).view(torch.uint8)
        words = torch.nn.functional.pad(words, (0, (-words.numel()) % 4)).view(torch.int32).to(torch.int64)
        positions = torch.arange(1, words.numel() + 1, dtype=torch.int64)
        total = total + (words * (positions * 2_654_435_761 + index)).sum()
    return total


def ranks_in_sync(module: nn.Module) -> bool:
    """Whether every rank holds bitwise the same parameters and buffers (True when not distributed)."""
    if rank_and_world()[1] == 1:
        return True
    checksum = parameter_checksum(module)
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    checksums = [torch.zeros((), dtype=torch.int64, device=backend_device) for _ in range(dist.get_world_size())]
    dist.all_gather(checksums, checksum.to(backend_device))
    return all(int(c) == int(checksums[0]) for c in checksums)
