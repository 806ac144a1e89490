"""One evaluation protocol for training callbacks, ``scripts/evaluate.py`` and quality-diversity sweeps.

``evaluate_generator`` samples N sentences from a generator and scores them with the DataModule's sample
metrics (NLL_oracle on the synthetic benchmark; BLEU / Self-BLEU on text), plus NLL_gen: the mean per-token
NLL of the test split under the generator (teacher forcing). Padding counts as in RelGAN / Texygen: every
position of the fixed-length rows is scored, the pads after ``<eos>`` included (the generator is trained to
emit them); ``nll_ignore_padding=True`` scores only the real tokens and the ``<eos>`` instead.

Temperature ``tau`` means the model ``softmax(logits / tau)`` throughout: samples are drawn from it and
NLL_gen is the NLL under it, so a temperature sweep traces Caccia et al.'s quality-diversity curves
("Language GANs Falling Short", ICLR 2020): on text BLEU-5 (quality) against Self-BLEU-5 (diversity, lower is
more diverse), on the oracle NLL_oracle (quality) against NLL_test = NLL_gen (coverage of the real data).
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textgan.data.base import TokenDataModule
from textgan.models.generator import Generator

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
DEFAULT_TEMPERATURES = tuple(round(0.5 + 0.1 * i, 1) for i in range(11))  # 0.5, 0.6, ..., 1.5


@dataclass
class EvaluationResult:
    metrics: dict[str, float] = field(default_factory=dict)
    samples: torch.Tensor | None = None  # (N, T)


@torch.no_grad()
def nll_gen(
    generator: Generator,
    tokens: torch.Tensor,
    batch_size: int = 256,
    *,
    temperature: float = 1.0,
    pad_token: int | None = None,
) -> float:
    """Mean per-token NLL (nats) of ``tokens`` (N, T) under ``generator`` with teacher forcing.

    Scored ``batch_size`` sentences at a time: each chunk's (batch, T, V) log-probabilities are the peak
    memory (256 x 37 x 4,683 floats ~ 180 MB at COCO size with the logits; 512 took twice that, no faster).

    Every position counts (RelGAN / Texygen), unless ``pad_token`` is given: positions holding it are then
    left out. ``temperature`` scores under ``softmax(logits / temperature)``.
    """
    total, count = 0.0, 0
    device = generator.device
    for chunk in torch.split(tokens, batch_size):
        chunk = chunk.to(device)
        if temperature == 1.0:
            log_prob = generator.log_prob(chunk)
        else:
            log_probs = torch.log_softmax(generator(chunk).float() / temperature, dim=-1)
            log_prob = log_probs.gather(-1, chunk.unsqueeze(-1)).squeeze(-1)
        if pad_token is None:
            total += float(-log_prob.double().sum())
            count += chunk.numel()
        else:
            mask = chunk != pad_token
            total += float(-(log_prob.double() * mask).sum())
            count += int(mask.sum())
    return total / max(count, 1)


@torch.no_grad()
def evaluate_generator(
    generator: Generator,
    datamodule: TokenDataModule,
    num_samples: int = 10_000,
    *,
    temperature: float = 1.0,
    seed: int = 0,
    with_nll_gen: bool = True,
    nll_ignore_padding: bool = False,
) -> EvaluationResult:
    """Sample ``num_samples`` sequences and compute every metric the DataModule defines, plus NLL_gen."""
    was_training = generator.training
    generator.eval()
    try:
        rng = torch.Generator(device=generator.device).manual_seed(seed)
        samples = generator.sample(num_samples, temperature=temperature, generator=rng)
        metrics = dict(datamodule.sample_metrics(samples.cpu()))
        if with_nll_gen and datamodule.test_tokens is not None:
            pad = datamodule.pad_token if nll_ignore_padding else None
            metrics["nll_gen"] = nll_gen(
                generator, datamodule.test_tokens, temperature=temperature, pad_token=pad
            )
    finally:
        generator.train(was_training)
    return EvaluationResult(metrics=metrics, samples=samples.cpu())


@torch.no_grad()
def sample_entropy(
    generator: Generator, samples: torch.Tensor, temperature: float = 1.0, batch_size: int = 256
) -> float:
    """Mean entropy (nats) of the next-token distributions ``softmax(logits / temperature)`` on ``samples``.

    For fixed logits the entropy grows with the temperature; a sweep shows how much diversity each
    temperature buys.
    """
    total, count = 0.0, 0
    for chunk in torch.split(samples, batch_size):
        log_probs = torch.log_softmax(generator(chunk.to(generator.device)).float() / temperature, dim=-1)
        total += float(-(log_probs.exp() * log_probs).sum(-1).double().sum())
        count += chunk.numel()
    return total / max(count, 1)


# ---------------------------------------------------------------------------------------------- checks
def describe_data(datamodule: TokenDataModule) -> str:
    """Where a DataModule's data come from, for messages."""
    for attribute in ("dataset_dir", "oracle_path"):
        value = getattr(datamodule, attribute, None)
        if value:
            return f"{type(datamodule).__name__}({attribute}={value})"
    return type(datamodule).__name__


def check_vocabulary(
    metadata: dict[str, Any], datamodule: TokenDataModule, checkpoint: str | None = None
) -> None:
    """Refuse (ValueError) a generator whose saved vocabulary is not the DataModule's.

    Compares ``metadata["vocab_fingerprint"]`` (written by training) with ``datamodule.vocab_fingerprint``;
    a checkpoint without a fingerprint is checked on ``vocab_size`` only, with a warning.
    """
    where = f"checkpoint {checkpoint}" if checkpoint else "the checkpoint"
    data = describe_data(datamodule)
    saved, current = metadata.get("vocab_fingerprint"), datamodule.vocab_fingerprint
    saved_size = metadata.get("vocab_size")
    if saved is None:
        if saved_size is not None and int(saved_size) != datamodule.vocab_size:
            raise ValueError(
                f"{where} has a vocabulary of {saved_size} ids, but {data} has {datamodule.vocab_size}: "
                "evaluate it on the data it was trained on"
            )
        warnings.warn(
            f"{where} records no vocab_fingerprint: only the vocabulary size was checked", stacklevel=2
        )
        return
    if saved != current:
        raise ValueError(
            f"vocabulary mismatch: {where} was trained on vocabulary {saved} ({saved_size} ids), but {data} "
            f"has {current} ({datamodule.vocab_size} ids), so its token ids would mean other tokens; "
            "evaluate it with the dataset folder it was trained on"
        )


# ---------------------------------------------------------------------------------------------- data
def data_config(name_or_path: str, overrides: Sequence[str] = (), seed: int | None = None) -> dict[str, Any]:
    """A data config (``conf/data/NAME.yaml`` or a YAML file) resolved as ``textgan-train`` would, sans Hydra.

    ``${paths.*}`` and ``${seed}`` take their values from ``conf/train.yaml`` (``seed`` overrides it);
    ``overrides`` are ``key=value`` strings applied to the data config (e.g. ``train_file=/x.txt``).
    """
    from omegaconf import OmegaConf

    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = CONF_DIR / "data" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
        raise FileNotFoundError(f"data config not found: {path} (known names: {', '.join(known)})")
    if not OmegaConf.has_resolver("textgan_root"):
        OmegaConf.register_new_resolver("textgan_root", lambda: str(CONF_DIR.parent))
    train = OmegaConf.load(CONF_DIR / "train.yaml")
    paths = OmegaConf.to_container(train.paths, resolve=False)
    paths.pop("output_dir", None)
    config = OmegaConf.merge(
        {"paths": paths, "seed": train.seed if seed is None else seed, "data": OmegaConf.load(path)},
        OmegaConf.from_dotlist([f"data.{override}" for override in overrides]),
    )
    return OmegaConf.to_container(config.data, resolve=True)


def load_datamodule(
    dataset_dir: str | None = None,
    data: str | None = None,
    oracle: str | None = None,
    *,
    overrides: Sequence[str] = (),
    protocol: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    seed: int | None = None,
    cache_dir: str | None = None,
    oracle_sequences: int = 10_000,
) -> TokenDataModule:
    """The evaluation data, from exactly one of a dataset folder, a data config or an oracle ``.npz``.

    ``protocol`` (BLEU limits) goes to a ``TextDataModule``; ``metadata`` (a checkpoint's) gives the oracle's
    sequence length, and ``oracle_sequences`` the size of its sampled train and test sets (10,000 each, as
    in training: with the same ``seed``, by default ``conf/train.yaml``'s, and the default ``cache_dir``,
    ``.cache/oracle`` in the repository, the training run's cached sets are reused). Returns the DataModule
    after ``setup()``.
    """
    from textgan.models.io import build_from_config

    if sum(x is not None for x in (dataset_dir, data, oracle)) != 1:
        raise ValueError("give exactly one of a dataset folder, a data config or an oracle .npz")
    protocol = {key: value for key, value in (protocol or {}).items() if value is not None}
    if dataset_dir is not None:
        from textgan.data.text import TextDataModule

        datamodule = TextDataModule(dataset_dir=dataset_dir, **protocol)
    elif oracle is not None:
        from omegaconf import OmegaConf

        from textgan.data.oracle_datamodule import OracleDataModule

        seed = int(OmegaConf.load(CONF_DIR / "train.yaml").seed) if seed is None else seed
        datamodule = OracleDataModule(
            oracle_path=str(Path(oracle).resolve()),
            max_length=int((metadata or {}).get("max_length") or 20),
            num_train=oracle_sequences,
            num_test=oracle_sequences,
            cache_dir=cache_dir or str(CONF_DIR.parent / ".cache" / "oracle"),
            seed=seed,
        )
    else:
        config = data_config(data, overrides, seed)
        if config.get("_target_", "").endswith("TextDataModule"):
            config.update(protocol)
        datamodule = build_from_config(config)
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule


# ---------------------------------------------------------------------------------------------- sweeps
def quality_diversity_axes(metrics: dict[str, float]) -> tuple[str, str]:
    """(quality, diversity) metric names: (bleu5, self_bleu5) on text, (nll_oracle, nll_gen) on the oracle."""
    if "nll_oracle" in metrics:
        return "nll_oracle", "nll_gen"
    return "bleu5", "self_bleu5"


def temperature_sweep(
    generator: Generator,
    datamodule: TokenDataModule,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    num_samples: int = 10_000,
    *,
    seed: int = 0,
    nll_ignore_padding: bool = False,
) -> list[dict[str, float]]:
    """One point per temperature: every metric of ``evaluate_generator`` plus ``entropy`` and the axes.

    Each temperature samples with the same seed (common random numbers), so the curve is smooth in tau.
    Points carry ``quality`` and ``diversity`` (see ``quality_diversity_axes``).
    """
    points = []
    for temperature in temperatures:
        result = evaluate_generator(
            generator,
            datamodule,
            num_samples,
            temperature=float(temperature),
            seed=seed,
            nll_ignore_padding=nll_ignore_padding,
        )
        point = {"temperature": float(temperature), **result.metrics}
        point["entropy"] = sample_entropy(generator, result.samples, float(temperature))
        quality, diversity = quality_diversity_axes(point)
        point["quality"], point["diversity"] = point.get(quality), point.get(diversity)
        points.append(point)
    return points


# ---------------------------------------------------------------------------------------------- scripts
def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The evaluation scripts' shared options: where the data come from, and the BLEU protocol."""
    data = parser.add_argument_group("data (one of)")
    data.add_argument("--dataset-dir", help="a dataset folder built by scripts/tokenize_corpus.py")
    data.add_argument(
        "--data", help="a data config: a name in conf/data (coco, emnlp_news, oracle) or a YAML file"
    )
    data.add_argument("--oracle", help="the oracle's .npz (synthetic benchmark: NLL_oracle)")
    data.add_argument(
        "--data-override", action="append", default=[], metavar="KEY=VALUE", help="set a --data config key"
    )
    data.add_argument("--data-seed", type=int, help="the data config's seed (default: conf/train.yaml's)")
    data.add_argument(
        "--cache-dir", help="where the oracle's sampled sets are cached (default: .cache/oracle)"
    )
    data.add_argument(
        "--oracle-sequences",
        type=int,
        default=10_000,
        help="size of the oracle's sampled train and test sets",
    )
    protocol = parser.add_argument_group("protocol")
    protocol.add_argument("--max-hypotheses", type=int, help="BLEU scores the first k samples (default all)")
    protocol.add_argument(
        "--max-references", type=int, help="BLEU references: first m test lines (default all)"
    )
    protocol.add_argument(
        "--self-bleu-samples", type=int, help="Self-BLEU on the first s samples (default all)"
    )
    protocol.add_argument(
        "--nll-ignore-padding",
        action="store_true",
        help="NLL_gen over real tokens and <eos> only (default: all)",
    )


def datamodule_from_args(args: argparse.Namespace, metadata: dict[str, Any] | None = None) -> TokenDataModule:
    """``load_datamodule`` from ``add_data_arguments``' options (default: a checkpoint's ``dataset_dir``)."""
    dataset_dir = args.dataset_dir
    if dataset_dir is None and args.data is None and args.oracle is None:
        dataset_dir = (metadata or {}).get("dataset_dir")
        if dataset_dir is None:
            raise ValueError("say where the data are: --dataset-dir DIR, --data NAME or --oracle PATH.npz")
    protocol = {
        "max_hypotheses": args.max_hypotheses,
        "max_references": args.max_references,
        "self_bleu_samples": args.self_bleu_samples,
    }
    return load_datamodule(
        dataset_dir,
        args.data,
        args.oracle,
        overrides=args.data_override,
        protocol=protocol,
        metadata=metadata,
        seed=args.data_seed,
        cache_dir=args.cache_dir,
        oracle_sequences=args.oracle_sequences,
    )


def check_generator(
    generator: Generator, metadata: dict[str, Any], datamodule: TokenDataModule, checkpoint: str | None = None
) -> None:
    """``check_vocabulary``, and that the generator has one output per vocabulary id (ValueError if not)."""
    check_vocabulary(metadata, datamodule, checkpoint)
    if generator.vocab_size != datamodule.vocab_size:
        raise ValueError(
            f"checkpoint {checkpoint} has {generator.vocab_size} output ids, but {describe_data(datamodule)} "
            f"has {datamodule.vocab_size}"
        )
