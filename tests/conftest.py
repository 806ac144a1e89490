"""Shared fixtures: the benchmark data beside the repository, when it is there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from textgan.training.threads import available_cores

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("TEXTGAN_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config):
    """Under pytest-xdist (``-n N``, the default: see pyproject.toml), give each worker its share of the cores.

    Every worker's torch would otherwise start one thread per core, and N workers on the same cores slow one
    another down far more than N-fold. ``OMP_NUM_THREADS`` carries the share to the training runs the tests
    start as subprocesses (``threads=auto`` reads it; tests that want Lightning's own split remove it).
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        share = max(available_cores() // workers, 1)
        os.environ.setdefault("OMP_NUM_THREADS", str(share))
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


# Files whose tests run for half a minute or more (the fault drill for four, the scripts' smoke runs for one to
# four): started first, so that no worker is left running one of them alone at the end while the others wait.
LONGEST_FIRST = ("training/test_fault_drill.py", "cli/test_smoke.py", "training/test_ddp.py", "training/test_sweeps.py")


def _schedule_rank(item) -> tuple[int, int]:
    path = item.path.as_posix()
    longest = next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith(name)), len(LONGEST_FIRST))
    return ("slow" not in item.keywords, longest)


def pytest_collection_modifyitems(config, items):
    """Run the longest tests first, then the other ``slow`` ones (longest first keeps xdist's workers evenly busy
    to the end), and skip tests marked ``shared_data`` when ../shared/data is absent (a user's clone without it)."""
    items.sort(key=_schedule_rank)  # stable: file order within each group
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the benchmark data at {SHARED_DATA}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def shared_data() -> Path:
    """Path of ../shared/data (tests using it must also carry ``@pytest.mark.shared_data``)."""
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield
