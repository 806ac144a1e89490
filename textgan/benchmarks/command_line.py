"""What every benchmark command shares: argparse types that refuse a count below one or a device this machine
lacks, naming what is allowed, and its rows printed as a markdown table."""

from __future__ import annotations

import argparse

import torch


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (a count of 0 would divide by zero or silently mean "default")."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def device_argument(text: str) -> str:
    """argparse type: ``cpu``, or ``cuda`` / ``cuda:N`` when that CUDA device exists."""
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    usable = device is not None and (
        device.type == "cpu"
        or (device.type == "cuda" and torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count())
    )
    if not usable:
        found = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA"
        raise argparse.ArgumentTypeError(f"{text!r}: expected cpu or cuda[:N] (this machine has {found})")
    return text


def markdown_table(rows: list[dict], digits: int = 3) -> str:
    """Benchmark rows (dicts with the same keys) -> a markdown table, floats with ``digits`` decimals."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{row[k]:.{digits}f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
