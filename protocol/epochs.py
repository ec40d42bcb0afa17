"""Producer-epoch rules the model and the reference share.

Plain integer Python, cheap enough for the model checker's successor function.
"""

from __future__ import annotations

from enum import IntEnum

from .coordinator_states import PREPARE_STATES, TxnState
from .errors import ErrorCode
from .knobs import Knobs


def marker_epoch_is_stale(
    marker_epoch: int,
    stored_epoch: int,
    *,
    transaction_open: bool,
    tv2: bool,
    retry_accepted: bool = True,
) -> bool:
    """Whether a partition leader refuses a transaction marker with INVALID_PRODUCER_EPOCH
    (ProducerAppendInfo.checkProducerEpoch for a control batch).

    Before transaction version 2 a marker carries the transaction's own epoch, so any epoch
    not below the stored one is accepted. With transaction version 2 the coordinator bumps
    the epoch before writing the marker, so a valid marker's epoch is strictly greater than
    the stored one, except one: exactly the stored epoch with no transaction open is a retry
    of a marker already written (its response was lost, or a new coordinator re-sends the
    markers of a loaded Prepare* state). Refusing it would leave the transaction in Prepare*
    for ever (KAFKA-19999), so the leader writes it again; ``retry_accepted`` off is the strict
    check from before that fix (knob ``marker_retry_accepted``).
    """
    if marker_epoch < stored_epoch:
        return True
    return tv2 and marker_epoch == stored_epoch and (transaction_open or not retry_accepted)


def marker_clears_verification(
    marker_epoch: int, verification_epoch: int, *, verification_adds: bool
) -> bool:
    """Whether a transaction marker appended on a partition clears the producer's
    VerificationStateEntry there (UnifiedLog's updateProducers; a transactional data batch
    always clears it). A marker closes the transaction a verification might have been about,
    so a late answer to it must not append; one exception: a transaction-version-2
    verification (an add, which supports the epoch bump) at the marker's own epoch was
    started for the NEXT transaction, whose first batch carries the epoch the ending one's
    markers were bumped to, and it stays."""
    return not (verification_adds and marker_epoch == verification_epoch)


class MarkerRefusal(IntEnum):
    """Why a partition leader refuses a transaction marker (or that it does not)."""

    NONE = 0
    PRODUCER_EPOCH = 1
    COORDINATOR_EPOCH = 2

    @property
    def error(self) -> ErrorCode:
        """The error the leader answers the WriteTxnMarkers request with."""
        return _REFUSAL_ERRORS[self]


_REFUSAL_ERRORS = {
    MarkerRefusal.NONE: ErrorCode.NONE,
    MarkerRefusal.PRODUCER_EPOCH: ErrorCode.INVALID_PRODUCER_EPOCH,
    MarkerRefusal.COORDINATOR_EPOCH: ErrorCode.TRANSACTION_COORDINATOR_FENCED,
}


def marker_refusal(
    *,
    marker_epoch: int,
    stored_epoch: int,
    marker_coordinator_epoch: int,
    stored_coordinator_epoch: int,
    transaction_open: bool,
    knobs: Knobs,
) -> MarkerRefusal:
    """ProducerAppendInfo.appendEndTxnMarker's checks on a marker for a producer the leader has
    state for, in Kafka's order: the producer epoch (checkProducerEpoch), then the coordinator
    epoch (checkCoordinatorEpoch); the strict transaction-version-2 epoch rule applies when
    the marker says it is a version-2 marker (``marker_transaction_version``, KIP-1228).
    ``producer_epoch_check`` off drops checkProducerEpoch, the
    one method Kafka calls for data batches and markers alike; ``coordinator_epoch_check`` off
    drops checkCoordinatorEpoch."""
    if knobs.producer_epoch_check and marker_epoch_is_stale(
        marker_epoch,
        stored_epoch,
        transaction_open=transaction_open,
        # KIP-1228: the leader knows a marker's transaction version only from the request
        tv2=knobs.transaction_version >= 2 and knobs.marker_transaction_version,
        retry_accepted=knobs.marker_retry_accepted,
    ):
        return MarkerRefusal.PRODUCER_EPOCH
    if knobs.coordinator_epoch_check and stored_coordinator_epoch > marker_coordinator_epoch:
        return MarkerRefusal.COORDINATOR_EPOCH
    return MarkerRefusal.NONE


#: States in which a transaction-version-2 EndTxn may be a retry: its transaction was decided.
_DECIDED = frozenset(
    int(s) for s in (*PREPARE_STATES, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
)


class BumpRequest(IntEnum):
    """What the coordinator makes of a KIP-360 InitProducerId that names an epoch."""

    BUMP = 0  # bump the current epoch, remembering it as lastProducerEpoch
    RETRY = 1  # a retry of the last bump, whose answer was lost: the current epoch, no write
    FENCED = 2  # PRODUCER_FENCED


def bump_request(request_epoch: int, current_epoch: int, last_epoch: int) -> BumpRequest:
    """TransactionMetadata.prepareIncrementProducerEpoch with an expected epoch, from Empty or
    Complete*. ``last_epoch`` is lastProducerEpoch: the epoch the last bump request bumped,
    -1 once a new incarnation's InitProducerId (no epoch) or an epoch fence cleared it, which
    is what fences the old incarnation's bump."""
    if current_epoch < 0 or request_epoch == current_epoch:
        return BumpRequest.BUMP
    if request_epoch == last_epoch:
        return BumpRequest.RETRY
    return BumpRequest.FENCED


def end_txn_is_retry(
    request_epoch: int, stored_epoch: int, state: int, *, rotated: bool = False
) -> bool:
    """Whether a transaction-version-2 EndTxn is a retry of the one that decided the
    transaction (TransactionCoordinator.endTransaction, ``retryOnEpochBump``; with
    ``rotated``, a request under the previous producer id that
    :func:`end_txn_retries_rotation` admits, ``retryOnOverflow``: a retry once the
    transaction completed under the new one).

    Deciding a transaction bumps the epoch, so a retry carries the epoch just below the
    stored one. Kafka compares the epochs only, not lastProducerEpoch: after the coordinator
    aborted on its own (a timeout or a fencing InitProducerId also bumps the epoch once), a
    late EndTxn(ABORT) at the old epoch is answered as a retry of that abort.
    """
    if rotated:
        return state in _COMPLETED_DECISIONS
    return stored_epoch == request_epoch + 1 and state in _DECIDED


def end_txn_retries_rotation(request_epoch: int, stored_epoch: int, max_epoch: int) -> bool:
    """Whether a transaction-version-2 EndTxn under the previous producer id may retry the one
    whose decision rotated the id (TransactionCoordinator.endTransaction, ``retryOnOverflow``,
    KAFKA-18660): it carries the exhausted epoch ``max_epoch`` - 1 and the coordinator holds
    the new producer id at epoch 0. (The caller checks that the request names the previous
    producer id.) Such a request is not refused as another producer id's; it is a retry only
    in Complete* (:func:`end_txn_is_retry` with ``rotated``): in any other state its epoch
    is not the stored one, which fences it."""
    return request_epoch == max_epoch - 1 and stored_epoch == 0


#: The states in which a rotated EndTxn's retry is answered as one (a decision completed; not
#: Empty, which coordinator_states.COMPLETED_STATES also counts).
_COMPLETED_DECISIONS = frozenset(
    int(s) for s in (TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT)
)


def end_txn_rotates(prepared_epoch: int, *, max_epoch: int, rotation: bool) -> bool:
    """Transaction version 2: whether a Prepare* written at ``prepared_epoch`` completes under
    a new producer id at epoch 0 (KIP-890's nextProducerId: handleEndTransaction allocates it
    when the epoch before the decision's bump, or before the fence of a timeout or an
    InitProducerId, is exhausted, KAFKA-20090; prepareComplete moves to it). The Prepare*
    and its markers keep the old producer id at the bumped epoch. Exhausted before the bump
    (``max_epoch`` - 1 or above) is the same as ``max_epoch`` after it: the bump goes one up,
    and a fence at ``max_epoch`` stays there. ``rotation`` off: no new producer id, the next
    bump wraps around."""
    return rotation and prepared_epoch >= max_epoch


#: Short.MAX_VALUE: the largest producer epoch (an int16 on the wire and in the logs).
MAX_PRODUCER_EPOCH = 32767


def epoch_exhausted(epoch: int, max_epoch: int) -> bool:
    """TransactionMetadata.isProducerEpochExhausted: an epoch at ``max_epoch`` - 1 or above
    leaves no room for the bump-and-fence pair, so the next plain bump rotates the id."""
    return epoch >= max_epoch - 1


def bumped_epoch(epoch: int, *, max_epoch: int, rotation: bool) -> tuple[bool, int]:
    """The coordinator's plain epoch bump (handleInitProducerId from Empty or Complete*:
    prepareIncrementProducerEpoch, or prepareProducerIdRotation once the epoch is exhausted):
    whether the producer id rotates, and the epoch after it. ``rotation`` off is the int16
    overflow before KAFKA-5283: the epoch past ``max_epoch`` wraps around to 0 under the same
    producer id."""
    if rotation and epoch_exhausted(epoch, max_epoch):
        return True, 0
    if epoch >= max_epoch:
        return False, 0
    return False, epoch + 1


def fenced_epoch(epoch: int, *, max_epoch: int, rotation: bool) -> int:
    """prepareFenceProducerEpoch (a fencing InitProducerId or a timeout abort): epoch + 1 under
    the same producer id. At ``max_epoch`` Kafka cannot bump further and fences at the same
    epoch (KAFKA-20090: an error logged, not thrown); ``rotation`` off wraps around as
    :func:`bumped_epoch` does."""
    if epoch < max_epoch:
        return epoch + 1
    return epoch if rotation else 0
