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
from kafka_eos.protocol.coordinator_states import TxnState

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, str, tuple], bool]  # type: ignore[type-arg]


def _proc(world: ConformanceWorld, label: str) -> int:
    return world.model.process_names.index(label.split("(", 1)[1].split(",", 1)[0].rstrip(")"))


def _verified_by_epoch(world: ConformanceWorld, state: tuple, label: str, target: tuple) -> bool:  # type: ignore[type-arg]
    """The reference's leader asks the coordinator where the model's does not, or asks it to
    add the partition where the model's only verifies, and the coordinator would refuse."""
    if not label.startswith("HandleProduce("):
        return False
    consumed = world.consumed(state, target)
    if not consumed or not consumed[0][7]:
        return False
    model = world.model
    proc, part, pid, epoch = consumed[0][1], consumed[0][2], consumed[0][3], consumed[0][4]
    entry = state[L.S_PARTITIONS][part][L.P_PRODUCERS][pid] if pid >= 0 else ()
    ongoing_at_epoch = bool(entry) and entry[L.E_TXN_FIRST] >= 0 and entry[L.E_EPOCH] == epoch
    if ongoing_at_epoch:
        return False  # neither asks
    verification = model.knobs.partition_verification
    adds = model.tv2 and part != model.offsets_partition  # the reference's TV2 leader adds
    if not (verification or adds):
        return False
    name = model.transactional_ids[model.tid_of[proc]]
    metadata = world.node.txn_coordinator.transactions.get(name)
    pending = metadata is not None and metadata.pending_state is not None
    if verification and not label.endswith(",DUPLICATE)"):
        # both ask; only the reference's add is refused while a transition is being written
        return adds and pending
    return (
        metadata is None
        or (adds and pending)  # CONCURRENT_TRANSACTIONS meanwhile
        or metadata.producer_epoch != epoch
        or int(metadata.state) != int(TxnState.ONGOING)
        or world.tps[part] not in metadata.partitions
    )


KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        "verification_of_other_epochs",
        "a transactional write the coordinator would refuse, where the reference's leader asks "
        "it and the model's does not. With transaction version 2 the reference's leader adds "
        "the partition to the transaction (Kafka 4.x): it asks even with partition_verification "
        "off, and the coordinator answers CONCURRENT_TRANSACTIONS while a transition is being "
        "written; the model's clients add partitions themselves (a simplification, spec/SPEC.md) "
        "and its leader only verifies, against the coordinator's durable state. And a retried "
        "write of a transaction already ended there: the model answers DUPLICATE (its duplicate "
        "check comes first), the reference INVALID_TXN_STATE (the coordinator's verification "
        "comes first, as in Kafka's ReplicaManager)",
        _verified_by_epoch,
    ),
)


def known_disagreement(
    world: ConformanceWorld, state: tuple, label: str, target: tuple
) -> Disagreement | None:  # type: ignore[type-arg]
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
