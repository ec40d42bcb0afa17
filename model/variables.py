"""Named, readable state variables for traces and ITF (contract A's optional ``variables``).

The raw state is tuples of small ints (see :mod:`.layout`); here each component becomes a
record with Kafka's names: client states and coordinator states by name, log entries as
records, error codes by name. :mod:`.history` reads these records back (from a trace or an ITF
file) to produce a history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode

from .layout import (
    B_FAILED,
    B_INFLIGHT,
    BATCH_STATUS_NAMES,
    BUDGET_NAMES,
    ENTRY_DATA,
    FAILED_SHIFT,
    NO_METADATA,
    OUTCOME_NAMES,
    S_BUDGET,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_NETWORK,
    S_OUTCOMES,
    S_PARTITIONS,
    Tup,
)
from .views import high_watermark, last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

PRODUCER_PREFIX = "producer:"
PARTITION_PREFIX = "partition:"


def state_variables(model: KafkaEosModel, state: Tup) -> dict[str, Any]:
    """One variable per producer (``producer:NAME``) and per partition (``partition:NAME``)
    so a trace step shows only the process or partition that changed; then the coordinator,
    the network, the consumer, the transactions' outcomes and the remaining fault budget."""
    variables: dict[str, Any] = {}
    for name, producer in _producers(model, state[S_CLIENTS]).items():
        variables[f"{PRODUCER_PREFIX}{name}"] = producer
    for name, partition in _partitions(model, state[S_PARTITIONS]).items():
        variables[f"{PARTITION_PREFIX}{name}"] = partition
    variables["coordinator"] = _coordinator(model, state[S_COORDINATOR])
    variables["network"] = sorted(model.describe_message(m) for m in state[S_NETWORK])
    variables["consumer"] = _consumer(model, state[S_CONSUMER])
    variables["outcomes"] = {
        _txn_name(model, index): OUTCOME_NAMES[code] for index, code in enumerate(state[S_OUTCOMES])
    }
    variables["budget"] = dict(zip(BUDGET_NAMES, state[S_BUDGET], strict=True))
    return variables


def grouped(variables: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The variables named ``prefix + NAME``, as NAME -> value."""
    return {key[len(prefix) :]: value for key, value in variables.items() if key.startswith(prefix)}


def _txn_name(model: KafkaEosModel, index: int) -> str:
    proc, local, _ = model.transactions[index]
    return f"{model.process_names[proc]}.t{local}"


def _producers(model: KafkaEosModel, clients: Tup) -> dict[str, Any]:
    result = {}
    for proc, client in enumerate(clients):
        cstate, epoch, current, batches, sequences, added, awaiting = client
        shown = []
        for rec, (status, b_epoch, seq, extra) in enumerate(batches):
            batch: dict[str, Any] = {
                "record": model.records[model.record_global[proc][rec]][4],
                "partition": model.partition_names[model.record_partition[proc][rec]],
                "status": BATCH_STATUS_NAMES[status],
                "epoch": b_epoch,
                "sequence": seq,
                # an in-flight batch: the connection its latest attempt travels on
                "connection": extra if status == B_INFLIGHT else -1,
            }
            if status == B_FAILED:
                batch["error"] = ErrorCode(extra).name
                batch["offset"] = -1
            elif status == B_INFLIGHT:
                batch["error"] = "NONE"
                batch["offset"] = -1
            else:
                batch["error"] = "NONE"
                batch["offset"] = extra
            shown.append(batch)
        result[model.process_names[proc]] = {
            "kind": model.kinds[proc],
            "state": ClientState(cstate).name,
            "producer_id": model.pid_of[proc],
            "epoch": epoch,
            "current": current,
            "batches": shown,
            "next_sequence": {model.partition_names[p]: s for p, s in enumerate(sequences)},
            "added": sorted(model.partition_names[p] for p in _bits(added)),
            "awaiting": model.describe_message(awaiting) if awaiting else "",
        }
    return result


def _bits(mask: int) -> list[int]:
    return [bit for bit in range(mask.bit_length()) if mask >> bit & 1]


def _partitions(model: KafkaEosModel, partitions: Tup) -> dict[str, Any]:
    result = {}
    for part, partition in enumerate(partitions):
        log, producers, aborted = partition
        entries = []
        for offset, entry in enumerate(log):
            if entry[0] == ENTRY_DATA:
                _, pid, epoch, seq, record, transactional = entry
                data: dict[str, Any] = {
                    "offset": offset,
                    "type": "data",
                    "producer_id": pid,
                    "producer_epoch": epoch,
                    "base_sequence": seq,
                    "record": model.records[record][4],
                    "transactional": bool(transactional),
                }
                if part == model.offsets_partition:
                    data["group_offset"] = model.records[record][6]
                entries.append(data)
            else:
                _, pid, epoch, commit, cepoch = entry
                entries.append(
                    {
                        "offset": offset,
                        "type": "control",
                        "producer_id": pid,
                        "producer_epoch": epoch,
                        "commit": bool(commit),
                        "coordinator_epoch": cepoch,
                    }
                )
        state = {}
        for pid, entry in enumerate(producers):
            if entry:
                epoch, cepoch, batches, first = entry
                state[f"pid{pid}"] = {
                    "epoch": epoch,
                    "coordinator_epoch": cepoch,
                    "batches": [list(b) for b in batches],
                    "current_txn_first_offset": first,
                }
        result[model.partition_names[part]] = {
            "log": entries,
            "producer_state": state,
            "aborted_index": [list(a) for a in aborted],
            "high_watermark": high_watermark(partition),
            "last_stable_offset": last_stable_offset(partition),
        }
    return result


def _coordinator(model: KafkaEosModel, coordinator: Tup) -> dict[str, Any]:
    cepoch, metadata, txn_log = coordinator
    transactions = {}
    for tid, (state, epoch, partitions, owner, acks, pending, last_epoch) in enumerate(metadata):
        transactions[model.transactional_ids[tid]] = {
            "state": _txn_state_name(state),
            "producer_id": tid,
            "epoch": epoch,
            "partitions": sorted(model.partition_names[p] for p in _bits(partitions)),
            "transaction": _txn_name(model, owner) if owner >= 0 else "",
            "markers_acknowledged": sorted(
                model.partition_names[p] for p in _bits(acks & ((1 << FAILED_SHIFT) - 1))
            ),
            "pending_state": _txn_state_name(pending[0]) if pending else "",
            "last_producer_epoch": last_epoch,
        }
    log = {}
    for tid, record in enumerate(txn_log):
        if record:
            state, epoch, partitions, _owner, _last_epoch = record
            log[model.transactional_ids[tid]] = {
                "state": _txn_state_name(state),
                "epoch": epoch,
                "partitions": sorted(model.partition_names[p] for p in _bits(partitions)),
            }
    return {"coordinator_epoch": cepoch, "transactions": transactions, "transaction_state_log": log}


def _txn_state_name(code: int) -> str:
    return "" if code == NO_METADATA else TxnState(code).kafka_name


def _consumer(model: KafkaEosModel, consumer: Tup) -> dict[str, Any]:
    if not consumer:
        return {}
    return {
        "isolation": model.workload.consumer,
        "partitions": {
            model.partition_names[part]: {"position": position, "delivered": list(delivered)}
            for part, (position, delivered) in enumerate(consumer)
        },
    }
