"""Every script in ``scripts/`` and every console command runs at its smallest size, so that a changed default
fails a test rather than the next benchmark (REINFORCE's default reward became minus the GAN loss, and
``bench_reinforce.py`` and ``benchmark.py --section reinforce`` stopped with ``reward_transform='gan_loss' needs
the configured GAN loss`` while nothing ran them).

Scripts run as subprocesses, as a person runs them. :data:`COVERAGE` names the test that runs each script and
command; a new one without an entry fails :func:`test_every_script_and_command_has_a_smoke_test`. Shell scripts
that install packages, download or need a GPU are parsed (``bash -n``), not run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from textgan.cli.estimator_lab import available_estimators
from textgan.cli.estimator_lab import main as estimator_lab

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"

# script or command -> the test (in tests/) that runs it at its smallest size
COVERAGE = {
    "benchmark.py": "test_benchmark_runs_its_model_and_scheme_rows_at_the_debug_size",  # MFU columns included
    "bench_reinforce.py": "test_bench_reinforce_times_both_rewards_at_the_debug_size",
    "bench_metrics.py": "test_bench_metrics_times_bleu_on_one_nltk_hypothesis",
    "bench_processes.py": "test_bench_processes_runs_each_kind_of_row_on_the_debug_preset",
    "bench_large_corpus.py": "test_a_synthetic_corpus_is_tokenized_and_loaded_by_the_large_corpus_bench",
    "make_synthetic_corpus.py": "test_a_synthetic_corpus_is_tokenized_and_loaded_by_the_large_corpus_bench",
    "fault_drill.py": "test_eight_kills_at_random_moments_leave_the_result_exactly_as_an_uninterrupted_run",
    "estimator_comparison.sh": "test_the_estimator_comparison_trains_reports_and_plots_at_the_debug_size",
    "conditional_movie_reviews.sh": "test_the_report_reads_mle_runs_after_pretraining",
    "peer_relgan.py": "test_the_peer_driver_evaluates_on_our_oracle_and_resumes_where_it_stopped",  # a stand-in peer
    "relgan_peer_ablation.sh": "test_each_variant_switches_one_departure_on_and_is_reported_by_name",
    "quickstart.sh": "test_quickstart_sets_up_then_starts_training_with_the_overrides_given",
    "setup.sh": "test_every_shell_script_parses",  # installs packages
    "lock.sh": "test_every_shell_script_parses",  # installs packages
    "gpu_check.sh": "test_every_shell_script_parses",  # needs a CUDA device
    "gpu_carry.sh": "test_every_shell_script_parses",  # downloads wheels
    # main(argv) at tiny sizes (the entry points themselves: test_every_console_command_starts_from_its_entry_point)
    "textgan-train": "test_the_log_file_holds_the_log_and_the_bar_names_the_stage_and_its_total",
    "textgan-tokenize": "test_builds_a_folder_and_reports_errors",
    "textgan-evaluate": "test_checkpoint_on_text_writes_exact_metrics",
    "textgan-generate": "test_jsonl_rows_carry_ids_of_the_text_and_their_log_probs",
    "textgan-quality-diversity": "test_text_sweep_writes_points_and_plot",
    "textgan-plot-runs": "test_a_multirun_folder_gives_one_curve_per_run_with_its_values",
    "textgan-compare": "test_a_tiny_comparison_runs_resumes_and_reports_its_table_curves_and_frontier",
    # the real experiment: test_the_estimator_comparison_trains_reports_and_plots_at_the_debug_size
    "textgan-estimator-lab": "test_exact_lab_writes_a_row_per_setting_with_its_statistics",
    "textgan-build-kernels": "test_textgan_build_kernels_prints_the_compilers_message_and_exits_1",
}


def console_commands() -> dict[str, str]:
    """The installed console scripts (pyproject.toml's ``[project.scripts]``): command -> ``module:function``."""
    entry_points = importlib.metadata.distribution("textgan").entry_points
    return {entry.name: entry.value for entry in entry_points if entry.group == "console_scripts"}


def run(*command: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """Run ``command`` (``python`` = this interpreter) from the repository root on one thread; it must succeed."""
    if command[0] == "python":
        command = (sys.executable, *command[1:])
    environment = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "WANDB_MODE": "offline"}
    result = subprocess.run(
        command, cwd=ROOT, env={**environment, **env}, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_every_script_and_command_has_a_smoke_test():
    expected = {p.name for p in SCRIPTS.iterdir() if p.suffix in (".py", ".sh")} | set(console_commands())
    assert set(COVERAGE) == expected
    defined = {line.split("(")[0].removeprefix("def ") for path in (ROOT / "tests").rglob("test_*.py")
               for line in path.read_text().splitlines() if line.startswith("def test_")}  # fmt: skip
    assert set(COVERAGE.values()) <= defined


@pytest.mark.parametrize("command", sorted(console_commands()))
def test_every_console_command_starts_from_its_entry_point(command, monkeypatch, capsys):
    """What the installed ``textgan-*`` executable does: import the entry point and call it (``--help``)."""
    module, function = console_commands()[command].split(":")
    monkeypatch.setattr(sys, "argv", [command, "--help"])
    with pytest.raises(SystemExit) as exit_status:
        getattr(importlib.import_module(module), function)()
    assert exit_status.value.code in (0, None)
    out = capsys.readouterr().out
    assert f"usage: {command} " in out or (command == "textgan-train" and "== Configuration groups ==" in out)


def reinforce_steps(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """The REINFORCE generator-step rows by (measurement, reward_transform)."""
    return {(r["measurement"], r["reward_transform"]): r for r in rows if r["measurement"].startswith("REINFORCE")}


def assert_both_rewards_timed(rows: list[dict]) -> None:
    steps = reinforce_steps(rows)
    assert set(steps) == {
        (f"REINFORCE generator step (reward={reward}, {preset})", transform)
        for reward in ("rollout", "sequence")
        for preset, transform in (("SeqGAN preset", "prob"), ("default", "gan_loss (loss=standard)"))
    }
    for (measurement, _), row in steps.items():
        assert positive(row["seconds"]), row
        assert row["disc_calls"] == 1 if "sequence" in measurement else row["disc_calls"] > 1


@pytest.mark.slow
def test_bench_reinforce_times_both_rewards_at_the_debug_size(tmp_path):
    rows_file = tmp_path / "rows.json"
    result = run("python", "scripts/bench_reinforce.py", "--size", "debug", "--rollouts", "2", "--repeats", "1",
                 "--device", "cpu", "--threads", "1", "--json", str(rows_file))  # fmt: skip
    rows = json.loads(rows_file.read_text())
    assert_both_rewards_timed(rows)
    vectorised = [r for r in rows if r["measurement"].startswith("vectorised")]
    assert ["deduplicate=True" in r["measurement"] for r in vectorised] == [True, False]  # SeqGAN's preset, then off
    (plain,) = [r for r in rows if r["measurement"].startswith("plain loop")]
    assert all(positive(r["seconds"]) and positive(r["speedup_vs_plain"]) for r in [*vectorised, plain])
    assert "| REINFORCE generator step (reward=rollout, default) | gan_loss (loss=standard) |" in result.stdout


@pytest.mark.slow
def test_benchmark_runs_its_model_and_scheme_rows_at_the_debug_size(tmp_path):
    """The reinforce section is textgan.benchmarks.reinforce's, run at the debug size by the bench_reinforce test."""
    from textgan.benchmarks.schemes import SCHEMES

    results_file = tmp_path / "results.json"
    result = run("python", "scripts/benchmark.py", "--section", "models", "schemes", "--size", "debug",
                 "--precision", "fp32", "--device", "cpu", "--json", str(results_file))  # fmt: skip
    results = json.loads(results_file.read_text())
    (models,) = results["models"]
    assert (models["device"], models["size"], models["precision"]) == ("cpu", "debug", "fp32")
    for name in ("mle_step", "adversarial_iteration", "sample_10k"):
        assert positive(models[f"{name}_s"]) and positive(models[f"{name}_mfu"]), models
    assert "reinforce" not in results  # only the sections asked for
    assert [row["scheme"] for row in results["schemes"]] == list(SCHEMES)  # every scheme of the zoo, timed
    assert all(positive(row["adversarial_iteration_s"]) for row in results["schemes"])
    assert "### models" in result.stdout and "### schemes" in result.stdout


@pytest.mark.slow
@pytest.mark.shared_data
def test_bench_metrics_times_bleu_on_one_nltk_hypothesis(tmp_path, shared_data):
    pytest.importorskip("nltk")
    results_file = tmp_path / "results.json"
    run("python", "scripts/bench_metrics.py", "--shared-data", str(shared_data), "--nltk-subset", "1", "--samples",
        "--tokenize", "whitespace", "treebank", "--json", str(results_file))  # fmt: skip
    results = json.loads(results_file.read_text())
    assert [r["metric"] for r in results["bleu"]][:5] == [
        *(f"BLEU-{n}" for n in range(2, 6)),
        "BLEU-2..5 (shared pass)",
    ]
    assert all(positive(r["ours_s"]) and r["nltk_measured_on"] == "1 hypotheses" for r in results["bleu"])
    assert all(float(r["max_abs_diff"]) < 1e-6 for r in results["bleu"])  # the same scores as nltk
    assert {(r["tokens"], r["protocol"]) for r in results["samples"]} == {
        (tokens, protocol) for tokens in ("whitespace", "treebank") for protocol in ("full", "texygen-fast-500")
    }
    assert all(0 < r["bleu2"] <= 1 for r in results["samples"])


@pytest.mark.slow
def test_a_synthetic_corpus_is_tokenized_and_loaded_by_the_large_corpus_bench(tmp_path):
    for split, lines, seed in (("train", 300, 0), ("test", 60, 1)):
        result = run("python", "scripts/make_synthetic_corpus.py", "--lines", str(lines), "--vocab-size", "200",
                     "--seed", str(seed), "--out", str(tmp_path / f"{split}.txt"))  # fmt: skip
        assert f"{lines:,} lines" in result.stdout
    assert len((tmp_path / "train.txt").read_text().splitlines()) == 300
    result = run("python", "scripts/bench_large_corpus.py", "--train", str(tmp_path / "train.txt"), "--test",
                 str(tmp_path / "test.txt"), "--out", str(tmp_path / "dataset"), "--num-proc", "1")  # fmt: skip
    report = json.loads(result.stdout[result.stdout.index("{\n") :])  # the last, indented report
    assert positive(report["tokenize"]["seconds"]) and (tmp_path / "dataset").is_dir()
    for attempt in ("load_first", "load_cached"):
        assert report[attempt]["rows"] == 300 and positive(report[attempt]["setup_s"]), report[attempt]


@pytest.mark.slow
def test_bench_processes_runs_each_kind_of_row_on_the_debug_preset(tmp_path):
    results_file = tmp_path / "results.json"
    run("python", "scripts/bench_processes.py", "--debug", "--workdir", str(tmp_path / "runs"),
        "--json", str(results_file))  # fmt: skip
    results = json.loads(results_file.read_text())
    assert [r["setting"] for r in results["ddp"]] == ["1 process, all cores", "DDP, 2 processes"]
    assert all(
        positive(r["mle_sentences_per_s"]) and positive(r["adversarial_iterations_per_s"]) for r in results["ddp"]
    )
    at_once, joblib = (r["setting"] for r in results["side_by_side"])  # the debug run skips the rows that start
    assert at_once.startswith("2 at once, threads=") and "default" not in at_once  # the same command with other
    assert joblib == "2 by hydra/launcher=joblib, threads=auto"  # thread counts
    assert all(positive(r["wall_s_all_runs"]) and positive(r["mle_epoch_s_mean"]) for r in results["side_by_side"])


@pytest.mark.slow
def test_the_estimator_comparison_trains_reports_and_plots_at_the_debug_size(tmp_path):
    pretrain = tmp_path / "pretrain"
    run("python", "-m", "textgan.train", "debug=default", "adversarial.steps=0", f"hydra.run.dir={pretrain}")
    out = tmp_path / "comparison"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"  # the textgan-* commands beside python
    run("bash", "scripts/estimator_comparison.sh", str(pretrain / "pretrained_generator.pt"), str(out),
        "gumbel_softmax", "reinforce_maligan", PATH=path, SEEDS="0", STEPS="2", EVAL_EVERY="1", NUM_SAMPLES="32",
        OVERRIDES="debug=default")  # fmt: skip
    finished = out / "gumbel_softmax" / "seed0" / "summary.json"
    written = finished.stat().st_mtime_ns
    run("bash", "scripts/estimator_comparison.sh", str(pretrain / "pretrained_generator.pt"), str(out),
        "gumbel_softmax", PATH=path, SEEDS="0", STEPS="2", EVAL_EVERY="1", NUM_SAMPLES="32",
        OVERRIDES="debug=default")  # fmt: skip
    assert finished.stat().st_mtime_ns == written  # a second call finds the run finished and leaves it
    report = (out / "report" / "report.md").read_text()
    assert "| gumbel_softmax | (unset) | 1 | 0 |" in report and "| reinforce | maligan | 1 | 0 |" in report
    assert sorted(json.loads((out / "report" / "nll_oracle.json").read_text())) == [
        "gumbel_softmax", "reinforce/maligan"
    ]  # fmt: skip
    # textgan-estimator-lab's real experiment on one of the runs: a row per estimator setting
    lab = tmp_path / "lab"
    argv = ["real", "--run", str(out / "gumbel_softmax" / "seed0"), "--out", str(lab),
            "--repeats", "2", "--reference-samples", "16", "--reference-chunk", "8", "--batch-size", "4"]  # fmt: skip
    assert estimator_lab(argv) == 0
    rows = json.loads((lab / "lab.json").read_text())["rows"]
    assert {row["estimator"] for row in rows} == set(available_estimators())
    assert all(-1 <= row["cosine_to_reference"] <= 1 and positive(row["seconds_per_estimate"]) for row in rows)


def test_quickstart_sets_up_then_starts_training_with_the_overrides_given(tmp_path):
    """quickstart.sh in a copy of the tree whose setup.sh and textgan-train only record how they were called."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(SCRIPTS / "quickstart.sh", tmp_path / "scripts")
    (tmp_path / "scripts" / "setup.sh").write_text('echo "setup in $PWD" > calls.txt\n')
    train = tmp_path / ".venv" / "bin" / "textgan-train"
    train.parent.mkdir(parents=True)
    train.write_text('#!/usr/bin/env bash\necho "train in $PWD with $* WANDB_MODE=$WANDB_MODE" >> calls.txt\n')
    train.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "WANDB_MODE"}
    command = ["bash", str(tmp_path / "scripts" / "quickstart.sh"), "estimator=reinforce", "debug=default"]
    result = subprocess.run(command, cwd=tmp_path / "scripts", env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "calls.txt").read_text().splitlines() == [
        f"setup in {tmp_path}",
        f"train in {tmp_path} with estimator=reinforce debug=default WANDB_MODE=offline",
    ]


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_every_shell_script_parses(script):
    result = subprocess.run(["bash", "-n", str(SCRIPTS / script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
