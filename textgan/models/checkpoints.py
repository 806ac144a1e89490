"""A generator from any checkpoint a training run writes: a generator file or a run's Lightning checkpoint.

``load_checkpoint`` is what the commands' ``--checkpoint`` reads (``textgan-evaluate``, ``textgan-generate``,
``textgan-quality-diversity``): a generator file (``generator.pt``, ``pretrained_generator.pt``:
``textgan.models.io``'s format) or a run's ``checkpoints/{pretrain,adversarial}/*.ckpt``. A Lightning checkpoint
holds weights but not the constructor call, so it is read only where training put it: the architecture and
metadata come from the run folder's generator file (or, before the first one is written, the
``generator_build.json`` the run writes when it starts), the weights from the checkpoint's ``generator.*`` entries.
A checkpoint that cannot be used raises ``CheckpointError`` naming it (``textgan.models.torch_files``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from textgan.models.generator import Generator
from textgan.models.io import build_from_config, load_generator, read_generator_build
from textgan.models.torch_files import CheckpointError, one_line, read_torch_file

RUN_STAGES = {"adversarial": "generator.pt", "pretrain": "pretrained_generator.pt"}  # stage -> its generator file
RUN_BUILD = "generator_build.json"  # the build and metadata alone, written when a run starts (mid-MLE checkpoints)
RUN_CHECKPOINT = (
    "a textgan training checkpoint, RUN/checkpoints/{pretrain,adversarial}/NAME.ckpt as textgan-train writes it"
)


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", *, trust: bool = False
) -> tuple[Generator, dict[str, Any]]:
    """A generator and its metadata from a generator file or a run's Lightning checkpoint (``.ckpt``).

    Raises FileNotFoundError for a missing file and ``CheckpointError`` (a ValueError) for one that cannot be
    used: damaged or truncated, not a torch file, not a textgan generator file or training checkpoint, or a
    generator file that does not load safely without ``trust`` (``load_generator``); the message names the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.suffix == ".ckpt":
        return load_run_checkpoint(path, device, trust=trust)
    return load_generator(path, map_location=device, trust=trust)


def load_run_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", *, trust: bool = False
) -> tuple[Generator, dict[str, Any]]:
    """The generator of a training run's Lightning checkpoint ``RUN/checkpoints/{pretrain,adversarial}/X.ckpt``.

    The architecture and metadata come from the run folder's generator file (the stage's own, else the other:
    both have the same ``build``), the weights from the checkpoint's ``generator.*`` entries. The checkpoint is
    loaded with ``weights_only=True`` (tensors and plain containers only); ``trust`` applies to the generator
    file only.
    """
    path = Path(path)
    stage_dir = path.parent
    run_dir = stage_dir.parent.parent
    if stage_dir.parent.name != "checkpoints" or stage_dir.name not in RUN_STAGES:
        problem = "is outside a run folder: a Lightning checkpoint is read only inside its run folder, whose generator "
        problem += "file gives the architecture"
        raise CheckpointError(path, problem, RUN_CHECKPOINT)
    own = RUN_STAGES[stage_dir.name]
    candidates = [own, *(name for name in RUN_STAGES.values() if name != own)]
    generator_file = next((run_dir / name for name in candidates if (run_dir / name).is_file()), None)
    if generator_file is not None:
        generator, metadata = load_generator(generator_file, map_location=device, trust=trust)
    elif (run_dir / RUN_BUILD).is_file():  # before the first generator file: the build the run wrote at its start
        generator_file = run_dir / RUN_BUILD
        build, metadata = read_generator_build(generator_file)
        try:
            generator = build_from_config(build)
        except (TypeError, ValueError) as error:
            problem = f"its 'build' does not construct a generator ({one_line(error, 300)})"
            raise CheckpointError(generator_file, problem, "a generator's build and metadata as JSON") from error
    else:
        raise FileNotFoundError(
            f"{path}: the run folder {run_dir} has no generator file ({' or '.join(candidates)}) or {RUN_BUILD} "
            "to rebuild the generator from"
        )
    payload = read_torch_file(path, RUN_CHECKPOINT, map_location=device, trust_hint=None)
    state = payload.get("state_dict") if isinstance(payload, dict) else None
    weights = {
        key.removeprefix("generator."): value
        for key, value in (state.items() if isinstance(state, dict) else ())
        if isinstance(key, str) and key.startswith("generator.")
    }
    if not weights:
        problem = "is not a textgan training checkpoint: no generator.* weights in its state_dict"
        raise CheckpointError(path, problem, RUN_CHECKPOINT)
    try:
        generator.load_state_dict(weights)
    except (RuntimeError, TypeError) as error:
        problem = f"its generator weights do not fit {generator_file}'s architecture ({one_line(error, 300)})"
        raise CheckpointError(path, problem, RUN_CHECKPOINT) from error
    return generator.to(device), metadata
