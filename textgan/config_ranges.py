"""What a config value may be: the ranges a class declares beside its constructor.

A class built from a config node (``_target_: package.module.Class``) states what each constructor argument may
be and which arguments must agree, so that ``textgan-train`` refuses a bad value in one line before anything is
built (:mod:`textgan.training.validation`), and a new class, in textgan or in a module of one's own, needs no
edit anywhere else::

    class ScaledGumbelEstimator(Estimator):
        config_ranges = {"scale": number(0, above=True), "num_draws": integer(1)}

        @classmethod
        def config_relations(cls, arguments: Arguments) -> Refusals:  # optional: arguments that must agree
            if arguments["hard"] and arguments["scale"] > 10:
                yield "scale", "a number <= 10 with {hard}=true"

``config_ranges`` maps an argument's name to a :class:`Rule`; a class inherits the rules of its bases and adds
or replaces some (:func:`declared_ranges`). Types need no rule: they come from the constructor's annotations.
``config_relations(arguments)`` runs once every argument passed its own rule, with the node's arguments (the
constructor's defaults filled in, nested nodes as mappings); it yields ``(key, allowed)`` per violation: ``key``
the argument refused (dotted into a nested node: ``schedule.beta_max``), ``allowed`` what is allowed, in words,
where ``{name}`` stands for argument ``name``'s dotted path in the config (``estimator.feedback``). The
relations of a class's bases run too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

Arguments = Mapping[str, Any]  # what ``config_relations`` receives
Refusals = Iterator[tuple[str, str]]  # what it yields: (key, allowed)


@dataclass(frozen=True)
class Rule:
    """``accepts(value)``, and ``allowed``: what it accepts, in words (``an integer >= 1``)."""

    accepts: Callable[[Any], bool]
    allowed: str


def show(value: Any) -> str:
    """A value as a config file writes it: ``null``, ``true``, ``'text'``, ``3``."""
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:  # an int is fine where a float is wanted; bool and inf / nan are not
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(least: int, most: int | None = None) -> Rule:
    """An int (not a bool) in ``[least, most]``."""
    words = f"an integer >= {least}" if most is None else f"an integer in [{least}, {most}]"
    return Rule(lambda v: is_int(v) and v >= least and (most is None or v <= most), words)


def number(low: float, high: float | None = None, *, above: bool = False, below: bool = False) -> Rule:
    """A finite int or float from ``low`` (excluded if ``above``) to ``high`` (excluded if ``below``)."""
    if high is None:
        words = f"a number {'>' if above else '>='} {low:g}"
    else:
        words = f"a number in {'(' if above else '['}{low:g}, {high:g}{')' if below else ']'}"

    def accepts(v: Any) -> bool:
        if not is_number(v) or v < low or (above and v == low):
            return False
        return high is None or v < high or (v == high and not below)

    return Rule(accepts, words)


def one_of(*choices: Any) -> Rule:
    """One of ``choices`` (same type: 16 is not '16', True is not 1)."""
    return Rule(
        lambda v: any(type(v) is type(c) and v == c for c in choices),
        "one of " + ", ".join(show(c) for c in choices),
    )


def optional(rule: Rule) -> Rule:
    """None or what ``rule`` accepts."""
    return Rule(lambda v: v is None or rule.accepts(v), f"null or {rule.allowed}")


def list_of(rule: Rule, length: int | None = None, *, empty: bool = False) -> Rule:
    """A list (non-empty unless ``empty``; exactly ``length`` long if given) of what ``rule`` accepts."""
    kind = "a list" if empty else "a non-empty list"
    return Rule(
        lambda v: isinstance(v, list | tuple) and (empty or len(v) > 0) and (length is None or len(v) == length)
        and all(rule.accepts(x) for x in v),
        f"{kind if length is None else f'a list of {length}'}, each {rule.allowed}",
    )  # fmt: skip


def declared_ranges(cls: type) -> dict[str, Rule]:
    """Argument name -> rule, from the ``config_ranges`` of ``cls`` and of its bases (the class's own win)."""
    ranges: dict[str, Rule] = {}
    for base in reversed(cls.__mro__):
        ranges.update(vars(base).get("config_ranges", {}))
    return ranges


def declared_relations(cls: type, arguments: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, allowed)`` of every violated relation of ``cls`` and its bases (bases first), for ``arguments``."""
    found: list[tuple[str, str]] = []
    for base in reversed(cls.__mro__):
        relations = vars(base).get("config_relations")
        if isinstance(relations, classmethod):
            found += list(relations.__func__(cls, arguments))
    return found
