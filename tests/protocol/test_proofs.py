"""The proofs give the answers the protocol needs, and their counterexamples are real.

A counterexample is checked here by running the plain Python functions on it, independently
of the replay in protocol/proofs.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import z3

from kafka_eos.protocol.proofs import (
    Claim,
    ProofResult,
    Query,
    default_claims,
    prove,
    prove_all,
    retry_claim,
)
from kafka_eos.protocol.sequence import (
    MAX_SEQUENCE,
    find_duplicate,
    in_sequence,
    last_sequence,
    next_sequence,
)

SHOULD_HOLD = {
    "next_sequence_in_range",
    "next_sequence_is_sum_mod_2^31",
    "last_sequence_of_batch",
    "in_sequence_accepts_exactly_one_successor",
    "retry_is_duplicate",
    "next_batch_is_appended",
}
SHOULD_FAIL = {
    "retry_with_fewer_cached",
    "retry_without_span_bound",
    "naive_next_sequence_in_range",
    "naive_in_sequence_accepts_successor",
}


@pytest.fixture(scope="module")
def results() -> dict[str, ProofResult]:
    return {result.claim: result for result in prove_all()}


def test_every_claim_is_run(results: dict[str, ProofResult]) -> None:
    assert set(results) == SHOULD_HOLD | SHOULD_FAIL


@pytest.mark.parametrize("name", sorted(SHOULD_HOLD))
def test_claims_about_the_protocol_are_proved(results: dict[str, ProofResult], name: str) -> None:
    result = results[name]
    assert result.outcome == "proved", result.summary()
    assert result.ok and result.counterexample is None
    assert result.verdict == "proved"


@pytest.mark.parametrize("name", sorted(SHOULD_FAIL))
def test_claims_meant_to_fail_get_a_counterexample(
    results: dict[str, ProofResult], name: str
) -> None:
    result = results[name]
    assert result.outcome == "counterexample" and result.ok, result.summary()
    assert result.verdict == "counterexample found (as expected)"
    assert result.replayed  # the Python functions go wrong on it too


@dataclass(frozen=True)
class RetryWindow:
    """A retry claim's counterexample, decoded here by hand: each batch's (first, last)
    sequence, the earlier (cached) ones first, then those in flight."""

    ranges: list[tuple[int, int]]
    earlier: int
    appended_in_flight: int
    retry: int

    @property
    def appended(self) -> list[tuple[int, int]]:
        """The batches in the log: every earlier one and the first appended ones in flight."""
        return self.ranges[: self.earlier + self.appended_in_flight]

    @property
    def cache(self) -> list[tuple[int, int, int]]:
        """The producer's cache: the last appended batches, as many as there are earlier ones,
        each with its offset (its index in the log)."""
        return [(f, lst, offset) for offset, (f, lst) in enumerate(self.appended)][-self.earlier :]

    @property
    def retried(self) -> int:
        """The index of the retried batch."""
        return self.earlier + self.retry - 1


def retry_window(result: ProofResult) -> RetryWindow:
    values = result.counterexample
    assert values is not None
    sizes = [v for k, v in values.items() if k.startswith(("earlier", "batch"))]
    ranges, first = [], values["start"]
    for size in sizes:
        assert 1 <= size <= MAX_SEQUENCE
        ranges.append((first, last_sequence(first, size)))
        first = next_sequence(ranges[-1][1], 1)
    earlier = sum(1 for k in values if k.startswith("earlier"))
    return RetryWindow(ranges, earlier, values["appended"], values["retry"])


def test_fewer_cached_than_in_flight_makes_a_retry_out_of_order(
    results: dict[str, ProofResult],
) -> None:
    window = retry_window(results["retry_with_fewer_cached"])
    assert window.earlier == 4 and len(window.ranges) == 9
    first, last = window.ranges[window.retried]
    # The retry of an appended batch is not in the cache, and not the next in sequence:
    assert find_duplicate(window.cache, first, last) is None
    assert not in_sequence(window.appended[-1][1], first)


def test_without_a_span_bound_a_retry_gets_another_batchs_offset(
    results: dict[str, ProofResult],
) -> None:
    window = retry_window(results["retry_without_span_bound"])
    ranges, own = window.ranges, window.retried
    assert window.earlier == 5
    found = find_duplicate(window.cache, *ranges[own])
    assert found is not None and found != own
    assert ranges[found] == ranges[own]  # the sequence space wrapped all the way round


def test_naive_counterexamples_are_real(results: dict[str, ProofResult]) -> None:
    values = results["naive_next_sequence_in_range"].counterexample
    assert values is not None
    assert 0 <= values["s"] <= MAX_SEQUENCE and 0 <= values["k"] <= MAX_SEQUENCE
    assert values["s"] + values["k"] > MAX_SEQUENCE
    assert 0 <= next_sequence(values["s"], values["k"]) <= MAX_SEQUENCE

    values = results["naive_in_sequence_accepts_successor"].counterexample
    assert values is not None
    last = values["last_seq"]
    assert next_sequence(last, 1) != last + 1  # naive first == last + 1 rejects the producer
    assert in_sequence(last, next_sequence(last, 1))  # the real test accepts it


@pytest.mark.parametrize(
    ("in_flight", "cached", "holds"), [(3, 3, True), (3, 2, False), (1, 1, True)]
)
def test_the_retry_claim_holds_exactly_when_the_cache_covers_the_window(
    in_flight: int, cached: int, holds: bool
) -> None:
    result = prove(retry_claim(in_flight=in_flight, cached=cached))
    assert result.outcome == ("proved" if holds else "counterexample")
    assert result.ok


def test_a_claim_that_should_hold_but_fails_is_not_ok() -> None:
    s = z3.Int("s")
    broken = Claim(
        name="broken",
        statement="every sequence is below 10",
        expect="proved",
        build=lambda: Query(
            z3.And(s >= 0, s <= MAX_SEQUENCE, s >= 10),
            {"s": s},
            lambda v: f"{v['s']} >= 10" if v["s"] >= 10 else None,
        ),
    )
    result = prove(broken)
    assert result.outcome == "counterexample" and not result.ok
    assert result.verdict == "counterexample found"
    assert result.counterexample is not None and result.counterexample["s"] >= 10
    assert "s=" in result.summary()
    assert result.to_json()["ok"] is False


def test_claim_names_are_unique() -> None:
    names = [claim.name for claim in default_claims()]
    assert len(names) == len(set(names))


def test_a_claim_whose_assumptions_cannot_hold_is_vacuous_not_proved() -> None:
    s = z3.Int("s")
    impossible = z3.And(s > 5, s < 3)
    claim = Claim(
        name="vacuous",
        statement="every s with 5 < s < 3 is 4",
        expect="proved",
        build=lambda: Query(z3.And(impossible, s != 4), {"s": s}, lambda v: None, impossible),
    )
    result = prove(claim)
    assert result.outcome == "vacuous" and not result.ok
    assert result.verdict.startswith("vacuous")
