"""The data a trace page draws, independent of HTML: lanes, steps, message arrows, partition
logs as they evolve, and the highlighted steps (where a property breaks, where a replay
disagrees). :func:`to_json` is what the page embeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Role = Literal["producer", "partition", "coordinator", "consumer"]
#: Lanes are drawn left to right in this order of roles.
ROLE_ORDER: tuple[Role, ...] = ("producer", "coordinator", "partition", "consumer")


@dataclass(frozen=True, slots=True)
class Lane:
    id: str  # e.g. "producer:app#0", "partition:t-0", "coordinator", "consumer:reader"
    name: str  # what the trace calls it: "app#0", "t-0"
    role: Role


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message, from the step that sent it to the step that delivered (or lost) it."""

    id: int
    text: str
    from_lane: str | None  # None: it was already in flight in the initial state
    to_lane: str | None  # None: lost, or still in flight with no known receiver
    sent: int  # step index (0 is the initial state)
    delivered: int | None  # None: still in flight when the trace ends
    lost: bool = False
    resend_of: int | None = None  # the arrow this one is a re-sent copy of
    kind: str = ""  # a short label: the message kind ("Produce"), or what a history implies


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A batch in a partition's log, from the step that appended it to the step that removed
    it (a failover's truncation), if any."""

    offset: int
    kind: Literal["data", "control"]
    text: str  # the record's value, or COMMIT/ABORT
    producer: str  # e.g. "pid 0 e1"
    transactional: bool
    added: int = 0
    removed: int | None = None


@dataclass(frozen=True, slots=True)
class PartitionTimeline:
    """A partition's log over the whole trace: its entries with the steps they lived, and its
    high watermark and last stable offset at each step (None where the trace has none: a
    history does not record the high watermark). Stored once, not once per step, so a long
    history's page stays small."""

    name: str
    entries: tuple[LogEntry, ...]
    high_watermark: tuple[int | None, ...]
    last_stable_offset: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class SpecLink:
    action: str
    section: str
    url: str
    guard: str
    effect: str
    kafka: str


@dataclass(frozen=True, slots=True)
class Step:
    index: int  # 0 is the initial state
    label: str
    action: str  # the action's name ("init" for step 0)
    lane: str | None  # the lane that took the step; None for the network (a loss)
    changes: tuple[str, ...]  # one line per changed variable


@dataclass(frozen=True, slots=True)
class Highlight:
    step: int
    kind: Literal["violation", "disagreement", "loop"]
    title: str  # e.g. "invariant exactly_once_ctp violated"
    explanation: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Diagram:
    title: str
    source: Literal["counterexample", "replay", "history"]
    lanes: tuple[Lane, ...]
    steps: tuple[Step, ...]
    arrows: tuple[Arrow, ...]
    highlights: tuple[Highlight, ...]
    partitions: tuple[PartitionTimeline, ...]
    actions: dict[str, SpecLink]  # the SPEC.md row of each action the steps take

    @property
    def focus(self) -> int:
        """The step the page opens at: the first violation or disagreement, else the last (a
        lasso's loop mark only annotates the steps that repeat)."""
        return min(
            (h.step for h in self.highlights if h.kind != "loop"), default=len(self.steps) - 1
        )


def to_json(diagram: Diagram) -> dict[str, Any]:
    return {**asdict(diagram), "focus": diagram.focus}


def ordered_lanes(lanes: list[Lane]) -> tuple[Lane, ...]:
    """Lanes by role (producers, coordinator, partitions, consumers), each role in first-seen
    order, so a message from a client to a partition crosses the coordinator's lane."""
    return tuple(sorted(lanes, key=lambda lane: ROLE_ORDER.index(lane.role)))
