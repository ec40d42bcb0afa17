"""Model traces become histories (contract D) that the history checks understand."""

from __future__ import annotations

from pathlib import Path

from kafka_eos.checker import check
from kafka_eos.checker.itf import read_itf, write_itf
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.history import history_from_itf, history_from_states
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
