"""A CONCURRENT_TRANSACTIONS answer from the coordinator is read by its client in the step that
makes it.

While the coordinator writes a transition of a transactional.id, or the transaction is in
Prepare*, it answers InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn with
CONCURRENT_TRANSACTIONS (``TransactionCoordinator.handleInitProducerId`` and the others; the
InitProducerId that fences an open transaction gets it once its PrepareAbort is durable), and
the client's ``TxnRequestHandler`` re-enqueues the same request (``reenqueue``; failed instead
in ABORTABLE_ERROR, ``maybeTerminateRequestWithError``). Nothing else reads that answer or
changes with it, so the model reads it at once: the handler's (or ``CompleteTxnLogAppend``'s)
step also does the client's ``ReceiveCoordinatorResponse``, and the request is back in flight
on the newest connection. The retry loop "request, answer, request..." that lasts as long as
the coordinator is busy then has one state per round instead of two, and no state of the
answer in flight multiplies every other process's steps.

Why this hides nothing (the interleavings it leaves out are those with a step between the
answer and its reading):

- a step of another process, the coordinator or a leader does not read or change the answer,
  the client's outstanding request or the client (reading the answer touches only them), so it
  commutes with the reading;
- the answer's loss ends, after ``ResendCoordinatorRequest``, where the reading ends; the loss
  of the re-sent request does the same;
- the client's request timeout with the answer in flight leaves the request on a new
  connection and the answer unreadable; read at once, the timeout leaves a second copy of the
  request on the old connection, which a busy coordinator answers CONCURRENT_TRANSACTIONS again
  (an answer then dropped as unreadable: the same state), and which an idle one handles: a
  Kafka behaviour too (the back-off had passed, the re-sent request was in flight);
- the client's own steps that change how the answer is read (a Produce answer making it
  ABORTABLE_ERROR or FATAL_ERROR) can be taken before the handler's step instead: the
  coordinator is as busy then, and the reading fails or ignores the request as it would have.

So every state the properties can see stays reachable (no property reads the network).
Only an answer that answers the client's outstanding request (API, transaction, connection)
of a client not in FATAL_ERROR is read; any other stays in flight (see :mod:`.unreadable`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .client_responses import reads_answer, receive_coordinator_response
from .codes import CONCURRENT
from .layout import (
    CR_ERROR,
    CR_PROCESS,
    M_COORDINATOR_RESPONSE,
    M_KIND,
    S_CLIENTS,
    S_NETWORK,
    Message,
    Tup,
    remove_message,
)

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["with_concurrent_answers_read"]


def with_concurrent_answers_read(m: KafkaEosModel, state: Tup) -> Tup:
    """``state`` after its clients read every CONCURRENT_TRANSACTIONS answer in flight to
    their outstanding coordinator request (``state`` itself when there is none)."""
    while True:
        answer = _concurrent_answer(state)
        if answer is None:
            return state
        network = state[S_NETWORK]
        _, state = receive_coordinator_response(m, state, answer, remove_message(network, answer))


def _concurrent_answer(state: Tup) -> Message | None:
    network: tuple[Message, ...] = state[S_NETWORK]
    for message in network:
        kind = message[M_KIND]
        if kind < M_COORDINATOR_RESPONSE:
            continue
        if kind > M_COORDINATOR_RESPONSE:
            return None  # sorted by kind: no coordinator answer follows
        client = state[S_CLIENTS][message[CR_PROCESS]]
        if message[CR_ERROR] == CONCURRENT and reads_answer(client, message):
            return message
    return None
