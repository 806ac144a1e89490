"""textgan as a library: the wheel ships the configs (``conf/`` as ``textgan/conf/``), and a textgan installed from
it (``pip install .``, not ``-e``) trains, generates and finds its data configs from any folder, and takes a
config folder of one's own (``--config-dir``). What a build leaves in the checkout is ignored by git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "textgan", "conf")  # what a wheel is built from
OWN_EXPERIMENT = """\
# @package _global_
defaults:
  - relgan_oracle_cpu  # the shipped preset, found beside this file in the config search path

experiment_name: my_experiment
"""


def test_every_package_is_listed_and_conf_ships_as_textgan_conf():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    setuptools = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {".".join(path.parent.relative_to(REPO_ROOT).parts) for path in REPO_ROOT.glob("textgan/**/__init__.py")}
    assert set(setuptools["packages"]) == folders | {"textgan.conf"}  # a new subpackage must be listed there
    assert setuptools["package-dir"] == {"textgan.conf": "conf"}
    assert setuptools["package-data"]["textgan.conf"] == ["**/*.yaml"]


def test_what_a_build_leaves_in_the_checkout_is_ignored_by_git():
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    folders = ["build/", "dist/", "textgan.egg-info/"]  # pip install . / pip wheel . / python -m build
    ignored = subprocess.run(["git", "check-ignore", *folders], cwd=REPO_ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == folders


def run(command: list, cwd: Path, env: dict[str, str], expect: int = 0) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == expect, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of the work tree, built from a copy (a build writes build/ and textgan.egg-info/ beside its
    sources), offline and with this environment's setuptools."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index"]
    run([*pip_wheel, "--wheel-dir", tmp_path / "wheels", source], cwd=tmp_path, env=dict(os.environ))
    (wheel,) = (tmp_path / "wheels").glob("textgan-*.whl")
    return wheel


def install(wheel: Path, env_dir: Path) -> Path:
    """A fresh virtual environment with ``wheel`` installed (no ``-e``) that imports this environment's packages
    for textgan's dependencies. Returns its ``bin/`` folder.

    This environment's site-packages is put on the new one's path by a ``.pth`` line, which adds the folder and
    does not run the ``.pth`` files inside it: an editable install's finder there (``__editable__*.pth``) stays
    out, and the new environment's own site-packages, earlier on the path, gives the installed textgan."""
    run([sys.executable, "-m", "venv", "--without-pip", env_dir], cwd=env_dir.parent, env=dict(os.environ))
    python = env_dir / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel],
        cwd=env_dir.parent, env=dict(os.environ))  # fmt: skip
    query = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(run([python, "-c", query], cwd=env_dir.parent, env=dict(os.environ)).stdout.strip())
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site_packages / "textgan_test_dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    return env_dir / "bin"


@pytest.mark.slow
def test_an_installed_wheel_trains_generates_and_evaluates_outside_the_repository(tmp_path):
    wheel = build_wheel(tmp_path)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    configs = {f"textgan/conf/{path.relative_to(REPO_ROOT / 'conf').as_posix()}" for path in
               (REPO_ROOT / "conf").rglob("*.yaml")}  # fmt: skip
    assert configs <= shipped
    bin_dir = install(wheel, tmp_path / "env")

    work = tmp_path / "work"  # a folder of one's own, outside the repository
    work.mkdir()
    assert REPO_ROOT not in work.resolve().parents
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "TEXTGAN_SHARED_DATA")}
    env.update(OMP_NUM_THREADS="1", WANDB_MODE="offline")

    where = "import json, textgan, textgan.conf_location as c; print(json.dumps([textgan.__file__, str(c.CONF_DIR)]))"
    module, conf_dir = json.loads(run([bin_dir / "python", "-c", where], cwd=work, env=env).stdout)
    assert Path(module).is_relative_to(tmp_path / "env") and Path(conf_dir).is_relative_to(tmp_path / "env")

    own = work / "my_conf" / "experiment"  # a config folder of one's own: a preset built on a shipped one
    own.mkdir(parents=True)
    (own / "mine.yaml").write_text(OWN_EXPERIMENT)
    run_dir = tmp_path / "run"
    train = ["--config-dir", "my_conf", "experiment=mine", "debug=default", f"hydra.run.dir={run_dir}", "threads=1"]
    run([bin_dir / "textgan-train", *train], cwd=work, env=env)
    assert (run_dir / "generator.pt").is_file() and (run_dir / "summary.json").is_file()
    config = (run_dir / "config.yaml").read_text()
    assert "experiment_name: my_experiment\n" in config
    assert f"root_dir: {work.resolve()}\n" in config  # the working directory: .cache/ there, not in site-packages
    assert list((work / ".cache" / "oracle").glob("oracle-*.pt"))

    generate = [bin_dir / "textgan-generate", "--checkpoint", run_dir / "generator.pt", "--num-samples", "4"]
    run([*generate, "--out", "samples.txt"], cwd=work, env=env)
    assert len((work / "samples.txt").read_text().splitlines()) == 4

    unknown = run([bin_dir / "textgan-evaluate", "--checkpoint", run_dir / "generator.pt", "--data", "no_such_data"],
                  cwd=work, env=env, expect=2)  # fmt: skip
    assert "known names: amazon_reviews, coco, " in unknown.stderr  # the shipped conf/data/, not an empty list
