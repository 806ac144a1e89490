"""Small native CPU kernels for the CNN discriminators, the token log-likelihood and RelGAN's sampling step,
compiled on first use and loaded with ``ctypes``.

Why: at COCO size RelGAN's discriminator handles (128 sentences x 64 representations) = 8192 rows of 1200
features. Two kinds of work there run far below the machine's speed in torch on a CPU:

* the convolution + max-pool over time of 2 to 5 taps (:mod:`textgan.models.max_over_time_conv`): every torch
  formulation materialises the (N, T', C) scores (0.35 GB per filter size) and products with 2 to 5 inner
  terms run far below BLAS peak. ``conv_max_forward`` keeps the running maximum and its argmax in registers;
  ``conv_max_backward`` scatters through the argmax (exactly autograd's gradient of ``max``);
* the highway gate + dropout (:mod:`textgan.models.highway`): a dozen elementwise passes over (8192, 2400)
  tensors in torch, one pass each way here;
* the teacher-forced token log-likelihood (:mod:`textgan.models.token_log_probs`): the cast of the (B, T, V)
  logits to float32, their log-softmax and gather, and the backward pass through all three, about a dozen
  passes over (B, T, V) tensors in torch (a sixth of a bf16 MLE step at oracle size), two each way here;
* one step of RelGAN's sampler (:func:`textgan.sampling.native_gumbel_max`): counter-based Gumbel noise, the
  Gumbel-Max token and the relaxed row, where torch draws serially and makes five passes over (N, V);
* the elementwise work of one RMC cell step (:mod:`textgan.models.rmc_cell`, source ``rmc_cell.c``): three joint
  layer norms, attention over the memory and input rows, the gates, two passes each way instead of ~20 ops.

How: the C sources, ``native_kernels.c`` and ``rmc_cell.c`` beside this module (package data), are plain C11
with GCC/Clang vector extensions and no torch headers. They are compiled as one unit with ``$CC`` (default ``cc``) into
``$TEXTGAN_CACHE`` (default ``~/.cache/textgan``) under a name keyed by the source text, the flags and the CPU,
so an edited source or another machine never loads a stale build. Rows are split over Python threads
(``ctypes`` releases the GIL), one per torch intra-op thread. Without a compiler, or with ``TEXTGAN_NATIVE=0``,
:func:`library` is None and the callers use their torch implementations, which compute the same functions.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

BLOCK = 64  # filter columns one conv_max iteration keeps in registers (LANES * NVEC in native_kernels.c)

# package data, read when the library is built and compiled as one unit (rmc_cell.c uses this file's helpers)
SOURCES = (Path(__file__).with_name("native_kernels.c"), Path(__file__).with_name("rmc_cell.c"))

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_tried = False
_pool: ThreadPoolExecutor | None = None
_pool_size = 0

_I64, _I32, _F32, _PTR, _U64 = ctypes.c_int64, ctypes.c_int32, ctypes.c_float, ctypes.c_void_p, ctypes.c_uint64
_PART = ctypes.CFUNCTYPE(None, ctypes.c_int64)  # run_parts' callback: work on part p
_CONV_FORWARD = [_PTR, _I64, _I64, _I64, _I64, _I64, _PTR, _I64, _I64, _I64, _PTR, _PTR, _PTR, _I64]
_CONV_BACKWARD = [_PTR, _I64, _I64, _I64, _I64, _PTR, _I64, _I64, _I64, _PTR, _PTR, _I64, _PTR, _PTR, _PTR]
_HIGHWAY_FORWARD = [_PTR, _PTR, _I32, _U64, _I32, _F32, _F32, _I64, _I64, _I64, _PTR]
_HIGHWAY_BACKWARD = [*_HIGHWAY_FORWARD, _PTR, _PTR]
_SIGNATURES = {
    **{f"conv_max_{way}{kind}": argtypes for way, argtypes in (("forward", _CONV_FORWARD), ("backward", _CONV_BACKWARD))
       for kind in ("", "_bf16")},  # fmt: skip
    **{f"highway_{way}_{kind}": argtypes for way, argtypes in (("forward", _HIGHWAY_FORWARD),
       ("backward", _HIGHWAY_BACKWARD)) for kind in ("f32", "bf16", "bf16x")},  # fmt: skip
    "token_logp_forward_f32": [_PTR, _PTR, _I64, _I64, _I64, _PTR, _PTR],
    "token_logp_forward_bf16": [_PTR, _PTR, _I64, _I64, _I64, _PTR, _PTR],
    "token_logp_backward_f32": [_PTR, _PTR, _PTR, _PTR, _I64, _I64, _I64, _PTR],
    "token_logp_backward_bf16": [_PTR, _PTR, _PTR, _PTR, _I64, _I64, _I64, _PTR],
    **{f"gumbel_max_{kind}": [_PTR, _I64, _I64, _I64, _U64, _F32, _I32, _PTR, _I64, _PTR]
       for kind in ("f32", "bf16", "f32_to_bf16", "bf16_to_bf16")},  # fmt: skip
}
_RMC_SIGNATURES = {
    "rmc_attend_forward": [_PTR, _I64, _PTR, _I64, _PTR, _PTR, _I64, *[_PTR] * 4, *[_I64] * 6, _F32, _F32]
    + [_PTR] * 6,
    "rmc_attend_backward": [*[_PTR] * 8, *[_I64] * 6, _F32, *[_PTR] * 7],
    "rmc_update_forward": [*[_PTR] * 6, _I64, _PTR, _F32, _F32, *[_I64] * 4, _F32, *[_PTR] * 3],
    "rmc_update_backward": [*[_PTR] * 7, _I64, _PTR, _F32, _F32, *[_I64] * 4, *[_PTR] * 6],
}
_SIGNATURES.update(
    {f"{name}_{kind}": argtypes for name, argtypes in _RMC_SIGNATURES.items() for kind in ("f32", "bf16")}
)


def _cpu_signature() -> str:
    """Model and flag lines of the CPU, so a cache shared between machines never loads a foreign build."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    except OSError:
        return platform.processor()


def _build(compiler: str, flags: list[str], cache: Path) -> ctypes.CDLL:
    """Compile ``SOURCES`` into ``cache`` (unless a build of the same text, flags and CPU is there) and load it."""
    source_text = "\n".join(source.read_text() for source in SOURCES)
    key = hashlib.sha256(
        "\0".join([source_text, compiler, *flags, platform.machine(), _cpu_signature()]).encode()
    )
    target = cache / f"textgan_kernels_{key.hexdigest()[:16]}.so"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as build:
            source, built = Path(build) / "kernels.c", Path(build) / "kernels.so"
            source.write_text(source_text)  # the very text the key was computed from
            command = [compiler, *flags, "-std=gnu11", "-shared", "-fPIC", str(source), "-o", str(built), "-lm"]
            subprocess.run(command, check=True, capture_output=True, timeout=120)
            os.replace(built, target)  # atomic: a concurrent process never loads a half-written file
    library = ctypes.CDLL(str(target))
    for name, argtypes in _SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, None
    for name in ("openmp_build", "openmp_max_threads"):
        getattr(library, name).argtypes, getattr(library, name).restype = [], ctypes.c_int32
    library.run_parts.argtypes, library.run_parts.restype = [_I64, _PART], None
    return library


def _torch_loaded_libgomp() -> bool:
    """Whether ``libgomp.so.1`` is already loaded (torch's OpenMP runtime on Linux wheels): a ``-fopenmp`` build
    then binds to that very copy (the dynamic linker resolves a loaded soname), sharing torch's threads."""
    try:
        ctypes.CDLL("libgomp.so.1", mode=getattr(os, "RTLD_NOLOAD", 4) | ctypes.RTLD_LOCAL)
        return True
    except OSError:
        return False


def library() -> ctypes.CDLL | None:
    """The compiled kernels, built on first call; None if disabled (``TEXTGAN_NATIVE=0``) or unbuildable."""
    global _library, _tried
    with _lock:
        if _tried:
            return _library
        _tried = True
        if os.environ.get("TEXTGAN_NATIVE", "1") == "0":
            return None
        compiler = os.environ.get("CC", "cc")
        cache = Path(os.environ.get("TEXTGAN_CACHE", Path.home() / ".cache" / "textgan")) / "native"
        torch_openmp = _torch_loaded_libgomp()  # else a -fopenmp build would bring a second runtime: no OpenMP
        candidates = [["-O3", "-march=native"], ["-O3"]]
        for flags in [[*candidates[0], "-fopenmp"]] * torch_openmp + candidates:
            try:
                _library = _build(compiler, flags, cache)
                _library.shares_torch_threads = bool(_library.openmp_build())
                return _library
            except (OSError, subprocess.SubprocessError):
                continue
        warnings.warn(
            f"textgan: could not build the native CPU kernels with {compiler!r}; using slower torch paths",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def available() -> bool:
    return library() is not None


def parallel_rows(rows: int, work: Callable[[int, int, int], None], min_rows: int = 1) -> int:
    """Run ``work(part, n0, n1)`` on one contiguous row range per torch intra-op thread, in parallel, with at
    least ``min_rows`` rows per range (handing work over costs time: small calls run in this thread).

    The ranges run on torch's own OpenMP threads when the library shares torch's runtime (``run_parts``), else
    on a thread pool of this module. Returns the number of parts (for per-thread partial sums).
    """
    global _pool, _pool_size
    workers = num_parts(rows, min_rows)
    ranges = [(rows * i // workers, rows * (i + 1) // workers) for i in range(workers)]
    if workers == 1:
        work(0, *ranges[0])
        return 1
    lib = library()
    if lib is not None and lib.shares_torch_threads:
        errors: list[BaseException] = []

        def part(index: int) -> None:
            try:
                work(index, *ranges[index])
            except BaseException as error:  # a ctypes callback cannot raise: carried out and raised below
                errors.append(error)

        lib.run_parts(workers, _PART(part))
        if errors:
            raise errors[0]
        return workers
    with _lock:
        if _pool is None or _pool_size < workers:
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textgan-native")
            _pool_size = workers
    for future in [_pool.submit(work, part, n0, n1) for part, (n0, n1) in enumerate(ranges)]:
        future.result()
    return workers


def num_parts(rows: int, min_rows: int = 1) -> int:
    """How many row ranges :func:`parallel_rows` will use for ``rows`` rows."""
    return max(1, min(torch.get_num_threads(), rows // max(1, min_rows)))
