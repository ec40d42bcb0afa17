"""check_history catches each anomaly kind on a small hand-made history, and nothing else."""

from __future__ import annotations

import sample_histories as samples
from sample_histories import ack, append, clean_history, end, marker, read

from kafka_eos.errors import InputError
from kafka_eos.protocol.client_view import ANOMALIES
from kafka_eos.protocol.history import (
    Event,
    Read,
    Seek,
    Truncate,
    event_from_json,
    event_to_json,
)
from kafka_eos.protocol.history_checks import (
    PROPERTIES,
    Violation,
    check_history,
    validate_events,
)
from kafka_eos.protocol.ordering import check_ordering


def properties(violations: list[Violation]) -> set[str]:
    return {v.property for v in violations}


def only(history: list[Event], prop: str, term: str) -> Violation:
    """The history has exactly one violation of the logs' properties, of ``prop``, whose
    message starts with ``term`` (what the clients saw of it, named by Elle's names, is
    tested in test_client_view.py)."""
    violations = [v for v in check_history(history) if v.property not in ANOMALIES]
    assert [v.property for v in violations] == [prop], [str(v) for v in violations]
    violation = violations[0]
    assert violation.property in PROPERTIES
    assert violation.message.startswith(term), violation.message
    assert "\n" not in violation.message
    assert violation.positions and all(f"#{p}" in violation.message for p in violation.positions)
    assert tuple(history[p - 1] for p in violation.positions) == violation.events
    return violation


def test_a_clean_history_passes() -> None:
    assert check_history(clean_history()) == []


def test_an_empty_history_passes() -> None:
    assert check_history([]) == []


def test_a_batch_appended_twice_is_a_duplicate() -> None:
    violation = only(samples.with_duplicate_append(), "no_duplicates", "duplicate:")
    assert violation.positions == (17, 22)


def test_a_record_visible_twice_is_a_duplicate() -> None:
    history = clean_history()
    # after an epoch bump the producer re-sends "y" (already appended) with sequence 0
    history.append(append("t-0", 7, 2, 0, "y", epoch=1, txn=False))
    violation = only(history, "no_duplicates", "duplicate:")
    assert "'y'" in violation.message and "visible twice" in violation.message


def test_a_retry_in_an_aborted_transaction_is_not_a_duplicate() -> None:
    history = clean_history()
    # pid 1 retries the aborted "d" in a new, committed transaction
    retry = append("t-0", 7, 1, 3, "d")
    history += [retry, ack(retry), end(1, commit=True), marker("t-0", 8, 1, commit=True)]
    assert check_history(history) == []


def test_an_acknowledged_batch_missing_from_the_log_is_a_lost_write() -> None:
    only(samples.with_lost_ack(), "no_lost_acks", "lost write:")


def test_an_ack_at_another_offset_is_inconsistent() -> None:
    violation = only(samples.with_ack_at_another_offset(), "no_lost_acks", "inconsistent offsets:")
    assert "t-0@9" in violation.message and "t-0@5" in violation.message


def test_read_committed_reading_an_aborted_record_is_an_aborted_read() -> None:
    violation = only(samples.with_aborted_read(), "read_committed_no_aborted", "aborted read:")
    assert "ABORT marker t-0@4" in violation.message


def test_a_commit_on_one_partition_and_abort_on_another_is_a_torn_transaction() -> None:
    violation = only(samples.with_torn_transaction(), "atomic_transactions", "torn transaction:")
    assert "COMMIT marker t-0@2" in violation.message and "ABORT marker t-1@1" in violation.message


def test_a_committed_transaction_aborted_everywhere_is_a_lost_write() -> None:
    history = clean_history()
    history[5] = marker("t-0", 2, 1, commit=False)
    history[6] = marker("t-1", 1, 1, commit=False)
    history = [e for e in history if not (isinstance(e, Read) and e.value in "abc")]
    only(history, "atomic_transactions", "lost write:")


def test_an_offset_gap_and_an_offset_reuse_are_caught() -> None:
    history = clean_history()
    history[14] = append("t-0", 6, 2, 0, "x", txn=False)  # gap: offset 5 skipped
    history[15] = ack(history[14])
    history[16] = append("t-0", 6, 2, 1, "y", txn=False)  # reuse of offset 6
    del history[17]  # (its ack would point at "x")
    history = [e for e in history if not (isinstance(e, Read) and e.value in "xy")]
    violations = check_history(history)
    assert [v.property for v in violations] == ["offsets_immutable", "offsets_immutable"]
    assert violations[0].message.startswith("offset gap:")
    assert violations[1].message.startswith("inconsistent offsets:")


def test_a_sequence_gap_is_out_of_order() -> None:
    history = clean_history()
    history.append(append("t-0", 7, 2, 5, "z", txn=False))
    violation = only(history, "per_producer_order", "out-of-order sequence:")
    assert "expected seq 2" in violation.message


def test_sequences_may_wrap() -> None:
    first = append("t-2", 0, 3, 2147483646, "p", "q", txn=False)
    second = append("t-2", 2, 3, 0, "r", txn=False)
    assert check_history([first, ack(first), second, ack(second)]) == []
    wrong = append("t-2", 2, 3, 1, "r", txn=False)
    assert properties(check_history([first, wrong])) == {"per_producer_order"}


def test_an_append_of_an_older_epoch_is_a_zombie_write() -> None:
    history = clean_history()
    history += [
        append("t-1", 2, 1, 0, "new", epoch=1),
        append("t-1", 3, 1, 1, "old", epoch=0),
    ]
    only(history, "no_fenced_writes", "zombie write:")


def test_an_append_below_the_epoch_of_a_fencing_marker_is_a_zombie_write() -> None:
    history = clean_history()
    history += [
        append("t-1", 2, 1, 0, "open", epoch=1),
        marker("t-1", 3, 1, commit=False, epoch=2),  # the coordinator fenced epoch 1
        append("t-1", 4, 1, 1, "zombie", epoch=1),
    ]
    violation = only(history, "no_fenced_writes", "zombie write:")
    assert violation.message.endswith("than #23 ABORT marker t-1@3 (pid 1 epoch 2)")


def test_a_new_transaction_at_the_markers_epoch_is_not_a_zombie_write() -> None:
    history = clean_history()
    # transaction version 2: the marker carries the bumped epoch the producer then uses
    history += [marker("t-1", 2, 1, commit=False, epoch=1), append("t-1", 3, 1, 0, "n", epoch=1)]
    assert check_history(history) == []


def test_read_committed_before_the_commit_marker_is_a_dirty_read() -> None:
    violation = only(samples.with_dirty_read(), "read_committed_no_aborted", "dirty read:")
    assert "COMMIT marker t-0@2" in violation.message


def test_read_committed_above_an_open_transaction_is_above_the_lso() -> None:
    history = samples.with_read_above_open_transaction()
    violation = only(history, "lso_bounds", "read above the LSO:")
    assert "pid 3" in violation.message and "never ended" in violation.message
    # read_uncommitted may read it
    history[-1] = read("t-0", 8, "z", committed=False)
    assert check_history(history) == []


def test_a_read_of_a_marker_or_of_nothing_is_inconsistent() -> None:
    history = clean_history()
    history.append(read("t-0", 2, "a"))
    only(history, "offsets_immutable", "inconsistent offsets:")
    history[-1] = read("t-0", 40, "a")
    only(history, "offsets_immutable", "inconsistent offsets:")
    history[-1] = read("t-0", 0, "b")
    only(history, "offsets_immutable", "inconsistent offsets:")


def test_a_consumer_only_history_catches_a_value_read_at_two_offsets() -> None:
    history: list[Event] = [read("t-9", 0, "v"), read("t-9", 1, "w"), read("t-9", 4, "v")]
    only(history, "no_duplicates", "duplicate:")
    assert check_history(history[:2]) == []


def test_events_with_fields_of_the_wrong_type_are_an_input_error() -> None:
    import pytest

    assert validate_events(clean_history()) == clean_history()
    bad = append("t-0", 0, 1, 0, "a")
    for wrong in (
        bad.__class__(*[("0" if f == "base_offset" else getattr(bad, f)) for f in bad.__slots__]),
        bad.__class__(*[(1 if f == "transactional" else getattr(bad, f)) for f in bad.__slots__]),
        bad.__class__(*[((1,) if f == "records" else getattr(bad, f)) for f in bad.__slots__]),
    ):
        with pytest.raises(InputError, match=r"h.jsonl: event 2 \(append\)"):
            validate_events([clean_history()[0], wrong], where="h.jsonl")


def test_read_uncommitted_may_read_aborted_data_unless_held_to_read_committed() -> None:
    history = clean_history()
    history.append(read("t-0", 3, "d", committed=False, client="u2"))  # aborted record
    assert check_history(history) == []
    violations = check_history(history, every_read_committed=True)
    # both read_uncommitted reads of the aborted "d" count, as the model's consumer property;
    # its client was told the abort succeeded: Elle's G1a, twice
    assert [v.property for v in violations] == ["read_committed_no_aborted"] * 2 + ["G1a"] * 2


def test_a_read_committed_consumer_skipping_a_visible_record() -> None:
    history = clean_history()
    del history[8]  # c reads t-0@0, then t-0@5: the committed "b" at t-0@1 was skipped
    violation = only(history, "read_committed_in_order", "skipped records:")
    assert "append t-0@0..1" in violation.message


def test_skipping_aborted_records_and_markers_or_rewinding_is_fine() -> None:
    history = clean_history()  # c reads t-0@1 then t-0@5, over two markers and an abort
    history += [Seek("c", "t-0", 0), read("t-0", 0, "a"), read("t-0", 1, "b")]  # a rewind
    assert check_history(history) == []


def test_a_far_jump_between_reads_costs_nothing_extra() -> None:
    far = append("t-3", 10**15, 4, 0, "far", txn=False)
    near = append("t-3", 0, 5, 0, "near", txn=False)
    history: list[Event] = [near, far, read("t-3", 0, "near"), read("t-3", 10**15, "far")]
    assert {v.property for v in check_history(history)} == {"offsets_immutable"}  # the gap
    assert check_ordering(history).consistent is False


def test_an_acknowledged_batch_a_truncation_cut_is_a_lost_write_naming_the_truncation() -> None:
    # acks=1: the leader answered, then a new leader without the batch took over
    history = clean_history()
    batch = append("u-0", 0, 2, 0, "z", txn=False)
    history += [batch, ack(batch), Truncate("u-0", 0)]
    violation = only(history, "no_lost_acks", "lost write:")
    assert "truncation of u-0 at offset 0 cut" in violation.message


def test_a_truncated_batch_retried_at_its_offset_is_neither_lost_nor_duplicated() -> None:
    # acks=all: the answer waited, the leader changed, the producer's retry lands again at 0
    history = clean_history()
    batch = append("u-0", 0, 2, 0, "z", txn=False)
    retry = append("u-0", 0, 2, 0, "z", txn=False)
    history += [batch, Truncate("u-0", 0), retry, ack(retry), read("u-0", 0, "z")]
    assert check_history(history) == []
    assert check_ordering(history).consistent


def test_a_read_of_a_record_a_truncation_later_cut_is_inconsistent() -> None:
    history = clean_history()
    cut = append("u-0", 0, 2, 0, "z", txn=False)
    other = append("u-0", 0, 3, 0, "w", txn=False)
    history += [cut, read("u-0", 0, "z"), Truncate("u-0", 0), other]
    violation = only(history, "offsets_immutable", "inconsistent offsets:")
    assert "later cut" in violation.message


def test_a_transaction_whose_marker_was_cut_is_open_until_the_marker_comes_again() -> None:
    history = clean_history()
    data = append("u-0", 0, 4, 0, "t")
    history += [data, end(4, commit=True), marker("u-0", 1, 4, commit=True), Truncate("u-0", 1)]
    history.append(read("u-0", 0, "t"))  # the COMMIT is gone: the record is not stable
    only(history, "read_committed_no_aborted", "dirty read:")
    history.insert(-1, marker("u-0", 1, 4, commit=True))  # the coordinator's retry
    assert check_history(history) == []


def test_a_truncation_event_reads_back_from_its_json_line() -> None:
    event = Truncate("t-0", 3)
    assert event_from_json(event_to_json(event)) == event
