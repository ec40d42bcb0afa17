"""The action properties: predicates on a step (state, label, next state), named as in
:mod:`.properties`; they constrain how the logs, the coordinator and the clients change."""

from __future__ import annotations

from typing import Final

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.client_states import is_legal_transition as client_transition_ok
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.coordinator_states import is_legal_transition as txn_transition_ok

from .layout import (
    C_STATE,
    K_METADATA,
    NO_METADATA,
    P_LOG,
    P_REPLICATION,
    RS_LEADER_EPOCH,
    S_CLIENTS,
    S_COORDINATOR,
    S_PARTITIONS,
    T_STATE,
    Tup,
)
from .views import high_watermark, last_stable_offset

__all__ = [
    "client_transitions_legal",
    "coordinator_transitions_legal",
    "lso_bounds",
    "offsets_immutable",
]

# The action properties run on every transition; most transitions leave the component they
# look at untouched (the same tuple object), so each starts with an identity test, with the
# component's index bound as a default argument (a fast local). Their loops go by index over
# the component's members rather than zip(before, after, strict=True): compiled (mypyc), a zip
# with a keyword is the generic builtin, 4.6x the cost of an index loop over three clients;
# both sides are the same component of two states of one model, so they have one length.
def offsets_immutable(state: Tup, label: object, target: Tup, _at: int = S_PARTITIONS) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for at in range(len(before)):
        old, new = before[at], after[at]
        old_log, new_log = old[P_LOG], new[P_LOG]
        if old[P_REPLICATION]:
            # a new leader may lack its predecessor's entries above the high watermark, and
            # start from a lower high watermark of its own (Partition.makeLeader); one leader's
            # never moves back (UnifiedLog.maybeIncrementHighWatermark)
            hw = high_watermark(old)
            if new_log[:hw] != old_log[:hw]:
                return False
            if high_watermark(new) < hw and _same_leader(old, new):
                return False
            continue
        if old_log is new_log:
            continue
        grown = len(new_log) - len(old_log)
        if grown not in (0, 1) or new_log[: len(old_log)] != old_log:
            return False
    return True


def lso_bounds(state: Tup, label: object, target: Tup, _at: int = S_PARTITIONS) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for at in range(len(before)):
        old, new = before[at], after[at]
        if old is new:
            continue
        lso = last_stable_offset(new)
        if lso > high_watermark(new):
            return False
        # a new leader's LSO follows its own high watermark, which may lag its predecessor's
        if lso < last_stable_offset(old) and _same_leader(old, new):
            return False
    return True


def coordinator_transitions_legal(
    state: Tup,
    label: object,
    target: Tup,
    _at: int = S_COORDINATOR,
) -> bool:
    before, after = state[_at], target[_at]
    if before is after or before[K_METADATA] is after[K_METADATA]:
        return True
    old_metadata, new_metadata = before[K_METADATA], after[K_METADATA]
    for tid in range(len(old_metadata)):
        source, destination = old_metadata[tid][T_STATE], new_metadata[tid][T_STATE]
        if source in (destination, NO_METADATA):
            continue
        if (source, destination) not in _LEGAL_COORDINATOR:
            return False
    return True


def client_transitions_legal(
    state: Tup,
    label: object,
    target: Tup,
    _at: int = S_CLIENTS,
) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for proc in range(len(before)):
        source, destination = before[proc][C_STATE], after[proc][C_STATE]
        if source != destination and (source, destination) not in _LEGAL_CLIENT:
            return False
    return True


_LEGAL_COORDINATOR: Final = frozenset(
    (int(source), int(target))
    for source in TxnState
    for target in TxnState
    if txn_transition_ok(source, target)
)
_LEGAL_CLIENT: Final = frozenset(
    (int(source), int(target))
    for source in ClientState
    for target in ClientState
    if client_transition_ok(source, target)
)


def _same_leader(old: Tup, new: Tup) -> bool:
    """Whether two values of a partition have the same leader epoch (always, unreplicated)."""
    before, after = old[P_REPLICATION], new[P_REPLICATION]
    return not before or before[RS_LEADER_EPOCH] == after[RS_LEADER_EPOCH]
