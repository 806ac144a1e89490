"""Saving and loading a generator on its own (the shared pretrained checkpoint of estimator comparisons).

A generator file is a ``torch.save`` dict::

    {"build": {"_target_": "textgan.models.rmc.RMCGenerator", "vocab_size": ..., ...},  # constructor call
     "state_dict": {...},
     "metadata": {...}}   # free-form: data facts (vocabulary, dataset folder), step, metrics

``build`` is exactly what Hydra would instantiate, so the file can be rebuilt without Hydra or the run's
config. Saves are atomic (``textgan.atomic_files``): a failed save never corrupts an existing file.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import torch

from textgan.atomic_files import atomic_torch_save
from textgan.models.generator import Generator


def build_from_config(build: dict[str, Any]) -> Any:
    """Instantiate ``{"_target_": "pkg.mod.Class", **kwargs}`` without Hydra."""
    build = dict(build)
    target = build.pop("_target_", None)
    if not target or "." not in target:
        raise ValueError(f"build config needs a dotted '_target_', got {target!r}")
    module_name, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module_name), name)(**build)


def save_generator(
    path: str | Path, generator: Generator, build: dict[str, Any], metadata: dict[str, Any] | None = None
) -> Path:
    """Save ``generator`` with the constructor call that rebuilds it."""
    state = {k: v.detach().cpu() for k, v in generator.state_dict().items()}
    return atomic_torch_save({"build": dict(build), "state_dict": state, "metadata": metadata or {}}, path)


def load_generator(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Generator, dict]:
    """Rebuild a generator saved by ``save_generator``; returns (generator, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"generator checkpoint not found: {path}")
    payload = torch.load(path, map_location=map_location, weights_only=False)
    if not isinstance(payload, dict) or "build" not in payload or "state_dict" not in payload:
        raise ValueError(f"{path} is not a textgan generator file (expected keys 'build' and 'state_dict')")
    generator = build_from_config(payload["build"])
    generator.load_state_dict(payload["state_dict"])
    return generator.to(map_location), payload.get("metadata", {})
