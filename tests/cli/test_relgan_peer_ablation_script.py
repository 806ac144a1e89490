"""scripts/relgan_peer_ablation.sh: unknown variants are refused before any run; each variant is RelGAN's cell or
discriminator with one of the peer's departures switched on, trains, and lands in the report under its own name."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from shell_scripts import run_bash_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
TINY = "debug=default evaluation.num_samples=32 adversarial.eval_every=1 pretrain.epochs=1"


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_bash_script("relgan_peer_ablation.sh", *args, timeout=600, **env)


def test_an_unknown_variant_is_refused_before_any_run(tmp_path):
    done = run_script(str(tmp_path / "ablation"), "relgan", "gate_bias")
    assert done.returncode != 0 and "unknown variant 'gate_bias' (known: relgan peer attention_scale" in done.stderr
    assert not (tmp_path / "ablation").exists()


def test_each_variant_switches_one_departure_on_and_is_reported_by_name(tmp_path):
    out = tmp_path / "ablation"
    done = run_script(str(out), "relgan", "shared_mlp", "tied_highway", STEPS="2", THREADS="1", OVERRIDES=TINY)
    assert done.returncode == 0, done.stderr[-3000:]
    control = yaml.safe_load((out / "relgan" / "seed123" / "config.yaml").read_text())
    assert control["generator"]["_target_"] == "textgan.models.rmc.RMCGenerator"
    config = yaml.safe_load((out / "shared_mlp" / "seed123" / "config.yaml").read_text())["generator"]
    assert config["_target_"] == "textgan.models.rmc_textgan_pytorch.TextGANPyTorchRMCGenerator"
    assert config["shared_mlp"] is True and config["attention_scale"] == "qkv"
    assert not any(config[name] for name in ("slot_layer_norms", "projection_biases", "trainable_gate_biases",
                                             "peer_init"))  # fmt: skip
    tied = yaml.safe_load((out / "tied_highway" / "seed123" / "config.yaml").read_text())
    assert tied["generator"]["_target_"] == "textgan.models.rmc.RMCGenerator"
    discriminator = tied["discriminator"]
    assert discriminator["_target_"].endswith("TextGANPyTorchRelGANDiscriminator")
    assert discriminator["tied_highway"] is True and discriminator["uniform_init"] is False
    assert discriminator["num_rep"] == 8  # relgan_cpu's size, as the control's
    for variant in ("relgan", "shared_mlp", "tied_highway"):
        summary = json.loads((out / variant / "seed123" / "summary.json").read_text())
        assert summary["finished"] and summary["after_adversarial"]["step"] == 2
    report = (out / "report" / "report.md").read_text()
    assert "| relgan | 1 |" in report and "| shared_mlp | 1 |" in report and "| tied_highway | 1 |" in report
    curves = json.loads((out / "report" / "nll_oracle.json").read_text())
    assert set(curves) == {"relgan", "shared_mlp", "tied_highway"}
