#!/usr/bin/env bash
# The class-conditional study on the movie-review snippets (docs/experiments/conditional-movie-reviews.md): for
# each seed, conditional MLE, CatGAN started from that seed's MLE generator, and SentiGAN (its own per-class LSTMs,
# pretrained by conditional MLE in the same run); then the seed reports (class accuracy, per-class BLEU and
# Self-BLEU: mean ± std, n) and the curves. Each run has its folder, OUT_DIR/<method>/seed<S>; calling the script
# again resumes unfinished runs from their last checkpoint and skips finished ones, so the study continues across
# sessions.
#
# usage: scripts/conditional_movie_reviews.sh OUT_DIR [METHOD ...]
#   METHOD: mle catgan sentigan (default: all three, in that order; catgan needs the seed's mle run)
#   environment: SCALE (cpu: the *_movie_reviews_cpu presets, the default; paper: the paper-size presets),
#   SEEDS (default 0,1,2), THREADS (1), REPORT_ONLY=1 to only (re)write the reports, OVERRIDES: more Hydra
#   overrides for every run.
# On a 2-core machine run two calls side by side with THREADS=1, e.g. `mle catgan` and `sentigan`.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n 2,14p "$0" >&2
  exit 2
fi
out=$1
shift
methods=("$@")
[[ ${#methods[@]} -gt 0 ]] || methods=(mle catgan sentigan)
case ${SCALE:-cpu} in
  cpu) suffix=_cpu ;;
  paper) suffix= ;;
  *) echo "SCALE must be cpu or paper, got '${SCALE}'" >&2; exit 2 ;;
esac
preset_of() {
  case $1 in
    mle) echo "mle_conditional_movie_reviews$suffix" ;;
    catgan) echo "catgan_movie_reviews$suffix" ;;
    sentigan) echo "sentigan_movie_reviews$suffix" ;;
    *) echo "unknown method '$1' (known: mle catgan sentigan)" >&2; return 1 ;;
  esac
}
for method in "${methods[@]}"; do preset_of "$method" > /dev/null; done  # every name known before any run starts

if [[ ${REPORT_ONLY:-0} != 1 ]]; then
  IFS=, read -r -a seeds <<< "${SEEDS:-0,1,2}"
  for method in "${methods[@]}"; do
    for seed in "${seeds[@]}"; do
      run_dir="$out/$method/seed$seed"
      if [[ -f $run_dir/config.yaml ]]; then
        OMP_NUM_THREADS=${THREADS:-1} textgan-train resume="$run_dir"
        continue
      fi
      start=()
      if [[ $method == catgan ]]; then  # CatGAN starts from the seed's conditional MLE generator
        pretrained="$out/mle/seed$seed/pretrained_generator.pt"
        [[ -f $pretrained ]] || { echo "$pretrained: run 'mle' for seed $seed first" >&2; exit 2; }
        start=("generator.pretrained=$(realpath "$pretrained")")
      fi
      # shellcheck disable=SC2086  # OVERRIDES are words
      OMP_NUM_THREADS=${THREADS:-1} textgan-train experiment="$(preset_of "$method")" seed="$seed" \
        threads="${THREADS:-1}" logger=csv trainer.enable_progress_bar=false hydra.run.dir="$run_dir" \
        "${start[@]}" ${OVERRIDES:-}
    done
  done
fi

report() {  # report NAME STAGE METHOD...: the seed report and the class-accuracy curves of those methods' runs
  local name=$1 stage=$2 runs=() finished=()
  shift 2
  for method in "$@"; do
    for folder in "$out/$method"/seed*/; do
      [[ -d $folder ]] || continue
      runs+=("${folder%/}")
      [[ -f $folder/summary.json ]] && finished+=("${folder%/}")
    done
  done
  [[ ${#finished[@]} -gt 0 ]] || return 0
  textgan-evaluate --runs "${runs[@]}" --group-by experiment_name --stage "$stage" --out "$out/report/$name"
  textgan-plot-runs "${finished[@]}" --metric class_accuracy --group-by experiment_name \
    --stage "${stage#after_}" --out "$out/report/$name/class_accuracy"
}
report mle after_pretraining mle
report gan after_adversarial catgan sentigan
