"""Disagreements between the reference and the model that the refinement tests found.

Each entry names a model action after which the reference does something the model cannot
do (or the other way round), with the reason. The stateful tests do not choose these actions
(so that they keep exploring everything else); tests/conformance/test_known_disagreements.py
keeps each one's minimal program as a strict xfail, so fixing either side shows up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model.registry import Step
from kafka_eos.protocol.coordinator_states import TxnState

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, Step, tuple], bool]  # type: ignore[type-arg]


def _wrapped_zombie_adds(
    world: ConformanceWorld, state: tuple, label: Step, target: tuple  # type: ignore[type-arg]
) -> bool:
    """A transaction-version-2 leader-side add refused INVALID_TXN_STATE by the model where
    the coordinator holds no open transaction at the request's own epoch."""
    if label.name != "HandleVerifyPartition" or label.arg("request") != "ADD":
        return False
    tid = world.tid_index(label.arg("transactional_id"))
    metadata = state[L.S_COORDINATOR][L.K_METADATA][tid]
    return (
        label.outcome == "INVALID_TXN_STATE"
        and metadata[L.T_STATE] != L.NO_METADATA
        and metadata[L.T_EPOCH] == label.arg("epoch")
        and not metadata[L.T_PENDING]
        and metadata[L.T_STATE] in _NO_TRANSACTION
    )


def _wrapped_zombie_adds_to_its_own(
    world: ConformanceWorld, state: tuple, label: Step, target: tuple  # type: ignore[type-arg]
) -> bool:
    """A transaction-version-2 leader-side add refused INVALID_TXN_STATE by the model where
    the coordinator holds an open transaction at the request's own epoch without the
    partition."""
    if label.name != "HandleVerifyPartition" or label.arg("request") != "ADD":
        return False
    tid = world.tid_index(label.arg("transactional_id"))
    metadata = state[L.S_COORDINATOR][L.K_METADATA][tid]
    partition = world.model.partition_names.index(label.arg("partition"))
    return (
        label.outcome == "INVALID_TXN_STATE"
        and metadata[L.T_STATE] == int(TxnState.ONGOING)
        and metadata[L.T_EPOCH] == label.arg("epoch")
        and not metadata[L.T_PENDING]
        and not metadata[L.T_PARTITIONS] >> partition & 1
    )


def _wrapped_zombie_aborts(
    world: ConformanceWorld, state: tuple, label: Step, target: tuple  # type: ignore[type-arg]
) -> bool:
    """A transaction-version-2 EndTxn(abort) at the stored epoch refused INVALID_TXN_STATE by
    the model where no transaction is open."""
    if label.name != "HandleEndTxn" or label.arg("commit") != "ABORT":
        return False
    tid = world.tid_index(label.arg("transactional_id"))
    metadata = state[L.S_COORDINATOR][L.K_METADATA][tid]
    return (
        world.model.tv2
        and label.outcome == "INVALID_TXN_STATE"
        and metadata[L.T_EPOCH] == label.arg("epoch")
        and not metadata[L.T_PENDING]
        and metadata[L.T_STATE] in _NO_TRANSACTION
    )


_NO_TRANSACTION = frozenset(
    int(s) for s in (TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
)

#: The earlier ones were resolved by making the reference (coordinator failover,
#: verify-only, a batch expiry beside a re-enqueued batch) or the model (the TV2 leader-side
#: add and its CONCURRENT_TRANSACTIONS, the coordinator before the duplicate check) do what
#: Kafka does; their programs are regressions in AGREED there.
KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        "wrapped_zombie_adds_a_partition",
        "with producer_id_rotation off (tv2-producer-epoch-wrap) the epoch wraps around to "
        "one a zombie still holds; the zombie's Produce then reaches the coordinator through "
        "the transaction-version-2 leader-side add while no transaction is open at that "
        "epoch: the reference, as Kafka's handleAddPartitionsToTransaction, opens one for it, "
        "the model refuses it with INVALID_TXN_STATE, since its clients add their partitions "
        "themselves before writing (SPEC.md §8) and only a reused epoch sends a Produce "
        "ahead of that. Found by the refinement tests once a small max_producer_epoch was "
        "allowed under transaction version 2; the model's add is to follow Kafka",
        _wrapped_zombie_adds,
    ),
    Disagreement(
        "wrapped_zombie_adds_to_its_own_transaction",
        "as wrapped_zombie_adds_a_partition, with the zombie's own transaction open at the "
        "wrapped epoch (it sent AddOffsetsToTxn, not the data partition, after its Produce): "
        "the transaction-version-2 leader-side add of the data partition finds an Ongoing "
        "transaction without it; the reference, as Kafka's handleAddPartitionsToTransaction, "
        "adds the partition, the model answers INVALID_TXN_STATE (SPEC.md §8: its clients "
        "add their partitions themselves). Found by a long drawn refinement run (session 10) "
        "with producer_id_rotation off, an epoch bound of 1 and two request timeouts; the "
        "model's add is to follow Kafka",
        _wrapped_zombie_adds_to_its_own,
    ),
    Disagreement(
        "wrapped_zombie_aborts_nothing",
        "with producer_id_rotation off (tv2-producer-epoch-wrap) a zombie holding the wrapped "
        "epoch, refused by the leader, ends its transaction with an EndTxn(abort) at the "
        "coordinator's epoch while no transaction is open there: the reference, as Kafka's "
        "transaction-version-2 endTransaction (Empty, CompleteCommit or CompleteAbort with "
        "the current epoch: an abort with an epoch bump), writes PrepareAbort, the model "
        "answers INVALID_TXN_STATE (its clients never abort without a transaction open at "
        "their epoch otherwise). Found by the refinement tests with a small max_producer_epoch "
        "under transaction version 2; the model's EndTxn is to follow Kafka",
        _wrapped_zombie_aborts,
    ),
)


def known_disagreement(
    world: ConformanceWorld, state: tuple[Any, ...], label: Step, target: tuple[Any, ...]
) -> Disagreement | None:
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
