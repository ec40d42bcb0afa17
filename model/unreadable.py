"""Answers no client will ever read are not kept in flight.

An answer travels on its request's connection. Once the client closed that connection (a
request timeout or a Produce retry opened a newer one), Kafka's broker drops the answer when
it would write it (``SocketServer.Processor.sendResponse``: "Attempting to send response via
channel for which there is no open connection") and the client's ``NetworkClient`` forgot the
request (``handleTimedOutRequests`` / ``handleDisconnections`` fail every in-flight request of
the connection). The model used to keep such an answer in the network, where the only things
that could happen to it were a delivery the client ignores and a loss; neither changes
anything but the network (and the loss budget, which a loss of a live message can spend as
well). Keeping it multiplied every state that followed by "still in flight or not" and by
the loss budget, for no behaviour. The same holds for an answer the client can no longer read
for a reason of its own: a coordinator answer to a client in FATAL_ERROR (it reads nothing
more), a Produce answer to a batch already acknowledged or failed (``ProducerBatch.done`` is
set once).

The request's first copy is still delivered and handled (the broker's log, producer state
and coordinator change as before); only its answer is dropped as it is made, or when the
client closes the connection while the answer is on its way.

When an answer is unreadable for ever (checked against every action that sends a request or
re-sends a batch):

- a Produce answer: its batch is no longer in flight (acknowledged or failed: final), or its
  connection is not the batch's current attempt's and is older than the newest connection.
  The batch left that connection when its partition's in-flight batches all moved to a new
  one (``RetryProduce``, ``TimeoutProduce``); a batch goes out only on the newest connection
  or on one that carries a current attempt of its partition (``sender._current_connection``),
  so none of that partition goes out on the old one again;
- a coordinator answer: its client is in FATAL_ERROR, or it does not answer the outstanding
  request (API, transaction and connection) and its connection is older than the newest one
  (every coordinator request, a re-sent one too, goes out on the newest connection);
- a marker answer of the current coordinator epoch that the coordinator no longer waits for
  (:func:`.markers.answer_awaited`): the coordinator is the client of its marker channel,
  and after ``TimeoutTxnMarker`` the second copy's answer is the one it never reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .client_responses import reads_answer
from .codes import FATAL_ERROR
from .layout import (
    B_INFLIGHT,
    BT_EXTRA,
    BT_STATUS,
    C_BATCHES,
    C_STATE,
    CR_CONNECTION,
    CR_PROCESS,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_KIND,
    M_MARKER,
    M_MARKER_RESPONSE,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    PRR_CONNECTION,
    PRR_PROCESS,
    PRR_RECORD,
    S_CLIENTS,
    S_NETWORK,
    Message,
    Network,
    Tup,
    replace,
)
from .markers import answer_awaited

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["readable", "without_unreadable"]


def without_unreadable(m: KafkaEosModel, state: Tup) -> Tup:
    """``state`` without the answers in its network that no client will ever read (``state``
    itself when there are none)."""
    # typed, so that compiled (mypyc) the loop walks the tuple and compares native ints
    network: Network = state[S_NETWORK]
    newest = -1
    for message in network:
        kind = message[M_KIND]
        if kind > M_MARKER_RESPONSE:
            return state  # sorted by kind: the leaders' verification messages follow
        if kind in (M_PRODUCE, M_COORDINATOR_REQUEST, M_MARKER):
            continue
        if newest < 0:
            newest = m.newest_connection(state)
        if not readable(state, message, newest):
            break
    else:
        return state
    kept = tuple(message for message in network if readable(state, message, newest))
    return replace(state, S_NETWORK, kept)


def readable(state: Tup, message: Message, newest: int) -> bool:
    """Whether the client a network message answers may still read it (a message that is not
    an answer to a client is always kept); ``newest`` is the newest connection's number."""
    kind = message[M_KIND]
    if kind == M_PRODUCE_RESPONSE:
        return _produce_answer_readable(state, message, newest)
    if kind == M_COORDINATOR_RESPONSE:
        client = state[S_CLIENTS][message[CR_PROCESS]]
        if client[C_STATE] == FATAL_ERROR:
            return False
        return message[CR_CONNECTION] >= newest or reads_answer(client, message)
    if kind == M_MARKER_RESPONSE:
        return answer_awaited(state, message)
    return True


def _produce_answer_readable(state: Tup, message: Message, newest: int) -> bool:
    batch = state[S_CLIENTS][message[PRR_PROCESS]][C_BATCHES][message[PRR_RECORD]]
    if batch[BT_STATUS] != B_INFLIGHT:
        return False
    connection = message[PRR_CONNECTION]
    return batch[BT_EXTRA] == connection or connection >= newest
