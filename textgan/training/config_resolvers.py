"""The config resolvers of a training run, registered on import (:mod:`textgan.conf_location` registers those
every config needs):

- ``${textgan_run_label:}``: ``outputs/<label>/``, the data and models the run trains
  (:func:`textgan.training.run_folder.run_label`).
- ``${textgan_sqlite:PATH}``: an Optuna study's SQLite URL (:func:`textgan.training.objective.sqlite_url`).
"""

from __future__ import annotations

from textgan.conf_location import CONF_DIR, register_resolvers
from textgan.training.objective import sqlite_url
from textgan.training.run_folder import run_label


def _run_label(_root_):  # OmegaConf passes the composed config to a parameter of this name
    return run_label(_root_, CONF_DIR)


TRAINING_RESOLVERS = {"textgan_run_label": _run_label, "textgan_sqlite": sqlite_url}

register_resolvers(TRAINING_RESOLVERS)
