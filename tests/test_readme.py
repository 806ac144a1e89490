"""The README and the documentation pages stay true to the repository, short, and about the project itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF = REPO_ROOT / "conf"
README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
CONFIGURATION_PAGE = DOCS / "training.md"  # the page whose "## Configuration" section tables every group

# Folders of conf/ that are not groups a user picks from the command line, or whose choices are named by pattern.
NOT_LISTED_BY_NAME = {"debug_data", "debug_models", "experiment_estimator"}

# How the project was developed belongs in commit messages, not in its documentation: a result states its
# command, host kind, precision and date, never who ran it in which session on which borrowed machine.
DEVELOPMENT_DIARY = re.compile(
    r"\bsessions?\b|\blent\b|\bborrowed\b|\bthe (?:afternoon|morning|evening|night)\b|\btonight\b",
    re.IGNORECASE,
)
MAX_README_LINES = 300


def markdown_pages() -> list[Path]:
    """The README and every markdown page of the docs site (the result tables under docs/results/ included)."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def config_groups() -> dict[str, set[str]]:
    """Every config group under conf/ (nested ones as ``hydra/launcher``) with the names of its choices."""
    groups: dict[str, set[str]] = {}
    for path in CONF.rglob("*.yaml"):
        group = path.parent.relative_to(CONF).as_posix()
        if group == "." or group.split("/")[0] in NOT_LISTED_BY_NAME or "/baseline" in group:
            continue
        groups.setdefault(group, set()).add(path.stem)
    return groups


def configuration_table(text: str) -> dict[str, str]:
    """The configuration table of a page: group -> the text of its choices cell."""
    section = text[text.index("## Configuration") :]
    end = section.find("\n## ", 1)
    section = section if end < 0 else section[:end]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([\w/]+)/` \| (.*?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def missing_from_table(table: dict[str, str], groups: dict[str, set[str]]) -> list[str]:
    missing = []
    for group, choices in sorted(groups.items()):
        if group not in table:
            missing.append(f"{group}/ (no row)")
            continue
        named = set(re.findall(r"`([\w]+)`", table[group]))
        missing += [f"{group}/{choice}" for choice in sorted(choices - named)]
    return missing


def test_the_configuration_table_lists_every_group_and_choice():
    table = configuration_table(CONFIGURATION_PAGE.read_text())
    missing = missing_from_table(table, config_groups())
    assert not missing, f"{CONFIGURATION_PAGE.relative_to(REPO_ROOT)} configuration table misses: {', '.join(missing)}"


def test_the_configuration_table_check_fails_on_a_missing_choice_or_group():
    table = configuration_table(CONFIGURATION_PAGE.read_text())
    groups = config_groups()
    assert missing_from_table(table, {**groups, "estimator": groups["estimator"] | {"new_estimator"}}) == [
        "estimator/new_estimator"
    ]
    assert missing_from_table(table, {**groups, "new_group": {"choice"}}) == ["new_group/ (no row)"]


def test_the_readme_is_a_front_door():
    text = README.read_text()
    lines = text.count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; longer text belongs on a page of docs/"
    assert ".venv/bin/python -m pytest -q" in text  # the test command CI runs (.ci/run)


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_no_page_tells_how_the_project_was_developed(page: Path):
    text = page.read_text()
    found = [
        f"line {text.count(chr(10), 0, match.start()) + 1}: {match.group(0)!r}"
        for match in DEVELOPMENT_DIARY.finditer(text)
    ]
    assert not found, f"{page.relative_to(REPO_ROOT)} talks about how it was developed: {'; '.join(found)}"


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda page: page.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_points_into_the_repository(page: Path):
    text = page.read_text()
    assert "background note" not in text  # ../shared/docs/background.md is not shipped with the repository
    for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        target = (page.parent / link).resolve()
        assert target.exists(), f"{page.relative_to(REPO_ROOT)} links to {link}, which is not in the repository"
        assert target.is_relative_to(REPO_ROOT), f"{page.relative_to(REPO_ROOT)} links outside the repository: {link}"
