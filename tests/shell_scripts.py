"""Running the repository's bash scripts in tests, with the test environment's ``textgan-*`` commands first on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_bash_script(name: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """``bash scripts/NAME ARGS...`` with ``env`` added to the environment; output captured as text."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the venv's textgan-* commands
    return subprocess.run(["bash", str(SCRIPTS / name), *args], capture_output=True, text=True,
                          env={**os.environ, "PATH": path, **env}, timeout=timeout)  # fmt: skip
