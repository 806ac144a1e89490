#!/usr/bin/env bash
# The estimator and scheme comparisons (docs/experiments/estimator-comparison.md, docs/experiments/zoo-oracle.md):
# each named estimator or scheme x SEEDS adversarial runs from one pretrained generator, OUT_DIR/NAME/seedS (calling
# the script again resumes unfinished runs and skips finished ones, so a comparison continues across sessions),
# then the seed report (mean ± std of NLL_oracle, NLL_gen and seconds per iteration) and the NLL_oracle
# curves of all runs.
#
# usage: scripts/estimator_comparison.sh PRETRAINED_GENERATOR OUT_DIR [NAME ...]
#   NAME: gumbel_softmax gumbel_rao gst reinmax rebar relax reinforce_loo reinforce_maligan (default: these), or
#   the model zoo's schemes on the same generator: relgan seqgan maligan dgsan jsdgan cot dpgan rankgan textgan_mmd
#   (a scheme with a discriminator-like module of its own runs with that discriminator= choice); leakgan trains its
#   own generator on its own preset (experiment=leakgan_oracle): give it that preset's pretrained_generator.pt
#   environment: SEEDS (default 0,1,2), STEPS (200), EVAL_EVERY (20), NUM_SAMPLES (5000), THREADS (1),
#   REPORT_ONLY=1 to only (re)write the report and the figure from the runs already in OUT_DIR,
#   OVERRIDES: more Hydra overrides for every run (e.g. generator.layer_norm_eps=1e-5 for a generator file
#   saved before that option existed, so that new seeds continue an older comparison exactly).
# Run two halves of the names side by side on a 2-core machine, each with THREADS=1 (OMP_NUM_THREADS=1).
# Each estimator runs at its config's defaults; the fair comparison (one temperature schedule for every relaxed
# estimator, a pilot for REBAR / RELAX / REINFORCE, MLE baselines, intervals, frontiers) is `textgan-compare`.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  sed -n 2,13p "$0" >&2
  exit 2
fi
[[ -f $1 ]] || { echo "$1: no such pretrained generator file" >&2; exit 2; }
pretrained=$(realpath "$1")
out=$2
shift 2
names=("$@")
[[ ${#names[@]} -gt 0 ]] || names=(gumbel_softmax gumbel_rao gst reinmax rebar relax reinforce_loo reinforce_maligan)

overrides_of() {
  case $1 in
    gumbel_softmax | gumbel_rao | gst | reinmax | rebar | relax) echo "estimator=$1" ;;
    maligan | dgsan | jsdgan | textgan_mmd) echo "estimator=$1" ;;
    cot) echo "estimator=cot discriminator=mediator" ;;
    dpgan) echo "estimator=dpgan discriminator=language_model" ;;
    rankgan) echo "estimator=rankgan discriminator=ranker" ;;
    leakgan) echo "experiment=leakgan_oracle" ;;  # its generator, estimator and schedule: a LeakGAN PRETRAINED
    relgan) echo "estimator=gumbel_softmax" ;;
    seqgan)  # SeqGAN's rollout reward (K = 16, sigmoid(D), D without dropout) on the same models
      echo "estimator=reinforce estimator.reward=rollout estimator.rollout_num=16 estimator.reward_transform=prob" \
        "estimator.discriminator_dropout=false" ;;
    reinforce_loo) echo "estimator=reinforce estimator.reward=sequence estimator/baseline=leave_one_out" ;;
    reinforce_maligan)
      echo "estimator=reinforce estimator.reward=sequence estimator.reward_transform=maligan" \
        "estimator/baseline=leave_one_out" ;;
    *)
      echo "unknown estimator name '$1' (known: gumbel_softmax gumbel_rao gst reinmax rebar relax" \
        "reinforce_loo reinforce_maligan relgan seqgan maligan dgsan jsdgan cot dpgan rankgan leakgan textgan_mmd)" >&2
      return 1 ;;
  esac
}

for name in "${names[@]}"; do overrides_of "$name" > /dev/null; done  # every name known before any run starts

if [[ ${REPORT_ONLY:-0} != 1 ]]; then
  IFS=, read -r -a seeds <<< "${SEEDS:-0,1,2}"
  for name in "${names[@]}"; do
    for seed in "${seeds[@]}"; do
      run_dir="$out/$name/seed$seed"  # one folder per run: a second call resumes it, or skips it when finished
      if [[ -f $run_dir/config.yaml ]]; then
        OMP_NUM_THREADS=${THREADS:-1} textgan-train resume="$run_dir"
        continue
      fi
      # shellcheck disable=SC2046,SC2086  # the overrides are words
      OMP_NUM_THREADS=${THREADS:-1} textgan-train $(overrides_of "$name") \
        generator.pretrained="$pretrained" seed="$seed" adversarial.steps="${STEPS:-200}" \
        adversarial.eval_every="${EVAL_EVERY:-20}" evaluation.num_samples="${NUM_SAMPLES:-5000}" \
        threads="${THREADS:-1}" logger=csv hydra.run.dir="$run_dir" ${OVERRIDES:-}
    done
  done
fi

runs=()
for folder in "$out"/*/; do [[ $(basename "$folder") == report ]] || runs+=("${folder%/}"); done
textgan-evaluate --runs "${runs[@]}" --group-by estimator,estimator.reward_transform --out "$out/report"
textgan-plot-runs "${runs[@]}" --metric nll_oracle --group-by estimator,estimator.reward_transform --out "$out/report/nll_oracle"
