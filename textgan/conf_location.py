"""Where textgan's Hydra configs are, and the resolvers they use: the one place that knows both.

The configs live at the top of the repository, ``conf/``, where users edit them, and are shipped inside the
package as ``textgan/conf/`` (``pyproject.toml`` maps the package ``textgan.conf`` to the folder ``conf``).
:data:`CONF_DIR` is the shipped copy in an installed package (``pip install .``, a wheel), else the
repository's ``conf/`` (a source checkout or an editable install, ``pip install -e .``, where edits to
``conf/`` take effect at once). Configs of one's own are added with Hydra's search path, not by editing an
installed copy: ``textgan-train --config-dir DIR`` or ``hydra.searchpath=[file://DIR]``.

``${paths.root_dir}`` (``conf/train.yaml``: the ``.cache/`` folder, and ``../shared/data`` unless
``TEXTGAN_SHARED_DATA`` says where the benchmark data are) is the repository in a source checkout and the
working directory of an installed package (:func:`root_dir`).

Importing this module registers the resolvers every config file needs to be read (once per process):

- ``${textgan_root:}``: :func:`root_dir`.
- ``${textgan_run_dir:RESUME,FRESH}``: a resume runs (and logs) in the run's own folder, else in FRESH ...
- ``${textgan_hydra_subdir:RESUME}``: ... without overwriting the first start's ``.hydra/``.

The resolvers that only a training run's config uses (its run folder's label, an Optuna study's storage) belong
to training: :mod:`textgan.training.config_resolvers`.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def find_conf_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The config folder for the ``textgan`` package in ``package_dir``: the ``conf/`` shipped inside it
    (an installed package) if it holds ``train.yaml``, else the ``conf/`` beside it (a source checkout)."""
    shipped = package_dir / "conf"
    return shipped if (shipped / "train.yaml").is_file() else package_dir.parent / "conf"


CONF_DIR = find_conf_dir()


def root_dir(conf_dir: Path = CONF_DIR, package_dir: Path = PACKAGE_DIR) -> Path:
    """``${paths.root_dir}``: the repository holding ``conf_dir`` in a source checkout; for an installed
    package (``conf_dir`` inside ``package_dir``) the working directory, as there is no repository to write to."""
    return Path.cwd().resolve() if conf_dir.parent == package_dir else conf_dir.parent


RESOLVERS = {
    "textgan_root": lambda: str(root_dir()),
    "textgan_run_dir": lambda resume, fresh: resume or fresh,
    "textgan_hydra_subdir": lambda resume: None if resume else ".hydra",
}


def register_resolvers(resolvers: dict | None = None) -> None:
    """Register ``resolvers`` (default :data:`RESOLVERS`) with OmegaConf, each unless one of its name is there."""
    from omegaconf import OmegaConf  # here, so that finding the configs needs no OmegaConf (scripts/benchmark.py)

    for name, resolver in (RESOLVERS if resolvers is None else resolvers).items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)


try:  # OmegaConf comes with Hydra; without them (a bare GPU image running scripts/benchmark.py) nothing resolves
    register_resolvers()
except ModuleNotFoundError as missing:
    if missing.name != "omegaconf":
        raise
