"""Building and loading the native CPU kernels: ``csrc/*.c`` compiled with ``$CC`` and loaded with ``ctypes``.

How: the C sources under ``csrc/`` (package data: ``native_kernels.c`` and ``rmc_cell.c``, which uses the
former's helpers) are plain C11 with GCC/Clang vector extensions and no torch headers. They are compiled as one
unit with ``$CC`` (default ``cc``) into ``$TEXTGAN_CACHE/native`` (default ``~/.cache/textgan/native``) under a
name keyed by the source text, the flags and the CPU, so an edited source or another machine never loads a
stale build. The first process that needs them builds them (logged at INFO: a few seconds), later ones load the
cached file; ``textgan-build-kernels`` (:mod:`textgan.cli.build_kernels`) builds them now and says where they are.

Flags, best first: ``-O3 -march=native -fopenmp`` when torch's own OpenMP runtime (``libgomp``) is loaded, so
the kernels' row ranges run on torch's threads; ``-O3 -march=native``; ``-O3``. When none builds (no compiler,
a compiler that refuses the vector extensions), :func:`library` is None and warns once, naming the compiler, the
command and the last lines of the compiler's own message (kept in :data:`last_error`); every fast path then
runs its torch implementation (:mod:`textgan.kernels.policy`), which computes the same function.

Whether the kernels are *used* is not decided here: :func:`textgan.kernels.policy.native_applies` is the one
place that reads ``TEXTGAN_NATIVE`` and asks :func:`library`.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

# package data, read when the library is built and compiled as one unit (rmc_cell.c uses native_kernels.c's helpers)
CSRC = Path(__file__).with_name("csrc")
SOURCES = (CSRC / "native_kernels.c", CSRC / "rmc_cell.c")
ERROR_LINES = 12  # lines of the compiler's message a failed build reports

_lock = threading.Lock()
_library: ctypes.CDLL | None = None
_tried = False
#: Why the last build failed: the compiler, the command and the end of its message (None after a success).
last_error: str | None = None

_I64, _I32, _F32, _PTR, _U64 = ctypes.c_int64, ctypes.c_int32, ctypes.c_float, ctypes.c_void_p, ctypes.c_uint64
PART = ctypes.CFUNCTYPE(None, ctypes.c_int64)  # run_parts' callback: work on part p
_CONV_FORWARD = [_PTR, _I64, _I64, _I64, _I64, _I64, _PTR, _I64, _I64, _I64, _PTR, _PTR, _PTR, _I64]
_CONV_BACKWARD = [_PTR, _I64, _I64, _I64, _I64, _PTR, _I64, _I64, _I64, _PTR, _PTR, _I64, _PTR, _PTR, _PTR]
_HIGHWAY_FORWARD = [_PTR, _PTR, _I32, _U64, _I32, _F32, _F32, _I64, _I64, _I64, _PTR]
_HIGHWAY_BACKWARD = [*_HIGHWAY_FORWARD, _PTR, _PTR]
_SIGNATURES = {
    **{
        f"conv_max_{way}{kind}": argtypes
        for way, argtypes in (("forward", _CONV_FORWARD), ("backward", _CONV_BACKWARD))
        for kind in ("", "_bf16")
    },  # fmt: skip
    **{
        f"highway_{way}_{kind}": argtypes
        for way, argtypes in (("forward", _HIGHWAY_FORWARD), ("backward", _HIGHWAY_BACKWARD))
        for kind in ("f32", "bf16", "bf16x")
    },  # fmt: skip
    "token_logp_forward_f32": [_PTR, _PTR, _I64, _I64, _I64, _PTR, _PTR],
    "token_logp_forward_bf16": [_PTR, _PTR, _I64, _I64, _I64, _PTR, _PTR],
    "token_logp_backward_f32": [_PTR, _PTR, _PTR, _PTR, _I64, _I64, _I64, _PTR],
    "token_logp_backward_bf16": [_PTR, _PTR, _PTR, _PTR, _I64, _I64, _I64, _PTR],
    **{
        f"gumbel_max_{kind}": [_PTR, _I64, _I64, _I64, _U64, _F32, _I32, _PTR, _I64, _PTR]
        for kind in ("f32", "bf16", "f32_to_bf16", "bf16_to_bf16")
    },  # fmt: skip
}
_RMC_SIGNATURES = {
    "rmc_attend_forward": [_PTR, _I64, _PTR, _I64, _PTR, _PTR, _I64, *[_PTR] * 4, *[_I64] * 6, _F32, _F32] + [_PTR] * 6,
    "rmc_attend_backward": [*[_PTR] * 8, *[_I64] * 6, _F32, *[_PTR] * 7],
    "rmc_update_forward": [*[_PTR] * 6, _I64, _PTR, _F32, _F32, *[_I64] * 4, _F32, *[_PTR] * 3],
    "rmc_update_backward": [*[_PTR] * 7, _I64, _PTR, _F32, _F32, *[_I64] * 4, *[_PTR] * 6],
}
_SIGNATURES.update(
    {f"{name}_{kind}": argtypes for name, argtypes in _RMC_SIGNATURES.items() for kind in ("f32", "bf16")}
)


class BuildError(RuntimeError):
    """A compile that failed, with the compiler's own message."""


def _cpu_signature() -> str:
    """Model and flag lines of the CPU, so a cache shared between machines never loads a foreign build."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    except OSError:
        return platform.processor()


def cache_dir() -> Path:
    """Where builds are kept: ``$TEXTGAN_CACHE/native``, default ``~/.cache/textgan/native``."""
    return Path(os.environ.get("TEXTGAN_CACHE", Path.home() / ".cache" / "textgan")) / "native"


def _compile(command: list[str]) -> None:
    """Run the compiler; a failure raises :class:`BuildError` with the command and the end of its message."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=120)
    except FileNotFoundError as error:
        raise BuildError(f"$ {shlex.join(command)}\n{error}") from error
    except subprocess.TimeoutExpired as error:
        raise BuildError(f"$ {shlex.join(command)}\ntimed out after {error.timeout} s") from error
    if result.returncode != 0:
        message = (result.stderr or result.stdout or "").strip().splitlines()[-ERROR_LINES:]
        status = f"exit status {result.returncode}"
        raise BuildError("\n".join([f"$ {shlex.join(command)}", *message, status]))


def _build(compiler: str, flags: list[str], cache: Path) -> ctypes.CDLL:
    """Compile ``SOURCES`` into ``cache`` (unless a build of the same text, flags and CPU is there) and load it."""
    source_text = "\n".join(source.read_text() for source in SOURCES)
    key = hashlib.sha256("\0".join([source_text, compiler, *flags, platform.machine(), _cpu_signature()]).encode())
    target = cache / f"textgan_kernels_{key.hexdigest()[:16]}.so"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache) as build:
            source, built = Path(build) / "kernels.c", Path(build) / "kernels.so"
            source.write_text(source_text)  # the very text the key was computed from
            command = [compiler, *flags, "-std=gnu11", "-shared", "-fPIC", str(source), "-o", str(built), "-lm"]
            log.info("textgan: building the native CPU kernels: %s", shlex.join(command))
            _compile(command)
            os.replace(built, target)  # atomic: a concurrent process never loads a half-written file
    library = ctypes.CDLL(str(target))
    for name, argtypes in _SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, None
    for name in ("openmp_build", "openmp_max_threads"):
        getattr(library, name).argtypes, getattr(library, name).restype = [], ctypes.c_int32
    library.run_parts.argtypes, library.run_parts.restype = [_I64, PART], None
    library.path = target
    return library


def torch_loaded_libgomp() -> bool:
    """Whether ``libgomp.so.1`` is already loaded (torch's OpenMP runtime on Linux wheels): a ``-fopenmp`` build
    then binds to that very copy (the dynamic linker resolves a loaded soname), sharing torch's threads."""
    try:
        ctypes.CDLL("libgomp.so.1", mode=getattr(os, "RTLD_NOLOAD", 4) | ctypes.RTLD_LOCAL)
        return True
    except OSError:
        return False


def library() -> ctypes.CDLL | None:
    """The compiled kernels, built on the first call; None (with one warning quoting the compiler) if they
    cannot be built. Does not read ``TEXTGAN_NATIVE``: ask :func:`textgan.kernels.policy.native_applies`."""
    global _library, _tried, last_error
    with _lock:
        if _tried:
            return _library
        _tried = True
        compiler = os.environ.get("CC", "cc")
        cache = cache_dir()
        torch_openmp = torch_loaded_libgomp()  # else a -fopenmp build would bring a second runtime: no OpenMP
        candidates = [["-O3", "-march=native"], ["-O3"]]
        for flags in [[*candidates[0], "-fopenmp"]] * torch_openmp + candidates:
            try:
                _library = _build(compiler, flags, cache)
            except (OSError, BuildError) as error:
                last_error = str(error)
                continue
            _library.shares_torch_threads = bool(_library.openmp_build())
            last_error = None
            return _library
        warnings.warn(
            f"textgan: could not build the native CPU kernels with {compiler!r} (slower torch paths run "
            f"instead; textgan-build-kernels retries and prints this):\n{last_error}",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def reset() -> None:
    """Forget the loaded library and the last attempt, so the next :func:`library` call builds afresh
    (tests, and ``textgan-build-kernels``)."""
    global _library, _tried, last_error
    with _lock:
        _library, _tried, last_error = None, False, None
