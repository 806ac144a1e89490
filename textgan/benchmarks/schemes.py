"""The schemes of the model zoo side by side: seconds per adversarial iteration of each, on one generator
(``scripts/benchmark.py --section schemes``).

Every scheme runs through the real ``AdversarialModule`` under a Lightning Trainer, as textgan-train runs it (one
iteration = 1 generator + 5 discriminator updates for every scheme, RelGAN's schedule, so that the rows differ by
the scheme alone; a scheme without a discriminator network skips the five), with
the paper's RMC generator and RelGAN's CNN discriminator at the oracle (or COCO) size, except where a scheme needs
a discriminator-like module of its own (its ``conf/discriminator/`` choice, built at the same size) or, LeakGAN,
a generator of its own (``conf/generator/leakgan.yaml`` over SeqGAN's CNN). Each scheme's
estimator is built from its own config file, ``conf/estimator/<name>.yaml``, so the row measures what
``estimator=<name>`` trains with. RelGAN (``gumbel_softmax``) and SeqGAN (``reinforce``: Monte-Carlo rollouts,
K = 16, SeqGAN's reward) are the reference rows. Needs torch, lightning and PyYAML only (no Hydra).
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from textgan.benchmarks.models import MODELS, SIZES, time_iterations
from textgan.conf_location import CONF_DIR

# scheme -> (estimator config, discriminator config or None for RelGAN's CNN, GAN loss, estimator overrides)
SCHEMES: dict[str, tuple[str, str | None, str, dict[str, Any]]] = {
    "RelGAN": ("gumbel_softmax", None, "rsgan", {}),
    "SeqGAN (rollout, K = 16)": (
        "reinforce",
        None,
        "standard",
        {"reward": "rollout", "rollout_num": 16, "reward_transform": "prob", "discriminator_dropout": False},
    ),  # fmt: skip
    "MaliGAN": ("maligan", None, "standard", {}),
    "DGSAN": ("dgsan", None, "standard", {}),
    "JSDGAN": ("jsdgan", None, "standard", {}),
    "CoT": ("cot", "mediator", "standard", {}),
    "DPGAN": ("dpgan", "language_model", "standard", {}),
    "RankGAN": ("rankgan", "ranker", "standard", {}),
    "TextGAN (feature matching)": ("textgan_mmd", None, "standard", {}),
    "LeakGAN": ("leakgan", "seqgan", "standard", {}),  # its own generator (below) over SeqGAN's CNN
}
LOSSES = {"rsgan": "RSGANLoss", "standard": "StandardGANLoss"}


def build(node: Any) -> Any:
    """A config node as Hydra's ``instantiate`` builds it: ``_target_`` classes (``_partial_`` ones as
    ``functools.partial``), recursively; ``defaults`` lists dropped (the caller states those choices)."""
    if isinstance(node, list):
        return [build(value) for value in node]
    if not isinstance(node, dict):
        return node
    recursive = node.get("_recursive_", True)
    node = {key: build(value) if recursive else value for key, value in node.items() if key != "defaults"}
    target, partial = node.pop("_target_", None), node.pop("_partial_", False)
    node.pop("_recursive_", None)
    if target is None:
        return node
    module, _, name = target.rpartition(".")
    factory = getattr(importlib.import_module(module), name)
    return functools.partial(factory, **node) if partial else factory(**node)


def config(group: str, name: str) -> dict:
    """``conf/<group>/<name>.yaml`` as a dict."""
    return yaml.safe_load((Path(CONF_DIR) / group / f"{name}.yaml").read_text())


def scheme_module(scheme: str, size: str, device: str, iterations: int):
    """The ``AdversarialModule`` of one scheme at ``size`` on ``device``, and the size's facts."""
    from textgan.losses import gan
    from textgan.models.relgan_discriminator import RelGANDiscriminator
    from textgan.models.rmc import RMCGenerator
    from textgan.training.adversarial import AdversarialModule

    estimator_name, discriminator_name, loss, overrides = SCHEMES[scheme]
    facts = SIZES[size]
    generator_options, discriminator_options = MODELS["debug" if size == "debug" else "paper"]
    torch.manual_seed(0)
    generator = RMCGenerator(**generator_options, **facts).to(device)
    if discriminator_name is None:
        discriminator = RelGANDiscriminator(**discriminator_options, **facts)
    else:
        discriminator_config = config("discriminator", discriminator_name)
        if discriminator_config.get("generator") == "${generator}":  # CoT's mediator: the generator's blueprint
            discriminator_config["generator"] = {"_target_": "textgan.models.rmc.RMCGenerator", **generator_options}
        if size == "debug":  # the smoke run's sizes, as textgan-train debug=default shrinks that choice
            debug = Path(CONF_DIR) / "debug_models" / "discriminator" / f"default_{discriminator_name}.yaml"
            discriminator_config.update(yaml.safe_load(debug.read_text()) if debug.is_file() else {})
        discriminator = build({**discriminator_config, **facts})
        if estimator_name == "leakgan":  # LeakGAN's Manager-Worker generator, reading a copy of that CNN
            generator = leakgan_generator(discriminator_config, size, facts).to(device)
    estimator_config = config("estimator", estimator_name)
    schedule = estimator_config.get("schedule")
    if isinstance(schedule, dict) and schedule.get("horizon") is None:  # textgan-train fills in the run's steps
        estimator_config["schedule"] = {**schedule, "horizon": 5000}  # (RelGAN's code fixes 5000; cost is the same)
    estimator = build({**estimator_config, **overrides})
    module = AdversarialModule(
        generator, discriminator.to(device), estimator, getattr(gan, LOSSES[loss])(), num_iterations=iterations + 1
    )
    return module, facts


def leakgan_generator(discriminator_config: dict, size: str, facts: dict):
    """LeakGAN's generator at ``conf/generator/leakgan.yaml``'s sizes (debug: shrunk as ``debug=default`` does),
    with the discriminator's config as its feature CNN."""
    from textgan.models.leakgan import LeakGANGenerator

    options = {k: v for k, v in config("generator", "leakgan").items() if k not in ("_target_", "pretrained")}
    if size == "debug":
        options.update(
            yaml.safe_load((Path(CONF_DIR) / "debug_models" / "generator" / "default_leakgan.yaml").read_text())
        )
    return LeakGANGenerator(**{**options, "feature_extractor": discriminator_config}, **facts)


def benchmark_schemes(sizes, device: str = "cpu", precision: str = "fp32", iterations: int = 3) -> list[dict]:
    """One row per size x scheme: seconds per adversarial iteration (the mean of iterations 2 ..; at the debug
    size, whose numbers only show that every scheme still runs, iteration 2 alone)."""
    from textgan.kernels.numerics import slow_bf16_warning

    if precision == "bf16-emulated" or slow_bf16_warning("bf16-mixed" if precision == "bf16" else "32-true",
                                                         device == "cpu"):  # fmt: skip
        print(f"  schemes {device} {precision}: skipped (no bf16 kernels here)", file=sys.stderr)
        return []
    rows = []
    for size in sizes:
        timed = 2 if size == "debug" else iterations
        for scheme in SCHEMES:
            module, facts = scheme_module(scheme, size, device, timed)
            seconds = time_iterations(module, facts, device, precision, timed)
            print(f"  {device} {size} {precision} {scheme}: {seconds:.3f} s per iteration", file=sys.stderr)
            rows.append({"device": device, "size": size, "precision": precision, "scheme": scheme,
                         "estimator": SCHEMES[scheme][0], "adversarial_iteration_s": seconds})  # fmt: skip
    return rows
