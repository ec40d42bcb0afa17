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

Every variable is pinned by an observation, so the constraints split into independent pieces:
each rule instance together with the observations of the events it mentions (a piece of one
partition, or of one producer's transaction across its partitions). :func:`check_ordering`
decides each piece by evaluating the rule's formula on the observed values (the same code
builds the z3 formula, so the rule is written once) and gives z3 only the piece that explains
a violation: the z3 problem is bounded by one rule's events, never the whole history. A piece
above :data:`MAX_PIECE_CONSTRAINTS` is reported as found, without minimizing, and the result
says so. Otherwise z3's unsat core is shrunk by deletion until it is minimal: every constraint
in it is needed for the contradiction, so the core names exactly the conflicting records,
offsets and markers.
"""

# The rule closures passed to _Builder.add are called inside add(), in the loop iteration
# that made them, so binding the loop variables late is what is meant.
# ruff: noqa: B023

from __future__ import annotations

import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .history import Append, Event, Marker, OffsetCommit, ProduceAck, Read, Truncate, TxnEnd
from .history_checks import READ_COMMITTED, HistoryIndex, PartitionTxn, named
from .sequence import NO_SEQUENCE, last_sequence, next_sequence

#: The kind of an observation (one per event); the other kinds are rules.
OBSERVED = "observed"
DEFAULT_TIMEOUT_MS = 30_000
#: the most constraints one z3 problem (a violated rule and its observations) may hold: a
#: larger piece is reported unminimized
MAX_PIECE_CONSTRAINTS = 2_000
#: progress(rule family, families done, families): called as each family starts
Progress = Callable[[str, int, int], None]


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
    #: False when the explaining piece was above MAX_PIECE_CONSTRAINTS: ``core`` is the
    #: violated rule with its observations, not shrunk
    minimized: bool = True

    def lines(self) -> list[str]:
        if self.consistent:
            return [f"consistent ({self.constraints} ordering constraints)"]
        head = f"inconsistent: these {len(self.core)} constraints cannot all hold"
        if self.violated > 1:
            head += f" ({self.violated} rule instances are broken; this explains one)"
        lines = [head, *(f"  {c}" for c in self.core)]
        if not self.minimized:
            lines.append(
                f"  (not minimized: this piece has {len(self.core)} constraints, above the "
                f"bound of {MAX_PIECE_CONSTRAINTS} for one z3 problem)"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "consistent": self.consistent,
            "constraints": self.constraints,
            "violated": self.violated,
            "minimized": self.minimized,
            "seconds": round(self.seconds, 4),
            "core": [
                {"kind": c.kind, "name": c.name, "events": list(c.positions)} for c in self.core
            ],
        }


def check_ordering(
    events: Iterable[Event],
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    progress: Progress | None = None,
) -> OrderingResult:
    """Check the history's ordering constraints; explain an inconsistency by a minimal core.

    Every variable is fixed by an observation, so the observed values are the only candidate
    solution: each rule instance is evaluated on them, one at a time, and kept only when it
    is the best violated one to explain so far (memory does not grow with the history). That
    rule with the observations of the events it mentions is unsatisfiable; z3 shrinks it by
    deletion to a minimal core, unless it is above MAX_PIECE_CONSTRAINTS.
    """
    started = time.perf_counter()
    builder = _Builder(HistoryIndex.build(list(events)))
    builder.evaluate_rules(progress)
    core: list[Constraint] = []
    minimized = True
    first = builder.best_violation
    if first is not None:
        candidate = [*builder.observations_of(first.positions), first]
        if len(candidate) > MAX_PIECE_CONSTRAINTS:
            core, minimized = candidate, False
        else:
            if is_satisfiable(candidate, timeout_ms=timeout_ms):
                raise AssertionError(f"a rule mentions an event it does not list: {first}")
            core = minimal_core(candidate, timeout_ms=timeout_ms)
    return OrderingResult(
        consistent=first is None,
        core=tuple(core),
        constraints=builder.count + len(builder.events),
        seconds=time.perf_counter() - started,
        violated=builder.violated,
        minimized=minimized,
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


def _explanation_rank(kind: str, positions: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    rank = EXPLANATION_ORDER.index(kind) if kind in EXPLANATION_ORDER else len(EXPLANATION_ORDER)
    return (rank, positions)


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
    """All observations and rule instances of a history as z3 constraints, in a stable order
    (for small histories and tests: :func:`check_ordering` never builds them all)."""
    builder = _Builder(HistoryIndex.build(list(events)), collect=True)
    builder.evaluate_rules(None)
    observations = builder.observations_of(range(1, len(builder.events) + 1))
    return [*observations, *builder.collected]


#: The rule families, in the order they are built.
RULE_FAMILIES = (
    "offsets_contiguous",
    "sequence_order",
    "txn_before_marker",
    "ack_offset",
    "reads",
    "transaction_outcome",
    "consumer_position",
)


class _Builder:
    """Builds every rule instance of a history once, through :meth:`add`. A rule's formula is
    a function of the variables ``t``, ``offset`` and ``committed``: evaluated on the observed
    values (``symbolic`` False) it says whether the rule holds; built symbolically it is the
    z3 formula. With ``collect`` every instance is kept as a z3 constraint; without, only the
    best violated one to explain (EXPLANATION_ORDER) is."""

    def __init__(self, index: HistoryIndex, *, collect: bool = False) -> None:
        import z3

        self.z3 = z3
        self.index = index
        self.events = index.events
        self.symbolic = collect
        self.collected: list[Constraint] = []
        self._collect = collect
        self.count = 0
        self.violated = 0
        self.best_violation: Constraint | None = None
        self._best_rank: tuple[int, tuple[int, ...]] | None = None
        self._names: dict[int, str] = {}
        # partition -> value -> (append position, record index), or a list of them when the
        # value was appended more than once (rare: one tuple per record keeps this small)
        self._holders: dict[str, dict[str, Any]] = defaultdict(dict)
        for partition, positions in index.log.items():
            by_value = self._holders[partition]
            for position in positions:
                event = self.events[position]
                if isinstance(event, Append):
                    for i, value in enumerate(event.records):
                        held = by_value.get(value)
                        if held is None:
                            by_value[value] = (position, i)
                        elif isinstance(held, list):
                            held.append((position, i))
                        else:
                            by_value[value] = [held, (position, i)]
        self.straddling = _straddling_transactions(index)

    def holders(self, partition: str, value: str) -> list[tuple[int, int]]:
        """Where ``value`` was appended in ``partition``: (append position, record index)."""
        held = self._holders.get(partition, {}).get(value)
        if held is None:
            return []
        return held if isinstance(held, list) else [held]

    def evaluate_rules(self, progress: Progress | None) -> None:
        steps = (
            self.offsets_contiguous,
            self.sequence_order,
            self.txn_before_marker,
            self.ack_offsets,
            self.reads,
            self.transaction_outcomes,
            self.consumer_positions,
        )
        for done, (family, step) in enumerate(zip(RULE_FAMILIES, steps, strict=True)):
            if progress is not None:
                progress(family, done, len(steps))
            step()
        if progress is not None:
            progress("done", len(steps), len(steps))

    # variables: z3 terms when symbolic, else the observed values (an event without such a
    # value reads 0 or False, as z3's model completion gave the unpinned variable)
    def t(self, position: int) -> Any:
        return self.z3.Int(f"t#{position + 1}") if self.symbolic else position

    def offset(self, position: int) -> Any:
        if self.symbolic:
            return self.z3.Int(f"offset#{position + 1}")
        return _observed_offset(self.events[position])

    def committed(self, position: int) -> Any:
        if self.symbolic:
            return self.z3.Bool(f"commit#{position + 1}")
        event = self.events[position]
        return event.commit if isinstance(event, Marker | TxnEnd) else False

    def end(self, position: int) -> Any:
        """The offset just past a log entry."""
        event = self.events[position]
        size = len(event.records) if isinstance(event, Append) else 1
        return self.offset(position) + size

    # connectives of the same two worlds
    def all_of(self, *terms: Any) -> Any:
        return self.z3.And(*terms) if self.symbolic else all(terms)

    def any_of(self, terms: Iterable[Any]) -> Any:
        return self.z3.Or(list(terms)) if self.symbolic else any(terms)

    def negation(self, term: Any) -> Any:
        return self.z3.Not(term) if self.symbolic else not term

    def implies(self, condition: Any, consequence: Any) -> Any:
        if self.symbolic:
            return self.z3.Implies(condition, consequence)
        return not condition or consequence

    def never(self) -> Any:
        return self.z3.BoolVal(False) if self.symbolic else False

    def name(self, position: int) -> str:
        if position not in self._names:
            self._names[position] = named(position, self.events[position])
        return self._names[position]

    def add(
        self, kind: str, name: Callable[[], str], formula: Callable[[], Any], *positions: int
    ) -> None:
        """One rule instance; ``name`` and ``formula`` are built only when needed."""
        self.count += 1
        numbers = tuple(p + 1 for p in positions)
        if self._collect:
            self.collected.append(Constraint(kind, name(), formula(), numbers))
            return
        if formula():
            return
        self.violated += 1
        rank = _explanation_rank(kind, numbers)
        if self._best_rank is not None and rank >= self._best_rank:
            return
        self._best_rank = rank
        self.symbolic = True
        try:
            self.best_violation = Constraint(kind, name(), formula(), numbers)
        finally:
            self.symbolic = False

    # observations
    def observations_of(self, numbers: Iterable[int]) -> Iterator[Constraint]:
        """The observation of each event (1-based ``numbers``), in history order."""
        for number in sorted(set(numbers)):
            position = number - 1
            event = self.events[position]
            pins: list[tuple[str, int | bool]] = [(f"t#{number}", position)]
            if isinstance(event, Append | ProduceAck | Marker | Read | OffsetCommit | Truncate):
                pins.append((f"offset#{number}", _observed_offset(event)))
            if isinstance(event, Marker | TxnEnd):
                pins.append((f"commit#{number}", event.commit))
            yield Constraint(OBSERVED, self.name(position), None, (number,), tuple(pins))

    # rules
    def offsets_contiguous(self) -> None:
        for positions in self.index.log.values():
            for previous, current in itertools.pairwise(positions):
                self.add(
                    "offsets_contiguous",
                    lambda: f"{self.name(current)} directly follows {self.name(previous)}",
                    lambda: self.offset(current) == self.end(previous),
                    previous,
                    current,
                )

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
                self.add(
                    "sequence_order",
                    lambda: f"{self.name(position)} before {self.name(successor)}",
                    lambda: self.end(position) <= self.offset(successor),
                    position,
                    successor,
                )

    def txn_before_marker(self) -> None:
        for txn in self.index.txns:
            marker = txn.marker
            if marker is None:
                continue
            for append in txn.appends:
                self.add(
                    "txn_before_marker",
                    lambda: f"{self.name(append)} before its marker {self.name(marker)}",
                    lambda: self.all_of(
                        self.end(append) <= self.offset(marker), self.t(append) < self.t(marker)
                    ),
                    append,
                    marker,
                )

    def ack_offsets(self) -> None:
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
            self.add(
                "ack_offset",
                lambda: (
                    f"{self.name(position)} acknowledges an append of its batch "
                    f"({', '.join(self.name(c) for c in candidates) or 'no append of that batch'})"
                ),
                lambda: self.any_of(
                    self.all_of(
                        self.offset(position) == self.offset(c), self.t(c) < self.t(position)
                    )
                    for c in candidates
                ),
                position,
                *candidates,
            )

    def reads(self) -> None:
        for position, read in enumerate(self.events):
            if isinstance(read, Read) and read.partition in self.index.log:
                self._read_source(position, read)
                if read.isolation == READ_COMMITTED:
                    self._read_committed(position, read)

    def _read_source(self, position: int, read: Read) -> None:
        candidates = self.holders(read.partition, read.value)

        def name() -> str:
            where = ", ".join(self.name(a) for a, _ in candidates)
            where = where or f"no append in {read.partition}"
            return f"{self.name(position)} returns {read.value!r} appended before it ({where})"

        self.add(
            "read_source",
            name,
            lambda: self.any_of(
                self.all_of(
                    self.offset(position) == self.offset(a) + i, self.t(a) < self.t(position)
                )
                for a, i in candidates
            ),
            position,
            *(a for a, _ in candidates),
        )

    def _read_committed(self, position: int, read: Read) -> None:
        for append, i in self.holders(read.partition, read.value):
            txn = self.index.txn_of_append.get(append)
            if txn is None:
                continue
            marker = txn.marker
            if marker is None:
                self.add(
                    "read_committed_visibility",
                    lambda: (
                        f"{self.name(position)} of {self.name(append)} needs its "
                        "transaction committed, but it was never ended"
                    ),
                    lambda: self.negation(self.offset(position) == self.offset(append) + i),
                    position,
                    append,
                )
                continue
            self.add(
                "read_committed_visibility",
                lambda: (
                    f"{self.name(position)} of {self.name(append)} needs its marker "
                    f"{self.name(marker)} to be a COMMIT written before the read, above the record"
                ),
                lambda: self.implies(
                    self.offset(position) == self.offset(append) + i,
                    self.all_of(
                        self.committed(marker),
                        self.t(marker) < self.t(position),
                        self.offset(position) < self.offset(marker),
                    ),
                ),
                position,
                append,
                marker,
            )
        self._last_stable_offset(position, read)

    def _last_stable_offset(self, position: int, read: Read) -> None:
        """Other transactions that straddle the read's offset (by the recorded offsets) must
        have ended before the read: it is below the LSO only then. (Transactions entirely
        below the offset ended before the record was appended, those above cannot matter.)"""
        slot = self.index.records[read.partition].get(read.offset)
        own = self.index.txn_of_append.get(slot.append) if slot is not None else None
        for txn in self.straddling.get((read.partition, read.offset), ()):
            if txn is own:
                continue
            first, marker = txn.appends[0], txn.marker
            producer = txn.producer_id
            if marker is not None:
                self.add(
                    "lso",
                    lambda: (
                        f"{self.name(position)} below the LSO: pid {producer}'s transaction "
                        f"from {self.name(first)} ended by {self.name(marker)} before it"
                    ),
                    lambda: self.implies(
                        self.offset(first) <= self.offset(position),
                        self.t(marker) < self.t(position),
                    ),
                    position,
                    first,
                    marker,
                )
            else:
                self.add(
                    "lso",
                    lambda: (
                        f"{self.name(position)} below the LSO: pid {producer}'s transaction "
                        f"from {self.name(first)} (never ended)"
                    ),
                    lambda: self.implies(self.offset(first) <= self.offset(position), self.never()),
                    position,
                    first,
                )

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
                    self.add(
                        "transaction_outcome",
                        lambda: (
                            f"{self.name(marker)} ends the transaction as {self.name(end)} asked"
                        ),
                        lambda: self.committed(marker) == self.committed(end),
                        marker,
                        end,
                    )
            else:
                for first, other in itertools.pairwise(markers):
                    self.add(
                        "transaction_outcome",
                        lambda: (
                            f"{self.name(first)} and {self.name(other)} end one transaction alike"
                        ),
                        lambda: self.committed(first) == self.committed(other),
                        first,
                        other,
                    )

    def consumer_positions(self) -> None:
        """Between two reads of a read_committed consumer at increasing offsets, no record
        visible by then lies in between (a rewind starts afresh: seeks are not recorded)."""
        for previous, position in self.index.forward_reads():
            later = self.events[position]
            earlier = self.events[previous]
            assert isinstance(later, Read) and isinstance(earlier, Read)
            between = self.index.appends_between(later.partition, earlier.offset, later.offset)
            for append in between:
                batch = self.events[append]
                assert isinstance(batch, Append)
                txn = self.index.txn_of_append.get(append)
                marker = None if txn is None else txn.marker
                if txn is not None and marker is None:
                    continue  # never visible
                size = len(batch.records)

                def in_gap() -> Any:
                    return self.all_of(
                        self.offset(append) + size - 1 > self.offset(previous),
                        self.offset(append) < self.offset(position),
                    )

                def visible() -> Any:
                    if marker is None:
                        return self.t(append) < self.t(position)
                    return self.all_of(self.committed(marker), self.t(marker) < self.t(position))

                positions = (
                    (previous, append, position)
                    if marker is None
                    else (previous, append, marker, position)
                )
                self.add(
                    "consumer_position",
                    lambda: (
                        f"{later.client} reads {self.name(previous)} then "
                        f"{self.name(position)}, skipping no visible record of {self.name(append)}"
                    ),
                    lambda: self.negation(self.all_of(in_gap(), visible())),
                    *positions,
                )


def _observed_offset(event: Event | None) -> int:
    """The offset an event records (0 for one that records none)."""
    if isinstance(event, Append | ProduceAck):
        return event.base_offset
    if isinstance(event, Marker | Read | OffsetCommit | Truncate):
        return event.offset
    return 0


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
