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

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, Step, tuple], bool]  # type: ignore[type-arg]


def _failover_during_verification(
    world: ConformanceWorld, state: tuple, label: Step, target: tuple  # type: ignore[type-arg]
) -> bool:
    """A leader failover while the KIP-890 round trip of a Produce the leader holds is under
    way: its AddPartitionsToTxn to the coordinator or the answer back in flight, or the answer
    waiting on the coordinator's write of the add (the disagreement then shows at
    AppendVerified)."""
    if label.name != "LeaderFailover":
        return False
    part = world.model.partition_names.index(label.arg("partition"))
    pending = (
        metadata[L.T_PENDING][L.PT_REPLY]
        for metadata in state[L.S_COORDINATOR][L.K_METADATA]
        if metadata[L.T_PENDING]
    )
    return any(
        message and message[L.M_KIND] in (L.M_VERIFY, L.M_VERIFY_RESPONSE)
        and message[L.VQ_PARTITION] == part
        for message in (*state[L.S_NETWORK], *pending)
    )


#: The earlier ones were resolved by making the reference (coordinator failover, verify-only,
#: a batch expiry beside a re-enqueued batch) or the model (the TV2 leader-side add and its
#: CONCURRENT_TRANSACTIONS, the coordinator before the duplicate check, the TV2 leader-side
#: add as the coordinator's transition and the empty abort) do what Kafka does; their programs
#: are regressions in AGREED there.
KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        "leader_failover_during_verification",
        "a partition's leader fails over while a Produce it holds is being verified: the "
        "model answers the held Produce NOT_LEADER_OR_FOLLOWER at once and drops the round "
        "trip (model/replication.py's _refused_by_old_leader); the reference keeps the "
        "verification in flight and, once it is answered, goes on with the held Produce "
        "without asking whether its broker still leads (node.py's _append_produce). "
        "Kafka does neither: the AddPartitionsToTxn goes on (the coordinator may still add "
        "the partition), and ReplicaManager.handleProduceAppend's postVerificationCallback "
        "then calls appendRecords, whose Partition.appendRecordsToLeader refuses with "
        "NOT_LEADER_OR_FOLLOWER on a broker that no longer leads",
        _failover_during_verification,
    ),
)


def known_disagreement(
    world: ConformanceWorld, state: tuple[Any, ...], label: Step, target: tuple[Any, ...]
) -> Disagreement | None:
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
