"""The client transaction manager's state table
(org.apache.kafka.clients.producer.internals.TransactionManager.State)."""

from __future__ import annotations

from enum import IntEnum


class ClientState(IntEnum):
    UNINITIALIZED = 0
    INITIALIZING = 1
    READY = 2
    IN_TRANSACTION = 3
    COMMITTING_TRANSACTION = 4
    ABORTING_TRANSACTION = 5
    ABORTABLE_ERROR = 6
    FATAL_ERROR = 7


_U, _I, _R, _T, _C, _A, _AE, _F = ClientState

#: target state -> the states it may be entered from (TransactionManager.State.isTransitionValid)
VALID_PREVIOUS_STATES: dict[ClientState, frozenset[ClientState]] = {
    _U: frozenset({_R, _AE}),
    _I: frozenset({_U, _A}),
    _R: frozenset({_I, _C, _A}),
    _T: frozenset({_R}),
    _C: frozenset({_T}),
    _A: frozenset({_T, _AE}),
    _AE: frozenset({_T, _C, _AE, _I}),
    _F: frozenset(ClientState),
}


def is_legal_transition(source: ClientState | int, target: ClientState | int) -> bool:
    """Whether the client transaction manager may move from ``source`` to ``target``."""
    return source in VALID_PREVIOUS_STATES[ClientState(target)]
