#!/usr/bin/env bash
# Create .venv and install textgan with its dev extra at the exact versions of requirements/lock.txt (the ones
# the tests passed with; refresh with scripts/lock.sh). torch is the CPU build 2.13.0: on the project's CPU
# machines a local wheel; any other torch spec may pull gigabytes of CUDA packages.
# On a GPU machine set TORCH_SPEC (e.g. TORCH_SPEC="torch==2.13.0" for the registry's CUDA build): it replaces
# the lock's torch. TEXTGAN_UNLOCKED=1 installs from pyproject.toml's ranges instead of the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "${TEXTGAN_UNLOCKED:-}" ]; then
  .venv/bin/python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
  .venv/bin/python -m pip install --quiet -e ".[dev]"
elif [ -n "${TORCH_SPEC:-}" ]; then
  .venv/bin/python -m pip install --quiet "$TORCH_SPEC"
  grep -v '^torch==' requirements/lock.txt > .venv/lock-without-torch.txt
  .venv/bin/python -m pip install --quiet -r .venv/lock-without-torch.txt
  .venv/bin/python -m pip install --quiet --no-deps -e ".[dev]"
else
  .venv/bin/python -m pip install --quiet -r requirements/lock.txt
  .venv/bin/python -m pip install --quiet --no-deps -e ".[dev]"
fi
echo "textgan installed in $(pwd)/.venv"
