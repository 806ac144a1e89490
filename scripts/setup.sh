#!/usr/bin/env bash
# Create .venv and install textgan with its dev extra. torch is pinned to 2.13.0: on the project's CPU
# machines that is a local CPU wheel; any other torch spec may pull gigabytes of CUDA packages.
# On a GPU machine set TORCH_SPEC (e.g. TORCH_SPEC="torch" for the CUDA build of the registry).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install --quiet -e ".[dev]"
echo "textgan installed in $(pwd)/.venv"
