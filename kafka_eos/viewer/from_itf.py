"""A model trace (ITF, as ``kafka-eos check --trace-out X.itf.json`` writes it) as a diagram.

Each step is taken by one lane (the producer, partition leader, coordinator or consumer the
action belongs to in SPEC.md §2, the one its label names). A message is an arrow from the step
that put it in the network to the step that took it out: delivered to the lane of that step's
action, or lost (LoseMessage). A message sent again with the same content on a new connection
(RetryProduce), after a loss (ResendCoordinatorRequest, ResendTxnMarker) or after a retriable
error (the lane's previous message was the same request) is linked to the copy before it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka_eos.checker.itf import ItfTrace
from kafka_eos.checker.text import variable_changes

from . import adapters
from .diagram import Arrow, Diagram, Highlight, Lane, Role, Step, ordered_lanes
from .spec_index import SpecIndex, spec_index, spec_links
from .timeline import TimelineBuilder


@dataclass(slots=True)
class _OpenArrow:
    """An arrow while the trace is read; frozen into an Arrow at the end."""

    id: int
    text: str
    from_lane: str | None
    sent: int
    resend_of: int | None
    to_lane: str | None = None
    delivered: int | None = None
    lost: bool = False

    def frozen(self) -> Arrow:
        return Arrow(
            self.id, self.text, self.from_lane, self.to_lane, self.sent, self.delivered,
            self.lost, self.resend_of, adapters.message_kind(self.text),
        )  # fmt: skip


def diagram_from_itf(
    trace: ItfTrace,
    *,
    title: str,
    source: str = "counterexample",
    highlights: Sequence[Highlight] | None = None,
    spec: SpecIndex | None = None,
) -> Diagram:
    """The diagram of ``trace``; ``highlights`` default to the violation its ``#meta`` names."""
    spec = spec or spec_index()
    lanes = ordered_lanes(adapters.lanes_of(trace.states[0]) if trace.states else [])
    reader = _TraceReader(lanes, spec)
    steps = [reader.step(index, trace) for index in range(len(trace.states))]
    return Diagram(
        title=title,
        source=source,  # type: ignore[arg-type]
        lanes=lanes,
        steps=tuple(steps),
        arrows=reader.arrows(),
        highlights=tuple(violation_highlights(trace, spec) if highlights is None else highlights),
        partitions=reader.logs.timelines(),
        actions=spec_links((step.action for step in steps), spec),
    )


def violation_highlights(trace: ItfTrace, spec: SpecIndex) -> list[Highlight]:
    """The last step of a counterexample, with the property it breaks as SPEC.md explains it."""
    if trace.meta.get("verdict") != "violated" or not trace.states:
        return []
    violated = trace.meta.get("violated")
    name = str(violated) if violated else "deadlock"
    property_name = name.split("[", 1)[0]  # a temporal property per transaction: name[txn]
    explanation = spec.properties.get(property_name, "a state from which no action is enabled")
    last = len(trace.states) - 1
    if trace.loop is None:
        return [Highlight(last, "violation", f"{name} violated", explanation)]
    # A lasso: the run goes on for ever through steps loop..last, never meeting the property.
    if trace.loop == last:
        stays = "nothing fair is left to do and the property never holds"
        return [Highlight(last, "violation", f"{name} violated: the run stays here for ever",
                          explanation, (stays,))]
    closing = trace.meta.get("loop_action", "a step")
    repeats = f"after step {last}, {closing} leads back to step {trace.loop}"
    return [
        Highlight(last, "violation", f"{name} violated: steps {trace.loop}-{last} repeat for ever",
                  explanation, (repeats,)),
        Highlight(trace.loop, "loop", "the loop starts here",
                  f"{repeats}; the run repeats steps {trace.loop}-{last} for ever, every fair "
                  "action taken or disabled on the way"),
    ]  # fmt: skip


class _TraceReader:
    """Follows the network from state to state, opening and closing arrows."""

    def __init__(self, lanes: tuple[Lane, ...], spec: SpecIndex) -> None:
        self.lanes = lanes
        self.spec = spec
        self.all: list[_OpenArrow] = []
        self.in_flight: dict[str, deque[_OpenArrow]] = {}
        self.last_of_key: dict[str, int] = {}
        self.last_key_of_lane: dict[str | None, str] = {}
        self.logs = TimelineBuilder()

    def step(self, index: int, trace: ItfTrace) -> Step:
        state = trace.states[index]
        for name, (entries, high_watermark, lso) in adapters.partition_logs(state).items():
            self.logs.observe(name, index, entries)
            self.logs.marks(name, index, high_watermark, lso)
        if index == 0:
            for text in adapters.messages_of(state):
                self._open(text, None, 0)
            changes = [line.strip() for name in state for line in
                       variable_changes(name, _NEW, state[name])]  # fmt: skip
            return Step(0, "init", "init", None, tuple(changes))
        before = trace.states[index - 1]
        label = trace.labels[index - 1]
        action, args = adapters.label_parts(label)
        changed = {name for name in state if before.get(name, _NEW) != state[name]}
        lane = self._actor(action, args, changed)
        self._follow_network(index, action, lane, before, state)
        if action in adapters.READ_ACTIONS:
            self._read_arrow(index, args, lane, adapters.label_text(label))
        changes = [line.strip() for name in state for line in
                   variable_changes(name, before.get(name, _NEW), state[name])]  # fmt: skip
        return Step(index, adapters.label_text(label), action, lane, tuple(changes))

    def arrows(self) -> tuple[Arrow, ...]:
        for arrow in self.all:
            if arrow.delivered is None and not arrow.lost:
                role = adapters.handler_of(adapters.message_kind(arrow.text), self.spec)
                fields = adapters.message_fields(arrow.text)
                arrow.to_lane = self._pick(role, fields, exclude=arrow.from_lane)
        return tuple(arrow.frozen() for arrow in self.all)

    def _actor(self, action: str, args: tuple[str, ...], changed: set[str]) -> str | None:
        if action in adapters.LOSS_ACTIONS:
            return None
        role = adapters.role_of_action(action, self.spec)
        if (lane := self._pick(role, args)) is not None:
            return lane
        candidates = [lane for lane in self.lanes if role is None or lane.role == role]
        touched = [lane.id for lane in candidates if adapters.lane_variable(lane) in changed]
        return touched[0] if touched else None

    def _pick(
        self, role: Role | None, words: Sequence[str], *, exclude: str | None = None
    ) -> str | None:
        """The lane of ``role`` that ``words`` name, or the only lane of that role."""
        candidates = [
            lane for lane in self.lanes
            if (role is None or lane.role == role) and lane.id != exclude
        ]  # fmt: skip
        named = [lane.id for lane in candidates if lane.name in words]
        if named:
            return named[0]
        return candidates[0].id if role is not None and len(candidates) == 1 else None

    def _follow_network(
        self,
        index: int,
        action: str,
        lane: str | None,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
    ) -> None:
        old, new = Counter(adapters.messages_of(before)), Counter(adapters.messages_of(after))
        for text in (old - new).elements():
            arrow = self.in_flight[text].popleft()  # the oldest copy with this text
            arrow.delivered = index
            arrow.lost = action in adapters.LOSS_ACTIONS
            arrow.to_lane = None if arrow.lost else lane
        for text in (new - old).elements():
            self._open(text, lane, index, resending=action in adapters.RESEND_ACTIONS)

    def _open(self, text: str, lane: str | None, index: int, *, resending: bool = False) -> None:
        """A new arrow; a copy of an earlier message when its action re-sends, or when its
        lane's previous message was the same request (a retry after an error)."""
        key = adapters.message_key(text)
        again = resending or self.last_key_of_lane.get(lane) == key
        original = self.last_of_key.get(key) if again else None
        arrow = _OpenArrow(len(self.all), text, lane, index, original)
        self.all.append(arrow)
        self.in_flight.setdefault(text, deque()).append(arrow)
        self.last_of_key[key] = arrow.id
        self.last_key_of_lane[lane] = key

    def _read_arrow(self, index: int, args: tuple[str, ...], lane: str | None, text: str) -> None:
        partition = self._pick("partition", args)
        if partition is not None:
            arrow = _OpenArrow(len(self.all), text, partition, index, None, lane, index)
            self.all.append(arrow)


_NEW = object()  # a variable the previous state did not have
