"""``textgan-build-kernels``: build textgan's native CPU kernels now (they are otherwise built on first use) and
say where they are, or print the compiler's own message and exit 1 (:mod:`textgan.kernels.build`)."""

from __future__ import annotations

import os
import sys
import warnings

from textgan.kernels import build
from textgan.kernels.policy import enabled


def main(argv: list[str] | None = None) -> int:
    """``textgan-build-kernels``: build the native kernels now (or find the cached build) and say where they are;
    on failure print the compiler's message and exit 1."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="textgan-build-kernels",
        description="Build textgan's native CPU kernels now (they are otherwise built on first use) into "
        "$TEXTGAN_CACHE/native with $CC; print the library's path, or the compiler's message and exit 1.",
    )
    parser.parse_args(argv)
    import torch  # noqa: F401  (loads torch's OpenMP runtime first, as a training process has)

    build.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the message is printed below, in full
        built = build.library()
    if built is None:
        print(f"textgan-build-kernels: could not build the native CPU kernels with {os.environ.get('CC', 'cc')!r}:",
              file=sys.stderr)  # fmt: skip
        print(build.last_error, file=sys.stderr)
        return 1
    print(f"native kernels: {built.path}")
    shared = "yes (built with -fopenmp)" if built.shares_torch_threads else "no (a thread pool of textgan's own)"
    print(f"runs on torch's OpenMP threads: {shared}")
    if not enabled():
        print("TEXTGAN_NATIVE=0 is set: the torch paths run all the same (textgan.kernels.policy)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
