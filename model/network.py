"""The network: every in-flight message may be delivered next (delay and reordering), and a
message other than a Produce request may be lost.

A Produce request is never lost: one that is never delivered is a delay for ever (TCP loses a
connection's tail, not a request in the middle), and the client's retry does not depend on
noticing the loss. Nor is a leader's verification request or its answer (spec/SPEC.md §8): a
failed inter-broker request is not re-sent; AddPartitionsToTxnManager answers the held
Produce with NETWORK_EXCEPTION, a retriable error like the retriable_errors fault's.

Requests on one connection are handled in order (the broker mutes a connection while it
handles one of its requests, a verification included): :func:`deliverable` yields only the
oldest Produce request of each (producer, partition, connection), none while one is held.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from .layout import (
    API_NAMES,
    F_LOSSES,
    M_COORDINATOR_RESPONSE,
    M_KIND,
    M_MARKER,
    M_MARKER_RESPONSE,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_VERIFY,
    M_VERIFY_RESPONSE,
    PR_CONNECTION,
    PR_PARTITION,
    PR_PROCESS,
    S_BUDGET,
    S_NETWORK,
    VQ_CONNECTION,
    VQ_DEPOSED,
    VQ_PARTITION,
    VQ_PROCESS,
    VR_CONNECTION,
    VR_DEPOSED,
    VR_PARTITION,
    VR_PROCESS,
    Tup,
    remove_message,
    replace,
    replace_many,
    request_key,
)
from .registry import Action, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


def deliverable(network: Tup) -> Iterator[tuple[Tup, Tup]]:
    """(message, the network without it) for every message that may be delivered next, each
    distinct message once. In the sorted network the oldest request of a connection comes
    first (the connection is the request's last field, its position in the connection's
    order is its sort order)."""
    previous = None
    connections = _held_connections(network)
    for message in network:
        if message == previous:
            continue
        previous = message
        if message[M_KIND] == M_PRODUCE:
            connection = (message[PR_PROCESS], message[PR_PARTITION], message[PR_CONNECTION])
            if connection in connections:
                continue
            connections.add(connection)
        yield message, remove_message(network, message)


def _held_connections(network: Tup) -> set[tuple[int, int, int]]:
    """The (process, partition, connection) of every Produce a leader holds while the
    coordinator verifies it: the broker keeps a connection muted until it has answered the
    request it is handling (SocketServer), so the connection's next requests wait. Their
    messages are the network's last (the highest kinds). A deposed leader's (one that lost its
    leadership since it asked) mutes nothing: the partition's requests go to the new leader."""
    held: set[tuple[int, int, int]] = set()
    for message in reversed(network):
        kind = message[M_KIND]
        if kind == M_VERIFY:
            if not message[VQ_DEPOSED]:
                held.add((message[VQ_PROCESS], message[VQ_PARTITION], message[VQ_CONNECTION]))
        elif kind == M_VERIFY_RESPONSE:
            if not message[VR_DEPOSED]:
                held.add((message[VR_PROCESS], message[VR_PARTITION], message[VR_CONNECTION]))
        else:
            break
    return held


def lose_message(m: KafkaEosModel, state: Tup, message: Tup, rest: Tup) -> tuple[Step, Tup]:
    """A dropped connection or a timeout: the message disappears."""
    budget = state[S_BUDGET]
    spent = replace(budget, F_LOSSES, budget[F_LOSSES] - 1)
    next_state = replace_many(state, (S_NETWORK, rest), (S_BUDGET, spent))
    return Step(("LoseMessage", (m.describe_message(message),))), next_state


NETWORK_ACTIONS = (
    Action(
        name="LoseMessage",
        touches=Touches(
            reads=("budget:losses",),
            writes=("budget:losses",),
            takes=("inbox",),
        ),
        role="network",
        kafka="a dropped connection or a request timeout",
        params=("message",),
        trigger="message",
        consumes=(
            M_PRODUCE_RESPONSE,
            *(request_key(api) for api in range(len(API_NAMES))),
            M_COORDINATOR_RESPONSE,
            M_MARKER,
            M_MARKER_RESPONSE,
        ),
        effect=lose_message,
        budget="losses",
    ),
)
