#!/usr/bin/env bash
# Prepares what scripts/gpu_check.sh carries to a GPU machine that has torch and lightning but no registry:
#   .whl/       wheels of hydra-core, omegaconf and antlr4-python3-runtime (pure Python; antlr4 4.9.3 is
#               published as a source archive only, so it is built into a wheel here)
#   .gpu_data/  the SeqGAN oracle's parameters (from ../shared/data), for the full-size oracle run
# Both folders are git-ignored. Run it here (with the registry), then on the GPU machine:
#   bash scripts/gpu_check.sh            (the device tool: carry .whl and .gpu_data)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
SHARED_DATA="${TEXTGAN_SHARED_DATA:-../shared/data}"
rm -rf .whl .gpu_data
mkdir -p .whl .gpu_data/oracle
versions=$(grep -E '^(hydra-core|omegaconf|antlr4-python3-runtime)==' requirements/lock.txt)
# shellcheck disable=SC2086
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir .whl $versions
cp "$SHARED_DATA/oracle/seqgan_oracle_lstm.npz" .gpu_data/oracle/
ls -l .whl .gpu_data/oracle
