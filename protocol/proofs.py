"""Proofs, for every 32-bit value, of the sequence rules in :mod:`.sequence`.

Each :class:`Claim` is a statement about the z3 encodings in ``sequence.py``. z3 is asked for
a counterexample (the claim's assumptions and its negation); *unsat* means the claim holds for
all values (``proved``), *sat* gives a concrete counterexample, which is then replayed on the
plain Python functions to show that it is real, not an artefact of the encoding.

Some claims are meant to fail: the naive arithmetic without wrap-around, and a leader that
caches fewer batches than a producer keeps in flight. They show that the proofs can fail and
what the failure looks like; they are reported as "counterexample found (as expected)".

The in-flight window (claims ``retry_*``): a producer has ``cached`` earlier, acknowledged
batches followed by ``in_flight`` unacknowledged ones, consecutive in sequence, each of a
symbolic size, starting at a symbolic sequence. The leader has appended the earlier batches and
the first ``appended`` in-flight ones; its cache holds the last ``cached`` appended batches. A
retry of in-flight batch ``retry`` is answered as the leader does: the duplicate check first,
then the in-sequence test (ProducerAppendInfo), else OUT_OF_ORDER_SEQUENCE_NUMBER. Batch sizes
are assumed to add up to fewer than 2**31 records over the window (claim
``retry_without_span_bound`` shows why: otherwise two cached batches can share a range).

Sorts: the arithmetic claims are proved over 32-bit bit-vectors (Java's int: they also show
that no intermediate value overflows); the window claims over z3 Ints restricted to
[0, 2**31-1], i.e. Python's integers, exactly what the shared functions compute (a SAT solver
cannot show quickly that ten chained wrapping additions never come back to their start;
linear arithmetic shows it in a tenth of a second). Both sorts run the same encodings, and the
agreement tests check both against the Python functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .sequence import (
    MAX_SEQUENCE,
    NO_DUPLICATE_OFFSET,
    NUM_BATCHES_TO_RETAIN,
    SEQUENCE_BITS,
    find_duplicate,
    find_duplicate_z3,
    in_sequence,
    in_sequence_z3,
    last_sequence,
    last_sequence_z3,
    next_sequence,
    next_sequence_z3,
    sequence_z3,
    valid_sequence_z3,
)

Outcome = Literal["proved", "counterexample", "unknown", "vacuous"]
Values = dict[str, int]

#: An idempotent producer's max.in.flight.requests.per.connection limit.
MAX_IN_FLIGHT = 5
DEFAULT_TIMEOUT_MS = 20_000


@dataclass(frozen=True, slots=True)
class Query:
    """What z3 is asked: is ``negation`` (assumptions and not-claim) satisfiable?"""

    negation: Any
    #: names reported in a counterexample -> the z3 term giving the value
    variables: dict[str, Any]
    #: replays a counterexample on the Python functions: what goes wrong, or None if nothing
    replay: Callable[[Values], str | None]
    #: the assumptions alone: if they cannot hold, "proved" would prove nothing (vacuous)
    premise: Any = None


@dataclass(frozen=True, slots=True)
class Claim:
    name: str
    statement: str
    expect: Literal["proved", "counterexample"]
    build: Callable[[], Query] = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProofResult:
    claim: str
    statement: str
    expected: str
    outcome: Outcome
    seconds: float
    counterexample: Values | None = None
    #: the Python functions' behaviour on the counterexample (None: they do not go wrong)
    replayed: str | None = None

    @property
    def ok(self) -> bool:
        """The outcome is the expected one (and a counterexample is real in Python too)."""
        if self.outcome == "counterexample":
            return self.expected == "counterexample" and self.replayed is not None
        return self.outcome == self.expected

    @property
    def verdict(self) -> str:
        if self.outcome == "proved":
            return "proved" if self.ok else "proved (a counterexample was expected)"
        if self.outcome == "unknown":
            return "unknown (z3 gave up)"
        if self.outcome == "vacuous":
            return "vacuous (its assumptions cannot hold)"
        suffix = " (as expected)" if self.expected == "counterexample" else ""
        if self.replayed is None:
            suffix += " but the Python functions do not go wrong on it"
        return f"counterexample found{suffix}"

    def summary(self) -> str:
        """The claim, its verdict and time; the statement; the counterexample if any, and
        what the Python functions do on it."""
        lines = [f"{self.claim}: {self.verdict} in {self.seconds:.2f}s", f"    {self.statement}"]
        if self.counterexample is not None:
            values = ", ".join(f"{k}={v}" for k, v in self.counterexample.items())
            lines.append(f"    counterexample: {values}")
            if self.replayed:
                lines.append(f"    in Python: {self.replayed}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "statement": self.statement,
            "expected": self.expected,
            "outcome": self.outcome,
            "ok": self.ok,
            "seconds": round(self.seconds, 4),
            "counterexample": self.counterexample,
            "replayed": self.replayed,
        }


def prove(claim: Claim, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> ProofResult:
    """Ask z3 for a counterexample to ``claim``."""
    import z3

    started = time.perf_counter()
    query = claim.build()
    solver = z3.SolverFor("QF_BV") if _is_pure_bitvector(query) else z3.Solver()
    solver.set(timeout=timeout_ms)
    solver.add(query.negation)
    answer = solver.check()
    if answer == z3.unsat and query.premise is not None:
        premise = z3.Solver()
        premise.set(timeout=timeout_ms)
        premise.add(query.premise)
        if premise.check() != z3.sat:
            answer = None
    counterexample = replayed = None
    if answer == z3.sat:
        model = solver.model()
        counterexample = {
            name: _as_int(model.eval(term, model_completion=True))
            for name, term in query.variables.items()
        }
        replayed = query.replay(counterexample)
    outcome: Outcome = "unknown"
    if answer is None:
        outcome = "vacuous"
    elif answer == z3.unsat:
        outcome = "proved"
    elif answer == z3.sat:
        outcome = "counterexample"
    return ProofResult(
        claim=claim.name,
        statement=claim.statement,
        expected=claim.expect,
        outcome=outcome,
        seconds=time.perf_counter() - started,
        counterexample=counterexample,
        replayed=replayed,
    )


def prove_all(
    claims: Sequence[Claim] | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> list[ProofResult]:
    return [prove(claim, timeout_ms=timeout_ms) for claim in (claims or default_claims())]


def _is_pure_bitvector(query: Query) -> bool:
    import z3

    return all(z3.is_bv(term) for term in query.variables.values())


def _as_int(value: Any) -> int:
    import z3

    if isinstance(value, z3.BitVecNumRef):
        return int(value.as_signed_long())
    return int(value.as_long())


# --- arithmetic claims ------------------------------------------------------------------------


def _wide(term: Any) -> Any:
    """A 32-bit term as 64 bits (unsigned), so sums cannot overflow."""
    import z3

    return z3.ZeroExt(64 - SEQUENCE_BITS, term)


def _mod_2_31(term64: Any) -> Any:
    import z3

    return z3.URem(term64, z3.BitVecVal(MAX_SEQUENCE + 1, 64))


def _next_sequence_in_range() -> Query:
    import z3

    s, k = sequence_z3("s"), sequence_z3("k")
    out_of_range = z3.Not(valid_sequence_z3(next_sequence_z3(s, k)))
    negation = z3.And(valid_sequence_z3(s), valid_sequence_z3(k), out_of_range)

    def replay(v: Values) -> str | None:
        result = next_sequence(v["s"], v["k"])
        return None if 0 <= result <= MAX_SEQUENCE else f"next_sequence(s, k) = {result}"

    return Query(negation, {"s": s, "k": k}, replay)


def _next_sequence_is_sum_mod() -> Query:
    import z3

    s, k = sequence_z3("s"), sequence_z3("k")
    expected = _mod_2_31(_wide(s) + _wide(k))
    negation = z3.And(
        valid_sequence_z3(s), valid_sequence_z3(k), _wide(next_sequence_z3(s, k)) != expected
    )

    def replay(v: Values) -> str | None:
        result, want = next_sequence(v["s"], v["k"]), (v["s"] + v["k"]) % 2**31
        return None if result == want else f"next_sequence(s, k) = {result}, not {want}"

    return Query(negation, {"s": s, "k": k}, replay)


def _last_sequence_of_batch() -> Query:
    import z3

    first, count = sequence_z3("first"), sequence_z3("records")
    expected = _mod_2_31(_wide(first) + _wide(count) - 1)
    negation = z3.And(
        valid_sequence_z3(first),
        count >= 1,
        count <= MAX_SEQUENCE,
        _wide(last_sequence_z3(first, count)) != expected,
    )

    def replay(v: Values) -> str | None:
        result = last_sequence(v["first"], v["records"])
        want = (v["first"] + v["records"] - 1) % 2**31
        return None if result == want else f"last_sequence = {result}, not {want}"

    return Query(negation, {"first": first, "records": count}, replay)


def _in_sequence_exactly_one_successor() -> Query:
    import z3

    last, other = sequence_z3("last_seq"), sequence_z3("first_seq")
    successor = next_sequence_z3(last, 1)
    negation = z3.And(
        valid_sequence_z3(last),
        valid_sequence_z3(other),
        z3.Or(
            z3.Not(in_sequence_z3(last, successor)),
            z3.And(other != successor, in_sequence_z3(last, other)),
        ),
    )

    def replay(v: Values) -> str | None:
        last_seq, first_seq = v["last_seq"], v["first_seq"]
        successor = next_sequence(last_seq, 1)
        if not in_sequence(last_seq, successor):
            return f"in_sequence rejects the successor {successor}"
        if first_seq != successor and in_sequence(last_seq, first_seq):
            return f"in_sequence accepts {first_seq} besides the successor {successor}"
        return None

    return Query(negation, {"last_seq": last, "first_seq": other}, replay)


# --- the naive arithmetic (no wrap), meant to fail -----------------------------------------------


def _naive_next_sequence_in_range() -> Query:
    import z3

    s, k = sequence_z3("s"), sequence_z3("k")
    naive = s + k  # Java's int addition: overflows to a negative sequence
    negation = z3.And(valid_sequence_z3(s), valid_sequence_z3(k), z3.Not(valid_sequence_z3(naive)))

    def replay(v: Values) -> str | None:
        naive = v["s"] + v["k"]
        return f"s + k = {naive} > {MAX_SEQUENCE}" if naive > MAX_SEQUENCE else None

    return Query(negation, {"s": s, "k": k}, replay)


def _naive_in_sequence_accepts_successor() -> Query:
    import z3

    last = sequence_z3("last_seq")
    negation = z3.And(valid_sequence_z3(last), next_sequence_z3(last, 1) != last + 1)

    def replay(v: Values) -> str | None:
        successor = next_sequence(v["last_seq"], 1)
        if successor == v["last_seq"] + 1:
            return None
        return f"the producer sends {successor}; first == last + 1 rejects it (out of order)"

    return Query(negation, {"last_seq": last}, replay)


# --- the in-flight window ------------------------------------------------------------------------

Answer = tuple[str, int | None]


def window_ranges(start: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """(first, last) sequence of consecutive batches of ``sizes`` records from ``start``."""
    ranges = []
    first = start
    for size in sizes:
        last = last_sequence(first, size)
        ranges.append((first, last))
        first = next_sequence(last, 1)
    return ranges


def leader_answer(
    appended: Sequence[tuple[int, int]], cached: int, first_seq: int, last_seq: int
) -> Answer:
    """How a leader answers a batch after appending ``appended`` (oldest first) and caching
    the last ``cached``: ("duplicate", index of the cached batch), ("append", None) or
    ("out_of_order", None). A batch's index stands for its offset: offsets grow with it."""
    cache = [(f, lst, index) for index, (f, lst) in enumerate(appended)][-cached:]
    duplicate = find_duplicate(cache, first_seq, last_seq)
    if duplicate is not None:
        return ("duplicate", duplicate)
    if in_sequence(appended[-1][1], first_seq):
        return ("append", None)
    return ("out_of_order", None)


@dataclass(frozen=True, slots=True)
class _Window:
    """The symbolic window: ``cached`` earlier batches, then ``in_flight`` ones."""

    in_flight: int
    cached: int
    bounded_span: bool
    variables: dict[str, Any]
    ranges: list[tuple[Any, Any]]
    assumptions: Any

    @classmethod
    def build(cls, *, in_flight: int, cached: int, bounded_span: bool) -> _Window:
        import z3

        # Integers, not bit-vectors: a SAT solver cannot show that a chain of ten wrapping
        # additions never returns to its start, linear arithmetic shows it at once. The
        # encodings are the same functions; over Ints they compute what the Python computes.
        start = sequence_z3("start", bits=False)
        names = [f"earlier{i}" for i in range(1, cached + 1)]
        names += [f"batch{i}" for i in range(1, in_flight + 1)]
        sizes = [sequence_z3(name, bits=False) for name in names]
        assumptions = [valid_sequence_z3(start)]
        assumptions += [z3.And(size >= 1, size <= MAX_SEQUENCE) for size in sizes]
        if bounded_span:
            assumptions.append(z3.Sum(sizes) <= MAX_SEQUENCE)
        ranges = []
        first = start
        for size in sizes:
            last = last_sequence_z3(first, size)
            ranges.append((first, last))
            first = next_sequence_z3(last, 1)
        variables = {"start": start, **dict(zip(names, sizes, strict=True))}
        return cls(in_flight, cached, bounded_span, variables, ranges, z3.And(assumptions))

    def answer_z3(self, appended_count: int, first: Any, last: Any) -> tuple[Any, Any]:
        """(offset found by the duplicate check, in-sequence formula) after
        ``appended_count`` in-flight batches were appended."""
        appended = self.ranges[: self.cached + appended_count]
        cache = [(f, lst, index) for index, (f, lst) in enumerate(appended)][-self.cached :]
        return find_duplicate_z3(cache, first, last), in_sequence_z3(appended[-1][1], first)

    def batch_name(self, index: int) -> str:
        """The counterexample's name of the window's batch number ``index`` (0-based)."""
        if index < self.cached:
            return f"earlier{index + 1}"
        return f"batch{index - self.cached + 1}"

    def replay_answer(self, values: Values, appended_count: int, retry: int) -> Answer:
        sizes = [values[name] for name in self.variables if name != "start"]
        ranges = window_ranges(values["start"], sizes)
        first, last = ranges[self.cached + retry - 1]
        return leader_answer(ranges[: self.cached + appended_count], self.cached, first, last)


def _retry_is_duplicate(*, in_flight: int, cached: int, bounded_span: bool) -> Query:
    """Negation: some retry of an appended in-flight batch is not answered as a duplicate of
    that very batch (so it is appended again, rejected out of order, or given another
    batch's offset)."""
    import z3

    window = _Window.build(in_flight=in_flight, cached=cached, bounded_span=bounded_span)
    appended, retry = z3.Int("appended"), z3.Int("retry")
    cases = []
    for appended_count in range(1, in_flight + 1):
        for retried in range(1, appended_count + 1):
            index = cached + retried - 1
            found, _ = window.answer_z3(appended_count, *window.ranges[index])
            cases.append(z3.And(appended == appended_count, retry == retried, found != index))
    negation = z3.And(window.assumptions, z3.Or(cases))

    def replay(v: Values) -> str | None:
        kind, found = window.replay_answer(v, v["appended"], v["retry"])
        own = cached + v["retry"] - 1
        if kind == "duplicate" and found == own:
            return None
        if kind == "duplicate":
            other = window.batch_name(found if found is not None else -1)
            return f"the retry of batch{v['retry']} is answered with the offset of {other}"
        return f"the retry of batch{v['retry']} is answered {kind.upper()}"

    variables = {**window.variables, "appended": appended, "retry": retry}
    return Query(negation, variables, replay, premise=window.assumptions)


def _next_batch_is_appended(*, in_flight: int, cached: int) -> Query:
    """Negation: the first in-flight batch not yet appended is a false duplicate or out of
    order (with every earlier one appended)."""
    import z3

    window = _Window.build(in_flight=in_flight, cached=cached, bounded_span=True)
    appended = z3.Int("appended")
    cases = []
    for appended_count in range(in_flight):
        found, accepted = window.answer_z3(appended_count, *window.ranges[cached + appended_count])
        wrong = z3.Or(found != NO_DUPLICATE_OFFSET, z3.Not(accepted))
        cases.append(z3.And(appended == appended_count, wrong))
    negation = z3.And(window.assumptions, z3.Or(cases))

    def replay(v: Values) -> str | None:
        kind, _ = window.replay_answer(v, v["appended"], v["appended"] + 1)
        return None if kind == "append" else f"the next batch is answered {kind.upper()}"

    variables = {**window.variables, "appended": appended}
    return Query(negation, variables, replay, premise=window.assumptions)


def retry_claim(
    *, in_flight: int, cached: int, bounded_span: bool = True, name: str | None = None
) -> Claim:
    """Every retry of an appended in-flight batch is recognised as a duplicate of itself.

    Expected to hold exactly when the cache is at least as large as the in-flight window (and
    the window spans fewer than 2**31 sequence numbers)."""
    span = "spanning < 2^31 sequences" if bounded_span else "of any sizes up to 2^31-1 records"
    holds = cached >= in_flight and bounded_span
    return Claim(
        name=name or f"retry_is_duplicate_{in_flight}_in_flight_{cached}_cached",
        statement=(
            f"with {in_flight} batches in flight and {cached} cached ({span}), every retry of an "
            "appended in-flight batch is answered as a duplicate with its own offset, never "
            "OUT_OF_ORDER_SEQUENCE_NUMBER"
        ),
        expect="proved" if holds else "counterexample",
        build=lambda: _retry_is_duplicate(
            in_flight=in_flight, cached=cached, bounded_span=bounded_span
        ),
    )


def default_claims() -> list[Claim]:
    """The claims ``kafka-eos prove`` runs, in order."""
    window = MAX_IN_FLIGHT
    retained = NUM_BATCHES_TO_RETAIN
    return [
        Claim(
            "next_sequence_in_range",
            "for all s, k in [0, 2^31-1]: next_sequence(s, k) is in [0, 2147483647]",
            "proved",
            _next_sequence_in_range,
        ),
        Claim(
            "next_sequence_is_sum_mod_2^31",
            "for all s, k in [0, 2^31-1]: next_sequence(s, k) == (s + k) mod 2^31",
            "proved",
            _next_sequence_is_sum_mod,
        ),
        Claim(
            "last_sequence_of_batch",
            "for all first in [0, 2^31-1], records in [1, 2^31-1]: "
            "last_sequence(first, records) == (first + records - 1) mod 2^31",
            "proved",
            _last_sequence_of_batch,
        ),
        Claim(
            "in_sequence_accepts_exactly_one_successor",
            "for all last in [0, 2^31-1]: in_sequence(last, f) holds for exactly one f in "
            "[0, 2^31-1], f == next_sequence(last, 1) (0 after 2147483647)",
            "proved",
            _in_sequence_exactly_one_successor,
        ),
        retry_claim(in_flight=window, cached=retained, name="retry_is_duplicate"),
        Claim(
            "next_batch_is_appended",
            f"with {window} in flight and {retained} cached (spanning < 2^31 sequences), the "
            "first in-flight batch not yet appended is appended: neither a false duplicate nor "
            "out of order",
            "proved",
            lambda: _next_batch_is_appended(in_flight=window, cached=retained),
        ),
        retry_claim(in_flight=window, cached=retained - 1, name="retry_with_fewer_cached"),
        retry_claim(
            in_flight=window,
            cached=retained,
            bounded_span=False,
            name="retry_without_span_bound",
        ),
        Claim(
            "naive_next_sequence_in_range",
            "naive (no wrap): for all s, k in [0, 2^31-1], s + k stays in [0, 2147483647]",
            "counterexample",
            _naive_next_sequence_in_range,
        ),
        Claim(
            "naive_in_sequence_accepts_successor",
            "naive (no wrap): first == last + 1 accepts the producer's next sequence",
            "counterexample",
            _naive_in_sequence_accepts_successor,
        ),
    ]
