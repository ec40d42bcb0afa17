"""Disagreements between the reference and the model that the refinement tests found.

Each entry names a model action after which the reference does something the model cannot
do (or the other way round), with the reason. The stateful tests do not choose these actions
(so that they keep exploring everything else); tests/conformance/test_known_disagreements.py
keeps each one's minimal program as a strict xfail, so fixing either side shows up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kafka_eos.model import layout as L

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, str, tuple], bool]  # type: ignore[type-arg]


def _proc(world: ConformanceWorld, label: str) -> int:
    return world.model.process_names.index(label.split("(", 1)[1].split(",", 1)[0].rstrip(")"))


def _tv2_abort_bump(world: ConformanceWorld, state: tuple, label: str, target: tuple) -> bool:  # type: ignore[type-arg]
    if not label.startswith("ReceiveCoordinatorResponse(") or ",EndTxn,NONE)" not in label:
        return False
    producer = world.producers[_proc(world, label)]
    return world.model.tv2 and producer.epoch_bump_required


def _superseded_error(world: ConformanceWorld, state: tuple, label: str, target: tuple) -> bool:  # type: ignore[type-arg]
    if not label.startswith("ReceiveProduceResponse(") or label.endswith(",NONE)"):
        return False
    consumed = world.consumed(state, target)
    envelope = world.envelope_for(consumed[0]) if consumed else None
    if envelope is None:
        return False
    batch = world.batches[consumed[0][1]][consumed[0][5]]
    return batch is not None and batch.correlation_id != envelope.message.correlation_id


def _tv2_equal_epoch_marker(
    world: ConformanceWorld, state: tuple, label: str, target: tuple
) -> bool:  # type: ignore[type-arg]
    if not label.startswith("HandleWriteTxnMarkers(") or not world.model.tv2:
        return False
    consumed = world.consumed(state, target)
    envelope = world.envelope_for(consumed[0]) if consumed else None
    for _, part, tid, _cepoch, epoch, _commit in envelope.abstract if envelope else ():
        entry = state[L.S_PARTITIONS][part][L.P_PRODUCERS][tid]
        if entry and entry[L.E_EPOCH] == epoch and entry[L.E_TXN_FIRST] < 0:
            return True
    return False


def _marker_check_order(world: ConformanceWorld, state: tuple, label: str, target: tuple) -> bool:  # type: ignore[type-arg]
    if (
        not label.startswith("HandleWriteTxnMarkers(")
        or not world.model.knobs.coordinator_epoch_check
    ):
        return False
    # the reference writes one WriteTxnMarkers for every partition: any of them counts
    consumed = world.consumed(state, target)
    envelope = world.envelope_for(consumed[0]) if consumed else None
    if envelope is None:
        return False
    for _, part, tid, cepoch, epoch, _commit in envelope.abstract:
        entry = state[L.S_PARTITIONS][part][L.P_PRODUCERS][tid]
        if not entry or entry[L.E_COORDINATOR_EPOCH] <= cepoch:
            continue
        stale = epoch < entry[L.E_EPOCH] or (
            world.model.tv2 and epoch == entry[L.E_EPOCH] and entry[L.E_TXN_FIRST] >= 0
        )
        if stale:
            return True
    return False


def _idempotent_bump_waits(
    world: ConformanceWorld, state: tuple, label: str, target: tuple
) -> bool:  # type: ignore[type-arg]
    if not label.startswith("ReceiveProduceResponse(") or label.endswith(",NONE)"):
        return False
    proc = _proc(world, label)
    if world.producers[proc].transactional_id is not None:
        return False
    before, after = state[L.S_CLIENTS][proc], target[L.S_CLIENTS][proc]
    bumped = after[L.C_EPOCH] != before[L.C_EPOCH]
    return bumped and any(b[0] == L.B_INFLIGHT for b in before[L.C_BATCHES] if b is not None)


KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        "tv2_abort_bumps_with_init_producer_id",
        "transaction version 2: after aborting a transaction with a failed batch the reference "
        "producer still asks InitProducerId for an epoch bump (KIP-360); the model's client "
        "takes the bumped epoch EndTxn returned and is READY",
        _tv2_abort_bump,
    ),
    Disagreement(
        "superseded_attempt_error_ignored",
        "an error answering an earlier attempt of a batch that was re-sent is ignored by the "
        "reference producer (it waits for the latest attempt); the model's client fails the "
        "batch on it (same epoch and sequence)",
        _superseded_error,
    ),
    Disagreement(
        "tv2_marker_with_stored_epoch",
        "transaction version 2: a marker whose epoch equals the leader's stored epoch, with no "
        "transaction open there (a re-sent marker whose first copy was written): the model "
        "appends a second marker, the reference answers INVALID_PRODUCER_EPOCH (the protocol "
        "notes: TV2 markers need an epoch strictly greater than the stored one)",
        _tv2_equal_epoch_marker,
    ),
    Disagreement(
        "marker_checks_order",
        "a marker both from a deposed coordinator epoch and with a stale producer epoch: the "
        "model checks the producer epoch first (INVALID_PRODUCER_EPOCH, Kafka's "
        "ProducerAppendInfo.appendEndTxnMarker order), the reference the coordinator epoch "
        "(TRANSACTION_COORDINATOR_FENCED)",
        _marker_check_order,
    ),
    Disagreement(
        "idempotent_bump_waits_for_in_flight",
        "an idempotent producer's unresolvable sequence error (KIP-360): the model's client "
        "bumps the epoch at once and re-sends its other in-flight batches as new ones; the "
        "reference producer waits until none of its requests is in flight, and takes their "
        "answers first",
        _idempotent_bump_waits,
    ),
)


def known_disagreement(
    world: ConformanceWorld, state: tuple, label: str, target: tuple
) -> Disagreement | None:  # type: ignore[type-arg]
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
