"""The order in which the transaction coordinator refuses a client's AddPartitionsToTxn,
AddOffsetsToTxn or EndTxn before it looks at the transaction's state (Kafka 4.0 and trunk,
``kafka.coordinator.transaction.TransactionCoordinator``).

Three refusals come before the state: another producer id (INVALID_PRODUCER_ID_MAPPING),
another epoch (PRODUCER_FENCED) and a transition in progress (CONCURRENT_TRANSACTIONS). Where
the last one stands decides what a client whose request could fail two of them is told:

- ``handleAddPartitionsToTransaction`` (AddOffsetsToTxn goes through it too) checks for a
  pending transition first since KAFKA-18660, so that a client answered with the producer id
  a transaction rotates to waits for that transaction's markers instead of being refused;
  then the producer id, the epoch, and Prepare* (CONCURRENT_TRANSACTIONS).
- ``endTransaction`` under transaction version 2 checks the producer id (a ``retryOnOverflow``
  request passes), then a pending transition other than PrepareEpochFence, then the epoch
  (``isValidEpoch``) since KAFKA-18464, so that an empty abort sent while the previous
  transaction's markers are written waits instead of being fenced.
- ``endTransactionWithTV1`` keeps the older order: producer id, epoch, pending transition.
- ``handleVerifyPartitionsInTransaction`` (a leader's verifyOnly question) checks the
  producer id and the epoch only.

"Pending" here is ``busy``: a transition being written, or Prepare*. Kafka holds its pending
CompleteCommit / CompleteAbort (``prepareComplete``) for as long as a Prepare* transaction's
markers are written, from the Prepare* write's callback, or the partition's load, until the
Complete* record is written; so Prepare* is always pending there but for the instant between
the Prepare* write's completion and that callback. Both sides decide with this one module.
"""

from __future__ import annotations

from enum import IntEnum

from .coordinator_states import COMPLETED_STATES, PREPARE_STATES, TxnState
from .errors import ErrorCode


class CoordinatorCheck(IntEnum):
    """One of the refusals the coordinator makes before it looks at the state."""

    PRODUCER_ID = 0
    PRODUCER_EPOCH = 1
    BUSY = 2


_ID, _EPOCH, _BUSY = CoordinatorCheck

#: handleAddPartitionsToTransaction, either transaction version (KAFKA-18660).
ADD_PARTITIONS_ORDER = (_BUSY, _ID, _EPOCH)
#: handleVerifyPartitionsInTransaction (KIP-890's verifyOnly), which looks at no pending
#: transition: the leader checks the producer state again when it appends.
VERIFY_ONLY_ORDER = (_ID, _EPOCH)
#: endTransaction under transaction version 2 (KAFKA-18464).
END_TXN_ORDER_TV2 = (_ID, _BUSY, _EPOCH)
#: endTransactionWithTV1.
END_TXN_ORDER_TV1 = (_ID, _EPOCH, _BUSY)

#: Each check's error, by CoordinatorCheck.
_ERRORS = (
    int(ErrorCode.INVALID_PRODUCER_ID_MAPPING),
    int(ErrorCode.PRODUCER_FENCED),
    int(ErrorCode.CONCURRENT_TRANSACTIONS),
)


def end_txn_order(tv2: bool) -> tuple[CoordinatorCheck, ...]:
    """The order of EndTxn's refusals under the request's transaction version."""
    return END_TXN_ORDER_TV2 if tv2 else END_TXN_ORDER_TV1


def coordinator_busy(state: int, pending: bool) -> bool:
    """Whether a request meets a transition in progress: one being written, or a Prepare*
    transaction whose markers are being written (Kafka's pending Complete*)."""
    return pending or state in PREPARE_STATES


def first_refusal(
    order: tuple[CoordinatorCheck, ...],
    *,
    other_producer_id: bool,
    other_epoch: bool,
    busy: bool,
) -> int:
    """The error of the first check in ``order`` the request fails, NONE (0) if it passes all
    three. A transactional.id without metadata counts as another producer id (Kafka's
    ``getTransactionState`` answers None: INVALID_PRODUCER_ID_MAPPING), and is busy while
    its first InitProducerId is written (Kafka caches that metadata with pending Empty)."""
    failed = (other_producer_id, other_epoch, busy)  # by CoordinatorCheck
    for check in order:
        if failed[check]:
            return _ERRORS[check]
    return int(ErrorCode.NONE)


def commit_overtaken_by_abort(*, retry: bool, commit: bool, state: int) -> bool:
    """Whether an EndTxn is answered PRODUCER_FENCED because the coordinator's own abort
    overtook it (KAFKA-20785, ``endTransaction`` since August 2026): under transaction
    version 2 a commit at the epoch before the stored one (``retry``: what a retry carries,
    the rotated producer id's too) that finds CompleteAbort can only be a commit that a
    timeout's or a fence's abort completed ahead of; a client retrying its own EndTxn asks for
    the result it got. PRODUCER_FENCED lets the client recover (a new incarnation); before,
    Kafka answered INVALID_TXN_STATE, a fatal error, as transaction version 1 never does."""
    return retry and commit and state == TxnState.COMPLETE_ABORT


def aborts_without_transaction(*, tv2: bool, commit: bool, retry: bool, state: int) -> bool:
    """Whether an EndTxn that passed the refusals is transaction version 2's empty abort:
    an abort at the current epoch (not a retry) with no transaction open, Empty,
    CompleteCommit or CompleteAbort (``endTransaction``: PrepareAbort with the epoch bumped,
    ``prepareAbortOrCommit`` with ``noPartitionAdded``; KAFKA-18401, KAFKA-18464). Kafka's
    TV2 client sends one when it sent a record whose partition no leader added before the
    transaction failed; the abort fences that record's epoch. A commit there is
    INVALID_TXN_STATE, and transaction version 1 aborts only an Ongoing transaction."""
    return tv2 and not commit and not retry and state in COMPLETED_STATES
