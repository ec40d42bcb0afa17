"""Ordering constraints: consistent histories pass, inconsistent ones get a minimal core that
names the conflicting records, offsets and markers in the history's own terms."""

from __future__ import annotations

import pytest
import sample_histories as samples
from sample_histories import ack, append, clean_history, end, marker, read

from kafka_eos.protocol.history import Event
from kafka_eos.protocol.ordering import (
    OBSERVED,
    OrderingResult,
    check_ordering,
    is_satisfiable,
    minimal_core,
    ordering_constraints,
)


def inconsistent(history: list[Event]) -> OrderingResult:
    result = check_ordering(history)
    assert not result.consistent, result.lines()
    core = list(result.core)
    assert not is_satisfiable(core)
    for i in range(len(core)):  # minimal: without any one of them, the rest can hold
        assert is_satisfiable(core[:i] + core[i + 1 :]), f"{core[i]} is not needed"
    return result


def kinds(result: OrderingResult) -> list[str]:
    return sorted(c.kind for c in result.core)


def test_a_consistent_history_passes() -> None:
    result = check_ordering(clean_history())
    assert result.consistent and result.core == ()
    assert result.lines()[0].startswith("consistent")
    assert result.to_json()["consistent"] is True


def test_an_empty_history_is_consistent() -> None:
    assert check_ordering([]).consistent


def test_sequence_order_against_offsets_names_both_batches() -> None:
    later_seq = append("p0", 2, 1, 3, "b", txn=False)
    earlier_seq = append("p0", 3, 1, 2, "a", txn=False)
    result = inconsistent([later_seq, earlier_seq])
    assert kinds(result) == sorted([OBSERVED, OBSERVED, "sequence_order"])
    rule = next(c for c in result.core if c.kind == "sequence_order")
    assert rule.name == "#2 append p0@3 (pid 1 seq 2) before #1 append p0@2 (pid 1 seq 3)"
    assert rule.positions == (2, 1)


def test_a_long_contiguity_chain_is_not_the_explanation() -> None:
    history: list[Event] = [append("p0", 5, 1, 7, "b", txn=False)]
    history += [append("p0", 6 + i, 2, i, f"x{i}", txn=False) for i in range(30)]
    history.append(append("p0", 36, 1, 5, "a", "a2"))  # seq 5..6 precedes seq 7
    result = inconsistent(history)
    assert kinds(result) == sorted([OBSERVED, OBSERVED, "sequence_order"])


def test_aborted_read_names_the_record_and_the_abort_marker() -> None:
    result = inconsistent(samples.with_aborted_read())
    text = "\n".join(result.lines())
    assert "append t-0@3" in text and "ABORT marker t-0@4" in text and "read by c of t-0@3" in text
    assert "read_committed_visibility" in kinds(result)


def test_torn_transaction_names_the_end_and_the_marker() -> None:
    result = inconsistent(samples.with_torn_transaction())
    assert kinds(result) == sorted([OBSERVED, OBSERVED, "transaction_outcome"])
    assert "EndTxn(commit)" in result.lines()[-1] and "ABORT marker t-1@1" in result.lines()[-1]


def test_dirty_read_before_the_commit_marker() -> None:
    result = inconsistent(samples.with_dirty_read())
    assert "read_committed_visibility" in kinds(result)


def test_read_above_an_open_transaction() -> None:
    result = inconsistent(samples.with_read_above_open_transaction())
    assert "lso" in kinds(result)
    assert any("never ended" in c.name for c in result.core)


def test_ack_at_the_wrong_offset_and_a_lost_ack() -> None:
    result = inconsistent(samples.with_ack_at_another_offset())
    assert kinds(result) == sorted([OBSERVED, OBSERVED, "ack_offset"])

    result = inconsistent(samples.with_lost_ack())
    assert kinds(result) == sorted(["ack_offset"])
    assert "no append of that batch" in result.core[0].name


def test_a_read_of_a_value_appended_elsewhere() -> None:
    history = clean_history()
    history.append(read("t-0", 9, "x", committed=False))
    result = inconsistent(history)
    assert "read_source" in kinds(result)
    assert any("append t-0@5" in c.name for c in result.core)


def test_a_consumer_skipping_a_committed_record() -> None:
    history = clean_history()
    del history[8]  # c reads t-0@0, then t-0@5: the committed "b" at t-0@1 was skipped
    result = inconsistent(history)
    assert "consumer_position" in kinds(result)
    assert any("append t-0@0..1" in c.name for c in result.core)


def test_a_consumer_rewinding_is_not_an_error() -> None:
    history = clean_history()
    history.append(read("t-0", 0, "a"))  # e.g. reset to the committed offset after an abort
    history.append(read("t-0", 1, "b"))
    assert check_ordering(history).consistent


def test_overlapping_offsets() -> None:
    history: list[Event] = [
        append("p0", 0, 1, 0, "a", "b", txn=False),
        append("p0", 1, 2, 0, "c", txn=False),
    ]
    result = inconsistent(history)
    assert kinds(result) == sorted([OBSERVED, OBSERVED, "offsets_contiguous"])


def test_a_commit_with_markers_everywhere_is_consistent() -> None:
    a = append("t-5", 0, 9, 0, "m")
    b = append("t-6", 0, 9, 0, "n")
    history = [
        a,
        b,
        ack(a),
        ack(b),
        end(9, commit=True),
        marker("t-5", 1, 9, commit=True),
        marker("t-6", 1, 9, commit=True),
        read("t-5", 0, "m"),
        read("t-6", 0, "n"),
    ]
    assert check_ordering(history).consistent


def test_every_constraint_has_a_name_and_the_events_it_is_about() -> None:
    constraints = ordering_constraints(clean_history())
    observed = [c for c in constraints if c.kind == OBSERVED]
    assert len(observed) == len(clean_history())
    assert all(c.name and c.positions for c in constraints)
    assert {c.kind for c in constraints} >= {
        "offsets_contiguous",
        "sequence_order",
        "txn_before_marker",
        "ack_offset",
        "read_source",
        "read_committed_visibility",
        "transaction_outcome",
        "consumer_position",
    }


def test_minimal_core_drops_what_is_not_needed() -> None:
    history = [append("p0", 2, 1, 3, "b", txn=False), append("p0", 3, 1, 2, "a", txn=False)]
    everything = ordering_constraints(history)
    assert not is_satisfiable(everything)
    core = minimal_core(everything)
    assert len(core) < len(everything)
    assert not is_satisfiable(core)


@pytest.mark.parametrize("size", [200])
def test_a_longer_consistent_history(size: int) -> None:
    history: list[Event] = []
    offset = 0
    for i in range(size):
        batch = append("p0", offset, 1, i, f"v{i}")
        history += [
            batch,
            ack(batch),
            end(1, commit=True),
            marker("p0", offset + 1, 1, commit=True),
        ]
        history.append(read("p0", offset, f"v{i}"))
        offset += 2
    assert check_ordering(history).consistent
