"""The estimator lab: how biased and how noisy is each estimator's gradient of the one GAN objective?

Two experiments, each writing ``lab.json``, ``lab.md`` and PNG plots to ``--out``:

* ``exact``: generators small enough to enumerate every sequence (default V = 8, T = 4: 4,096 sequences; an
  RMC and an LSTM), a frozen random RelGAN discriminator reading one-hot rows, the RSGAN generator loss against
  a fixed real batch. The exact gradient comes from the enumerated sum
  (:mod:`textgan.estimators.diagnostics`); each estimator gives ``--draws`` independent estimates (default
  1,024), from which relative bias, relative standard deviation, cos(mean, exact), the mean single-estimate
  cosine and the time per estimate. The relaxed estimators sweep their temperature, Gumbel-Rao its number of
  conditional draws K and leave-one-out REINFORCE its number of samples K.
* ``real``: a trained run's generator and discriminator (``--run RUN_DIR``), no exact gradient: the reference is
  a large leave-one-out REINFORCE estimate over ``--reference-samples`` sequences (default 16,384; its standard
  error stated), and each estimator's single-batch estimates are compared with it: cosine, relative standard
  deviation, signal-to-noise ratio, time and peak memory.

Estimators are built from their configs (``conf/estimator/<name>.yaml``) with the overrides of each variant, so
the lab measures exactly what ``textgan-train estimator=<name>`` trains with. Example::

    textgan-estimator-lab exact --out results/lab_exact
    textgan-estimator-lab real --run outputs/relgan_oracle_cpu/... --out results/lab_real
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from textgan.estimators.diagnostics import (
    all_sequences,
    estimator_gradients,
    exact_gradient,
    gradient_statistics,
    sequence_rewards,
)
from textgan.kernels.numerics import flush_denormals
from textgan.models.io import TRUST_HELP

TEMPERATURES = (0.1, 0.3, 1.0, 3.0, 10.0)
SAMPLE_COUNTS = (2, 4, 8, 16)


@dataclass(frozen=True)
class Variant:
    """One estimator setting: a config name, its overrides, and the swept value it stands for."""

    label: str
    estimator: str
    overrides: tuple[str, ...] = ()
    temperature: float | None = None
    samples: int | None = None


def variants(
    available: set[str], temperatures=TEMPERATURES, sample_counts=SAMPLE_COUNTS, gumbel_counts=(1, 10, 100)
) -> list[Variant]:
    """Every estimator setting the lab measures, for the estimator configs that exist.

    ``gumbel_counts``: Gumbel-Rao's K values (its graph holds K x B x T x V floats).
    """
    out = [Variant("reinforce", "reinforce", ("estimator.reward=sequence",))]
    for k in sample_counts:
        out.append(Variant(f"reinforce_loo_k{k}", "reinforce", (
            "estimator.reward=sequence", "estimator/baseline=leave_one_out", f"estimator.num_samples={k}",
        ), samples=k))  # fmt: skip
    schedule_estimators = [
        ("gumbel_softmax", ()),
        ("st_gumbel_softmax", ("estimator.straight_through=true",)),
        ("gsgan_gumbel_softmax", ("estimator.feedback=relaxed",)),
    ]  # GSGAN: relaxed rows fed back
    schedule_estimators += [(name, ()) for name in ("gumbel_rao", "gst", "reinmax") if name in available]
    for label, extra in schedule_estimators:
        name = "gumbel_softmax" if label.endswith("gumbel_softmax") else label
        for tau in temperatures:
            if label == "reinmax" and tau < 1.0:
                continue  # ReinMax needs tau >= 1
            schedule = (f"estimator.schedule.beta_max={1.0 / tau}", "estimator.schedule.adapt=no",
                        "estimator.schedule.horizon=2")  # fmt: skip
            out.append(Variant(f"{label}_tau{tau:g}", name, extra + schedule, temperature=tau))
    if "gumbel_rao" in available:
        for k in gumbel_counts:
            out.append(Variant(f"gumbel_rao_k{k}", "gumbel_rao", (f"estimator.num_gumbel_samples={k}",), samples=k))
    out += [Variant(name, name) for name in ("rebar", "relax") if name in available]
    return out


def build_estimator(variant: Variant, generator=None, discriminator=None):
    """The estimator of ``conf/estimator/<name>.yaml`` with the variant's overrides, set up for the models."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from textgan.conf_location import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"estimator={variant.estimator}", *variant.overrides])
    schedule = cfg.estimator.get("schedule")
    if schedule is not None and schedule.get("horizon") is None:
        schedule.horizon = 2  # a run fills it from its steps; the lab measures at step 0
    estimator = instantiate(cfg.estimator, _convert_="object")
    estimator.setup(generator, discriminator)
    return estimator


def available_estimators() -> set[str]:
    """The estimator configs whose estimators estimate the gradient of the GAN loss, the lab's one objective
    (the model zoo's schemes, ``objective_is_gan_loss = False``, have objectives of their own)."""
    from hydra._internal.utils import _locate
    from omegaconf import OmegaConf

    from textgan.conf_location import CONF_DIR

    def objective_is_gan_loss(path: Path) -> bool:
        target = OmegaConf.load(path).get("_target_")
        return getattr(_locate(target) if isinstance(target, str) else None, "objective_is_gan_loss", True)

    return {path.stem for path in (CONF_DIR / "estimator").glob("*.yaml") if objective_is_gan_loss(path)}


# ------------------------------------------------------------------------------------------------ exact
def exact_problem(kind: str, vocab: int, length: int, seed: int):
    """A small generator of ``kind`` (lstm / rmc), a frozen random RelGAN discriminator, a real batch of 8."""
    from textgan.models.lstm import LSTMGenerator
    from textgan.models.relgan_discriminator import RelGANDiscriminator
    from textgan.models.rmc import RMCGenerator

    torch.manual_seed(seed)
    if kind == "lstm":
        generator = LSTMGenerator(vocab, length, embedding_dim=8, hidden_dim=8)
    else:
        generator = RMCGenerator(vocab, length, embedding_dim=8, head_size=4, num_heads=2, mem_slots=1)
    discriminator = RelGANDiscriminator(
        vocab_size=vocab, max_length=length, embedding_dim=8, num_rep=4, filter_sizes=[2, 3],
        num_filters=[8, 8], hidden_size=8, backend="torch",
    ).eval().requires_grad_(False)  # fmt: skip
    real = torch.randint(vocab, (8, length))
    return generator, discriminator, real


def run_exact(args: argparse.Namespace) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    from textgan.losses.gan import RSGANLoss

    gan_loss = RSGANLoss()
    rows: list[dict[str, Any]] = []
    chosen = variants(available_estimators(), args.temperatures, args.sample_counts)
    chosen = [v for v in chosen if not args.only or v.estimator in args.only]
    for kind in args.generators:
        generator, discriminator, real = exact_problem(kind, args.vocab, args.length, args.seed)
        sequences = all_sequences(args.vocab, args.length)
        rewards = sequence_rewards(discriminator, gan_loss, sequences, args.vocab, real)
        exact = exact_gradient(generator, sequences, rewards)
        for variant in tqdm(chosen, desc=f"exact gradient lab ({kind})", file=sys.stderr):
            estimator = build_estimator(variant, generator, discriminator)
            torch.manual_seed(args.seed + 1)
            estimates, seconds = estimator_gradients(estimator, generator, discriminator, gan_loss, real, args.draws)
            rows.append({"generator": kind, "variant": variant.label, "estimator": variant.estimator,
                         "temperature": variant.temperature, "samples": variant.samples,
                         "seconds_per_estimate": seconds, **gradient_statistics(estimates, exact)})  # fmt: skip
    return rows


# ------------------------------------------------------------------------------------------------- real
def load_run(run_dir: Path, trust: bool = False):
    """Generator, discriminator (from the adversarial checkpoint) and real data of a finished run.

    The generator file loads safely unless ``trust`` (``load_generator``); the Lightning checkpoint is read in
    full, as one's own run's, and only from inside the run folder. A damaged ``summary.json``, generator file or
    checkpoint raises ValueError (``CheckpointError`` for the last two) naming it.
    """
    from hydra.utils import instantiate

    from textgan.models.checkpoints import RUN_CHECKPOINT
    from textgan.models.io import load_generator
    from textgan.models.torch_files import CheckpointError, one_line, read_torch_file

    config = read_run_config(run_dir / "summary.json")
    generator_file = run_dir / "generator.pt"
    if not generator_file.is_file():
        generator_file = run_dir / "pretrained_generator.pt"
    generator, metadata = load_generator(generator_file, trust=trust)
    datamodule = instantiate(config["data"])
    datamodule.prepare_data()
    datamodule.setup("fit")
    facts = {"vocab_size": metadata["vocab_size"], "max_length": metadata["max_length"]}
    discriminator = instantiate(config["discriminator"], **facts)
    checkpoint = run_dir / "checkpoints" / "adversarial" / "last.ckpt"
    if checkpoint.is_file():  # a checkpoint of one's own run, trusted as such
        payload = read_torch_file(checkpoint, RUN_CHECKPOINT, trust=True)
        state = payload.get("state_dict") if isinstance(payload, dict) else None
        prefix = "discriminator."
        try:
            discriminator.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        except (AttributeError, RuntimeError, TypeError) as error:  # no state_dict, or not this discriminator's
            problem = f"its discriminator weights do not fit the run's discriminator ({one_line(error, 300)})"
            raise CheckpointError(checkpoint, problem, RUN_CHECKPOINT) from error
    else:
        print(f"textgan-estimator-lab: {checkpoint} missing: the discriminator is untrained", file=sys.stderr)
    return generator, discriminator.eval().requires_grad_(False), datamodule, config


def read_run_config(path: Path) -> dict[str, Any]:
    """The resolved config a run's ``summary.json`` records (ValueError naming the file if it has none)."""
    expected = "the summary.json that textgan-train writes at the end of a run, with its 'config'"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error}); expected {expected}") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("config"), dict):
        raise ValueError(f"{path}: holds no 'config' dict; expected {expected}")
    return summary["config"]


def run_real(args: argparse.Namespace) -> list[dict[str, Any]]:
    from hydra.utils import instantiate
    from tqdm.auto import tqdm

    generator, discriminator, datamodule, config = load_run(Path(args.run), trust=args.trust)
    gan_loss = instantiate(config["loss"])
    real = datamodule.train_tokens[: args.batch_size]
    reference_variant = Variant("reference", "reinforce", (
        "estimator.reward=sequence", "estimator/baseline=leave_one_out",
        f"estimator.num_samples={args.reference_chunk}", "estimator.discriminator_dropout=false",
    ))  # fmt: skip
    reference_estimator = build_estimator(reference_variant, generator, discriminator)
    chunks = max(args.reference_samples // args.reference_chunk, 2)
    torch.manual_seed(args.seed)
    pieces, _ = estimator_gradients(reference_estimator, generator, discriminator, gan_loss, real, chunks)
    reference = pieces.mean(dim=0)
    reference_error = float(pieces.std(dim=0).norm() / chunks**0.5 / reference.norm())
    rows: list[dict[str, Any]] = []
    # at real size K = 100 Gumbel-Rao draws need K x B x T x V floats (gigabytes): K up to 10 here
    chosen = variants(available_estimators(), (1.0,), (args.batch_size,), gumbel_counts=(1, 10))
    chosen = [v for v in chosen if v.temperature in (None, 1.0)]
    chosen = [v for v in chosen if not args.only or v.estimator in args.only]
    for variant in tqdm(chosen, desc="real-scale lab", file=sys.stderr):
        estimator = build_estimator(variant, generator, discriminator)
        torch.manual_seed(args.seed + 1)
        memory = _PeakMemory()
        estimates, seconds = estimator_gradients(estimator, generator, discriminator, gan_loss, real, args.repeats)
        stats = gradient_statistics(estimates, reference)
        mean = estimates.mean(dim=0)
        noise = (estimates - mean).square().sum(dim=1).mean().sqrt()
        rows.append({"variant": variant.label, "estimator": variant.estimator, "cosine_to_reference":
                     stats["mean_single_cosine"], "relative_std": stats["relative_std"],
                     "signal_to_noise": float(mean.norm() / noise.clamp_min(1e-30)),
                     "seconds_per_estimate": seconds, "peak_memory_mb": memory.peak_mb(),
                     "reference_relative_standard_error": reference_error,
                     "reference_samples": chunks * args.reference_chunk})  # fmt: skip
    return rows


class _PeakMemory:
    """Peak memory since creation: CUDA's peak allocation, or on CPU the process's peak resident size."""

    def __init__(self) -> None:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def peak_mb(self) -> float:
        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**20
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------------------------- output
def markdown_table(rows: list[dict[str, Any]]) -> str:
    columns = [key for key in rows[0] if key not in ("estimator",)]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def plot_exact(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Bias and standard deviation against the temperature, one line per estimator, per generator."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for kind in sorted({row["generator"] for row in rows}):
        figure, axes = plt.subplots(1, 2, figsize=(11, 4))
        mine = [row for row in rows if row["generator"] == kind]
        families = sorted({row["variant"].rsplit("_tau", 1)[0] for row in mine if row["temperature"] is not None})
        for family in families:
            points = sorted((r["temperature"], r) for r in mine if r["variant"].startswith(family + "_tau"))
            for axis, key in zip(axes, ("relative_bias", "relative_std"), strict=True):
                axis.plot([t for t, _ in points], [r[key] for _, r in points], marker="o", label=family)
        unbiased = [row for row in mine if row["temperature"] is None and row["estimator"] != "gumbel_rao"]
        largest_k = max((row["samples"] or 0 for row in unbiased), default=0)
        references = [row for row in unbiased if row["samples"] in (None, largest_k)]  # REINFORCE, LOO (K max), ...
        styles = iter([(":", "black"), ("--", "dimgray"), ("-.", "gray"), ((0, (1, 3)), "darkgray")] * 4)
        for row in references:
            linestyle, color = next(styles)
            for axis, key in zip(axes, ("relative_bias", "relative_std"), strict=True):
                axis.axhline(row[key], linestyle=linestyle, color=color, linewidth=1.2, label=row["variant"])
        for axis, key in zip(axes, ("relative bias", "relative standard deviation"), strict=True):
            axis.set_xscale("log")
            axis.set_yscale("log")
            axis.set_xlabel("temperature tau")
            axis.set_ylabel(key)
        axes[1].legend(fontsize=7)
        figure.suptitle(f"Gradient estimators on an enumerable problem ({kind} generator)")
        figure.tight_layout()
        path = out / f"lab_{kind}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        paths.append(path)
    return paths


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="textgan-estimator-lab", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="experiment", required=True)
    exact = sub.add_parser("exact", help="bias and variance against the exact gradient (enumerable problem)")
    exact.add_argument("--vocab", type=int, default=8)
    exact.add_argument("--length", type=int, default=4)
    exact.add_argument("--draws", type=int, default=1024, help="independent estimates per estimator setting")
    exact.add_argument("--generators", nargs="+", default=["rmc", "lstm"], choices=["rmc", "lstm"])
    exact.add_argument("--temperatures", type=_floats, default=TEMPERATURES, help="comma-separated tau values")
    exact.add_argument("--sample-counts", type=_ints, default=SAMPLE_COUNTS, help="comma-separated K values")
    real = sub.add_parser("real", help="estimates against a large unbiased reference, on a trained run")
    real.add_argument("--run", required=True, help="a textgan-train run folder")
    real.add_argument("--reference-samples", type=int, default=16_384)
    real.add_argument("--reference-chunk", type=int, default=1024, help="sequences per reference estimate")
    real.add_argument("--repeats", type=int, default=64, help="single-batch estimates per estimator")
    real.add_argument("--batch-size", type=int, default=64)
    real.add_argument(
        "--trust", action="store_true", help=f"load a generator file that is not plain data, {TRUST_HELP}"
    )
    for sub_parser in (exact, real):
        sub_parser.add_argument("--only", nargs="+", help="estimator config names to measure (default: all)")
        sub_parser.add_argument("--seed", type=int, default=0)
        sub_parser.add_argument("--out", default="lab", help="output folder")
        sub_parser.add_argument("--wandb", action="store_true", help="also log the table (offline by default)")
    args = parser.parse_args(argv)
    if args.experiment == "exact" and args.length < 3:
        parser.error(f"--length {args.length}: the problem's RelGAN discriminator needs at least 3 tokens")
    if args.experiment == "exact" and args.vocab**args.length > 1 << 16:
        parser.error(f"--vocab {args.vocab} --length {args.length}: too many sequences to enumerate")
    return args


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def main(argv: list[str] | None = None) -> int:
    """Console entry point ``textgan-estimator-lab``."""
    args = parse_args(argv)
    flush_denormals()
    if args.experiment == "real" and not (Path(args.run) / "summary.json").is_file():
        print(f"textgan-estimator-lab: error: {args.run} is not a finished run (no summary.json)", file=sys.stderr)
        return 2
    try:
        rows = run_exact(args) if args.experiment == "exact" else run_real(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"textgan-estimator-lab: error: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lab.json").write_text(json.dumps({"experiment": args.experiment, "rows": rows}, indent=2))
    (out / "lab.md").write_text(markdown_table(rows))
    plots = plot_exact(rows, out) if args.experiment == "exact" else []
    if args.wandb:
        import wandb

        run = wandb.init(project="textgan", name=f"estimator-lab-{args.experiment}", dir=str(out), job_type="lab")
        run.log({"lab/table": wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])})
        for path in plots:
            run.log({f"lab/{path.stem}": wandb.Image(str(path))})
        run.finish()
    print(f"textgan-estimator-lab: results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
