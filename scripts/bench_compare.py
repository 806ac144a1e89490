"""Old code against new in one run: ``scripts/benchmark.py --compare-with REF``.

Seconds measured on different days, or beside different background work, are not comparable; the same
benchmark run over two commits, one right after the other, is. ``REF`` (a commit, branch or tag) is checked
out in a temporary git worktree, its own ``scripts/benchmark.py --section models`` runs there with the same
sizes, precisions and devices (its code, its measurements), and each of this run's model rows gains the
reference's seconds and the ratio new / old (below 1: faster now).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = ("device", "size", "precision")


def reference_models(ref: str, sizes, precisions, devices, runs: int = 1) -> list[dict]:
    """The model rows of ``REF``'s own benchmark, run in a temporary worktree of this repository (``runs``
    times, each measurement's median seconds and largest peak memory kept, as this run's ``--runs`` does)."""
    with tempfile.TemporaryDirectory(prefix="textgan-bench-") as folder:
        worktree, out = Path(folder) / "reference", Path(folder) / "reference.json"
        added = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), ref], capture_output=True, text=True
        )
        if added.returncode != 0:
            raise SystemExit(f"--compare-with {ref}: cannot check it out here: {added.stderr.strip()}")
        try:
            print(f"  reference {ref}: benchmarking its code in {worktree}", file=sys.stderr)
            tables = []
            for _ in range(runs):
                subprocess.run(
                    [sys.executable, str(worktree / "scripts" / "benchmark.py"), "--section", "models",
                     "--size", *sizes, "--precision", *precisions, "--device", *devices, "--json", str(out)],
                    check=True,
                )  # fmt: skip
                tables.append(json.loads(out.read_text())["models"])
            return median_rows(tables)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)


def median_rows(tables: list[list[dict]]) -> list[dict]:
    """Rows of several runs of the same benchmark merged: the median of each timing, the largest peak memory."""
    merged = []
    for rows in zip(*tables, strict=True):
        row = dict(rows[0])
        for key, value in rows[0].items():
            if key in KEYS or not isinstance(value, (int, float)):
                continue
            values = [r[key] for r in rows]
            row[key] = max(values) if key.startswith("peak") else statistics.median(values)
        merged.append(row)
    return merged


def with_reference(rows: list[dict], reference: list[dict], measurements) -> list[dict]:
    """Each row with ``<measurement>_ref`` (the reference's seconds) and ``<measurement>_ratio`` (new / old)."""
    by_key = {tuple(row[k] for k in KEYS): row for row in reference}
    compared = []
    for row in rows:
        old = by_key.get(tuple(row[k] for k in KEYS))
        merged = dict(row)
        for name in measurements:
            if old is not None and name in old:
                merged[f"{name}_ref"] = old[name]
                merged[f"{name.removesuffix('_s')}_ratio"] = row[name] / old[name]
        compared.append(merged)
    return compared
