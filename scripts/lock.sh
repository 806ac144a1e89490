#!/usr/bin/env bash
# Refresh requirements/lock.txt: the exact versions of everything textgan[dev] installs, resolved today from the
# unpinned ranges in pyproject.toml in a fresh virtual environment, after the test suite passed in it.
#
#   bash scripts/lock.sh            # resolve, test (pytest -q -m "not slow"), write requirements/lock.txt
#   LOCK_SKIP_TESTS=1 bash scripts/lock.sh
#
# Why a frozen environment rather than pip-compile or uv lock: PyPI's torch 2.13.0 declares the CUDA packages
# (nvidia-*) as dependencies on Linux, so a resolver working from the index metadata writes gigabytes of CUDA
# wheels into the lock; the CPU build this project installs (torch==2.13.0+cpu) declares none. Freezing the
# environment the tests ran in records exactly what was tested.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet "torch==2.13.0"
"$work/venv/bin/python" -m pip install --quiet -e ".[dev]"
if [ -z "${LOCK_SKIP_TESTS:-}" ]; then
  WANDB_MODE=offline "$work/venv/bin/python" -m pytest -q -m "not slow" -x
fi
{
  echo "# The exact versions textgan's tests passed with: pip install -r requirements/lock.txt, then"
  echo "# pip install --no-deps -e '.[dev]' (scripts/setup.sh does both). Refresh: bash scripts/lock.sh."
  echo "# torch is the CPU build (a local wheel on this project's machines; elsewhere add"
  echo "# --extra-index-url https://download.pytorch.org/whl/cpu, or set TORCH_SPEC for a GPU build)."
  "$work/venv/bin/python" -m pip freeze --exclude-editable
} > requirements/lock.txt
echo "wrote requirements/lock.txt ($(grep -c '==' requirements/lock.txt) pins)"
