"""Each training process takes its share of the cores, not all of them."""

from __future__ import annotations

import pytest

from textgan.train import _concurrent_jobs
from textgan.training.threads import available_cores, thread_count


def test_an_explicit_count_wins_and_must_be_positive():
    assert thread_count(3, concurrent_jobs=8, environ={"OMP_NUM_THREADS": "5"}) == 3
    with pytest.raises(ValueError, match="threads must be 'auto' or an integer >= 1, got 0"):
        thread_count(0)


def test_auto_takes_the_users_environment_then_slurm_then_a_share_of_the_cores():
    assert thread_count("auto", environ={"OMP_NUM_THREADS": "5", "SLURM_CPUS_PER_TASK": "7"}) == 5
    assert thread_count("auto", environ={"SLURM_CPUS_PER_TASK": "7"}) == 7
    cores = available_cores()
    assert thread_count("auto", concurrent_jobs=1, environ={}) == cores
    assert thread_count("auto", concurrent_jobs=cores, environ={}) == 1
    assert thread_count(None, concurrent_jobs=4 * cores, environ={}) == 1  # never 0
    assert thread_count("auto", environ={"OMP_NUM_THREADS": ""}) == cores  # empty: unset


def test_the_joblib_launchers_jobs_divide_the_cores():
    assert _concurrent_jobs({"n_jobs": 4}) == 4
    assert _concurrent_jobs({"n_jobs": -1}) == available_cores()  # joblib: one per core
    assert _concurrent_jobs({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}) == 1
    assert _concurrent_jobs(None) == 1
