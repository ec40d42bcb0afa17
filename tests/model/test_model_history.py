"""Model traces become histories (contract D) that the history checks understand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kafka_eos.checker import Trace, check
from kafka_eos.checker.itf import read_itf, write_itf
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.history import history_from_itf, history_from_states
from kafka_eos.model.registry import Step, step
from kafka_eos.protocol.history import Append, Marker, ProduceAck, Read, TxnEnd
from kafka_eos.protocol.history_checks import check_history


def _trace(name: str):  # type: ignore[no-untyped-def]
    config = load_check_config(name)
    result = check(config.model)
    assert result.trace is not None
    return config, result.trace


def test_itf_and_raw_states_give_the_same_history(tmp_path: Path) -> None:
    config, trace = _trace("no-producer-epoch-check")
    path = tmp_path / "trace.itf.json"
    write_itf(path, trace, config.model, meta={"config": config.name})
    from_itf = history_from_itf(read_itf(path))
    from_states = history_from_states(trace.states, model=config.model, labels=trace.labels)
    assert from_itf == from_states
    assert any(isinstance(e, Marker) and not e.commit for e in from_states)


def test_the_duplicate_of_a_retry_is_found_in_the_history() -> None:
    config, trace = _trace("idempotence-off")
    events = history_from_states(trace.states, model=config.model)
    appends = [e for e in events if isinstance(e, Append)]
    assert len(appends) == 2 and appends[0].records == appends[1].records
    assert "no_duplicates" in {v.property for v in check_history(events)}


def test_the_zombie_write_follows_the_fencing_marker_in_the_history() -> None:
    config, trace = _trace("no-producer-epoch-check")
    events = history_from_states(trace.states, model=config.model)
    marker = next(e for e in events if isinstance(e, Marker))
    zombie = next(e for e in events if isinstance(e, Append))
    assert not marker.commit and marker.offset < zombie.base_offset
    assert zombie.producer_id == marker.producer_id
    assert zombie.producer_epoch < marker.producer_epoch


def test_reads_acks_and_ends_are_recorded() -> None:
    config, trace = _trace("read-uncommitted")
    events = history_from_states(trace.states, model=config.model)
    reads = [e for e in events if isinstance(e, Read)]
    assert reads and reads[0].isolation == "read_uncommitted" and reads[0].offset == 0
    config, trace = _trace("no-coordinator-epoch-check")
    events = history_from_states(trace.states, model=config.model, labels=trace.labels)
    assert any(isinstance(e, ProduceAck) and e.error == "NONE" for e in events)
    assert any(isinstance(e, TxnEnd) and e.commit and e.error == "NONE" for e in events)


#: r1 goes out as e0/s1 and is appended; r0's OUT_OF_ORDER answer makes the idempotent producer
#: bump its epoch (KIP-360), which rewrites r1, still in flight, to e1/s1; then r1's answer
#: arrives (on idempotent-timeout-duplicate).
BUMPED_THEN_ACKED = [
    step("Send", "idempotent0", 0, "t-0", 0, 0, "Produce"),
    step("NotEnoughReplicas", "t-0", "idempotent0", 0, 0),
    step("Send", "idempotent0", 1, "t-0", 0, 1, "Produce"),
    step("HandleProduce", "t-0", "idempotent0", 1, 0, 1, "NONE", 0, 0),
    step("ReceiveProduceResponse", "idempotent0", 0, 0, "NOT_ENOUGH_REPLICAS"),
    step("Send", "idempotent0", 0, "t-0", 0, 0, "Produce"),
    step("HandleProduce", "t-0", "idempotent0", 0, 0, 0, "OUT_OF_ORDER_SEQUENCE_NUMBER", -1, 0),
    step("ReceiveProduceResponse", "idempotent0", 0, 0, "OUT_OF_ORDER_SEQUENCE_NUMBER"),
    step("ReceiveProduceResponse", "idempotent0", 1, 0, "NONE"),
]


def _follow(model: Any, program: list[Step]) -> Trace:
    """The model's trace taking ``program``'s steps, in order, from its initial state."""
    states = [next(iter(model.init_states()))]
    for wanted in program:
        states.append(next(t for label, t in model.actions(states[-1]) if label == wanted))
    return Trace(states=states, labels=list(program))


def test_an_ack_names_the_attempt_the_leader_appended_not_the_bumped_batch(
    tmp_path: Path,
) -> None:
    # the ack names e0/s1 as the leader appended it: no write is lost
    config = load_check_config("idempotent-timeout-duplicate")
    trace = _follow(config.model, BUMPED_THEN_ACKED)
    bumped = config.model.variables(trace.states[-2])["producer:idempotent0"]["batches"][1]
    assert (bumped["epoch"], bumped["sequence"]) == (1, 1)  # the bump did rewrite it
    path = tmp_path / "trace.itf.json"
    write_itf(path, trace, config.model, meta={"config": config.name})
    for events in (
        history_from_itf(read_itf(path)),
        history_from_states(trace.states, model=config.model),
    ):
        ack = next(e for e in events if isinstance(e, ProduceAck))
        assert (ack.producer_epoch, ack.base_sequence, ack.base_offset) == (0, 1, 0)
        assert check_history(events) == []


def test_a_trace_without_connections_names_the_batch_as_it_stands() -> None:
    # an ITF trace written before batches showed their connection tells no attempt
    config = load_check_config("idempotent-timeout-duplicate")
    trace = _follow(config.model, BUMPED_THEN_ACKED)
    states = [config.model.variables(state) for state in trace.states]
    for variables in states:
        for batch in variables["producer:idempotent0"]["batches"]:
            del batch["connection"]
    ack = next(e for e in history_from_states(states) if isinstance(e, ProduceAck))
    assert (ack.producer_epoch, ack.base_sequence) == (1, 1)
