#!/usr/bin/env bash
# The GPU check, one script for whoever has a CUDA machine with torch and lightning preinstalled, within 10
# minutes of wall time (GPU_CHECK_SECONDS, default 540), writing everything to one folder ($OUT, else
# ./gpu_check_results):
#   1. environment: nvidia-smi, torch and CUDA versions                         -> env.txt
#   2. the gpu-marked tests: CUDA equals CPU within stated tolerances           -> gpu_tests.log
#      (generators, discriminators, every estimator's mean gradient, one MLE step; tests/gpu/)
#   3. the benchmark on CUDA, oracle and COCO sizes, fp32 and bf16              -> benchmark.json / .log
#   4. experiment=relgan_oracle in bf16-mixed with the time left (stopped by Ctrl-C at the deadline, which saves
#      and ends the run cleanly)                                                 -> relgan_oracle_{train.log,metrics.csv,summary.json}
# Dependencies: hydra-core, omegaconf and antlr4 from .whl/ when carried (scripts/gpu_carry.sh makes it and
# .gpu_data/ with the oracle), else from the registry.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_check_results}"
mkdir -p "$OUT"
BUDGET="${GPU_CHECK_SECONDS:-540}"
START=$SECONDS
PYTHON="${PYTHON:-python3}"
left() { echo $((BUDGET - (SECONDS - START))); }
export PYTHONUNBUFFERED=1 WANDB_MODE=offline HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1

if ls .whl/*.whl >/dev/null 2>&1; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/textgan-site .whl/*.whl
  export PYTHONPATH="/tmp/textgan-site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  "$PYTHON" -m pip install -q hydra-core omegaconf || echo "gpu_check: no hydra-core: step 4 will fail"
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
[ -d .gpu_data ] && export TEXTGAN_SHARED_DATA="$PWD/.gpu_data"

{ nvidia-smi; "$PYTHON" -c "import torch, lightning; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'lightning', lightning.__version__)"; } \
  > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
if ! "$PYTHON" -c "import torch; raise SystemExit(not torch.cuda.is_available())"; then
  echo "gpu_check: no CUDA device here"; exit 1
fi

echo "== 2. gpu tests ($(left) s left)"
timeout 180 "$PYTHON" -m pytest -q -m gpu tests/gpu -p no:cacheprovider 2>&1 | tee "$OUT/gpu_tests.log"
tests_status=${PIPESTATUS[0]}

echo "== 3. benchmark ($(left) s left)"
timeout 240 "$PYTHON" scripts/benchmark.py --section models --size oracle coco --precision fp32 bf16 --device cuda \
  --json "$OUT/benchmark.json" 2>&1 | tee "$OUT/benchmark.log"

RUN_SECONDS=$(( $(left) - 20 ))
echo "== 4. relgan_oracle, bf16-mixed, ${RUN_SECONDS} s"
if [ "$RUN_SECONDS" -gt 60 ]; then
  RUN_DIR=/tmp/gpu_check_relgan_oracle
  rm -rf "$RUN_DIR"
  timeout --signal=INT --kill-after=15 "$RUN_SECONDS" "$PYTHON" -m textgan.train experiment=relgan_oracle trainer=gpu \
    trainer.precision=bf16-mixed logger=csv trainer.enable_progress_bar=false "hydra.run.dir=$RUN_DIR" \
    > "$OUT/relgan_oracle_stdout.log" 2>&1
  echo "relgan_oracle exit status $?"
  cp "$RUN_DIR/train.log" "$OUT/relgan_oracle_train.log" 2>/dev/null
  cp "$RUN_DIR"/csv/version_0/metrics.csv "$OUT/relgan_oracle_metrics.csv" 2>/dev/null
  cp "$RUN_DIR/summary.json" "$OUT/relgan_oracle_summary.json" 2>/dev/null
  tail -5 "$OUT/relgan_oracle_train.log" 2>/dev/null
fi
echo "gpu_check: results in $OUT ($((SECONDS - START)) s)"
exit "$tests_status"
