"""A model trace as a history (contract D), for ``kafka-eos explain`` and ``validate``.

Both entry points read the named state variables of :mod:`.variables` — from an ITF trace
(decoded by ``kafka_eos.checker.itf.read_itf``) or from raw model states with their model —
and turn what changed between consecutive states into history events: appended data batches
(Append), markers (Marker), the entries a leader change cut from a log (Truncate), produce
responses the clients received (ProduceAck), completed EndTxn calls (TxnEnd), group offsets
written and made visible (OffsetCommit) and records the consumer returned (Read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kafka_eos.errors import InputError, shown
from kafka_eos.model.variables import PARTITION_PREFIX, PRODUCER_PREFIX, grouped
from kafka_eos.protocol.history import (
    Append,
    Event,
    Marker,
    OffsetCommit,
    Read,
    SentHeader,
    Truncate,
    TxnEnd,
    produce_answer,
)

#: The name the consume-transform-produce application's input partition has in histories.
CTP_INPUT_PARTITION = "in-0"
_OFFSETS_PARTITION = "__consumer_offsets-0"
_ENDING = {"COMMITTING_TRANSACTION": True, "ABORTING_TRANSACTION": False}


def history_from_itf(itf_trace: Any, *, where: str = "the trace") -> list[Event]:
    """The history of an ITF trace (an object with ``.states``, lists of variable mappings,
    and ``.labels``, as returned by ``kafka_eos.checker.itf.read_itf``); InputError naming
    ``where`` when its states are not the Kafka model's."""
    states = list(getattr(itf_trace, "states", ()))
    labels = list(getattr(itf_trace, "labels", ()))
    try:
        return history_from_states(states, labels=labels)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        # An ITF file is anyone's JSON: a variable of another shape than the model writes
        # fails somewhere in the conversion; say which file, and what was missing or odd.
        problem = shown(exc.args[0]) if isinstance(exc, KeyError) and exc.args else shown(str(exc))
        what = f"no {problem}" if isinstance(exc, KeyError) else problem
        raise InputError(f"{where}: not a trace of the Kafka model ({what})") from None


def history_from_states(
    states: Sequence[Any], *, model: Any = None, labels: Sequence[object] | None = None
) -> list[Event]:
    """The history of a trace given as its states, initial state first.

    ``states`` are variable mappings (as ``model.variables(state)`` returns them, or as an ITF
    trace holds them); with ``model`` they may be the model's raw states instead. ``labels``
    (one per step) supply the error of a failed EndTxn.
    """
    snapshots = []
    for number, state in enumerate(states):
        variables = model.variables(state) if model is not None else state
        if not isinstance(variables, Mapping) or "coordinator" not in variables:
            raise InputError(
                f"state {number} is not a Kafka model state (no producer:/partition: "
                "variables); pass model= with raw states"
            )
        snapshots.append(
            {
                "producers": grouped(variables, PRODUCER_PREFIX),
                "partitions": grouped(variables, PARTITION_PREFIX),
                "consumer": variables.get("consumer") or {},
            }
        )
    steps = list(labels) if labels is not None else []
    events: list[Event] = []
    attempts: _Attempts = {}
    for step in range(1, len(snapshots)):
        label = steps[step - 1] if step - 1 < len(steps) else ""
        events.extend(_step_events(snapshots[step - 1], snapshots[step], label, attempts))
    return events


#: (client, batch index) -> the header its latest Produce attempt carried
_Attempts = dict[tuple[str, int], SentHeader]


def _step_events(
    before: Mapping[str, Any], after: Mapping[str, Any], label: object, attempts: _Attempts
) -> Iterable[Event]:
    yield from _log_events(before, after)
    yield from _client_events(before, after, label, attempts)
    yield from _read_events(before, after)


def _log_events(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterable[Event]:
    for name, partition in after["partitions"].items():
        old = before["partitions"][name]
        log = partition["log"]
        kept = _common_prefix(old["log"], log)
        if kept < len(old["log"]):  # a new leader without the old one's last entries
            yield Truncate(partition=name, offset=kept)
        for entry in log[kept:]:
            if entry["type"] == "data":
                if name == _OFFSETS_PARTITION:
                    yield OffsetCommit(
                        group="group",
                        partition=CTP_INPUT_PARTITION,
                        offset=int(entry["group_offset"]),
                        producer_id=int(entry["producer_id"]),
                        visible=False,
                    )
                else:
                    yield Append(
                        partition=name,
                        base_offset=int(entry["offset"]),
                        producer_id=int(entry["producer_id"]),
                        producer_epoch=int(entry["producer_epoch"]),
                        base_sequence=int(entry["base_sequence"]),
                        records=(str(entry["record"]),),
                        transactional=bool(entry["transactional"]),
                    )
                continue
            yield Marker(
                partition=name,
                offset=int(entry["offset"]),
                producer_id=int(entry["producer_id"]),
                producer_epoch=int(entry["producer_epoch"]),
                commit=bool(entry["commit"]),
                coordinator_epoch=int(entry["coordinator_epoch"]),
            )
            if name == _OFFSETS_PARTITION and entry["commit"]:
                yield from _offsets_made_visible(old, entry)


def _common_prefix(old: Sequence[Any], new: Sequence[Any]) -> int:
    """How many entries two logs share from their start."""
    for offset, (before, after) in enumerate(zip(old, new, strict=False)):
        if before != after:
            return offset
    return min(len(old), len(new))


def _offsets_made_visible(old: Mapping[str, Any], marker: Mapping[str, Any]) -> Iterable[Event]:
    """A COMMIT marker on __consumer_offsets makes the transaction's offset commits visible."""
    pid = int(marker["producer_id"])
    state = old["producer_state"].get(f"pid{pid}")
    first = int(state["current_txn_first_offset"]) if state else -1
    if first < 0:
        return
    for entry in old["log"][first:]:
        if entry["type"] == "data" and int(entry["producer_id"]) == pid:
            yield OffsetCommit(
                group="group",
                partition=CTP_INPUT_PARTITION,
                offset=int(entry["group_offset"]),
                producer_id=pid,
                visible=True,
            )


def _client_events(
    before: Mapping[str, Any], after: Mapping[str, Any], label: object, attempts: _Attempts
) -> Iterable[Event]:
    for name, client in after["producers"].items():
        old = before["producers"][name]
        pid = int(client["producer_id"])
        for rec, (old_batch, batch) in enumerate(
            zip(old["batches"], client["batches"], strict=True)
        ):
            if _sent(old_batch, batch):
                attempts[name, rec] = _header(pid, batch)
            if old_batch["status"] != "in_flight" or batch["status"] not in ("acked", "failed"):
                continue
            if batch["partition"] == _OFFSETS_PARTITION:
                continue  # a TxnOffsetCommit response, not a Produce
            yield produce_answer(
                name,
                str(batch["partition"]),
                (str(batch["record"]),),
                str(batch["error"]),
                int(batch["offset"]),
                batch=_header(pid, old_batch),
                attempt=attempts.get((name, rec)),
            )
        if old["state"] in _ENDING and client["state"] != old["state"]:
            error = "NONE"
            if client["state"] == "FATAL_ERROR":
                error = _error_in(label)
            yield TxnEnd(
                client=name,
                transactional_id=name.split("#", 1)[0],
                producer_id=int(client["producer_id"]),
                producer_epoch=int(old["epoch"]),
                commit=_ENDING[old["state"]],
                error=error,
            )


def _sent(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a Produce attempt of the batch went out in this step: it is in flight on a
    connection it was not on before (a Send, or a retry on a new connection). A trace
    written before batches showed their connection tells no attempt: its acknowledgements
    name the batch as it stands."""
    connection = int(new.get("connection", -1))
    if new["status"] != "in_flight" or connection < 0:
        return False
    return old["status"] != "in_flight" or int(old.get("connection", -1)) != connection


def _header(pid: int, batch: Mapping[str, Any]) -> SentHeader:
    return SentHeader(pid, int(batch["epoch"]), int(batch["sequence"]))


def _error_in(label: object) -> str:
    """The error a ReceiveCoordinatorResponse step answered with: its outcome, or (a label
    read back from an ITF file, where steps are text) the last argument shown."""
    outcome = getattr(label, "outcome", None)
    if isinstance(outcome, str):
        return outcome
    text = str(label)
    inside = text[text.find("(") + 1 : text.rfind(")")] if "(" in text else ""
    last = inside.rsplit(",", 1)[-1] if inside else ""
    return last or "UNKNOWN"


def _read_events(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterable[Event]:
    consumer = after.get("consumer") or {}
    if not consumer:
        return
    isolation = str(consumer["isolation"])
    for name, view in consumer["partitions"].items():
        old = before["consumer"]["partitions"][name]
        log = after["partitions"][name]["log"]
        for offset in view["delivered"][len(old["delivered"]) :]:
            yield Read(
                client="consumer",
                isolation=isolation,
                partition=name,
                offset=int(offset),
                value=str(log[int(offset)]["record"]),
            )
