"""A client's outstanding coordinator request sent again: after it was lost
(ResendCoordinatorRequest) or after request.timeout.ms (TimeoutCoordinatorRequest, while the
first copy may still be delivered and handled).

Kafka: ``TransactionManager.TxnRequestHandler`` (re-enqueues the request),
``NetworkClient.handleTimedOutRequests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .clients import ONE, client_step
from .codes import ABORTABLE_ERROR
from .layout import (
    API_NAMES,
    C_AWAITING,
    C_STATE,
    CQ_API,
    CQ_CONNECTION,
    CR_CONNECTION,
    CR_PROCESS,
    F_REQUEST_TIMEOUTS,
    K_METADATA,
    M_COORDINATOR_RESPONSE,
    M_KIND,
    PT_REPLY,
    S_CLIENTS,
    S_COORDINATOR,
    S_NETWORK,
    T_PENDING,
    Tup,
    replace,
)
from .registry import Action, ClientView, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["REQUEST_RETRY_ACTIONS"]


# ---------------------------------------------------------------------- ResendCoordinatorRequest
def awaits_answer(m: KafkaEosModel, view: ClientView) -> bool:
    """A coordinator request is outstanding."""
    return bool(view.client[C_AWAITING])


def lost_request(m: KafkaEosModel, state: Tup, proc: int) -> tuple[tuple[()], ...]:
    """The outstanding coordinator request and any answer to it are gone (lost), and the
    coordinator is not writing its answer. (Only a loss, or a failover that dropped a pending
    write's answer, can leave a request unanswered: a cheap test first.)"""
    if not m.something_was_lost(state):
        return ()
    request = state[S_CLIENTS][proc][C_AWAITING]
    network = state[S_NETWORK]
    if request in network:
        return ()
    connection = request[CQ_CONNECTION]
    if any(_answers(message, proc, connection) for message in network):
        return ()
    pending = state[S_COORDINATOR][K_METADATA][m.tid_of[proc]][T_PENDING]
    # (the coordinator's answer waits for its write: the pending transition's reply)
    if pending and pending[PT_REPLY] and _answers(pending[PT_REPLY], proc, connection):
        return ()
    return ONE


def _answers(message: Tup, proc: int, connection: int) -> bool:
    """Whether ``message`` is a coordinator answer to ``proc``'s request on ``connection``."""
    return bool(
        message[M_KIND] == M_COORDINATOR_RESPONSE
        and message[CR_PROCESS] == proc
        and message[CR_CONNECTION] == connection
    )


def resend_coordinator_request(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]
) -> tuple[Step, Tup]:
    """TxnRequestHandler: the client times out and sends the request again. In
    ABORTABLE_ERROR the re-enqueued request is failed when dequeued instead: a doomed
    transaction sends nothing but EndTxn(abort) (maybeTerminateRequestWithError)."""
    client = state[S_CLIENTS][proc]
    request = client[C_AWAITING]
    step = Step(("ResendCoordinatorRequest", (m.process_names[proc], API_NAMES[request[CQ_API]])))
    if client[C_STATE] == ABORTABLE_ERROR:
        return step, client_step(state, proc, replace(client, C_AWAITING, ()))
    again = (*request[:CQ_CONNECTION], m.newest_connection(state))
    new_client = replace(client, C_AWAITING, again)
    return step, client_step(state, proc, new_client, (again,))


# ---------------------------------------------------------------------- TimeoutCoordinatorRequest
def may_time_out_request(m: KafkaEosModel, view: ClientView) -> tuple[tuple[()], ...]:
    """Request-timeout budget left and a coordinator request outstanding, wherever it is: not
    delivered yet, being handled, or answered with the answer still on its way."""
    return ONE if view.request_timeouts and view.client[C_AWAITING] else ()


def time_out_request(m: KafkaEosModel, state: Tup, proc: int, args: tuple[()]) -> tuple[Step, Tup]:
    """NetworkClient.handleTimedOutRequests: request.timeout.ms passed, the client closes the
    connection and the request completes as disconnected; its TxnRequestHandler re-enqueues
    it (onComplete: wasDisconnected, reenqueue) and it goes out again on a new connection,
    while the first copy may still be delivered and handled. Its answer travels on the
    closed connection and is never read. In ABORTABLE_ERROR the re-enqueued request is
    failed when dequeued (maybeTerminateRequestWithError): only the first copy is left."""
    client = state[S_CLIENTS][proc]
    request = client[C_AWAITING]
    step = Step(("TimeoutCoordinatorRequest", (m.process_names[proc], API_NAMES[request[CQ_API]])))
    if client[C_STATE] == ABORTABLE_ERROR:
        cleared = replace(client, C_AWAITING, ())
        return step, client_step(state, proc, cleared, (), F_REQUEST_TIMEOUTS)
    again = (*request[:CQ_CONNECTION], m.newest_connection(state) + 1)
    new_client = replace(client, C_AWAITING, again)
    return step, client_step(state, proc, new_client, (again,), F_REQUEST_TIMEOUTS)


#: In SPEC.md's order, after the client's own steps.
REQUEST_RETRY_ACTIONS = (
    Action(
        name="ResendCoordinatorRequest",
        touches=Touches(
            reads=(
                "own",
                "previous",
                "budget:retries",
                "budget:batch_timeouts",
                "coordinator",
                "inbox",
                "inbox:coordinator",
                "budget:losses",
                "budget:failovers",
            ),
            writes=("own",),
            adds=("inbox:coordinator",),
        ),
        role="client",
        kafka="TransactionManager.TxnRequestHandler (retry after a timeout)",
        params=("process", "request"),
        trigger="client",
        needs=("transactions", "unanswered"),
        precondition=awaits_answer,
        guard=lost_request,
        effect=resend_coordinator_request,
    ),
    Action(
        name="TimeoutCoordinatorRequest",
        role="client",
        kafka="NetworkClient.handleTimedOutRequests, TransactionManager.TxnRequestHandler "
        "(reenqueue when disconnected)",
        params=("process", "request"),
        trigger="local",
        needs=("transactions",),
        guard=may_time_out_request,
        effect=time_out_request,
        budget="request_timeouts",
    ),
)
