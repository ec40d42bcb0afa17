"""The client-view anomalies (Elle's names) on small hand-made histories: each is found where
what the clients were told shows it, and an indefinite outcome constrains nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sample_histories import ack, append, clean_history, end, marker, read

from kafka_eos.cli.main import main
from kafka_eos.protocol.client_view import ANOMALIES
from kafka_eos.protocol.history import Event, ProduceAck, Seek, write_history
from kafka_eos.protocol.history_checks import Violation, check_history


def seen(history: list[Event]) -> list[Violation]:
    """The client-view violations of ``history``, each checked for its shape."""
    found = [v for v in check_history(history) if v.property in ANOMALIES]
    for violation in found:
        assert "\n" not in violation.message
        assert tuple(history[p - 1] for p in violation.positions) == violation.events
    return found


def names(history: list[Event]) -> list[str]:
    return [v.property for v in seen(history)]


def failed_ack(batch: object, error: str) -> ProduceAck:
    good = ack(batch)  # type: ignore[arg-type]
    return ProduceAck(
        good.client, good.partition, good.producer_id, good.producer_epoch,
        good.base_sequence, good.records, error, -1,
    )  # fmt: skip


def test_a_clean_history_has_no_client_view_anomaly() -> None:
    assert seen(clean_history()) == []


def test_a_record_polled_at_two_offsets_is_a_duplicate() -> None:
    first = append("t-0", 0, -1, -1, "x", txn=False)  # enable.idempotence=false: no sequence
    again = append("t-0", 1, -1, -1, "x", txn=False)  # the retry, appended again
    history: list[Event] = [first, again, ack(first), read("t-0", 0, "x"), read("t-0", 1, "x")]
    [violation] = seen(history)
    assert violation.property == "duplicate"
    assert "offsets 0, 1 of t-0" in violation.message
    assert violation.positions == (3, 4, 5)


def test_a_commit_told_ok_but_never_polled_below_a_later_poll_is_a_lost_write() -> None:
    a = append("t-0", 0, 1, 0, "a")
    z = append("t-0", 2, 2, 0, "z", txn=False)
    history: list[Event] = [
        a, ack(a), end(1, commit=True), marker("t-0", 1, 1, commit=False), z, ack(z),
        read("t-0", 2, "z"),
    ]  # fmt: skip
    [violation] = seen(history)
    assert violation.property == "lost-write"
    assert "'a' (#2), told ok at t-0@0" in violation.message
    assert "polls reached offset 2" in violation.message


def test_a_write_no_poll_went_past_is_not_lost_yet() -> None:
    a = append("t-0", 0, 2, 0, "a", txn=False)
    b = append("t-0", 1, 2, 1, "b", txn=False)
    assert seen([a, ack(a), b, ack(b), read("t-0", 0, "a")]) == []


def test_a_poll_of_a_transaction_told_aborted_is_g1a() -> None:
    a = append("t-0", 0, 1, 0, "a")
    history: list[Event] = [
        a, ack(a), end(1, commit=False), marker("t-0", 1, 1, commit=True), read("t-0", 0, "a"),
    ]  # fmt: skip
    [violation] = seen(history)
    assert violation.property == "G1a"
    assert "whose transaction was told it failed" in violation.message
    assert violation.positions == (2, 5)


def test_a_poll_of_a_send_told_it_failed_is_g1a_and_of_a_timed_out_one_is_not() -> None:
    x = append("t-0", 0, 2, 0, "x", txn=False)
    told_failed = [x, failed_ack(x, "OUT_OF_ORDER_SEQUENCE_NUMBER"), read("t-0", 0, "x")]
    assert names(told_failed) == ["G1a"]
    # a timeout is indefinite: the client cannot know, so reading the record is no anomaly
    timed_out = [x, failed_ack(x, "REQUEST_TIMED_OUT"), read("t-0", 0, "x")]
    assert names(timed_out) == []


def test_g1a_holds_read_uncommitted_reads_only_to_read_committed_rules_when_asked() -> None:
    a = append("t-0", 0, 1, 0, "a")
    history: list[Event] = [
        a, ack(a), end(1, commit=False), marker("t-0", 1, 1, commit=False),
        read("t-0", 0, "a", committed=False),
    ]  # fmt: skip
    assert names(history) == []
    every = check_history(history, every_read_committed=True)
    assert "G1a" in {v.property for v in every}


def test_a_transaction_polled_in_part_is_torn() -> None:
    a = append("t-0", 0, 1, 0, "a")
    b = append("t-1", 0, 1, 0, "b")
    z = append("t-1", 2, 2, 0, "z", txn=False)
    history: list[Event] = [
        a, ack(a), b, ack(b), end(1, commit=True),
        marker("t-0", 1, 1, commit=True), marker("t-1", 1, 1, commit=False),
        z, ack(z), read("t-0", 0, "a"), read("t-1", 2, "z"),
    ]  # fmt: skip
    [violation] = seen(history)
    assert violation.property == "torn-transaction"
    assert "'b' (#4) at t-1@0 was never polled" in violation.message


def test_an_indefinite_transaction_polled_in_part_is_torn_too() -> None:
    # no EndTxn answer: the client does not know, but a poll of "a" says it committed
    a = append("t-0", 0, 1, 0, "a")
    b = append("t-1", 0, 1, 0, "b")
    z = append("t-1", 2, 2, 0, "z", txn=False)
    history: list[Event] = [
        a, ack(a), b, ack(b), marker("t-0", 1, 1, commit=True), marker("t-1", 1, 1, commit=False),
        z, ack(z), read("t-0", 0, "a"), read("t-1", 2, "z"),
    ]  # fmt: skip
    assert names(history) == ["torn-transaction"]
    # and unpolled, it constrains nothing
    assert names([*history[:-2], read("t-1", 2, "z")]) == []


def test_a_later_send_acknowledged_at_a_lower_offset_is_nonmonotonic() -> None:
    y = append("t-0", 0, 2, 1, "y", txn=False)  # sequence 1 lands first
    x = append("t-0", 1, 2, 0, "x", txn=False)
    [violation] = seen([y, x, ack(x), ack(y)])
    assert violation.property == "nonmonotonic-send"
    assert "'y' (#4), sent after 'x' (#3), was acknowledged at t-0@0, before 1" in (
        violation.message
    )


def test_sends_of_another_producer_id_are_not_compared() -> None:
    x = append("t-0", 1, 2, 0, "x", txn=False)
    y = append("t-0", 0, 3, 1, "y", txn=False)
    assert seen([y, x, ack(x, client="p"), ack(y, client="p")]) == []


def test_consecutive_polls_skipping_a_committed_record_are_a_poll_skip() -> None:
    batches = [append("t-0", i, 2, i, value, txn=False) for i, value in enumerate("xyz")]
    history: list[Event] = [event for batch in batches for event in (batch, ack(batch))]
    history += [read("t-0", 0, "x"), read("t-0", 1, "y", client="d"), read("t-0", 2, "z")]
    [violation] = seen(history)
    assert violation.property == "poll-skip"
    assert "skips 'y' (#4) at t-0@1" in violation.message


def test_a_poll_that_goes_back_without_a_seek_is_nonmonotonic() -> None:
    batches = [append("t-0", i, 2, i, value, txn=False) for i, value in enumerate("xy")]
    history: list[Event] = [event for batch in batches for event in (batch, ack(batch))]
    history += [read("t-0", 0, "x"), read("t-0", 1, "y"), read("t-0", 0, "x")]
    [violation] = seen(history)
    assert violation.property == "nonmonotonic-poll"
    assert "#7 read by c at t-0@0 follows #6 read by c at 1 with no seek between" in (
        violation.message
    )
    # another reader's seek changes nothing for this one
    assert names([*history[:-1], Seek("d", "t-0", 0), history[-1]]) == ["nonmonotonic-poll"]


def test_a_seek_starts_the_polls_afresh() -> None:
    batches = [append("t-0", i, 2, i, value, txn=False) for i, value in enumerate("xyz")]
    history: list[Event] = [event for batch in batches for event in (batch, ack(batch))]
    back = [read("t-0", 0, "x"), read("t-0", 1, "y"), Seek("c", "t-0", 0), read("t-0", 0, "x")]
    assert seen([*history, *back]) == []
    # nor is a seek forward a poll-skip ('y', never polled below a polled offset, is still a
    # lost write to Elle, who judges the polls of every reader together)
    ahead = [read("t-0", 0, "x"), Seek("c", "t-0", 2), read("t-0", 2, "z")]
    assert names([*history, *ahead]) == ["lost-write"]
    assert names([*history, *ahead[::2]]) == ["lost-write", "poll-skip"]


def g1a_history(tmp_path: Path) -> Path:
    a = append("t-0", 0, 1, 0, "a")
    path = tmp_path / "g1a.jsonl"
    write_history(
        path,
        [a, ack(a), end(1, commit=False), marker("t-0", 1, 1, commit=True), read("t-0", 0, "a")],
    )
    return path


@pytest.mark.parametrize("command", ["validate", "explain"])
def test_validate_and_explain_name_the_anomaly(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = g1a_history(tmp_path)
    assert main([command, str(path)]) == 1
    out = capsys.readouterr().out
    assert "G1a: #5 read by c returned 'a' (#2), whose transaction was told it failed" in out
    assert main([command, "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    g1a = [v for v in report["violations"] if v["property"] == "G1a"]
    assert g1a == [
        {
            "property": "G1a",
            "message": "#5 read by c returned 'a' (#2), whose transaction was told it failed",
            "events": [2, 5],
        }
    ]
