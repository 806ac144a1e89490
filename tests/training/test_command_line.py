"""``textgan-train`` as a person runs it: refusals before anything is made, Ctrl-C, the log file, the bar."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from textgan.data.build import build_dataset
from textgan.training import interrupt

pytestmark = pytest.mark.slow
TRAIN = [sys.executable, "-m", "textgan.train"]


def train(cwd: Path, *overrides: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run([*TRAIN, *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("override", "named"),
    [("pretrain.epochs=abc", "pretrain.epochs='abc'"), ("adversarial.steps=-1", "adversarial.steps=-1"),
     ("trainer.precision=fp8", "trainer.precision='fp8'"), ("data.batch_size=0", "data.batch_size=0"),
     ("+pretrain.epoch=3", "pretrain.epoch")],
)  # fmt: skip
def test_a_bad_override_is_refused_in_one_line_before_any_folder_is_made(tmp_path, override, named):
    result = train(tmp_path, "debug=default", override)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("textgan-train: config: ") and named in last
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # no run folder, no log, no wandb run


def test_an_unknown_choice_is_refused_in_one_line_naming_the_closest(tmp_path):
    result = train(tmp_path, "estimator=gumbel_softmx")
    assert result.returncode == 2
    assert result.stderr.startswith("textgan-train: config: estimator='gumbel_softmx' is not allowed: a choice of ")
    assert "did you mean gumbel_softmax?" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="an MPS device is a GPU to trainer=gpu")
def test_a_gpu_trainer_on_a_machine_without_one_is_refused_in_one_line_before_any_folder_is_made(tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}  # no CUDA device, GPU machine or not
    command = [*TRAIN, "debug=default", "trainer=gpu", f"hydra.run.dir={tmp_path / 'run'}"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("textgan-train: config: trainer.accelerator='gpu' is not allowed: ") and "no GPU" in last
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_error_after_the_run_folder_exists_is_written_to_its_log(tmp_path):
    run_dir = tmp_path / "run"
    failing = ("import textgan.train as train\n"
               "def fail(cfg, output_dir): raise RuntimeError('a failure inside training')\n"
               "train._train = fail\n"
               "train.main()")  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", failing, "debug=default", f"hydra.run.dir={run_dir}"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1 and "a failure inside training" in result.stderr
    log = (run_dir / "train.log").read_text()
    assert "run failed: a failure inside training\nTraceback (most recent call last):" in log
    assert log.rstrip().endswith("RuntimeError: a failure inside training")


def test_the_debug_preset_runs_on_a_corpus_named_on_the_command_line(tmp_path):
    (tmp_path / "train.txt").write_text("a man rides a horse .\ntwo dogs play in the park .\nthe dog runs .\n")
    (tmp_path / "test.txt").write_text("a dog rides a horse .\ntwo men sit in the park .\n")
    dataset = tmp_path / "dataset"
    build_dataset(dataset, tmp_path / "train.txt", tmp_path / "test.txt")
    run_dir = tmp_path / "run"
    result = train(tmp_path, "debug=default", "data=corpus", f"data.dir={dataset}", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["finished"] and summary["after_adversarial"]["step"] == 4  # debug=default's iterations
    assert summary["config"]["data"]["dir"] == str(dataset) and summary["config"]["data"]["batch_size"] == 16
    assert "bleu2" in summary["after_adversarial"]  # scored against the corpus, not an oracle


def test_the_log_file_holds_the_log_and_the_bar_names_the_stage_and_its_total(tmp_path):
    run_dir = tmp_path / "run"
    result = train(tmp_path, "debug=default", "adversarial.steps=3", "trainer.enable_progress_bar=true",
                   f"hydra.run.dir={run_dir}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    console = result.stdout + result.stderr  # Lightning's bars write to stdout
    assert "adversarial: 100%" in console and "3/3" in console
    assert "pretrain epoch 1/1" in console and "Epoch 0" not in console
    assert "Training:" not in console  # no unnamed bar before a stage's own
    # a log line starts a line of its own: it never follows a bar's frame on the same line
    assert not re.search(r"(it/s|s/it)[^\r\n]*\[\d{4}-\d\d-\d\d ", result.stdout), result.stdout
    log = (run_dir / "train.log").read_text()
    for noise in ("litlogger", "Tip:", "LeafSpec"):  # Lightning's advert, a deprecation inside Lightning
        assert noise not in console and noise not in log, noise
    for line in ("pretrain: 1 MLE epochs", "pretrain/eval at step 0: scoring 64 samples",
                 "adversarial/eval at step 3", "checkpoint: ", f"results in {run_dir}", "GPU available"):  # fmt: skip
        assert line in log, line


def test_ctrl_c_saves_and_stops_and_the_run_resumes_to_the_end(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    command = [*TRAIN, "debug=default", "adversarial.steps=400", "adversarial.checkpoint_every=1000",
               f"hydra.run.dir={run_dir}"]  # fmt: skip
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    log = run_dir / "train.log"
    deadline = time.monotonic() + 120
    while not (log.is_file() and "adversarial: 400 iterations" in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == interrupt.EXIT_CODE, stderr
    assert f"resume={run_dir}" in stderr.strip().splitlines()[-1]
    done = torch.load(run_dir / "checkpoints" / "adversarial" / "last.ckpt", weights_only=False)[
        "adversarial_iteration"
    ]
    assert 0 < done < 400  # saved at the iteration where Ctrl-C came, though checkpoint_every is 1000
    assert not (run_dir / "generator.pt").exists()
    result = train(
        tmp_path, f"resume={run_dir}", "adversarial.steps=6" if done < 6 else f"adversarial.steps={done + 2}"
    )
    assert result.returncode == 0, result.stderr
    assert (run_dir / "generator.pt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # the resume ran in the run's folder
    assert sorted(p.name for p in (run_dir / ".hydra").iterdir()) == ["config.yaml", "hydra.yaml", "overrides.yaml"]
    assert "adversarial.steps=400" in (run_dir / ".hydra" / "overrides.yaml").read_text()  # the first start's


def test_the_first_ctrl_c_requests_a_stop_and_the_second_exits_at_once(monkeypatch):
    exits = []
    monkeypatch.setattr(interrupt.os, "_exit", lambda code: exits.append(code))
    # from a known handler: an earlier test of the session (a library) may have left another one in place
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with interrupt.handle_interrupts():
            os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt: training finishes its step
            assert interrupt.stop_requested() and exits == []
            os.kill(os.getpid(), signal.SIGINT)
            assert exits == [interrupt.EXIT_CODE]
        assert not interrupt.stop_requested()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is put back
    finally:
        signal.signal(signal.SIGINT, previous)
