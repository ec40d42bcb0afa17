"""What spec/SPEC.md says about each action and property, for the viewer's step links.

SPEC.md §2 has one table per role (clients, partition leaders, transaction coordinator, network
and consumer), one row per action: ``| `Name` | guard | effect | Kafka |``. §3 has one bullet per
property: ``- **`name`** (kind). text``. Links point at the heading of the action's table, with
the anchor GitHub gives that heading; the row itself is embedded in the page, so the page
explains each step offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from .diagram import SpecLink

_ACTION_ROW = re.compile(r"^\|\s*`(?P<name>[A-Za-z]+)`\s*\|")
_PROPERTY_BULLET = re.compile(
    # safety properties say their kind, "(invariant)"; the temporal ones of §3 do not
    r"^- \*\*`(?P<name>[A-Za-z0-9_-]+)`\*\*(?: \((?P<kind>[^)]*)\))?\.\s*(?P<text>.*)"
)


@dataclass(frozen=True, slots=True)
class SpecAction:
    """One row of SPEC.md's action tables."""

    name: str
    section: str  # the heading of its table, e.g. "Clients (TransactionManager, Sender)"
    anchor: str  # GitHub's anchor of that heading
    guard: str
    effect: str
    kafka: str


@dataclass(frozen=True, slots=True)
class SpecIndex:
    path: Path
    actions: dict[str, SpecAction]
    properties: dict[str, str]  # name -> its SPEC.md paragraph, markdown stripped

    def link(self, anchor: str) -> str:
        return f"{self.path.as_uri()}#{anchor}"


@cache
def spec_index() -> SpecIndex:
    """The installed SPEC.md, parsed once."""
    path = Path(str(resources.files("kafka_eos.spec") / "SPEC.md"))
    return parse_spec(path.read_text(encoding="utf-8"), path=path)


def spec_links(actions: Iterable[str], spec: SpecIndex) -> dict[str, SpecLink]:
    """The SPEC.md row of each of ``actions`` that SPEC.md has, with the link to its table."""
    return {
        name: SpecLink(name, row.section, spec.link(row.anchor), row.guard, row.effect, row.kafka)
        for name in sorted(set(actions))
        if (row := spec.actions.get(name)) is not None
    }


def parse_spec(text: str, *, path: Path) -> SpecIndex:
    lines = text.splitlines()
    return SpecIndex(path=path, actions=dict(_actions(lines)), properties=dict(_properties(lines)))


def _actions(lines: list[str]) -> Iterator[tuple[str, SpecAction]]:
    section = anchor = ""
    in_actions = False  # rows of other tables (variables, knobs, faults) are not actions
    for line in lines:
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            section, anchor = plain(heading), github_anchor(heading)
            if line.startswith("## "):
                in_actions = heading.endswith("Actions")
        elif in_actions and (row := _ACTION_ROW.match(line)) is not None:
            cells = [plain(cell) for cell in _cells(line)] + ["", "", ""]
            yield row["name"], SpecAction(
                row["name"], section, anchor, cells[1], cells[2], cells[3]
            )


def _properties(lines: list[str]) -> Iterator[tuple[str, str]]:
    """Each property bullet with its continuation lines, up to a blank line or the next item."""
    name: str | None = None
    parts: list[str] = []
    for line in [*lines, ""]:
        bullet = _PROPERTY_BULLET.match(line)
        if name is not None and (bullet or not line.strip() or line.startswith(("#", "- "))):
            yield name, plain(" ".join(parts))
            name = None
        if bullet is not None:
            kind = f"({bullet['kind']}) " if bullet["kind"] else "(temporal) "
            name, parts = bullet["name"], [kind + bullet["text"]]
        elif name is not None:
            parts.append(line.strip())


def _cells(row: str) -> list[str]:
    """The cells of a markdown table row; a ``|`` inside backticks does not split."""
    cells: list[str] = []
    current: list[str] = []
    quoted = False
    for char in row.strip().strip("|"):
        if char == "`":
            quoted = not quoted
        if char == "|" and not quoted:
            cells.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    cells.append("".join(current).strip())
    return cells


def plain(markdown: str) -> str:
    """Inline markdown as text: no emphasis marks, no backticks."""
    return re.sub(r"\*\*|\*|`", "", markdown).strip()


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = plain(heading).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")
