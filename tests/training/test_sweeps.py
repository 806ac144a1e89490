"""Sweeps through the Hydra plugins: the launcher presets (conf/hydra/launcher/: submitit's local executor and SLURM,
one task per GPU), the Optuna presets (conf/hparams_search/), and end to end a 2-job multirun through submitit's
local executor and a 3-trial Optuna study in SQLite that a second sweep continues."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from textgan.train import CONF_DIR, check_config

TRAIN = [sys.executable, "-m", "textgan.train"]
QUICK = ["debug=default", "adversarial.steps=2", "threads=1"]  # a seconds-long run on one thread
HPARAMS_SEARCHES = sorted(path.stem for path in (CONF_DIR / "hparams_search").glob("*.yaml"))
EXPERIMENT_OF = {"relgan_oracle_optuna": "relgan_oracle", "relgan_coco_optuna": "relgan_coco"}


def train(cwd: Path, *overrides: str, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1"}
    return subprocess.run([*TRAIN, *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def composed(*overrides: str, hydra_config: bool = False):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra_config)


# ---- launcher presets ------------------------------------------------------------------------------------------
def sbatch_script(monkeypatch, tmp_path: Path, *overrides: str) -> tuple[dict, str]:
    """The sbatch parameters and script the SLURM preset submits, made by the plugin itself (nothing submitted)."""
    import submitit

    cfg = composed("hydra/launcher=slurm", f"hydra.sweep.dir={tmp_path}", *overrides, hydra_config=True)
    launcher = instantiate(cfg.hydra.launcher)
    launcher.setup(hydra_context=None, task_function=None, config=cfg)
    made = {}

    class Submitted(Exception):
        pass

    def capture(executor, *_):
        made["executor"] = executor._executor
        raise Submitted

    monkeypatch.setattr(submitit.SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # srun is not installed
    monkeypatch.setattr(submitit.AutoExecutor, "map_array", capture)
    with pytest.raises(Submitted):
        launcher.launch([["seed=1"], ["seed=2"]], initial_job_idx=0)
    executor = made["executor"]
    return executor.parameters, executor._make_submission_file_text("python -m textgan.train", "uid")


def test_the_slurm_preset_starts_one_task_per_gpu(monkeypatch, tmp_path):
    parameters, script = sbatch_script(monkeypatch, tmp_path)
    assert parameters["gpus_per_node"] == parameters["ntasks_per_node"] == 1
    ddp = ["trainer=ddp_gpu", "hydra.launcher.gpus_per_node=4"]
    parameters, script = sbatch_script(
        monkeypatch, tmp_path, *ddp, "hydra.launcher.partition=gpu", "hydra.launcher.array_parallelism=24"
    )
    for line in ("--gpus-per-node=4", "--ntasks-per-node=4", "--partition=gpu", "--cpus-per-task=8", "--nodes=1"):
        assert f"#SBATCH {line}\n" in script, line
    assert parameters["array_parallelism"] == 24
    assert "\nsrun " in script  # srun starts the tasks: Lightning's SLURM environment finds its ranks there


def test_lightning_accepts_the_slurm_preset_s_tasks_and_refuses_the_plugin_default(monkeypatch, tmp_path):
    """What Lightning checks inside the job: SLURM's tasks per node must equal trainer.devices (ddp_gpu: every GPU
    the task sees, gpus_per_node); submitit_slurm's own default of one task is the pitfall."""
    from lightning.fabric.plugins.environments import SLURMEnvironment

    parameters, _ = sbatch_script(monkeypatch, tmp_path, "trainer=ddp_gpu", "hydra.launcher.gpus_per_node=4")
    for name, value in {"SLURM_NTASKS": "4", "SLURM_NTASKS_PER_NODE": str(parameters["ntasks_per_node"]),
                        "SLURM_NNODES": "1", "SLURM_JOB_NAME": "train", "SLURM_PROCID": "0"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    assert SLURMEnvironment.detect()  # so Lightning starts no ranks of its own
    SLURMEnvironment().validate_settings(num_devices=parameters["gpus_per_node"], num_nodes=parameters["nodes"])
    default = composed("hydra/launcher=submitit_slurm", hydra_config=True).hydra.launcher.tasks_per_node
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", str(default))
    with pytest.raises(ValueError, match="does not match"):
        SLURMEnvironment().validate_settings(num_devices=4, num_nodes=1)


def test_the_local_and_joblib_launchers_compose():
    local = composed("hydra/launcher=local", hydra_config=True).hydra.launcher
    assert local._target_.endswith("submitit_launcher.LocalLauncher")
    assert (local.tasks_per_node, local.gpus_per_node) == (1, 0)
    joblib = composed("hydra/launcher=joblib", "hydra.launcher.n_jobs=2", hydra_config=True).hydra.launcher
    assert joblib._target_.endswith("JoblibLauncher") and joblib.n_jobs == 2  # train.py divides the cores by it


# ---- Optuna presets --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", HPARAMS_SEARCHES)
def test_every_search_preset_composes_and_searches_keys_the_run_reads(preset, tmp_path, monkeypatch):
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides

    monkeypatch.chdir(tmp_path)  # the storage resolver makes multirun/optuna/ here
    overrides = [f"experiment={EXPERIMENT_OF[preset]}", f"hparams_search={preset}"]
    cfg = composed(*overrides, hydra_config=True)
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and cfg.hydra.mode.name == "MULTIRUN"
    assert sweeper.sampler._target_ == "optuna.samplers.TPESampler" and isinstance(sweeper.sampler.seed, int)
    assert sweeper.study_name == f"{cfg.experiment_name}-gumbel_softmax"  # one study per experiment and estimator
    assert sweeper.storage == f"sqlite:///{tmp_path}/multirun/optuna/{sweeper.study_name}.db"
    assert (tmp_path / "multirun" / "optuna").is_dir()
    direction = {"adversarial/eval/nll_oracle": "minimize", "adversarial/eval/log_bleu5_minus_nll_gen": "maximize"}
    assert sweeper.direction == direction[cfg.optimized_metric]
    if "bleu5" in cfg.optimized_metric:
        assert 5 in cfg.data.bleu_orders  # the text DataModule reports bleu5
    params = OmegaConf.to_container(sweeper.params)
    distributions, fixed = create_params_from_overrides([f"{key}={value}" for key, value in params.items()])
    assert set(distributions) == set(params) and fixed == {}
    job = composed(*overrides, f"paths.output_dir={tmp_path / 'run'}")  # ${hydra:runtime.output_dir} needs a run
    for key in params:
        assert OmegaConf.select(job, key) is not None, key  # a key the run has, not a typo
    check_config(job)  # optimized_metric and every other key are read


# ---- end to end ------------------------------------------------------------------------------------------------
def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.mark.slow
def test_a_two_job_multirun_through_submitit_s_local_executor(tmp_path):
    sweep = tmp_path / "sweep"
    result = train(tmp_path, "-m", "hydra/launcher=local", *QUICK, "seed=1,2", f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr
    for number, seed in enumerate((1, 2)):
        run = summary(sweep / f"{number}-gumbel_softmax-seed{seed}")
        assert run["finished"] and run["config"]["seed"] == seed
        assert run["after_adversarial"]["step"] == 2
    results = sorted((sweep / ".submitit").glob("*/*_result.pkl"))  # each job ran as a submitit job
    assert len(results) == 2 and len({path.parent for path in results}) == 2


@pytest.mark.slow
def test_an_optuna_sweep_finds_the_best_trial_and_a_second_sweep_continues_the_study(tmp_path):
    import optuna

    first, second = tmp_path / "first", tmp_path / "second"
    search = ["hparams_search=relgan_oracle_optuna", *QUICK]
    result = train(tmp_path, *search, "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={first}")
    assert result.returncode == 0, result.stderr[-3000:]

    found = yaml.safe_load((first / "optimization_results.yaml").read_text())
    runs = [summary(first / f"{number}-gumbel_softmax-seed123") for number in range(3)]
    values = [run["after_adversarial"]["nll_oracle"] for run in runs]
    assert found["best_value"] == pytest.approx(min(values))  # minimised: the best is the lowest NLL_oracle
    best = runs[values.index(min(values))]["config"]
    assert found["best_params"]["estimator.schedule.beta_max"] == pytest.approx(
        best["estimator"]["schedule"]["beta_max"]
    )
    assert found["best_params"]["adversarial.module.generator_optimizer.lr"] == pytest.approx(
        best["adversarial"]["module"]["generator_optimizer"]["lr"]
    )
    assert len({run["config"]["estimator"]["schedule"]["beta_max"] for run in runs}) == 3  # three sampled points

    database = tmp_path / "multirun" / "optuna" / "relgan_oracle_cpu-gumbel_softmax.db"
    storage = f"sqlite:///{database}"
    study = optuna.load_study(study_name="relgan_oracle_cpu-gumbel_softmax", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    assert study.best_value == pytest.approx(found["best_value"]) and study.best_params == found["best_params"]

    result = train(tmp_path, *search, "hydra.sweeper.n_trials=1", f"hydra.sweep.dir={second}")
    assert result.returncode == 0, result.stderr[-3000:]
    study = optuna.load_study(study_name="relgan_oracle_cpu-gumbel_softmax", storage=storage)
    assert len(study.trials) == 4  # continued, not started over
    assert summary(second / "0-gumbel_softmax-seed123")["finished"]
    again = yaml.safe_load((second / "optimization_results.yaml").read_text())
    assert again["best_value"] == pytest.approx(min(t.value for t in study.trials))  # over the whole study


def srun(run_dir: Path, tasks: int, *overrides: str) -> list[subprocess.CompletedProcess]:
    """``srun --ntasks-per-node=TASKS textgan-train ...`` on one node, as a SLURM job of the slurm preset starts it:
    the same command once per task, each with SLURM's variables and its own SLURM_PROCID."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {name: value for name, value in os.environ.items() if not name.startswith("SLURM_")}
    env.update(WANDB_MODE="offline", OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               SLURM_NTASKS=str(tasks), SLURM_NTASKS_PER_NODE=str(tasks), SLURM_NNODES="1", SLURM_NODEID="0",
               SLURM_JOB_ID="4242", SLURM_JOB_NAME="train", SLURM_NODELIST="localhost")  # fmt: skip
    command = [*TRAIN, *QUICK, f"hydra.run.dir={run_dir}", *overrides]
    outputs = [
        (run_dir.parent / f"{run_dir.name}.{rank}.out", run_dir.parent / f"{run_dir.name}.{rank}.err")
        for rank in range(tasks)
    ]  # files, not pipes: a full pipe would stall its rank and then the others
    processes = []
    for rank, (out, err) in enumerate(outputs):
        with out.open("w") as stdout, err.open("w") as stderr:
            rank_env = {**env, "SLURM_PROCID": str(rank), "SLURM_LOCALID": str(rank)}
            processes.append(subprocess.Popen(command, cwd=run_dir.parent, env=rank_env, stdout=stdout, stderr=stderr))
    try:
        for process in processes:
            process.wait(timeout=300)
    finally:  # a rank that hangs (waiting for a rank that never came) must not outlive the test
        for process in processes:
            if process.poll() is None:
                process.kill()
    return [subprocess.CompletedProcess(p.args, p.returncode, out.read_text(), err.read_text())
            for p, (out, err) in zip(processes, outputs, strict=True)]  # fmt: skip


@pytest.mark.slow
def test_a_ddp_run_under_slurm_takes_its_ranks_from_one_task_per_device(tmp_path):
    """trainer=ddp_cpu (2 devices) in a job of 2 tasks, as hydra/launcher=slurm makes it (on CPU, as GPUs would):
    Lightning starts no process of its own, the tasks are the ranks, and rank 0 alone writes the run; with one task
    per node, the plugin's default, Lightning refuses the run."""
    run_dir = tmp_path / "run"
    ranks = srun(run_dir, 2, "trainer=ddp_cpu")
    assert [rank.returncode for rank in ranks] == [0, 0], ranks[0].stderr[-2000:] + ranks[1].stderr[-2000:]
    log = (run_dir / "train.log").read_text()
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1, MEMBER: 2/2" in log
    assert "64 samples from 2 ranks" in log  # one evaluation over both ranks' samples
    assert json.loads((run_dir / "summary.json").read_text())["finished"]
    assert "results in" in ranks[0].stderr and "results in" not in ranks[1].stderr

    alone = srun(tmp_path / "alone", 1, "trainer=ddp_cpu")[0]
    assert alone.returncode != 0
    assert "the number of tasks per node configured in SLURM `--ntasks-per-node=1` does not match" in alone.stderr
