"""The classes of a labelled corpus: their names in id order, and how the labels were made.

A labelled dataset folder holds ``labels.json`` beside its token splits::

    {"names": ["negative", "positive"], "source": {"column": "2", "thresholds": [0.0], ...}}

Class ``i`` is ``names[i]``; ``source`` records how raw labels became class ids (which column, the thresholds
of a numeric rating, what was dropped), for the reader of the folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textgan.atomic_files import atomic_write

LABELS_FILE = "labels.json"


@dataclass(frozen=True)
class ClassLabels:
    """Class names in id order (class ``i`` is ``names[i]``) and a record of how the labels were made.

    Args:
        names: one distinct, non-empty name per class (at least one).
        source: how labels were made (column, thresholds, ...): written to ``labels.json`` as is.
    """

    names: tuple[str, ...]
    source: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.names)
        object.__setattr__(self, "names", names)
        if not names:
            raise ValueError("ClassLabels needs at least one class name")
        if any(not name.strip() for name in names):
            raise ValueError(f"class names must not be empty, got {list(names)}")
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"class names must be distinct: {repeated} repeated in {list(names)}")

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def id(self, label: str | int) -> int:
        """The class id of a class name or of an id (as an int or a string of digits).

        Raises ValueError naming the label and the known classes when it is neither.
        """
        if isinstance(label, str) and label in self.names:
            return self.names.index(label)
        text = str(label).strip()
        if not isinstance(label, bool) and (isinstance(label, int) or text.lstrip("-").isdigit()):
            number = int(text)
            if 0 <= number < self.num_classes:
                return number
        raise ValueError(f"unknown class {label!r}: the classes are {self.describe()}")

    def name(self, i: int) -> str:
        """The name of class id ``i``."""
        if not 0 <= int(i) < self.num_classes:
            raise ValueError(f"class id {i} out of range: the classes are {self.describe()}")
        return self.names[int(i)]

    def describe(self) -> str:
        """``0 = negative, 1 = positive``: every class with its id."""
        return ", ".join(f"{i} = {name}" for i, name in enumerate(self.names))

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/labels.json`` (atomically); returns its path."""
        path = Path(folder) / LABELS_FILE
        text = json.dumps({"names": list(self.names), "source": self.source}, indent=2, ensure_ascii=False) + "\n"
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return path

    @classmethod
    def load(cls, folder: str | Path) -> ClassLabels:
        """Read ``<folder>/labels.json``; a missing or malformed file is an error naming it."""
        path = Path(folder) / LABELS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found (the folder holds no class labels)")
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            names = stored["names"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f'{path}: not a labels file ({error}); expected {{"names": [...]}}') from None
        if not isinstance(names, list):
            raise ValueError(f"{path}: 'names' must be a list of class names, got {type(names).__name__}")
        try:
            return cls(tuple(names), dict(stored.get("source") or {}))
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None

    @classmethod
    def exists(cls, folder: str | Path) -> bool:
        """Whether ``folder`` holds a ``labels.json``."""
        return (Path(folder) / LABELS_FILE).is_file()
