#!/usr/bin/env bash
# Which of TextGAN-PyTorch's departures from RelGAN slows its RelGAN and stops the turn?
# (docs/experiments/relgan-peer-implementation.md). Each VARIANT is ours with some of the peer's departures switched
# on: in the generator cell (generator=rmc_textgan_pytorch: `peer` all six, or one alone on RelGAN's cell), in the
# discriminator (discriminator=relgan_textgan_pytorch: `peer_discriminator` both, or `tied_highway` /
# `uniform_init` alone, with RelGAN's cell), `peer_both` (the peer's cell and discriminator), or `relgan` (ours,
# the control). Each trains from 5 MLE epochs (the peer's starting level) through 1,000 RelGAN iterations at
# relgan_oracle_cpu's size, NLL_oracle every 50 on 5,000 samples, as the page's control does.
# Each run has its folder, OUT_DIR/<variant>/seed<S>; calling the script again resumes unfinished runs from their
# last checkpoint and skips finished ones. Then the curves of every run so far: OUT_DIR/report/nll_oracle.*
# (one mean ± std curve per variant) and the seed report, OUT_DIR/report/report.md.
#
# usage: scripts/relgan_peer_ablation.sh OUT_DIR [VARIANT ...]
#   VARIANT: relgan peer attention_scale shared_mlp slot_layer_norms projection_biases trainable_gate_biases
#   peer_init peer_discriminator tied_highway uniform_init peer_both (default: all, in that order)
#   environment: SEEDS (default 123), THREADS (1), STEPS (1000), REPORT_ONLY=1 to only (re)write the report,
#   OVERRIDES: more Hydra overrides for every run (e.g. the debug preset in tests).
# On a 2-core machine run two calls side by side with THREADS=1, each with its own variants.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  sed -n 2,19p "$0" >&2
  exit 2
fi
out=$1
shift
variants=("$@")
switches=(attention_scale shared_mlp slot_layer_norms projection_biases trainable_gate_biases peer_init)
discriminator_switches=(tied_highway uniform_init)
[[ ${#variants[@]} -gt 0 ]] || variants=(relgan peer "${switches[@]}" peer_discriminator "${discriminator_switches[@]}" peer_both)
relgan_cell=(generator=rmc_textgan_pytorch generator.attention_scale=qkv generator.shared_mlp=false
  generator.slot_layer_norms=false generator.projection_biases=false generator.trainable_gate_biases=false
  generator.peer_init=false)
peer_discriminator=(discriminator=relgan_textgan_pytorch discriminator.num_rep=8)  # relgan_cpu's size
overrides_of() {  # the model overrides of one variant
  case $1 in
    relgan) echo "generator=rmc" ;;
    peer) echo "generator=rmc_textgan_pytorch" ;;
    attention_scale) echo "${relgan_cell[*]} generator.attention_scale=key" ;;
    shared_mlp | slot_layer_norms | projection_biases | trainable_gate_biases | peer_init)
      echo "${relgan_cell[*]} generator.$1=true" ;;
    peer_discriminator) echo "generator=rmc ${peer_discriminator[*]}" ;;
    tied_highway) echo "generator=rmc ${peer_discriminator[*]} discriminator.uniform_init=false" ;;
    uniform_init) echo "generator=rmc ${peer_discriminator[*]} discriminator.tied_highway=false" ;;
    peer_both) echo "generator=rmc_textgan_pytorch ${peer_discriminator[*]}" ;;
    *) echo "unknown variant '$1' (known: relgan peer ${switches[*]} peer_discriminator" \
      "${discriminator_switches[*]} peer_both)" >&2; return 1 ;;
  esac
}
for variant in "${variants[@]}"; do overrides_of "$variant" > /dev/null; done  # every name known first

if [[ ${REPORT_ONLY:-0} != 1 ]]; then
  IFS=, read -r -a seeds <<< "${SEEDS:-123}"
  for variant in "${variants[@]}"; do
    for seed in "${seeds[@]}"; do
      run_dir="$out/$variant/seed$seed"
      if [[ -f $run_dir/config.yaml ]]; then
        OMP_NUM_THREADS=${THREADS:-1} textgan-train resume="$run_dir"
        continue
      fi
      # shellcheck disable=SC2046,SC2086  # the overrides are words
      OMP_NUM_THREADS=${THREADS:-1} textgan-train $(overrides_of "$variant") experiment_name="$variant" \
        pretrain.epochs=5 pretrain.eval_every=1 adversarial.steps="${STEPS:-1000}" adversarial.eval_every=50 \
        evaluation.num_samples=5000 estimator.schedule.horizon=5000 '+data.bleu_orders=[2,3,4,5]' \
        seed="$seed" threads="${THREADS:-1}" logger=csv trainer.enable_progress_bar=false \
        hydra.run.dir="$run_dir" ${OVERRIDES:-}
    done
  done
fi

runs=() finished=()
for folder in "$out"/*/seed*/; do
  [[ -d $folder && ${folder%/} != "$out/report"* ]] || continue
  runs+=("${folder%/}")
  [[ -f $folder/summary.json ]] && finished+=("${folder%/}")
done
[[ ${#finished[@]} -gt 0 ]] || exit 0
textgan-evaluate --runs "${runs[@]}" --group-by experiment_name --out "$out/report"
textgan-plot-runs "${runs[@]}" --metric nll_oracle --group-by experiment_name --out "$out/report/nll_oracle"
