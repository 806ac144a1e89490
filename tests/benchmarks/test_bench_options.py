"""The benchmark commands refuse options they would silently ignore or cannot use, naming the allowed values,
and a measurement that fails in its subprocess is reported instead of waited for forever."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.benchmarks import models, reinforce

CONF = Path(__file__).resolve().parents[2] / "conf"
COMMANDS = {"benchmark": "suite", "bench_reinforce": "reinforce", "bench_metrics": "bleu"}  # script -> module


def refused(script: str, argv: list[str], capsys) -> str:
    """stderr of ``scripts/<script>.py``'s ``main(argv)``, which must exit with status 2 (argparse's usage error)."""
    module = importlib.import_module(f"textgan.benchmarks.{COMMANDS[script]}")
    with pytest.raises(SystemExit) as exit_status:
        module.main(argv)
    assert exit_status.value.code == 2
    return capsys.readouterr().err


def test_benchmark_refuses_an_unknown_section_naming_the_sections(capsys):
    err = refused("benchmark", ["--section", "nonsense"], capsys)
    assert "argument --section: invalid choice: 'nonsense'" in err and "'models', 'bleu', 'reinforce'" in err


@pytest.mark.parametrize("script", ["benchmark", "bench_reinforce"])
@pytest.mark.parametrize("device", ["bogus", "cuda:99", "meta"])
def test_an_unusable_device_is_refused(capsys, script, device):
    err = refused(script, ["--device", device], capsys)
    assert f"--device: {device!r}" in err and "expected cpu or cuda" in err


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--threads", "0"], "--threads: expected an integer >= 1, got '0'"),
        (["--rollouts", "0"], "--rollouts: expected an integer >= 1, got '0'"),
        (["--repeats", "-1"], "--repeats: expected an integer >= 1, got '-1'"),
    ],
)
def test_bench_reinforce_refuses_counts_below_one(capsys, argv, problem):
    assert problem in refused("bench_reinforce", argv, capsys)


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (["--nltk-subset", "0"], "--nltk-subset: expected an integer >= 1, got '0'"),
        (["--tokenize", "treebank"], "--tokenize applies to --samples only"),
    ],
)
def test_bench_metrics_refuses_options_it_would_ignore(capsys, argv, problem):
    assert problem in refused("bench_metrics", argv, capsys)


def test_a_measurement_that_fails_in_its_subprocess_is_reported_not_waited_for():
    code = "from textgan.benchmarks.models import run_isolated; run_isolated('mle_step_s', 'oracle', 'bogus', 'fp32')"
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.fail("run_isolated waited forever for a subprocess that had died")
    assert result.returncode != 0
    assert "mle_step_s (oracle, bogus, fp32) failed in its subprocess (exit code 1)" in result.stderr


def test_benchmark_skips_cpu_bf16_rows_without_bf16_kernels_and_says_why(monkeypatch, capsys):
    measured = []
    monkeypatch.setattr(models, "run_isolated", lambda *args, **kwargs: measured.append(args))
    monkeypatch.setattr(models, "slow_bf16_warning", lambda precision, on_cpu: "no bf16 kernels here")
    assert models.benchmark_models(["oracle"], ["cpu"], ["bf16"], flops={}) == []
    assert measured == []  # nothing was timed
    err = capsys.readouterr().err
    assert "cpu bf16: skipped (--precision bf16-emulated measures what textgan-train runs here)" in err
    assert "no bf16 kernels here" in err


def test_benchmark_times_emulated_bf16_under_the_emulation_against_the_float32_gemm_peak(monkeypatch):
    seen = []

    def measurement(size, device, precision):
        seen.append((precision, isinstance(models.torch.utils._python_dispatch._get_current_dispatch_mode(),
                                           models.EmulatedBF16Products)))  # fmt: skip
        return 1.0

    monkeypatch.setitem(models.MEASUREMENTS, "mle_step_s", measurement)
    monkeypatch.setattr(models, "gemm_flops_per_second", lambda device, precision: seen.append(precision) or 1e9)

    class Queue(list):
        put = list.append

    for precision in ("bf16-emulated", "fp32"):
        queue = Queue()
        models._child("gemm", "oracle", "cpu", precision, True, queue)
        models._child("mle_step_s", "oracle", "cpu", precision, True, queue)
        assert queue[0] == {"flops_per_second": 1e9} and queue[1]["seconds"] == 1.0
    assert seen == ["fp32", ("bf16-emulated", True), "fp32", ("fp32", False)]


def test_bench_reinforce_builds_its_rewards_as_the_configs_do():
    """The generator-step rows time what ``textgan-train`` runs: the SeqGAN presets' options, and the default
    (``conf/estimator/reinforce.yaml``'s reward with the SeqGAN experiments' GAN loss)."""
    from omegaconf import OmegaConf

    from textgan.estimators.reinforce import ReinforceEstimator

    settings = ("reward_transform", "discriminator_dropout", "reduction", "deduplicate", "max_batch", "sample_batch",
                "normalize_rewards", "entropy_weight", "autocast_dtype")  # fmt: skip

    def built(options: dict) -> dict:  # reward and rollout_num are each row's own
        estimator = ReinforceEstimator(**{k: v for k, v in options.items() if k not in ("reward", "rollout_num")})
        rollout_policy = getattr(estimator.delayed, "update_rate", None)
        return {"rollout_update_rate": rollout_policy, **{name: getattr(estimator, name) for name in settings}}

    options, gan_loss = reinforce.REWARDS["SeqGAN preset"]
    assert gan_loss is None
    for experiment in ("seqgan_oracle", "seqgan_coco"):
        preset = OmegaConf.to_container(OmegaConf.load(CONF / "experiment_estimator" / f"{experiment}_reinforce.yaml"))
        assert built(options) == built(preset)
        loss = OmegaConf.load(CONF / "experiment" / f"{experiment}.yaml").defaults
        assert {"override /loss": "standard"} in loss

    options, gan_loss = reinforce.REWARDS["default"]
    default = OmegaConf.to_container(OmegaConf.load(CONF / "estimator" / "reinforce.yaml"))
    assert built(options) == built({k: v for k, v in default.items() if k not in ("defaults", "_target_")})
    target = OmegaConf.load(CONF / "loss" / "standard.yaml")["_target_"]
    assert f"{type(gan_loss).__module__}.{type(gan_loss).__qualname__}" == target
