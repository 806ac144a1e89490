"""The data a generator is evaluated on, and the checks that the generator fits them.

``load_datamodule`` builds the evaluation DataModule from exactly one of a dataset folder (``textgan-tokenize``),
a data config (``conf/data/NAME.yaml``, resolved as ``textgan-train`` resolves it) or an oracle ``.npz``;
``check_generator`` refuses a generator trained on another vocabulary, whose token ids would mean other tokens.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textgan.conf_location import CONF_DIR, root_dir
from textgan.data.base import TokenDataModule
from textgan.models.generator import Generator


def describe_data(datamodule: TokenDataModule) -> str:
    """Where a DataModule's data come from, for messages."""
    for attribute in ("dataset_dir", "oracle_path"):
        value = getattr(datamodule, attribute, None)
        if value:
            return f"{type(datamodule).__name__}({attribute}={value})"
    return type(datamodule).__name__


# ---------------------------------------------------------------------------------------------- checks
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


# ---------------------------------------------------------------------------------------------- loading
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
    ``${paths.root_dir}/.cache/oracle``, the training run's cached sets are reused). Returns the DataModule
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
            cache_dir=cache_dir or str(root_dir() / ".cache" / "oracle"),
            seed=seed,
        )
    else:
        config = data_config(data, overrides, seed)
        if config.get("_target_", "").endswith("TextDataModule"):
            config.update(protocol)
        datamodule = build_from_config(config, base=TokenDataModule, package="textgan.data")
    datamodule.prepare_data()
    datamodule.setup("test")
    return datamodule
