"""scripts/conditional_movie_reviews.sh: bad method names and scales are refused before any run starts, CatGAN
waits for its seed's MLE generator, and the report step reads the finished runs there (MLE after pretraining)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from shell_scripts import run_bash_script

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return run_bash_script("conditional_movie_reviews.sh", *args, timeout=120, **env)


def test_an_unknown_method_or_scale_is_refused_before_any_run(tmp_path):
    done = run_script(str(tmp_path / "study"), "mle", "seqgan")
    assert done.returncode != 0 and "unknown method 'seqgan' (known: mle catgan sentigan)" in done.stderr
    done = run_script(str(tmp_path / "study"), SCALE="gpu")
    assert done.returncode == 2 and "SCALE must be cpu or paper, got 'gpu'" in done.stderr
    assert not (tmp_path / "study").exists()


def test_catgan_needs_its_seeds_mle_generator(tmp_path):
    done = run_script(str(tmp_path / "study"), "catgan", SEEDS="1")
    missing = tmp_path / "study" / "mle" / "seed1" / "pretrained_generator.pt"
    assert done.returncode == 2 and f"{missing}: run 'mle' for seed 1 first" in done.stderr


def test_the_report_reads_mle_runs_after_pretraining(tmp_path):
    for seed, accuracy in ((0, 0.80), (1, 0.90)):
        folder = tmp_path / "study" / "mle" / f"seed{seed}"
        folder.mkdir(parents=True)
        history = [{"step": 0, "class_accuracy": 0.5}, {"step": 40, "class_accuracy": accuracy}]
        config = {"seed": seed, "experiment_name": "mle_conditional_movie_reviews_cpu"}
        summary = {"config": config, "finished": True, "pretrain_history": history, "adversarial_history": [],
                   "after_pretraining": history[-1]}  # fmt: skip
        (folder / "summary.json").write_text(json.dumps(summary))
    done = run_script(str(tmp_path / "study"), REPORT_ONLY="1")
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "study" / "report" / "mle" / "report.md").read_text()
    assert "| mle_conditional_movie_reviews_cpu | 2 | 0, 1 | 0.850 ± 0.071 |" in report
    curves = json.loads((tmp_path / "study" / "report" / "mle" / "class_accuracy.json").read_text())
    assert curves["mle_conditional_movie_reviews_cpu"]["mean"] == [[0, 0.5], [40, pytest.approx(0.85)]]
    assert not (tmp_path / "study" / "report" / "gan").exists()  # no GAN run yet: no GAN report
