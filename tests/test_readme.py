"""The README's configuration table and references stay true to the repository."""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONF = REPO_ROOT / "conf"
README = REPO_ROOT / "README.md"

# Folders of conf/ that are not groups a user picks from the command line, or whose choices are named by pattern.
NOT_LISTED_BY_NAME = {"debug_data", "debug_models", "experiment_estimator"}


def config_groups() -> dict[str, set[str]]:
    """Every config group under conf/ (nested ones as ``hydra/launcher``) with the names of its choices."""
    groups: dict[str, set[str]] = {}
    for path in CONF.rglob("*.yaml"):
        group = path.parent.relative_to(CONF).as_posix()
        if group == "." or group.split("/")[0] in NOT_LISTED_BY_NAME or "/baseline" in group:
            continue
        groups.setdefault(group, set()).add(path.stem)
    return groups


def configuration_table() -> dict[str, str]:
    """The README's configuration table: group -> the text of its choices cell."""
    text = README.read_text()
    section = text[text.index("## Configuration") :]
    section = section[: section.index("\n## ", 1)]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `([\w/]+)/` \| (.*?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_configuration_table_lists_every_group_and_choice():
    table = configuration_table()
    missing = []
    for group, choices in sorted(config_groups().items()):
        if group not in table:
            missing.append(f"{group}/ (no row)")
            continue
        named = set(re.findall(r"`([\w]+)`", table[group]))
        missing += [f"{group}/{choice}" for choice in sorted(choices - named)]
    assert not missing, f"README configuration table misses: {', '.join(missing)}"


def test_the_readme_refers_to_no_document_outside_the_repository():
    text = README.read_text()
    assert "background note" not in text  # ../shared/docs/background.md is not shipped with the repository
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not link.startswith(("http://", "https://")):
            assert (REPO_ROOT / link).exists(), f"README links to {link}, which is not in the repository"
