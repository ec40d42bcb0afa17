"""Named, readable state variables for traces and ITF (contract A's optional ``variables``).

The raw state is tuples of small ints; :mod:`.schema` names every position and says how a
trace shows it (``Field.show``). Here each component becomes a record of its fields, in the
schema's order, with Kafka's names: client and coordinator states by name, partitions and
transactions by name, log entries as records, error codes by name. A field added to the schema
shows up here (and so in ITF) without an edit; :mod:`.history` reads these records back (from
a trace or an ITF file) to produce a history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode

from .codes import DEPOSED_NAMES
from .layout import (
    B_FAILED,
    B_INFLIGHT,
    BATCH_STATUS_NAMES,
    BT_STATUS,
    D_RECORD,
    ENTRY_DATA,
    FAILED_SHIFT,
    NO_METADATA,
    OUTCOME_NAMES,
    RS_LEADER,
    Tup,
)
from .messages import describe
from .schema import SCHEMA, STATE, Component, Schema
from .tables import REC_GROUP_OFFSET, REC_VALUE
from .views import high_watermark, last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

PRODUCER_PREFIX = "producer:"
PARTITION_PREFIX = "partition:"


@dataclass(frozen=True, slots=True)
class At:
    """Where a value sits: the model, the schema, the enclosing record and owner indices."""

    model: KafkaEosModel
    schema: Schema
    record: Tup = ()
    proc: int = -1
    rec: int = -1
    part: int = -1
    index: int = -1


class _Absent:
    """A derived field that does not apply here (e.g. group_offset outside __consumer_offsets)."""


ABSENT = _Absent()


@dataclass(frozen=True, slots=True)
class Spread:
    """A field shown as several keys of its record (or several variables of the state)."""

    values: dict[str, Any]


Renderer = Callable[[Any, At], Any]


def state_variables(model: KafkaEosModel, state: Tup, schema: Schema = SCHEMA) -> dict[str, Any]:
    """One variable per producer (``producer:NAME``) and per partition (``partition:NAME``)
    so a trace step shows only the process or partition that changed; then the coordinator,
    the network, the consumer, the transactions' outcomes and the remaining fault budget."""
    return record(schema.components[STATE.name], state, At(model, schema))


def record(component: Component, value: Tup, at: At) -> dict[str, Any]:
    """``value`` as a record: each field of ``component`` under its name, shown by its
    ``show`` (derived fields computed from the model and the record)."""
    at = replace(at, record=value)
    result: dict[str, Any] = {}
    position = 0
    for f in component.fields:
        if f.stored:
            part = value[position]
            position += 1
            if f.show == "hidden":
                continue
            shown = RENDERERS[f.show](part, at)
        else:
            shown = RENDERERS[f.show](value, at)
        if isinstance(shown, Spread):
            result.update(shown.values)
        elif shown is not ABSENT:
            result[f.name] = shown
    return result


def grouped(variables: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The variables named ``prefix + NAME``, as NAME -> value."""
    return {key[len(prefix) :]: value for key, value in variables.items() if key.startswith(prefix)}


# ---------------------------------------------------------------------- the renderers
def _txn_name(model: KafkaEosModel, index: int) -> str:
    proc, local, _ = model.transactions[index]
    return f"{model.process_names[proc]}.t{local}"


def _bits(mask: int) -> list[int]:
    return [bit for bit in range(mask.bit_length()) if mask >> bit & 1]


def _partition_names(mask: int, at: At) -> list[str]:
    return sorted(at.model.partition_names[p] for p in _bits(mask))


def _txn_state_name(code: int) -> str:
    return "" if code == NO_METADATA else TxnState(code).kafka_name


def _each(item: str, key: Callable[[int, At], str], prefix: str = "") -> Renderer:
    """A tuple of components shown as one record each, keyed by ``key`` (and ``prefix``);
    empty items (``()``) are left out."""

    def render(value: Tup, at: At) -> Any:
        out: dict[str, Any] = {}
        for index, part in enumerate(value):
            if part == ():
                continue
            inner = _owned(item, index, at)
            out[prefix + key(index, inner)] = record(at.schema.of(item, part), part, inner)
        return Spread(out) if prefix else out

    return render


def _owned(item: str, index: int, at: At) -> At:
    """``at`` inside element ``index`` of a tuple of ``item``."""
    if item == "client":
        return replace(at, proc=index)
    if item == "partition":
        return replace(at, part=index)
    if item == "batch":
        return replace(at, rec=index)
    return replace(at, index=index)


def _list_of(item: str) -> Renderer:
    def render(value: Tup, at: At) -> list[dict[str, Any]]:
        return [record(at.schema.of(item, p), p, _owned(item, i, at)) for i, p in enumerate(value)]

    return render


def _message(message: Tup, at: At) -> str:
    """A message's text (the model caches the text of its own schema's messages)."""
    if at.schema is SCHEMA:
        return at.model.describe_message(message)
    return describe(at.model, message, at.schema)


def _batch_extra(extra: int, at: At) -> Spread:
    status = at.record[BT_STATUS]
    connection = extra if status == B_INFLIGHT else -1
    if status == B_FAILED:
        error, offset = ErrorCode(extra).name, -1
    elif status == B_INFLIGHT:
        error, offset = "NONE", -1
    else:
        error, offset = "NONE", extra
    # an in-flight batch: the connection its latest attempt travels on
    return Spread({"connection": connection, "error": error, "offset": offset})


def _group_offset(entry: Tup, at: At) -> Any:
    if at.part != at.model.offsets_partition:
        return ABSENT
    return at.model.records[entry[D_RECORD]][REC_GROUP_OFFSET]


def _pending(value: Tup, at: At) -> Spread:
    """The transition being written, its shown fields as ``pending_NAME`` keys of the
    metadata (each "" while nothing is pending)."""
    component = at.schema.components["pending"]
    if value:
        shown = record(component, value, at)
    else:
        shown = {f.name: "" for f in component.fields if f.show != "hidden"}
    return Spread({f"pending_{name}": v for name, v in shown.items()})


def _consumer(value: Tup, at: At) -> Any:
    if not value:
        return {}
    item = STATE.field("consumer").item
    partitions = {
        at.model.partition_names[part]: record(at.schema.of(item, p), p, replace(at, part=part))
        for part, p in enumerate(value)
    }
    return {"isolation": at.model.workload.consumer, "partitions": partitions}


def _replication(value: Tup, at: At) -> Any:
    """A replicated partition's replicas; nothing for a single replica (traces unchanged)."""
    if not value:
        return ABSENT
    return record(at.schema.components["replication"], value, at)


def _verification(value: Tup, at: At) -> Any:
    """A leader's verifications in progress, by producer id; nothing when there are none."""
    entries = {
        f"pid{pid}": record(at.schema.components["verification entry"], entry, at)
        for pid, entry in enumerate(value)
        if entry
    }
    return entries or ABSENT


def _replica_logs(value: Tup, at: At) -> dict[str, Any]:
    leader = at.record[RS_LEADER]
    render = RENDERERS["log"]
    return {f"r{r}": render(log, at) for r, log in enumerate(value) if r != leader}


RENDERERS: dict[str, Renderer] = {
    "value": lambda v, at: v,
    "connection": lambda v, at: v,
    "bool": lambda v, at: bool(v),
    "deposed": lambda v, at: DEPOSED_NAMES[v],
    "list": lambda v, at: list(v),
    "client_state": lambda v, at: ClientState(v).name,
    "txn_state": lambda v, at: _txn_state_name(v),
    "batch_status": lambda v, at: BATCH_STATUS_NAMES[v],
    "batch_extra": _batch_extra,
    "partition_map": lambda v, at: {at.model.partition_names[p]: s for p, s in enumerate(v)},
    "partition_mask": _partition_names,
    "acked_mask": lambda v, at: _partition_names(v & ((1 << FAILED_SHIFT) - 1), at),
    "message": lambda v, at: _message(v, at) if v else "",
    "transaction": lambda v, at: _txn_name(at.model, v) if v >= 0 else "",
    "pending": _pending,
    "record": lambda v, at: at.model.records[v][REC_VALUE],
    "entry_type": lambda v, at: "data" if v == ENTRY_DATA else "control",
    # derived fields: computed from the enclosing record and where it sits
    "process_kind": lambda v, at: at.model.kinds[at.proc],
    "process_pid": lambda v, at: at.model.pid_of[at.proc],
    "batch_record": lambda v, at: at.model.records[at.model.record_global[at.proc][at.rec]][
        REC_VALUE
    ],
    "batch_partition": lambda v, at: at.model.partition_names[
        at.model.record_partition[at.proc][at.rec]
    ],
    "entry_offset": lambda v, at: at.index,
    "group_offset": _group_offset,
    "high_watermark": lambda v, at: high_watermark(v),
    "last_stable_offset": lambda v, at: last_stable_offset(v),
    "tid": lambda v, at: at.index,
    # the state's components
    "producers": _each("client", lambda i, at: at.model.process_names[i], PRODUCER_PREFIX),
    "partitions": _each("partition", lambda i, at: at.model.partition_names[i], PARTITION_PREFIX),
    "coordinator": lambda v, at: record(at.schema.components["coordinator"], v, at),
    "metadata": _each("metadata", lambda i, at: at.model.transactional_ids[i]),
    "txn_log": _each("txn log record", lambda i, at: at.model.transactional_ids[i]),
    "batches": _list_of("batch"),
    "log": _list_of("log entry"),
    "aborted_index": _list_of("aborted"),
    "cached_batches": _list_of("cached batch"),
    "producer_state": _each("producer entry", lambda i, at: f"pid{i}"),
    "network": lambda v, at: sorted(_message(m, at) for m in v),
    "consumer": _consumer,
    "outcomes": lambda v, at: {
        _txn_name(at.model, i): OUTCOME_NAMES[code] for i, code in enumerate(v)
    },
    "budget": lambda v, at: record(at.schema.components["budget"], v, at),
    "replication": _replication,
    "replica_mask": lambda v, at: _bits(v),
    "epoch_caches": lambda v, at: {f"r{r}": [list(e) for e in c] for r, c in enumerate(v)},
    "replica_logs": _replica_logs,
    "verification": _verification,
    "purgatory": lambda v, at: [_message(answer, at) for _, answer, _ in v],
}
