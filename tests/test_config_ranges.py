"""Ranges a class declares beside its constructor: inherited along its bases, the class's own winning, and the
relations of every base run."""

from textgan.config_ranges import (
    declared_ranges,
    declared_relations,
    integer,
    list_of,
    number,
    one_of,
    optional,
)


class Base:
    config_ranges = {"size": integer(1), "rate": number(0, 1)}

    @classmethod
    def config_relations(cls, arguments):
        if arguments["size"] > 10:
            yield "size", f"at most 10 in a {cls.__name__}"


class Child(Base):
    config_ranges = {"rate": number(0, 1, below=True), "mode": one_of("a", "b")}

    @classmethod
    def config_relations(cls, arguments):
        if arguments["mode"] == "b" and arguments["rate"] > 0.5:
            yield "rate", "a number <= 0.5 with {mode}='b'"


class Silent(Child):
    """Declares nothing of its own."""


def test_a_class_inherits_its_bases_ranges_and_replaces_some():
    ranges = declared_ranges(Child)
    assert set(ranges) == {"size", "rate", "mode"}
    assert ranges["rate"].allowed == "a number in [0, 1)" and not ranges["rate"].accepts(1)
    assert declared_ranges(Silent) == ranges
    assert declared_ranges(Base)["rate"].accepts(1)


def test_the_relations_of_every_base_run_bases_first():
    arguments = {"size": 11, "rate": 0.9, "mode": "b"}
    assert declared_relations(Silent, arguments) == [
        ("size", "at most 10 in a Silent"),
        ("rate", "a number <= 0.5 with {mode}='b'"),
    ]
    assert declared_relations(Base, arguments) == [("size", "at most 10 in a Base")]
    assert declared_relations(object, arguments) == []


def test_rules_accept_what_their_words_say():
    assert integer(2).accepts(2) and not integer(2).accepts(1) and not integer(0).accepts(True)
    assert not integer(0).accepts(1.0)
    assert number(0, above=True).accepts(1) and not number(0, above=True).accepts(0)
    assert not number(0).accepts(float("nan")) and not number(0).accepts(float("inf"))
    assert one_of(None, "x").allowed == "one of null, 'x'" and not one_of(16).accepts("16")
    assert optional(integer(2)).allowed == "null or an integer >= 2" and optional(integer(2)).accepts(None)
    assert not list_of(integer(1)).accepts([]) and list_of(integer(1), empty=True).accepts([])
    assert list_of(number(0), length=2).allowed == "a list of 2, each a number >= 0"
