"""The transaction coordinator's state table (kafka.coordinator.transaction.TransactionState).

Each state lists the states it may be entered from. The model's ``coordinator transitions
legal`` property and the reference coordinator both consult this one table.
"""

from __future__ import annotations

from enum import IntEnum


class TxnState(IntEnum):
    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        """The name Kafka prints (TransactionState.name), e.g. ``PrepareCommit``."""
        return "".join(part.capitalize() for part in self.name.split("_"))


_E, _O, _PC, _PA, _CC, _CA, _D, _PEF = TxnState

#: target state -> the states it may legally be entered from (TransactionState.validPreviousStates)
VALID_PREVIOUS_STATES: dict[TxnState, frozenset[TxnState]] = {
    _E: frozenset({_E, _CC, _CA}),
    _O: frozenset({_O, _E, _CC, _CA}),
    _PC: frozenset({_O}),
    # Transaction version 2 clients may also abort from Empty or a completed transaction.
    _PA: frozenset({_O, _PEF, _E, _CC, _CA}),
    _CC: frozenset({_PC}),
    _CA: frozenset({_PA}),
    _D: frozenset({_E, _CC, _CA}),
    _PEF: frozenset({_O}),
}

#: States in which a transaction has been decided but its markers are not all written yet.
PREPARE_STATES = frozenset({_PC, _PA})
#: States in which no transaction is open.
COMPLETED_STATES = frozenset({_E, _CC, _CA})


def is_legal_transition(source: TxnState | int, target: TxnState | int) -> bool:
    """Whether the coordinator may move a transactional.id from ``source`` to ``target``."""
    return source in VALID_PREVIOUS_STATES[TxnState(target)]
