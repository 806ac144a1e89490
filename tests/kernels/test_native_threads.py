"""textgan.kernels.parallel.parallel_rows: the row ranges, the threads they run on, and errors raised inside them."""

import threading

import pytest
import torch

from textgan.kernels import build, parallel, policy

needs_native = pytest.mark.skipif(not policy.available(), reason="native kernels off or not built")


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


def record_parts(rows: int, min_rows: int = 1):
    seen: dict[int, tuple[int, int, int]] = {}

    def work(part: int, n0: int, n1: int) -> None:
        seen[part] = (n0, n1, threading.get_ident())

    return parallel.parallel_rows(rows, work, min_rows), seen


@pytest.fixture(params=[True, False], ids=["torch's OpenMP threads", "own thread pool"])
def shared(request, two_threads, monkeypatch):
    """Run the parts on torch's OpenMP threads (where this build can) or on the module's thread pool."""
    library = build.library()
    if request.param and not library.shares_torch_threads:
        pytest.skip("this build does not share torch's OpenMP runtime")
    monkeypatch.setattr(library, "shares_torch_threads", request.param)
    return request.param


@needs_native
def test_each_part_gets_its_contiguous_row_range(shared):
    parts, seen = record_parts(11)
    assert parts == 2 and sorted(seen) == [0, 1]
    assert (seen[0][:2], seen[1][:2]) == ((0, 5), (5, 11))
    if shared:  # OpenMP's team: one part per thread (a pool may run both on one worker)
        assert seen[0][2] != seen[1][2]
    parts, seen = record_parts(11, min_rows=8)  # fewer rows than two parts need: this thread alone
    assert parts == 1 and seen == {0: (0, 11, threading.get_ident())}


@needs_native
def test_an_error_inside_a_part_reaches_the_caller(shared):

    def work(part: int, n0: int, n1: int) -> None:
        if part == 1:
            raise ValueError(f"rows {n0}..{n1} failed")

    with pytest.raises(ValueError, match="rows 2..4 failed"):
        parallel.parallel_rows(4, work)


@needs_native
def test_the_kernels_share_torchs_openmp_runtime_where_torch_uses_libgomp(two_threads):
    """torch.set_num_threads reaches the kernels' runtime: one set of threads for torch and the kernels."""
    library = build.library()
    if not build.torch_loaded_libgomp():
        assert not library.shares_torch_threads  # no second OpenMP runtime of our own: the thread pool
        pytest.skip("this torch does not use libgomp")
    if not library.openmp_build():
        pytest.skip("the C compiler could not build with -fopenmp (the thread pool serves)")
    assert library.shares_torch_threads
    assert library.openmp_max_threads() == 2
    torch.set_num_threads(1)
    assert library.openmp_max_threads() == 1
