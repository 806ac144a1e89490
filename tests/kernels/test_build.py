"""A failed build of the native kernels says why, in the compiler's own words (textgan.kernels.build)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.kernels import build, policy

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def failing_compiler(tmp_path, monkeypatch) -> Path:
    """``$CC`` a script that prints "my compiler error" on stderr and fails, with an empty cache; the loaded
    library is put back afterwards (monkeypatch restores the module's state)."""
    script = tmp_path / "cc"
    script.write_text('#!/bin/sh\necho "kernels.c:1:1: my compiler error" >&2\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("CC", str(script))
    monkeypatch.setenv("TEXTGAN_CACHE", str(tmp_path / "cache"))
    for name, value in (("_library", None), ("_tried", False), ("last_error", None)):
        monkeypatch.setattr(build, name, value)
    return script


def test_a_failed_build_warns_with_the_compilers_message_and_the_torch_paths_run(failing_compiler, monkeypatch):
    monkeypatch.delenv("TEXTGAN_NATIVE", raising=False)
    with pytest.warns(RuntimeWarning) as warned:
        assert build.library() is None
    (message,) = [str(w.message) for w in warned]
    assert str(failing_compiler) in message  # the compiler and its command
    assert "-std=gnu11" in message
    assert "my compiler error" in message and "exit status 1" in message
    assert "my compiler error" in build.last_error
    assert not policy.available()  # every fast path runs its torch formulation
    with pytest.raises(RuntimeError, match="my compiler error"):  # backend="native" says why it cannot
        policy.native_applies(backend="native")


def test_textgan_build_kernels_prints_the_compilers_message_and_exits_1(failing_compiler, tmp_path):
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "textgan.cli.build_kernels"], capture_output=True, text=True,
                            env=environment, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert "my compiler error" in result.stderr and str(failing_compiler) in result.stderr


def test_a_missing_compiler_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("TEXTGAN_CACHE", str(tmp_path / "cache"))
    for name, value in (("_library", None), ("_tried", False), ("last_error", None)):
        monkeypatch.setattr(build, name, value)
    with pytest.warns(RuntimeWarning, match="no-such-cc"):
        assert build.library() is None


@pytest.mark.skipif(not policy.available(), reason="native kernels off or not built")
def test_textgan_build_kernels_prints_the_library_and_whether_openmp_is_shared():
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "textgan.cli.build_kernels"], capture_output=True, text=True,
                            env=environment, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    path = result.stdout.splitlines()[0].removeprefix("native kernels: ")
    assert Path(path).is_file() and path.endswith(".so")
    assert "runs on torch's OpenMP threads: " in result.stdout
