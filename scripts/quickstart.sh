#!/usr/bin/env bash
# Set up .venv (scripts/setup.sh) and run the default experiment: RelGAN on the SeqGAN oracle, CPU-sized.
# Extra arguments are Hydra overrides, e.g. `bash scripts/quickstart.sh estimator=reinforce`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export WANDB_MODE="${WANDB_MODE:-offline}"
exec .venv/bin/textgan-train "$@"
