"""Where the configs are (``textgan.conf_location``): the repository's ``conf/`` in a source checkout, the copy
shipped inside the package when installed; ``${paths.root_dir}`` the repository or the working directory; the
configs' resolvers registered by that one module. The installed wheel itself: ``tests/test_packaging.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import textgan.cli.estimator_lab as estimator_lab
import textgan.evaluation.data as evaluation_data
import textgan.train as train
from textgan.conf_location import CONF_DIR, RESOLVERS, find_conf_dir, register_resolvers, root_dir
from textgan.training.config_resolvers import TRAINING_RESOLVERS

REPO_ROOT = Path(__file__).resolve().parents[1]


def installed_layout(tmp_path: Path, *, shipped: bool) -> Path:
    """``site-packages/textgan/`` as a wheel installs it: its ``conf/`` holds train.yaml when ``shipped``."""
    package = tmp_path / "site-packages" / "textgan"
    (package / "conf").mkdir(parents=True)
    if shipped:
        (package / "conf" / "train.yaml").write_text("seed: 1\n")
    return package


def test_a_source_checkout_reads_and_writes_the_repository():
    assert CONF_DIR == REPO_ROOT / "conf"
    assert root_dir() == REPO_ROOT  # .cache/ and ../shared/data beside the repository, as before
    assert OmegaConf.create({"root": "${textgan_root:}"}).root == str(REPO_ROOT)


def test_every_module_that_reads_the_configs_reads_the_same_folder():
    assert train.CONF_DIR is CONF_DIR
    assert evaluation_data.CONF_DIR is CONF_DIR
    for path in (REPO_ROOT / "textgan").rglob("*.py"):  # no second guess at where conf/ is
        if path.name != "conf_location.py":
            text = path.read_text()
            assert not re.search(r"^CONF_DIR\s*=", text, re.MULTILINE), path
            assert not [line for line in text.splitlines() if "__file__" in line and '"conf"' in line], path
    configs = {path.stem for path in (CONF_DIR / "estimator").glob("*.yaml")}
    schemes = {"maligan", "dgsan", "jsdgan", "cot", "dpgan", "rankgan", "textgan_mmd", "leakgan", "sentigan", "catgan"}
    assert schemes <= configs and estimator_lab.available_estimators() == configs - schemes


def test_an_installed_package_reads_its_shipped_configs_and_writes_to_the_working_directory(tmp_path, monkeypatch):
    package = installed_layout(tmp_path, shipped=True)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert find_conf_dir(package) == package / "conf"
    assert root_dir(package / "conf", package) == work  # not site-packages, where nothing should be written


def test_a_package_without_shipped_configs_reads_the_conf_folder_beside_it(tmp_path):
    package = installed_layout(tmp_path, shipped=False)  # an empty textgan/conf/ is not a config folder
    assert find_conf_dir(package) == package.parent / "conf"
    assert root_dir(package.parent / "conf", package) == package.parent


def test_the_resolvers_are_registered_once_by_importing_the_module():
    assert set(RESOLVERS) == {"textgan_root", "textgan_run_dir", "textgan_hydra_subdir"}
    assert set(TRAINING_RESOLVERS) == {"textgan_run_label", "textgan_sqlite"}
    assert all(OmegaConf.has_resolver(name) for name in {**RESOLVERS, **TRAINING_RESOLVERS})
    register_resolvers()  # again: nothing to do, no "resolver already registered" error
    resolved = OmegaConf.create({"fresh": "${textgan_run_dir:null,outputs/x}", "sub": "${textgan_hydra_subdir:null}"})
    assert (resolved.fresh, resolved.sub) == ("outputs/x", ".hydra")


def test_a_data_config_lists_the_known_names_of_the_config_folder():
    known = ", ".join(sorted(path.stem for path in (CONF_DIR / "data").glob("*.yaml")))
    assert "coco" in known
    with pytest.raises(FileNotFoundError, match=f"known names: {known}"):
        evaluation_data.data_config("no_such_data")


def test_a_config_folder_of_ones_own_joins_the_shipped_ones_through_hydra_searchpath(tmp_path):
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - relgan_oracle_cpu\n\nexperiment_name: my_experiment\n"
    )
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        mine = compose("train", overrides=[f"hydra.searchpath=[file://{tmp_path}]", "experiment=mine"])
        shipped = compose("train")
    assert mine.experiment_name == "my_experiment"
    mine.experiment_name = shipped.experiment_name
    assert mine == shipped  # the shipped preset, and only the name changed
