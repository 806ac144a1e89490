"""Saving and loading a generator on its own (the shared pretrained checkpoint of estimator comparisons).

A generator file is a ``torch.save`` dict::

    {"build": {"_target_": "textgan.models.rmc.RMCGenerator", "vocab_size": ..., ...},  # constructor call
     "state_dict": {...},
     "metadata": {...}}   # data facts (vocabulary, dataset folder), step, metrics: plain values

``build`` is exactly what Hydra would instantiate, so the file can be rebuilt without Hydra or the run's
config. Saves are atomic (``textgan.atomic_files``): a failed save never corrupts an existing file.

Generator files are safe to share: they hold only tensors and plain values (numbers, strings, bools, None,
lists, dicts), so ``load_generator`` reads them with ``torch.load(weights_only=True)``, which never runs code
from the file, and ``build_from_config`` only builds textgan's generator classes, so the ``build`` of a crafted
file cannot call anything else. Files that do not load this way (older or foreign ones) load only with
``trust=True`` (``--trust`` in the commands), which unpickles them fully: only for files you made yourself or
trust, since loading may run code.

A file that cannot be used (empty, truncated, a changed byte, not a torch file, not a generator file, weights
that do not fit its build) raises ``CheckpointError``, a ``ValueError`` whose one-line message names the file,
what is wrong and what was expected (``textgan.models.torch_files``).
"""

from __future__ import annotations

import importlib
import json
import numbers
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from textgan.atomic_files import atomic_torch_save, atomic_write_text
from textgan.models.generator import Generator
from textgan.models.rmc import LEGACY_LAYER_NORM_EPS
from textgan.models.torch_files import CheckpointError, one_line, read_torch_file

GENERATOR_FILE = "a textgan generator file (generator.pt, pretrained_generator.pt: save_generator's format)"
BUILD_FILE = "a generator's build and metadata as JSON (generator_build.json, which a run writes when it starts)"
TRUST_HELP = "only for files you made yourself or trust: loading may run code"
_SCALARS = (str, bool, int, float, type(None))


def plain_config(value: Any, where: str) -> Any:
    """``value`` as plain data: numbers, strings, bools, None, lists and dicts with scalar keys.

    Tuples become lists and paths strings; other integers and reals (enums, numpy scalars) become ``int`` and
    ``float``, subclasses of ``str`` become ``str``. Anything else raises ValueError naming ``where`` (e.g.
    ``metadata['metrics']``), because a file holding it could not be read back with ``weights_only=True``.
    """
    if value is None or type(value) in (str, bool, int, float):
        return value
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):  # IntEnum, numpy.int64
        return int(value)
    if isinstance(value, numbers.Real):  # numpy.float64, numpy.float32
        return float(value)
    if isinstance(value, (list, tuple)):
        return [plain_config(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, _SCALARS):
                raise ValueError(f"{where}: key {key!r} is a {type(key).__name__}, not a plain value")
            result[plain_config(key, where)] = plain_config(item, f"{where}[{key!r}]")
        return result
    raise ValueError(
        f"{where} is a {type(value).__module__}.{type(value).__qualname__}, not a plain value (number, string, "
        "bool, None, list or dict): a generator file holds only tensors and plain values, so that it loads safely"
    )


def build_from_config(build: Mapping[str, Any], *, base: type = Generator, package: str = "textgan.models") -> Any:
    """Instantiate ``{"_target_": "pkg.mod.Class", **kwargs}`` without Hydra, for textgan's own classes only.

    ``_target_`` must name a class defined in ``package`` (by default ``textgan.models``) that subclasses
    ``base`` (by default ``Generator``); anything else raises ValueError before the class is called, so a
    crafted generator file cannot make the loader import and call an arbitrary callable. Other textgan
    objects pass their own ``base`` and ``package`` (``textgan.evaluation.data``: DataModules).
    """
    build = dict(build)
    target = build.pop("_target_", None)
    if not isinstance(target, str) or "." not in target:
        raise ValueError(f"build config needs a dotted '_target_', got {target!r}")
    allowed = f"a class of {package} that subclasses {base.__module__}.{base.__qualname__}"
    module_name, _, name = target.rpartition(".")
    if not _inside(module_name, package) or name.startswith("_"):
        raise ValueError(f"build '_target_' {target!r} is refused: it must name {allowed}")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"build '_target_' {target!r} not found ({error}); it must name {allowed}") from error
    if not (isinstance(found, type) and issubclass(found, base) and _inside(found.__module__ or "", package)):
        raise ValueError(f"build '_target_' {target!r} is refused: it must name {allowed}")
    return found(**build)


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def save_generator(
    path: str | Path, generator: Generator, build: dict[str, Any], metadata: dict[str, Any] | None = None
) -> Path:
    """Save ``generator`` with the constructor call that rebuilds it, as a file that loads safely.

    ``build`` and ``metadata`` must be plain (see ``plain_config``; tuples are saved as lists, paths as
    strings): any other value raises ValueError naming its key, and nothing is written.
    """
    payload = {
        "build": plain_config(dict(build), "build"),
        "state_dict": {k: v.detach().cpu() for k, v in generator.state_dict().items()},
        "metadata": plain_config(dict(metadata or {}), "metadata"),
    }
    return atomic_torch_save(payload, path)


def save_generator_build(path: str | Path, build: dict[str, Any], metadata: dict[str, Any] | None = None) -> Path:
    """Save only the constructor call and metadata of a generator, as JSON (``generator_build.json``).

    A run writes it when it starts, so that its Lightning checkpoints can be read before any generator file
    exists (mid-MLE). Plain values only, as in ``save_generator``.
    """
    payload = {"build": plain_config(dict(build), "build"), "metadata": plain_config(dict(metadata or {}), "metadata")}
    return atomic_write_text(path, json.dumps(payload, indent=1) + "\n")


def read_generator_build(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(build, metadata) of a ``save_generator_build`` file; ``CheckpointError`` naming it when unusable."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(path, f"cannot be read as JSON ({one_line(error, 200)})", BUILD_FILE) from error
    if not isinstance(payload, dict) or not isinstance(payload.get("build"), dict):
        raise CheckpointError(path, "has no 'build' mapping", BUILD_FILE)
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(path, "has a 'metadata' that is not a mapping", BUILD_FILE)
    return saved_build(payload["build"]), metadata

def load_generator(
    path: str | Path, map_location: str | torch.device = "cpu", *, trust: bool = False
) -> tuple[Generator, dict]:
    """Rebuild a generator saved by ``save_generator``; returns (generator, metadata).

    Reads the file with ``weights_only=True`` (tensors and plain values only: no code from the file runs);
    ``trust=True`` loads a file that needs more with ``weights_only=False``, ``TRUST_HELP``. Either way
    ``build`` may only name a textgan generator class.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError (a ValueError): a file that is damaged, truncated or not a torch file, that does not load
            safely without ``trust``, that lacks ``build`` / ``state_dict``, whose ``build`` does not construct a
            textgan generator, or whose weights do not fit it; one line naming the file (``read_torch_file``).
    """
    path = Path(path)
    payload = read_torch_file(path, GENERATOR_FILE, map_location=map_location, trust=trust)
    build, state_dict, metadata = _generator_parts(path, payload)
    try:
        generator = build_from_config(build)
    except (ValueError, TypeError, RuntimeError) as error:  # a refused _target_, arguments its class rejects
        problem = f"its 'build' does not construct a generator ({one_line(error, 300)})"
        raise CheckpointError(path, problem, GENERATOR_FILE) from error
    try:
        generator.load_state_dict(state_dict)
    except (RuntimeError, TypeError) as error:  # missing, unexpected or misshapen weights
        problem = f"its weights do not fit its build, {build.get('_target_')} ({one_line(error, 300)})"
        raise CheckpointError(path, problem, GENERATOR_FILE) from error
    return generator.to(map_location), metadata


def _generator_parts(path: Path, payload: Any) -> tuple[dict, Mapping, dict]:
    """(build, state_dict, metadata) of a loaded generator file, each checked for its type."""
    if not isinstance(payload, dict):
        problem = f"is not a textgan generator file: it holds a {type(payload).__name__}, not a dict"
        raise CheckpointError(path, problem, GENERATOR_FILE)
    missing = [key for key in ("build", "state_dict") if key not in payload]
    if missing:
        keys = ", ".join(repr(key) for key in list(payload)[:8]) or "none"
        problem = f"is not a textgan generator file: it has no {' and no '.join(map(repr, missing))} (keys: {keys})"
        raise CheckpointError(path, problem, GENERATOR_FILE)
    metadata = {} if payload.get("metadata") is None else payload["metadata"]
    for key, value, wanted in (
        ("build", payload["build"], "a constructor config"),
        ("state_dict", payload["state_dict"], "a dict of tensors"),
        ("metadata", metadata, "a dict"),
    ):
        if not isinstance(value, Mapping):
            problem = f"its {key!r} is a {type(value).__name__}, not {wanted}"
            raise CheckpointError(path, problem, GENERATOR_FILE)
    return saved_build(payload["build"]), payload["state_dict"], dict(metadata)


def saved_build(build: Mapping[str, Any]) -> dict[str, Any]:
    """A saved build with the defaults it was trained under where a later version changed them.

    An RMC generator saved before ``layer_norm_eps`` existed normalised with 1e-5, not today's 1e-12.
    """
    build = dict(build)
    if str(build.get("_target_", "")).endswith(".RMCGenerator"):
        build.setdefault("layer_norm_eps", LEGACY_LAYER_NORM_EPS)
    return build
