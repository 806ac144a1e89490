"""The C heap keeps freed memory for reuse, or gives it back to the system, as training asks."""

import pytest
import torch

from textgan.training.host_memory import configure_cpu_heap, release_free_memory


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


def test_release_returns_freed_heap_pages_and_keeps_live_tensors():
    if not release_free_memory():
        pytest.skip("malloc_trim is glibc's (Linux)")
    # 96 KB blocks come from the heap (below glibc's 128 KB mmap threshold); every other one stays alive, so
    # the freed ones are holes that the heap cannot shrink past without trimming
    blocks = [torch.ones(24 * 1024) for _ in range(3000)]  # ~280 MB, pages touched
    keep = blocks[1::2]
    del blocks
    before = _resident_mb()
    assert release_free_memory()
    after = _resident_mb()
    assert before - after > 60, (before, after)  # about half of the 280 MB was free holes
    assert all(float(block[0]) == 1.0 for block in keep)


_FAULTS_PER_STEP = """
import resource, sys, torch
from textgan.training.host_memory import reuse_freed_memory
if sys.argv[1] == "reuse":
    assert reuse_freed_memory()
def step():  # three 40 MB tensors, above glibc's largest self-tuned mmap threshold (32 MB), then freed
    logits = torch.ones(2000, 5000)
    return float(torch.log_softmax(logits * 2, dim=-1)[0, 0])
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 10)
"""


def _faults_per_step(policy: str) -> float:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _FAULTS_PER_STEP, policy], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def test_reuse_keeps_freed_blocks_so_the_next_step_faults_no_pages_in():
    if not release_free_memory():
        pytest.skip("mallopt is glibc's (Linux)")
    default, reuse = _faults_per_step("default"), _faults_per_step("reuse")
    assert default > 10_000  # glibc maps each 40 MB block afresh: ~29,000 pages per step
    assert reuse < default / 5, (default, reuse)  # reused from the heap: none, or one block where one did not fit


def test_cpu_heap_setting_decides_whether_phases_trim_and_names_bad_values():
    assert configure_cpu_heap("release") is True
    with pytest.raises(ValueError, match="cpu_heap must be one of 'reuse', 'release', got 'keep'"):
        configure_cpu_heap("keep")
