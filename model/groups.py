"""The consumer group of the consume-transform-produce applications (KIP-447): a rebalance
moves the input partition to the next member, and the group coordinator checks the generation
a member's TxnOffsetCommit carries.

The group's generation is the number of rebalances so far (the budget spent), and the member
that owns the input partition at generation ``g`` is ``ctp_members[g % len(ctp_members)]`` (a
member is a transactional.id, whichever incarnation of it runs). A member learns its
generation when it fetches its committed offset; the member that lost the partition is not
told (in Kafka it learns at its next poll or heartbeat), so it may still be processing.

Kafka: ``ConsumerCoordinator`` (the rebalance), ``KafkaProducer.sendOffsetsToTransaction`` with
``consumer.groupMetadata()``, ``GroupMetadataManager`` / ``OffsetMetadataManager.
commitTransactionalOffset`` (the member and generation check).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .layout import F_REBALANCES, S_BUDGET, Tup, replace
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


def group_generation(m: KafkaEosModel, state: Tup) -> int:
    """The consumer group's generation: the rebalances so far."""
    return int(m.faults.rebalances - state[S_BUDGET][F_REBALANCES])


def owns_input(m: KafkaEosModel, state: Tup, proc: int) -> bool:
    """Whether ``proc``'s transactional.id is the member the input partition is assigned to
    in the current generation (always, with one member)."""
    members = m.ctp_members
    if len(members) < 2:
        return True
    return members[group_generation(m, state) % len(members)] == m.tid_of[proc]


# ---------------------------------------------------------------------- Rebalance
def may_rebalance(m: KafkaEosModel, state: Tup) -> tuple[tuple[()], ...]:
    """Budget left (the action is present only with two members or more)."""
    return ((),) if state[S_BUDGET][F_REBALANCES] else ()


def rebalance(m: KafkaEosModel, state: Tup, args: tuple[()]) -> tuple[Step, Tup]:
    """A rebalance completes: generation + 1, the input partition goes to the next member."""
    budget = state[S_BUDGET]
    spent = replace(budget, F_REBALANCES, budget[F_REBALANCES] - 1)
    next_state = replace(state, S_BUDGET, spent)
    return Step(("Rebalance", (group_generation(m, next_state),))), next_state


GROUP_ACTIONS = (
    Action(
        name="Rebalance",
        touches=Touches(reads=("budget:rebalances",), writes=("budget:rebalances",)),
        role="coordinator",
        kafka="GroupCoordinator rebalance (JoinGroup / SyncGroup), ConsumerCoordinator",
        params=("generation",),
        trigger="state",
        needs=("group",),
        guard=may_rebalance,
        effect=rebalance,
        budget="rebalances",
        show=lambda args: f"g{args[0]}",
    ),
)
