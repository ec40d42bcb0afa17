"""The viewer's data, without a browser: lanes, arrows (delivered, lost, re-sent, in flight),
steps with their SPEC.md action, partition logs and the highlighted step, from checker traces,
hand-made ITF traces and histories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kafka_eos.checker.itf import ItfTrace, itf_from_document, read_itf
from kafka_eos.cli.main import main
from kafka_eos.model import ACTION_NAMES
from kafka_eos.model.properties import ALL_PROPERTIES
from kafka_eos.protocol.history import Append, Marker, ProduceAck, Read, TxnEnd
from kafka_eos.viewer.diagram import LogEntry, PartitionTimeline, to_json
from kafka_eos.viewer.from_history import diagram_from_history
from kafka_eos.viewer.from_itf import diagram_from_itf, violation_highlights
from kafka_eos.viewer.page import render_page
from kafka_eos.viewer.spec_index import spec_index


@pytest.fixture(scope="module")
def duplicate_trace(tmp_path_factory: pytest.TempPathFactory) -> ItfTrace:
    path = tmp_path_factory.mktemp("traces") / "idempotence-off.itf.json"
    assert main(["check", "--config", "idempotence-off", "--quiet", "--trace-out", str(path)]) == 1
    return read_itf(path)


def test_every_model_action_and_property_is_found_in_spec_md() -> None:
    spec = spec_index()
    assert set(ACTION_NAMES) <= set(spec.actions)
    assert all(spec.properties.get(name) for name in ALL_PROPERTIES)
    headings = {
        _anchor(line) for line in spec.path.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }  # fmt: skip
    assert {action.anchor for action in spec.actions.values()} <= headings


def _anchor(heading: str) -> str:
    # GitHub's rule, written out independently of spec_index.github_anchor
    text = heading.lstrip("#").strip().replace("`", "").lower()
    return "".join(c for c in text if c.isalnum() or c in "-_ ").replace(" ", "-")


def test_a_counterexample_has_a_lane_per_process_and_links_the_retried_copy(
    duplicate_trace: ItfTrace,
) -> None:
    diagram = diagram_from_itf(duplicate_trace, title="idempotence-off")
    assert [lane.id for lane in diagram.lanes] == [
        "producer:idempotent0", "coordinator", "partition:t-0",
    ]  # no consumer in this configuration: no consumer lane  # fmt: skip
    produce = [a for a in diagram.arrows if a.text.startswith("Produce,")]
    assert len(produce) == 2
    first, retry = produce
    assert first.from_lane == retry.from_lane == "producer:idempotent0"
    assert first.to_lane == retry.to_lane == "partition:t-0"
    assert retry.resend_of == first.id and first.resend_of is None
    assert diagram.steps[retry.sent].action == "RetryProduce"
    # both copies were appended: the partition's log at the last step holds the record twice
    (log,) = diagram.partitions
    last = len(diagram.steps) - 1
    assert [e.text for e in _alive(log, last)] == ["idempotent0.r0.p0", "idempotent0.r0.p0"]
    assert [e.added for e in log.entries] == [2, 4]
    assert log.high_watermark[last] == 2 and log.high_watermark[0] == 0


def test_a_request_re_sent_after_a_timeout_is_linked_to_the_copy_still_in_flight(
    tmp_path: Path,
) -> None:
    # tv1-request-timeouts: EndTxn times out, its copy is re-sent on a new connection, and the
    # first copy, still in flight, is delivered later: both arrows, the second a copy of the first
    path = tmp_path / "tv1-request-timeouts.itf.json"
    args = ["check", "--config", "tv1-request-timeouts", "--quiet", "--trace-out", str(path)]
    assert main(args) == 1
    diagram = diagram_from_itf(read_itf(path), title="tv1-request-timeouts")
    timeouts = [s.index for s in diagram.steps if s.action == "TimeoutCoordinatorRequest"]
    assert timeouts
    for arrow in diagram.arrows:
        if arrow.sent in timeouts:
            original = diagram.arrows[arrow.resend_of]  # type: ignore[index]
            assert original.sent < arrow.sent
            assert original.text.split(",")[0] == arrow.text.split(",")[0]
            assert original.delivered is None or original.delivered > arrow.sent


def test_the_violation_is_the_last_step_with_the_property_explained(
    duplicate_trace: ItfTrace,
) -> None:
    diagram = diagram_from_itf(duplicate_trace, title="idempotence-off")
    (highlight,) = diagram.highlights
    assert highlight.step == len(diagram.steps) - 1 == diagram.focus
    assert highlight.title == "no_duplicates violated"
    assert "No record is appended twice" in highlight.explanation
    for step in diagram.steps[1:]:
        link = diagram.actions[step.action]
        assert link.url.endswith("#" + spec_index().actions[step.action].anchor)
        assert step.lane is not None


def _lasso(tmp_path: Path, *args: str) -> ItfTrace:
    path = tmp_path / "lasso.itf.json"
    assert main(["check", *args, "--quiet", "--trace-out", str(path)]) == 1
    trace = read_itf(path)
    assert trace.loop is not None
    return trace


def test_a_lasso_marks_where_its_loop_starts_and_opens_at_the_violation(tmp_path: Path) -> None:
    # Mutex under weak fairness starves a process: a loop of several steps.
    trace = _lasso(tmp_path, "--model", "examples/mutex.py:Mutex", "--param", "fairness=weak")
    violation, loop = violation_highlights(trace, spec_index())
    last = len(trace.states) - 1
    assert trace.loop is not None and trace.loop < last
    assert (violation.kind, violation.step) == ("violation", last)
    assert violation.title.endswith(f"steps {trace.loop}-{last} repeat for ever")
    assert (loop.kind, loop.step) == ("loop", trace.loop)
    assert f"back to step {trace.loop}" in loop.explanation


def test_a_kafka_stall_is_highlighted_with_its_property_explained(tmp_path: Path) -> None:
    # KAFKA-19999: the coordinator gives up the markers and the run stays in PrepareCommit.
    trace = _lasso(tmp_path, "--config", "tv2-strict-marker-retry")
    diagram = diagram_from_itf(trace, title="tv2-strict-marker-retry")
    (violation,) = diagram.highlights
    last = len(diagram.steps) - 1
    assert (violation.step, diagram.focus) == (last, last)
    assert violation.title == (
        "ended_transactions_complete[app#0.txn0] violated: the run stays here for ever"
    )
    assert "no action is enabled" not in violation.explanation  # SPEC.md names the property


def _state(network: list[str], log: list[dict[str, object]]) -> dict[str, object]:
    return {
        "producer:p": {"state": "READY"},
        "partition:t-0": {"log": log, "high_watermark": {"#bigint": str(len(log))},
                          "last_stable_offset": {"#bigint": str(len(log))}},
        "coordinator": {},
        "network": network,
    }  # fmt: skip


def _data(offset: int, record: str) -> dict[str, object]:
    return {"offset": {"#bigint": str(offset)}, "type": "data", "record": record,
            "producer_id": {"#bigint": "0"}, "producer_epoch": {"#bigint": "0"},
            "transactional": False}  # fmt: skip


def test_a_lost_message_ends_where_it_was_lost_and_an_undelivered_one_stays_in_flight() -> None:
    request, answer = "Produce,p,t-0,r0,e0,s0,c0", "ProduceResponse,p,t-0,r0,c0,NONE,o0"
    document = {
        "#meta": {"verdict": "ok"},
        "states": [
            {"#meta": {"index": 0, "action": "init"}, **_state([], [])},
            {"#meta": {"action": "Send(p,r0,t-0,e0,s0)"}, **_state([request], [])},
            {"#meta": {"action": "HandleProduce(t-0,p,r0,e0,s0,o0)"},
             **_state([answer], [_data(0, "v")])},
            {"#meta": {"action": "LoseMessage(ProduceResponse)"}, **_state([], [_data(0, "v")])},
            {"#meta": {"action": "RetryProduce(p,t-0,r0)"},
             **_state([request.replace("c0", "c1")], [_data(0, "v")])},
        ],
    }  # fmt: skip
    diagram = diagram_from_itf(itf_from_document(document), title="hand-made")
    sent, answered, copy = diagram.arrows
    assert (sent.from_lane, sent.to_lane, sent.sent, sent.delivered) == (
        "producer:p", "partition:t-0", 1, 2)
    assert answered.from_lane == "partition:t-0"
    assert answered.lost and answered.delivered == 3 and answered.to_lane is None
    assert diagram.steps[3].lane is None  # the network took that step
    assert copy.resend_of == sent.id and copy.delivered is None
    assert copy.to_lane == "partition:t-0"  # whom it is for, though not delivered yet
    assert diagram.highlights == ()


def test_a_history_shows_acks_from_their_append_and_reads_from_the_record() -> None:
    events = [
        Append("t-0", 0, 7, 0, 0, ("a",), True),
        ProduceAck("app", "t-0", 7, 0, 0, ("a",), "NONE", 0),
        Append("t-0", 1, 7, 0, 1, ("b",), True),
        Marker("t-0", 2, 7, 0, True, 0),
        TxnEnd("app", "tx", 7, 0, True, "NONE"),
        Read("reader", "read_committed", "t-0", 0, "a"),
    ]
    diagram = diagram_from_history(events, title="history")
    assert {lane.id for lane in diagram.lanes} == {
        "producer:app", "coordinator", "partition:t-0", "consumer:reader"}
    ack = next(a for a in diagram.arrows if a.to_lane == "producer:app" and "ack" in a.text)
    assert (ack.from_lane, ack.sent, ack.delivered) == ("partition:t-0", 1, 2)
    read = next(a for a in diagram.arrows if a.to_lane == "consumer:reader")
    assert (read.sent, read.delivered) == (1, 6)
    (log,) = diagram.partitions
    # the open transaction holds the LSO at 0 until its marker
    assert list(log.last_stable_offset[1:]) == [0, 0, 0, 3, 3, 3]
    assert set(log.high_watermark) == {None}  # a history does not record it
    assert diagram.highlights == ()


def test_a_truncated_log_entry_ends_where_it_was_removed() -> None:
    document = {
        "states": [
            {"#meta": {"action": "init"}, **_state([], [])},
            {"#meta": {"action": "HandleProduce(t-0,p,r0)"}, **_state([], [_data(0, "v")])},
            {"#meta": {"action": "CoordinatorFailover(ce1)"}, **_state([], [])},
            {"#meta": {"action": "HandleProduce(t-0,p,r1)"}, **_state([], [_data(0, "w")])},
        ],
    }  # fmt: skip
    (log,) = diagram_from_itf(itf_from_document(document), title="truncated").partitions
    assert [(e.text, e.added, e.removed) for e in log.entries] == [("v", 1, 2), ("w", 3, None)]
    assert [e.text for e in _alive(log, 1)] == ["v"] and _alive(log, 2) == []


def _alive(log: PartitionTimeline, step: int) -> list[LogEntry]:
    """The entries in the log at ``step``, as the page shows them."""
    return [e for e in log.entries if e.added <= step and (e.removed is None or e.removed > step)]


def test_a_history_violation_is_highlighted_where_it_happens() -> None:
    events = [
        Append("t-0", 0, 7, 0, 0, ("a",), False),
        Append("t-0", 1, 7, 0, 0, ("a",), False),  # the same batch again: a duplicate
    ]
    diagram = diagram_from_history(events, title="duplicate")
    (highlight,) = diagram.highlights
    assert highlight.title == "no_duplicates violated" and highlight.step == 2
    assert highlight.details[0].startswith("#1 append t-0@0")


def test_the_page_is_self_contained_and_embeds_the_diagram(duplicate_trace: ItfTrace) -> None:
    diagram = diagram_from_itf(duplicate_trace, title="a </script> title")
    page = render_page(diagram)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page)
    # the only address in the page is the SVG namespace's name (nothing is loaded from it)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    embedded = re.search(
        r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S
    )
    assert embedded is not None
    assert json.loads(embedded.group(1)) == json.loads(json.dumps(to_json(diagram)))
    assert "a &lt;/script&gt; title" in page


@pytest.mark.parametrize("command", ["view", "check", "validate"])
def test_the_commands_write_a_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    trace, page = tmp_path / "t.itf.json", tmp_path / "out.html"
    assert main(["check", "--config", "idempotence-off", "--quiet", "--trace-out",
                 str(trace)]) == 1  # fmt: skip
    if command == "view":
        assert main(["view", str(trace), "-o", str(page)]) == 0
    elif command == "check":
        assert main(["check", "--config", "idempotence-off", "--quiet", "--html",
                     str(page)]) == 1  # fmt: skip
    else:
        assert main(["validate", str(trace), "--html", str(page)]) == 1
    assert f"view written to {page}" in capsys.readouterr().out
    assert "no_duplicates violated" in page.read_text(encoding="utf-8")


def test_view_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["view", str(tmp_path / "missing.itf.json")]) == 2
    history = tmp_path / "h.jsonl"
    history.write_text('{"type": "append"}\n', encoding="utf-8")
    assert main(["view", str(history), "-o", str(tmp_path / "no" / "such" / "dir.html")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("kafka-eos: error:") for line in lines)


def test_a_replay_highlights_the_step_where_the_reference_disagrees(tmp_path: Path) -> None:
    trace, page = tmp_path / "tv1.itf.json", tmp_path / "replay.html"
    assert main(["check", "--config", "tv1-no-verification", "--quiet", "--trace-out",
                 str(trace)]) == 1  # fmt: skip
    assert main(["replay", str(trace), "--knob", "partition_verification=true", "--json",
                 "--html", str(page)]) == 1  # fmt: skip
    data = json.loads(
        re.search(r'id="trace-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.S)
        .group(1)  # type: ignore[union-attr]
    )
    first, violation = data["highlights"]
    assert first["kind"] == "disagreement" and data["focus"] == first["step"]
    assert first["title"].startswith("the reference disagrees at HandleProduce")
    assert violation == {**violation, "kind": "violation", "title": "open_txns_known violated",
                         "step": len(data["steps"]) - 1}  # fmt: skip


def test_check_html_without_a_counterexample_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "ok.html"
    assert main(["check", "--config", "tv1", "--quiet", "--html", str(page)]) == 0
    assert f"no counterexample, nothing written to {page}" in capsys.readouterr().out
    assert not page.exists()
