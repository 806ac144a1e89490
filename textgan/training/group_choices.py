"""Choices of the config groups on the command line, checked before Hydra composes.

``textgan-train estimator=gumbel_softmx`` is refused in one :class:`~textgan.training.validation.ConfigError`
line naming the closest choice and every choice, as a bad value is, instead of Hydra's listing of its search
path. The choices are the files of ``conf/`` and of the folders the command line adds to Hydra's search path.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Sequence
from pathlib import Path

from textgan.conf_location import CONF_DIR
from textgan.training.validation import ConfigError, violation


def check_group_choices(arguments: Sequence[str]) -> None:
    """Refuse a command line that picks a choice no config folder has (``estimator=gumbel_softmx``), naming the
    group, the value, the closest choice and every choice: one :class:`ConfigError` line, before Hydra composes.

    ``arguments``: the command line after the program's name, Hydra's flags included. The folders are ``conf/``
    and those the command line adds to Hydra's search path (``--config-dir DIR``,
    ``hydra.searchpath=[file://DIR]``). Every choice of a sweep (``estimator=gst,reinmax``) is checked;
    ``hydra/`` groups (choices from plugins), glob sweeps, search paths this function cannot read (``pkg://``,
    a folder that does not exist) and command lines with another primary config are left to Hydra.
    """
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep
    from hydra.errors import HydraException

    if "--version" in arguments:
        return
    parser = get_args_parser()
    parser.exit_on_error = False

    def give_up(message: str) -> None:
        raise argparse.ArgumentError(None, message)

    parser.error = give_up  # Hydra itself reports a malformed command line
    try:
        flags, _ = parser.parse_known_args(list(arguments))
        overrides = OverridesParser.create().parse_overrides(flags.overrides)
    except (argparse.ArgumentError, HydraException):
        return
    if flags.config_path or flags.config_name or flags.experimental_rerun or flags.shell_completion:
        return
    folders = _search_folders(flags.config_dir, overrides)
    if folders is None:
        return
    problems = []
    for override in overrides:
        group = override.key_or_group
        in_folders = [folder for folder in folders if (folder / group).is_dir()]
        if override.is_delete() or group.split("/")[0] == "hydra" or not in_folders:
            continue
        value = override.value()
        if isinstance(value, ChoiceSweep):
            values = value.list
        elif override.is_sweep_override():
            continue
        else:
            values = [value]
        for choice in values:
            if choice is not None and not any((folder / group / f"{choice}.yaml").is_file() for folder in in_folders):
                problems.append(_unknown_choice(group, str(choice), in_folders))
    if problems:
        raise ConfigError(problems)


def _search_folders(config_dir: str | None, overrides: list) -> list[Path] | None:
    """``conf/`` and the folders the command line adds to the search path; None if one cannot be read here."""
    added = [config_dir] if config_dir else []
    for override in overrides:
        if override.key_or_group == "hydra.searchpath":
            if override.is_delete() or override.is_sweep_override():
                return None
            value = override.value()
            added += value if isinstance(value, list) else [value]
    folders = [CONF_DIR]
    for entry in map(str, added):
        folder = Path(entry.removeprefix("file://"))
        if entry.startswith("pkg://") or not folder.is_dir():
            return None
        folders.append(folder)
    return folders


def _unknown_choice(group: str, choice: str, folders: list[Path]) -> str:
    known = sorted({path.stem for folder in folders for path in (folder / group).glob("*.yaml")})
    closest = difflib.get_close_matches(choice, known, n=1)
    hint = f"; did you mean {closest[0]}?" if closest else ""
    places = " or ".join(f"{'conf' if folder == CONF_DIR else folder}/{group}/" for folder in folders)
    return violation(group, choice, f"a choice of {places} ({', '.join(known)}){hint}")
