"""The docs' "Adding an estimator" page, followed literally: a new estimator in a module of one's own, its config in
a folder of one's own on Hydra's search path, a debug run, and a value outside its declared range refused."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MY_ESTIMATOR = '''\
"""Straight-through softmax (Bengio et al., 2013) at a fixed temperature tau.

The discriminator reads the sampled token's one-hot row; the gradient is that of softmax(theta_t / tau):

    row_t = onehot(y_t) + softmax(theta_t / tau) - sg(softmax(theta_t / tau))
"""

import torch

from textgan.config_ranges import number
from textgan.estimators.relaxed import PerStepRelaxedEstimator
from textgan.sampling import straight_through


class StraightThroughSoftmax(PerStepRelaxedEstimator):
    """Straight-through rows with the gradient of a tempered softmax.

    Args:
        temperature: tau > 0; small tau sharpens the surrogate towards the one-hot row.
        num_samples: sentences per generator update (default: the real batch size).
    """

    config_ranges = {"temperature": number(0, above=True)}

    def __init__(self, temperature: float = 1.0, num_samples: int | None = None) -> None:
        super().__init__(num_samples=num_samples)
        self.temperature = temperature

    def relax(self, logits: torch.Tensor, tokens: torch.Tensor, step: int) -> tuple[torch.Tensor, dict]:
        soft = torch.softmax(logits / self.temperature, dim=-1)  # (B, T, V), with the generator's graph
        return straight_through(soft, tokens), {"temperature": self.temperature}
'''

MY_CONFIG = """\
# Straight-through softmax at a fixed temperature (my_estimator.py)
_target_: my_estimator.StraightThroughSoftmax
temperature: 0.5
num_samples: null           # sentences per generator update; null = the real batch size
"""


def textgan_train(folder: Path, *overrides: str) -> subprocess.CompletedProcess:
    """``PYTHONPATH=. textgan-train debug=default estimator=straight_through hydra.searchpath=[file://$PWD/my_conf]``
    run in ``folder``, with ``overrides`` after it."""
    command = [str(Path(sys.executable).with_name("textgan-train")), "debug=default", "estimator=straight_through",
               f"hydra.searchpath=[file://{folder}/my_conf]", *overrides]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": ".", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def my_project(tmp_path: Path) -> Path:
    """The two files of the page: ``my_estimator.py`` and ``my_conf/estimator/straight_through.yaml``."""
    (tmp_path / "my_estimator.py").write_text(MY_ESTIMATOR)
    (tmp_path / "my_conf" / "estimator").mkdir(parents=True)
    (tmp_path / "my_conf" / "estimator" / "straight_through.yaml").write_text(MY_CONFIG)
    return tmp_path


def test_a_new_estimator_in_a_module_of_ones_own_trains_to_the_end(my_project):
    result = textgan_train(my_project)
    assert result.returncode == 0, result.stderr[-3000:]
    (summary_file,) = (my_project / "outputs").rglob("summary.json")
    run = summary_file.parent
    assert run.parent.name == "straight_through-seed123"  # filed under the new choice
    assert json.loads(summary_file.read_text())  # the run finished and summed up
    assert (run / "generator.pt").is_file()
    saved = (run / "config.yaml").read_text()
    assert "_target_: my_estimator.StraightThroughSoftmax" in saved and "temperature: 0.5" in saved
    (metrics,) = run.glob("csv/*/metrics.csv")
    with metrics.open() as rows:
        logged = [row["adversarial/temperature"] for row in csv.DictReader(rows) if row["adversarial/temperature"]]
    assert logged and all(float(value) == 0.5 for value in logged)  # its generator loss trained the generator


def test_a_value_outside_the_new_estimators_declared_range_is_refused_in_one_line(my_project):
    result = textgan_train(my_project, "estimator.temperature=0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "textgan-train: config: estimator.temperature=0 is not allowed: a number > 0"
    ]
    assert sorted(path.name for path in my_project.iterdir()) == ["my_conf", "my_estimator.py"]  # no run folder


def test_a_typo_in_the_new_choice_names_it_among_the_choices(my_project):
    result = textgan_train(my_project, "estimator=straight_thruogh")
    assert result.returncode == 2
    assert "did you mean straight_through?" in result.stderr and len(result.stderr.strip().splitlines()) == 1
