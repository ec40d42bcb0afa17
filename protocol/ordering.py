"""The ordering constraints of a history, checked with z3, explained by a minimal core.

A history (protocol/history.py: from a model trace, a reference simulation or a wire broker's
log) is turned into integer constraints over two kinds of variables:

- ``t#n``: the position of event n in the history (when it was observed), and
- ``offset#n``: the offset event n is about (an append's base offset, a marker's offset, a
  read's offset, an acknowledged base offset).

Each event contributes one *observation* (its position and recorded offset; a marker also its
COMMIT/ABORT, an EndTxn its result), named by the event itself. Kafka's rules contribute the
*rules*, each named in the history's own terms:

- ``offsets_contiguous``: a partition's log entries follow each other without gap or overlap;
- ``sequence_order``: a producer's batch with the next sequence (same partition and epoch) is
  appended after it, e.g. "append p0@3 (pid 1 seq 2) before append p0@2 (pid 1 seq 3)";
- ``txn_before_marker``: every record of a transaction precedes its marker in the partition;
- ``ack_offset``: an acknowledged batch was appended, at the acknowledged offset, before the ack;
- ``read_source``: a read returns a record appended, before the read, at that offset;
- ``read_committed_visibility``: read_committed reads committed data only, below the marker,
  after the COMMIT marker was written; ``lso``: and nothing at or above the first offset of a
  transaction still open at the time of the read;
- ``transaction_outcome``: the partitions of one transaction end as its EndTxn asked, and alike;
- ``consumer_position``: a read_committed consumer moving forward in a partition skips no
  record visible by then (moving back is a rewind: the history does not record seeks).

When the constraints are unsatisfiable, :func:`check_ordering` shrinks z3's unsat core by
deletion until it is minimal: every constraint in it is needed for the contradiction, so the
core names exactly the conflicting records, offsets and markers.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .history import Append, Event, Marker, OffsetCommit, ProduceAck, Read, TxnEnd
from .history_checks import READ_COMMITTED, HistoryIndex, PartitionTxn, named
from .sequence import NO_SEQUENCE, last_sequence, next_sequence

#: The kind of an observation (one per event); the other kinds are rules.
OBSERVED = "observed"
DEFAULT_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class Constraint:
    """One named constraint: ``kind`` (OBSERVED or a rule family), ``name`` in the history's
    terms, the z3 ``formula``, and the 1-based ``positions`` of the events it is about.

    An observation is stored as the values it ``pins`` (variable name -> int or bool) and its
    formula is built only when asked for (:meth:`term`): on a long history most are never
    needed, and building z3 terms one by one is what costs the time."""

    kind: str
    name: str
    formula: Any = field(repr=False, compare=False)
    positions: tuple[int, ...] = ()
    pins: tuple[tuple[str, int | bool], ...] = field(default=(), repr=False, compare=False)

    def term(self) -> Any:
        """The z3 formula."""
        if self.formula is not None:
            return self.formula
        import z3

        return z3.And(
            [
                (z3.Bool(name) == value) if isinstance(value, bool) else (z3.Int(name) == value)
                for name, value in self.pins
            ]
        )

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


@dataclass(frozen=True, slots=True)
class OrderingResult:
    """``consistent`` (all constraints satisfiable), else a minimal unsatisfiable ``core``."""

    consistent: bool
    core: tuple[Constraint, ...]
    constraints: int
    seconds: float
    #: how many rule instances the history breaks (the core explains one of them)
    violated: int = 0

    def lines(self) -> list[str]:
        if self.consistent:
            return [f"consistent ({self.constraints} ordering constraints)"]
        head = f"inconsistent: these {len(self.core)} constraints cannot all hold"
        if self.violated > 1:
            head += f" ({self.violated} rule instances are broken; this explains one)"
        return [head, *(f"  {c}" for c in self.core)]

    def to_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "constraints": self.constraints,
            "violated": self.violated,
            "seconds": round(self.seconds, 4),
            "core": [
                {"kind": c.kind, "name": c.name, "events": list(c.positions)} for c in self.core
            ],
        }


def check_ordering(
    events: Iterable[Event], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> OrderingResult:
    """Check the history's ordering constraints; explain an inconsistency by a minimal core.

    Every variable is fixed by an observation, so the observed values are the only candidate
    solution: z3 evaluates each rule on them (much faster than one solver call over
    thousands of tracked assertions). A violated rule with the observations of the events it
    mentions is unsatisfiable; that set is then shrunk by deletion to a minimal core.
    """
    import z3

    started = time.perf_counter()
    constraints = ordering_constraints(events)
    solver = z3.Solver()
    solver.from_string(_pins_as_smtlib(c for c in constraints if c.kind == OBSERVED))
    if solver.check() != z3.sat:  # cannot happen: each observation fixes its own variables
        raise AssertionError("the observations of a history contradict each other")
    model = solver.model()
    violated = [
        c
        for c in constraints
        if c.kind != OBSERVED and not z3.is_true(model.eval(c.term(), model_completion=True))
    ]
    core: list[Constraint] = []
    if violated:
        first = min(violated, key=_explanation_priority)
        candidate = _with_observations([first], constraints)
        if is_satisfiable(candidate, timeout_ms=timeout_ms):
            raise AssertionError(f"a rule mentions an event it does not list: {first}")
        core = minimal_core(candidate, timeout_ms=timeout_ms)
    return OrderingResult(
        consistent=not violated,
        core=tuple(core),
        constraints=len(constraints),
        seconds=time.perf_counter() - started,
        violated=len(violated),
    )


#: Which violated rule to explain first: the most specific (contiguity last: an offset
#: conflict between two other events usually also breaks it somewhere nearby).
EXPLANATION_ORDER = (
    "sequence_order",
    "ack_offset",
    "read_source",
    "read_committed_visibility",
    "lso",
    "transaction_outcome",
    "txn_before_marker",
    "consumer_position",
    "offsets_contiguous",
)


def _explanation_priority(constraint: Constraint) -> tuple[int, tuple[int, ...]]:
    kind = constraint.kind
    rank = EXPLANATION_ORDER.index(kind) if kind in EXPLANATION_ORDER else len(EXPLANATION_ORDER)
    return (rank, constraint.positions)


def is_satisfiable(
    constraints: Sequence[Constraint], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> bool:
    """Whether ``constraints`` can all hold (False also when z3 gives up)."""
    return _solve(constraints, timeout_ms)[0] == "sat"


#: Which constraints minimal_core tries to drop first: a chain of contiguity steps is a worse
#: explanation than the two recorded offsets it connects, so it goes first; observations last.
DELETION_ORDER = ("offsets_contiguous", "consumer_position")


def minimal_core(
    core: Sequence[Constraint], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[Constraint]:
    """Shrink an unsatisfiable ``core`` by deletion: drop each constraint whose removal keeps
    the rest unsatisfiable. The result is minimal: removing any one makes it satisfiable.
    Rules of the kinds in DELETION_ORDER are tried first, observations last."""
    import z3

    solver = z3.Solver()
    solver.set(timeout=timeout_ms)
    literals = [z3.Bool(f"c{i}") for i in range(len(core))]
    for literal, constraint in zip(literals, core, strict=True):
        solver.add(z3.Implies(literal, constraint.term()))

    def priority(i: int) -> tuple[int, int]:
        kind = core[i].kind
        if kind in DELETION_ORDER:
            return (DELETION_ORDER.index(kind), i)
        return (len(DELETION_ORDER) + (kind == OBSERVED), i)

    kept = set(range(len(core)))
    for candidate in sorted(kept, key=priority):
        if candidate not in kept:
            continue
        trial = kept - {candidate}
        if solver.check(*(literals[i] for i in sorted(trial))) == z3.unsat:
            # z3's own core of the trial may be smaller still: keep only that
            smaller = {str(lit) for lit in solver.unsat_core()}
            kept = {i for i in trial if str(literals[i]) in smaller}
    return [core[i] for i in sorted(kept)]


def _pins_as_smtlib(observations: Iterable[Constraint]) -> str:
    """The observations as SMT-LIB text: z3 parses thousands of them faster than Python
    builds them term by term."""
    lines = []
    for observation in observations:
        for name, value in observation.pins:
            if isinstance(value, bool):
                sort, literal = "Bool", str(value).lower()
            else:
                sort, literal = "Int", str(value) if value >= 0 else f"(- {-value})"
            lines.append(f"(declare-const |{name}| {sort})(assert (= |{name}| {literal}))")
    return "\n".join(lines)


def _with_observations(core: list[Constraint], constraints: list[Constraint]) -> list[Constraint]:
    """The core plus the observations of every event it mentions (a shorter explanation may
    use them instead of a chain of rules), in the constraints' order."""
    mentioned = {p for c in core for p in c.positions}
    chosen = {id(c) for c in core}
    return [
        c
        for c in constraints
        if id(c) in chosen or (c.kind == OBSERVED and c.positions[0] in mentioned)
    ]


def _solve(constraints: Sequence[Constraint], timeout_ms: int) -> tuple[str, list[Constraint]]:
    import z3

    solver = z3.Solver()
    solver.set(timeout=timeout_ms)
    literals = [z3.Bool(f"c{i}") for i in range(len(constraints))]
    for literal, constraint in zip(literals, constraints, strict=True):
        solver.add(z3.Implies(literal, constraint.term()))
    answer = solver.check(*literals)
    if answer == z3.sat:
        return "sat", []
    if answer == z3.unsat:
        used = {str(literal) for literal in solver.unsat_core()}
        return "unsat", [
            c for lit, c in zip(literals, constraints, strict=True) if str(lit) in used
        ]
    return "unknown", []


# --- building the constraints ---------------------------------------------------------------


def ordering_constraints(events: Iterable[Event]) -> list[Constraint]:
    """All observations and rule instances of a history, in a stable order."""
    builder = _Builder(HistoryIndex.build(list(events)))
    builder.observations()
    builder.offsets_contiguous()
    builder.sequence_order()
    builder.txn_before_marker()
    builder.ack_offsets()
    builder.reads()
    builder.transaction_outcomes()
    builder.consumer_positions()
    return builder.constraints


class _Builder:
    def __init__(self, index: HistoryIndex) -> None:
        import z3

        self.z3 = z3
        self.index = index
        self.events = index.events
        self.constraints: list[Constraint] = []
        self._t: dict[int, Any] = {}
        self._offset: dict[int, Any] = {}
        self._names: dict[int, str] = {}
        # (partition, value) -> [(append position, record index)]
        self.holders: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for positions in index.log.values():
            for position in positions:
                event = self.events[position]
                if isinstance(event, Append):
                    for i, value in enumerate(event.records):
                        self.holders[(event.partition, value)].append((position, i))
        self.straddling = _straddling_transactions(index)

    # variables (cached: building z3 terms dominates the time on long histories)
    def t(self, position: int) -> Any:
        if position not in self._t:
            self._t[position] = self.z3.Int(f"t#{position + 1}")
        return self._t[position]

    def offset(self, position: int) -> Any:
        if position not in self._offset:
            self._offset[position] = self.z3.Int(f"offset#{position + 1}")
        return self._offset[position]

    def committed(self, position: int) -> Any:
        return self.z3.Bool(f"commit#{position + 1}")

    def end(self, position: int) -> Any:
        """The offset just past a log entry."""
        event = self.events[position]
        size = len(event.records) if isinstance(event, Append) else 1
        return self.offset(position) + size

    def name(self, position: int) -> str:
        if position not in self._names:
            self._names[position] = named(position, self.events[position])
        return self._names[position]

    def add(self, kind: str, name: str, formula: Any, *positions: int) -> None:
        self.constraints.append(Constraint(kind, name, formula, tuple(p + 1 for p in positions)))

    # observations
    def observations(self) -> None:
        for position, event in enumerate(self.events):
            number = position + 1
            pins: list[tuple[str, int | bool]] = [(f"t#{number}", position)]
            if isinstance(event, Append | ProduceAck):
                pins.append((f"offset#{number}", event.base_offset))
            elif isinstance(event, Marker | Read | OffsetCommit):
                pins.append((f"offset#{number}", event.offset))
            if isinstance(event, Marker | TxnEnd):
                pins.append((f"commit#{number}", event.commit))
            name = self.name(position)
            self.constraints.append(Constraint(OBSERVED, name, None, (number,), tuple(pins)))

    # rules
    def offsets_contiguous(self) -> None:
        for positions in self.index.log.values():
            for previous, current in itertools.pairwise(positions):
                name = f"{self.name(current)} directly follows {self.name(previous)}"
                formula = self.offset(current) == self.end(previous)
                self.add("offsets_contiguous", name, formula, previous, current)

    def sequence_order(self) -> None:
        batches: dict[tuple[str, int, int, int], list[int]] = defaultdict(list)
        appends = [
            p
            for positions in self.index.log.values()
            for p in positions
            if isinstance(self.events[p], Append)
        ]
        for position in appends:
            event = self.events[position]
            assert isinstance(event, Append)
            if event.base_sequence != NO_SEQUENCE:
                key = (
                    event.partition,
                    event.producer_id,
                    event.producer_epoch,
                    event.base_sequence,
                )
                batches[key].append(position)
        for position in appends:
            event = self.events[position]
            assert isinstance(event, Append)
            if event.base_sequence == NO_SEQUENCE:
                continue
            after = next_sequence(last_sequence(event.base_sequence, len(event.records)), 1)
            key = (event.partition, event.producer_id, event.producer_epoch, after)
            for successor in batches.get(key, ()):
                if successor == position:
                    continue
                name = f"{self.name(position)} before {self.name(successor)}"
                formula = self.end(position) <= self.offset(successor)
                self.add("sequence_order", name, formula, position, successor)

    def txn_before_marker(self) -> None:
        for txn in self.index.txns:
            if txn.marker is None:
                continue
            for append in txn.appends:
                name = f"{self.name(append)} before its marker {self.name(txn.marker)}"
                formula = self.z3.And(
                    self.end(append) <= self.offset(txn.marker), self.t(append) < self.t(txn.marker)
                )
                self.add("txn_before_marker", name, formula, append, txn.marker)

    def ack_offsets(self) -> None:
        z3 = self.z3
        batches: dict[tuple[str, int, int, int, tuple[str, ...]], list[int]] = defaultdict(list)
        for positions in self.index.log.values():
            for p in positions:
                e = self.events[p]
                if isinstance(e, Append):
                    key = (e.partition, e.producer_id, e.producer_epoch, e.base_sequence, e.records)
                    batches[key].append(p)
        for position, ack in enumerate(self.events):
            if not isinstance(ack, ProduceAck) or ack.error != "NONE":
                continue
            if ack.partition not in self.index.log:
                continue
            key = (
                ack.partition,
                ack.producer_id,
                ack.producer_epoch,
                ack.base_sequence,
                ack.records,
            )
            candidates = batches.get(key, [])
            options = [
                z3.And(self.offset(position) == self.offset(c), self.t(c) < self.t(position))
                for c in candidates
            ]
            where = ", ".join(self.name(c) for c in candidates) or "no append of that batch"
            name = f"{self.name(position)} acknowledges an append of its batch ({where})"
            self.add("ack_offset", name, z3.Or(options), position, *candidates)

    def reads(self) -> None:
        for position, read in enumerate(self.events):
            if isinstance(read, Read) and read.partition in self.index.log:
                self._read_source(position, read)
                if read.isolation == READ_COMMITTED:
                    self._read_committed(position, read)

    def _read_source(self, position: int, read: Read) -> None:
        z3 = self.z3
        candidates = self.holders.get((read.partition, read.value), [])
        options = [
            z3.And(self.offset(position) == self.offset(a) + i, self.t(a) < self.t(position))
            for a, i in candidates
        ]
        where = ", ".join(self.name(a) for a, _ in candidates) or f"no append in {read.partition}"
        name = f"{self.name(position)} returns {read.value!r} appended before it ({where})"
        self.add("read_source", name, z3.Or(options), position, *(a for a, _ in candidates))

    def _read_committed(self, position: int, read: Read) -> None:
        z3 = self.z3
        for append, i in self.holders.get((read.partition, read.value), []):
            is_source = self.offset(position) == self.offset(append) + i
            txn = self.index.txn_of_append.get(append)
            if txn is None:
                continue
            if txn.marker is None:
                name = (
                    f"{self.name(position)} of {self.name(append)} needs its transaction "
                    "committed, but it was never ended"
                )
                self.add("read_committed_visibility", name, z3.Not(is_source), position, append)
                continue
            marker = txn.marker
            visible = z3.And(
                self.committed(marker),
                self.t(marker) < self.t(position),
                self.offset(position) < self.offset(marker),
            )
            name = (
                f"{self.name(position)} of {self.name(append)} needs its marker "
                f"{self.name(marker)} to be a COMMIT written before the read, above the record"
            )
            self.add(
                "read_committed_visibility",
                name,
                z3.Implies(is_source, visible),
                position,
                append,
                marker,
            )
        self._last_stable_offset(position, read)

    def _last_stable_offset(self, position: int, read: Read) -> None:
        """Other transactions that straddle the read's offset (by the recorded offsets) must
        have ended before the read: it is below the LSO only then. (Transactions entirely
        below the offset ended before the record was appended, those above cannot matter.)"""
        z3 = self.z3
        slot = self.index.records[read.partition].get(read.offset)
        own = self.index.txn_of_append.get(slot.append) if slot is not None else None
        for txn in self.straddling.get((read.partition, read.offset), ()):
            if txn is own:
                continue
            first = txn.appends[0]
            if txn.marker is not None:
                ended = self.t(txn.marker) < self.t(position)
                name = (
                    f"{self.name(position)} below the LSO: pid {txn.producer_id}'s transaction "
                    f"from {self.name(first)} ended by {self.name(txn.marker)} before it"
                )
                positions: tuple[int, ...] = (position, first, txn.marker)
            else:
                ended = z3.BoolVal(False)
                name = (
                    f"{self.name(position)} below the LSO: pid {txn.producer_id}'s transaction "
                    f"from {self.name(first)} (never ended)"
                )
                positions = (position, first)
            formula = z3.Implies(self.offset(first) <= self.offset(position), ended)
            self.add("lso", name, formula, *positions)

    def transaction_outcomes(self) -> None:
        groups: dict[tuple[int, int, int | None], list[int]] = defaultdict(list)
        for append in sorted(self.index.txn_of_append):
            event = self.events[append]
            assert isinstance(event, Append)
            end = self.index.client_txn_end.get(append)
            marker = self.index.txn_of_append[append].marker
            key = (event.producer_id, event.producer_epoch, end)
            if marker is not None and marker not in groups[key]:
                groups[key].append(marker)
        for (_, _, end), markers in groups.items():
            if end is not None:
                for marker in markers:
                    name = f"{self.name(marker)} ends the transaction as {self.name(end)} asked"
                    formula = self.committed(marker) == self.committed(end)
                    self.add("transaction_outcome", name, formula, marker, end)
            else:
                for first, other in itertools.pairwise(markers):
                    name = f"{self.name(first)} and {self.name(other)} end one transaction alike"
                    formula = self.committed(first) == self.committed(other)
                    self.add("transaction_outcome", name, formula, first, other)

    def consumer_positions(self) -> None:
        """Between two reads of a read_committed consumer at increasing offsets, no record
        visible by then lies in between (a rewind starts afresh: seeks are not recorded)."""
        z3 = self.z3
        for previous, position in self.index.forward_reads():
            later = self.events[position]
            earlier = self.events[previous]
            assert isinstance(later, Read) and isinstance(earlier, Read)
            between = self.index.appends_between(later.partition, earlier.offset, later.offset)
            for append in between:
                batch = self.events[append]
                assert isinstance(batch, Append)
                in_gap = z3.And(
                    self.offset(append) + len(batch.records) - 1 > self.offset(previous),
                    self.offset(append) < self.offset(position),
                )
                txn = self.index.txn_of_append.get(append)
                if txn is None:
                    visible = self.t(append) < self.t(position)
                    positions: tuple[int, ...] = (previous, append, position)
                elif txn.marker is not None:
                    visible = z3.And(
                        self.committed(txn.marker), self.t(txn.marker) < self.t(position)
                    )
                    positions = (previous, append, txn.marker, position)
                else:
                    continue  # never visible
                name = (
                    f"{later.client} reads {self.name(previous)} then {self.name(position)}, "
                    f"skipping no visible record of {self.name(append)}"
                )
                self.add("consumer_position", name, z3.Not(z3.And(in_gap, visible)), *positions)


def _straddling_transactions(index: HistoryIndex) -> dict[tuple[str, int], list[PartitionTxn]]:
    """(partition, offset of a read) -> the transactions with first offset <= offset < marker
    offset (or never ended): a sweep over offsets, so the work is linear in the reads and
    transactions plus the answer, not their product."""
    reads: dict[str, set[int]] = defaultdict(set)
    for event in index.events:
        if isinstance(event, Read) and event.isolation == READ_COMMITTED:
            reads[event.partition].add(event.offset)
    spans: dict[str, list[tuple[int, float, int, PartitionTxn]]] = defaultdict(list)
    for number, txn in enumerate(index.txns):
        if txn.appends and txn.partition in reads:
            marker = index.events[txn.marker] if txn.marker is not None else None
            end = marker.offset if isinstance(marker, Marker) else float("inf")
            spans[txn.partition].append((index.first_offset(txn), end, number, txn))
    answer: dict[tuple[str, int], list[PartitionTxn]] = {}
    for partition, offsets in reads.items():
        pending = sorted(spans.get(partition, []), key=lambda span: span[:3])
        active: list[tuple[float, int, PartitionTxn]] = []
        next_span = 0
        for offset in sorted(offsets):
            while next_span < len(pending) and pending[next_span][0] <= offset:
                _, end, number, txn = pending[next_span]
                heapq.heappush(active, (end, number, txn))
                next_span += 1
            while active and active[0][0] <= offset:
                heapq.heappop(active)
            if active:
                answer[(partition, offset)] = [txn for _, _, txn in sorted(active)]
    return answer
