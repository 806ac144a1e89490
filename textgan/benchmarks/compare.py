"""Old code against new in one run: ``scripts/benchmark.py --compare-with REF``.

Seconds measured on different days, or beside different background work, are not comparable; the same
benchmark run over two commits, one right after the other, is. ``REF`` (a commit, branch or tag) is checked
out in a temporary git worktree, its own ``scripts/benchmark.py --section models`` runs there with the same
sizes, precisions and devices (its code, its measurements), and each of this run's model rows gains the
reference's seconds and the ratio new / old (below 1: faster now). With ``--runs N`` the two alternate, new then
old, N rounds (:func:`interleaved_models`): a shared host's speed drifts by 5-10 % over the minutes a benchmark
takes, and blocks of N new runs followed by N old ones would put that drift into the ratio.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose history REF names
KEYS = ("device", "size", "precision")


@contextlib.contextmanager
def reference_worktree(ref: str) -> Iterator[Path]:
    """``REF`` checked out in a temporary git worktree of this repository (removed afterwards)."""
    with tempfile.TemporaryDirectory(prefix="textgan-bench-") as folder:
        worktree = Path(folder) / "reference"
        added = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), ref], capture_output=True, text=True
        )
        if added.returncode != 0:
            raise SystemExit(f"--compare-with {ref}: cannot check it out here: {added.stderr.strip()}")
        try:
            print(f"  reference {ref}: benchmarking its code in {worktree}", file=sys.stderr)
            yield worktree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)


def run_reference(worktree: Path, sizes, precisions, devices) -> list[dict]:
    """One run of the reference's own ``benchmark.py --section models``: its model rows.

    The worktree leads ``PYTHONPATH``, so that the reference imports its own ``textgan``, not the installed one."""
    out = worktree.parent / "reference.json"
    path = os.pathsep.join(filter(None, [str(worktree), os.environ.get("PYTHONPATH")]))
    subprocess.run(
        [sys.executable, str(worktree / "scripts" / "benchmark.py"), "--section", "models",
         "--size", *sizes, "--precision", *precisions, "--device", *devices, "--json", str(out)],
        check=True, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    return json.loads(out.read_text())["models"]


def reference_models(ref: str, sizes, precisions, devices, runs: int = 1) -> list[dict]:
    """The model rows of ``REF``'s own benchmark, run in a temporary worktree of this repository (``runs``
    times, each measurement's median seconds and largest peak memory kept, as this run's ``--runs`` does)."""
    with reference_worktree(ref) as worktree:
        return median_rows([run_reference(worktree, sizes, precisions, devices) for _ in range(runs)])


def interleaved_models(
    measure: Callable[[], list[dict]], ref: str, sizes, devices, runs: int, measurements
) -> list[dict]:
    """This code's rows (``measure()``, one run) and ``REF``'s, alternating for ``runs`` rounds (new, old, new,
    old, ...), merged into medians (:func:`median_rows`) and compared (:func:`with_reference`)."""
    with reference_worktree(ref) as worktree:
        new_tables, old_tables = [], []
        for _ in range(runs):
            new_tables.append(measure())
            precisions = list(dict.fromkeys(row["precision"] for row in new_tables[-1]))  # what this run measured
            if not precisions:
                return new_tables[-1]
            old_tables.append(run_reference(worktree, sizes, precisions, devices))
    return with_reference(median_rows(new_tables), median_rows(old_tables), measurements)


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
