"""A partition leader's retriable refusals of a Produce (the ``retriable_errors`` fault):
NOT_ENOUGH_REPLICAS and NOT_LEADER_OR_FOLLOWER without appending; the client retries as
Kafka's Sender does (:mod:`.client_responses`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .codes import NOT_ENOUGH_REPLICAS, NOT_LEADER_OR_FOLLOWER
from .layout import (
    F_RETRIABLE_ERRORS,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    PR_PARTITION,
    S_BUDGET,
    S_NETWORK,
    Tup,
    add_messages,
    replace,
    replace_many,
)
from .registry import Action, Step

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["REFUSAL_ACTIONS"]


def may_refuse_produce(m: KafkaEosModel, state: Tup, message: Tup) -> bool:
    """Guard (beyond the network's and the budget's): a client's Produce to a data partition
    (a TxnOffsetCommit goes to the group coordinator, whose errors are others)."""
    return bool(message[PR_PARTITION] != m.offsets_partition)


def _refusal(name: str, error: int) -> Callable[..., tuple[Step, Tup]]:
    """The effect of a leader that answers a Produce with the retriable ``error`` and appends
    nothing: the request is refused before the producer state is looked at (ReplicaManager,
    Partition.appendRecordsToLeader), so nothing on the leader changes; the client retries."""

    def refuse(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
        _, proc, part, _, epoch, seq, rec, _, connection = message
        budget = state[S_BUDGET]
        response = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)
        spent = replace(budget, F_RETRIABLE_ERRORS, budget[F_RETRIABLE_ERRORS] - 1)
        next_state = replace_many(
            state, (S_NETWORK, add_messages(rest, response)), (S_BUDGET, spent)
        )
        # the connection too: a request timeout leaves a copy on the old one and one on the new
        names = (m.partition_names[part], m.process_names[proc], rec, connection)
        return Step((name, names)), next_state

    refuse.__name__ = refuse.__qualname__ = f"refuse_{name}"
    return refuse


def _refusal_action(name: str, kafka: str, error: int) -> Action:
    """The fault of a leader answering a Produce with the retriable ``error``."""
    return Action(
        name=name,
        role="leader",
        kafka=kafka,
        params=("partition", "process", "record", "connection"),
        trigger="message",
        consumes=(M_PRODUCE,),
        guard=may_refuse_produce,
        effect=_refusal(name, error),
        budget="retriable_errors",
        show=lambda args: f"{args[0]},{args[1]},r{args[2]},c{args[3]}",
    )


#: In SPEC.md's order, after HandleProduce.
REFUSAL_ACTIONS = (
    _refusal_action(
        "NotEnoughReplicas",
        "Partition.appendRecordsToLeader (ISR below min.insync.replicas, acks=all)",
        NOT_ENOUGH_REPLICAS,
    ),
    _refusal_action(
        "NotLeaderOrFollower",
        "ReplicaManager.getPartitionOrException (leadership moved)",
        NOT_LEADER_OR_FOLLOWER,
    ),
)
