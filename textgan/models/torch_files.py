"""Reading a file written by ``torch.save``, refusing a damaged or foreign one with an error that names it.

``torch.load`` reports a truncated file as a ``RuntimeError`` from its zip reader, a text file as an
``IndexError`` or ``UnpicklingError``, an empty one as ``EOFError``, and reads a file with a flipped byte in its
weights without complaint. ``read_torch_file`` checks the file first, without unpickling anything:

* a zip archive (``torch.save``'s format since torch 1.6) must be complete, hold torch's ``data.pkl`` and pass
  the CRC-32 check of every entry (``zipfile.testzip``; torch writes the checksums but never checks them), so
  truncation and changed bytes are both caught;
* anything else must start like a legacy ``torch.save`` file (a pickle of torch's magic number).

Every failure is a ``CheckpointError`` (a ``ValueError``) whose message is one line: the file, what is wrong
with it and what was expected. The commands print it as ``textgan-<command>: error: <message>``.
"""

from __future__ import annotations

import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch

ZIP_MAGIC = b"PK\x03\x04"
LEGACY_MAGICS = tuple(
    pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)
)
MAX_DETAIL = 200  # characters of a library's error message quoted in ours


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, not a torch file, or not holding what was expected.

    The message is one line: ``<path>: <what is wrong>; expected <what was expected>``.
    """

    def __init__(self, path: str | Path, problem: str, expected: str) -> None:
        super().__init__(f"{path}: {problem}; expected {expected}")
        self.path, self.problem, self.expected = Path(path), problem, expected


def one_line(error: BaseException | str, limit: int = MAX_DETAIL) -> str:
    """An error message on one line (whitespace runs become one space), cut to ``limit`` characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_torch_file(
    path: str | Path,
    expected: str,
    *,
    map_location: str | torch.device = "cpu",
    trust: bool = False,
    trust_hint: str | None = "--trust (trust=True in Python)",
) -> Any:
    """``torch.load(path)`` of a checked file: ``weights_only=True`` unless ``trust``.

    Args:
        path: the file.
        expected: what the file should be, for messages (e.g. "a textgan generator file (...)").
        map_location: as for ``torch.load``.
        trust: unpickle in full (``weights_only=False``): only for files one made or trusts, since loading may
            run code from the file.
        trust_hint: how the caller opts in to ``trust``, named in the message for a file that needs it; None
            when the caller offers no way to.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: a directory; an empty, truncated or damaged file; a file that is not a torch file; one
            that does not load with ``weights_only=True`` (without ``trust``); any other ``torch.load`` failure.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path} (expected {expected})")
    if path.is_dir():
        raise CheckpointError(path, "is a directory, not a file", expected)
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        raise CheckpointError(path, "is empty (0 bytes)", expected)
    if head.startswith(ZIP_MAGIC):
        _check_zip(path, expected)
    elif not head.startswith(LEGACY_MAGICS):
        raise CheckpointError(path, f"is not a PyTorch file ({_describe_foreign(head)})", expected)
    try:
        return torch.load(path, map_location=map_location, weights_only=not trust)
    except pickle.UnpicklingError as error:
        if not trust:
            unsafe = _unsafe_globals(path, error)
            if unsafe is not None:
                raise CheckpointError(path, _unsafe_problem(unsafe, trust_hint), expected) from error
        raise CheckpointError(path, f"is truncated or damaged ({_torch_error(error)})", expected) from error
    except Exception as error:  # the file looked whole: EOFError, RuntimeError, ... mean damage inside it
        raise CheckpointError(path, f"is truncated or damaged ({_torch_error(error)})", expected) from error


def _check_zip(path: Path, expected: str) -> None:
    """Refuse an incomplete zip archive, one without torch's ``data.pkl`` or with an entry failing its CRC."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            bad = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        detail = "" if str(error) == "File is not a zip file" else f": {one_line(error)}"  # zipfile's "no end found"
        problem = "is truncated or damaged (it begins as a zip archive, torch.save's format, but does not read as one"
        problem += f"{detail})"
        raise CheckpointError(path, problem, expected) from error
    if not any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
        problem = "is not a PyTorch file (a zip archive without the data.pkl that torch.save writes)"
        raise CheckpointError(path, problem, expected)
    if bad is not None:
        problem = f"is damaged (its entry {bad} fails its CRC-32 check: bytes changed after it was saved)"
        raise CheckpointError(path, problem, expected)


def _describe_foreign(head: bytes) -> str:
    """What a file that is no torch file looks like, from its first bytes."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and text.strip() and all(c.isprintable() or c in "\t\r\n" for c in text):
        first = text.splitlines()[0] if text.splitlines() else text
        return f"it looks like text, first line {first[:60]!r}"
    return "neither a zip archive, torch.save's format, nor a legacy torch pickle"


def _unsafe_globals(path: Path, error: pickle.UnpicklingError) -> list[str] | None:
    """The globals a file's pickle refers to that ``weights_only`` refuses; None if that is not the problem."""
    try:  # names what the file would import, without running any of it (zip format only)
        found = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:
        found = None
    if found:
        return list(found)
    if "Unsupported global" in str(error):  # a legacy file: torch's message names the global
        return []
    return None


def _unsafe_problem(found: list[str], trust_hint: str | None) -> str:
    holds = f"it refers to {', '.join(found)}" if found else "its pickle is not plain data"
    problem = (
        f"does not load safely ({holds}): it holds more than tensors and plain values, and loading it may run code"
    )
    if trust_hint:
        problem += f". Pass {trust_hint} only if the file is trusted: you made it yourself or trust its source"
    return problem


def _torch_error(error: BaseException) -> str:
    """``torch.load``'s error, short: the weights-only unpickler's own reason without torch's advice around it."""
    text = str(error)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("\n\n", 1)[0]
    return f"{type(error).__name__}: {one_line(text, 160)}" if text.strip() else type(error).__name__
