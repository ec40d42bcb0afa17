"""A partition leader's per-producer state and the Produce checks (Kafka's ProducerStateManager,
ProducerStateEntry and ProducerAppendInfo).

Inspectable state: ``ProducerStateManager.entries`` maps producer id -> :class:`ProducerStateEntry`
(epoch, coordinator epoch, ``current_txn_first_offset``, the last ``batch_cache_size`` batches'
(first_seq, last_seq, last_offset), last append time); ``verification_guards`` maps producer
id -> the :class:`VerificationEntry` of a KIP-890 verification in progress.

The checks on a client's data batch, in Kafka's order (``check_data_batch``):

1. duplicate: same epoch and a cached batch with the same (first_seq, last_seq) -> the
   ORIGINAL offsets, nothing appended;
2. transaction verification (KIP-890 part 1): a transactional batch with no transaction open
   here needs the verification guard the leader obtained from the coordinator to be the
   producer's still (knob ``verification_guard``);
3. epoch: an older epoch -> INVALID_PRODUCER_EPOCH (47);
4. sequence: a new epoch must start at 0; the same epoch must continue the last cached batch
   (with wrap-around); no state at all accepts anything -> else OUT_OF_ORDER_SEQUENCE_NUMBER (45);
5. a non-transactional batch while a transaction is open -> INVALID_TXN_STATE (48).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum

from kafka_eos.protocol.epochs import (
    MarkerRefusal,
    marker_clears_verification,
    marker_refusal,
)
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.protocol.sequence import NO_SEQUENCE, find_duplicate, in_sequence

NO_PRODUCER_EPOCH = -1


class AppendOrigin(Enum):
    """Who asks for an append (Kafka's AppendOrigin): only CLIENT batches are sequence-checked
    and deduplicated; COORDINATOR batches (transactional offset commits, transaction log
    records) are epoch-checked; REPLICATION (rebuilding from the log) is never checked."""

    CLIENT = "client"
    COORDINATOR = "coordinator"
    REPLICATION = "replication"


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    last_offset: int
    offset_delta: int  # record count - 1

    @property
    def first_offset(self) -> int:
        return self.last_offset - self.offset_delta


@dataclass(slots=True)
class ProducerStateEntry:
    producer_id: int
    producer_epoch: int = NO_PRODUCER_EPOCH
    coordinator_epoch: int = -1
    current_txn_first_offset: int | None = None
    last_timestamp_ms: int = 0
    batches: deque[BatchMetadata] = field(default_factory=deque)

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def cached_ranges(self) -> list[tuple[int, int, int]]:
        return [(b.first_seq, b.last_seq, b.last_offset) for b in self.batches]

    def update_epoch(self, epoch: int) -> None:
        """A new epoch starts a new sequence space: the cached batches no longer apply."""
        if epoch != self.producer_epoch:
            self.batches.clear()
            self.producer_epoch = epoch


@dataclass(frozen=True, slots=True)
class VerificationEntry:
    """ProducerStateManager's VerificationStateEntry: the guard of the verification in
    progress (a number equal only to itself, as Kafka's VerificationGuard object), the highest
    epoch it was asked for (maybeUpdateLowestSequenceAndEpoch), and whether it supports the
    epoch bump (transaction version 2's add)."""

    guard: int
    epoch: int
    adds: bool


@dataclass(frozen=True, slots=True)
class AppendCheck:
    """The verdict on a data batch: an error, a duplicate (with the original base offset), or
    accepted (``error == NONE`` and ``duplicate_base_offset is None``)."""

    error: ErrorCode = ErrorCode.NONE
    duplicate_base_offset: int | None = None
    message: str = ""

    @property
    def accepted(self) -> bool:
        return self.error is ErrorCode.NONE and self.duplicate_base_offset is None


ACCEPT = AppendCheck()


@dataclass(frozen=True, slots=True)
class CompletedTxn:
    producer_id: int
    first_offset: int
    last_offset: int
    is_aborted: bool


@dataclass(frozen=True, slots=True)
class ProducerChecks:
    """What the producer state manager obeys: the protocol knobs (protocol/knobs.py) and how
    long an idle producer's state lives when ``knobs.producer_state_expiry`` is on."""

    knobs: Knobs = field(default_factory=Knobs)
    producer_state_expiry_ms: int = 86_400_000


class ProducerStateManager:
    def __init__(self, checks: ProducerChecks) -> None:
        self.checks = checks
        self.entries: dict[int, ProducerStateEntry] = {}
        self.verification_guards: dict[int, VerificationEntry] = {}

    # -- the Produce checks ----------------------------------------------------------------

    def check_data_batch(
        self,
        *,
        producer_id: int,
        producer_epoch: int,
        first_seq: int,
        last_seq: int,
        transactional: bool,
        origin: AppendOrigin,
        verification_guard: int | None = None,
        verification_required: bool = False,
    ) -> AppendCheck:
        entry = self.entries.get(producer_id)
        client = origin is AppendOrigin.CLIENT and self.checks.knobs.idempotence
        if entry is not None and client and entry.producer_epoch == producer_epoch:
            last_offset = find_duplicate(entry.cached_ranges(), first_seq, last_seq)
            if last_offset is not None:
                count = self._count_of(entry, last_offset)
                return AppendCheck(duplicate_base_offset=last_offset - count + 1)
        ongoing = self.has_ongoing_txn(producer_id, producer_epoch)
        guarded = verification_required and self.checks.knobs.verification_guard
        if transactional and guarded and not ongoing:
            # UnifiedLog.analyzeAndValidateProducerState (VerificationGuard.verify: identity)
            stored = self.verification_guards.get(producer_id)
            if stored is None or stored.guard != verification_guard:
                return AppendCheck(ErrorCode.INVALID_TXN_STATE, message="transaction not verified")
        if entry is None:
            return ACCEPT  # no state (never seen, or expired): any sequence is accepted
        if self.checks.knobs.producer_epoch_check and producer_epoch < entry.producer_epoch:
            return AppendCheck(
                ErrorCode.INVALID_PRODUCER_EPOCH,
                message=f"epoch {producer_epoch} is older than {entry.producer_epoch}",
            )
        if client:
            error = self._check_sequence(entry, producer_epoch, first_seq)
            if error is not None:
                return error
        if not transactional and entry.current_txn_first_offset is not None:
            return AppendCheck(ErrorCode.INVALID_TXN_STATE, message="a transaction is open")
        return ACCEPT

    @staticmethod
    def _count_of(entry: ProducerStateEntry, last_offset: int) -> int:
        for batch in entry.batches:
            if batch.last_offset == last_offset:
                return batch.offset_delta + 1
        return 1

    @staticmethod
    def _check_sequence(
        entry: ProducerStateEntry, producer_epoch: int, first_seq: int
    ) -> AppendCheck | None:
        if producer_epoch != entry.producer_epoch:
            if first_seq != 0 and entry.producer_epoch != NO_PRODUCER_EPOCH:
                return AppendCheck(
                    ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    message=f"new epoch {producer_epoch} must start at sequence 0, not {first_seq}",
                )
            return None
        if entry.producer_epoch == NO_PRODUCER_EPOCH or in_sequence(entry.last_seq, first_seq):
            return None
        return AppendCheck(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message=f"expected sequence {entry.last_seq + 1}, got {first_seq}",
        )

    # -- updates after an append -----------------------------------------------------------

    def on_data_appended(
        self,
        *,
        producer_id: int,
        producer_epoch: int,
        first_seq: int,
        last_seq: int,
        first_offset: int,
        last_offset: int,
        transactional: bool,
        now_ms: int,
    ) -> int | None:
        """Record an appended batch; returns the offset a transaction starts at when this batch
        opened one on the partition (for the LSO), else None."""
        entry = self.entries.setdefault(producer_id, ProducerStateEntry(producer_id))
        entry.update_epoch(producer_epoch)
        if first_seq != NO_SEQUENCE:
            entry.batches.append(
                BatchMetadata(first_seq, last_seq, last_offset, last_offset - first_offset)
            )
            while len(entry.batches) > self.checks.knobs.batch_cache_size:
                entry.batches.popleft()
        entry.last_timestamp_ms = now_ms
        if transactional:
            self.verification_guards.pop(producer_id, None)
            if entry.current_txn_first_offset is None:
                entry.current_txn_first_offset = first_offset
                return first_offset
        return None

    def start_verification(
        self, producer_id: int, producer_epoch: int, *, adds: bool, new_guard: int
    ) -> int:
        """The guard a verification of ``producer_id`` at ``producer_epoch`` is checked
        against (UnifiedLog.maybeStartTransactionVerification): the entry's if there is one
        (its epoch raised to ``producer_epoch``), else ``new_guard`` in a new entry."""
        entry = self.verification_guards.get(producer_id)
        if entry is None:
            entry = VerificationEntry(new_guard, producer_epoch, adds)
        else:
            entry = VerificationEntry(entry.guard, max(entry.epoch, producer_epoch), entry.adds)
        self.verification_guards[producer_id] = entry
        return entry.guard

    def has_ongoing_txn(self, producer_id: int, producer_epoch: int) -> bool:
        """Whether this producer's transaction AT THIS EPOCH is open here. The epoch matters
        (KIP-890 part 2): with transaction version 2 the next transaction's first batch carries
        the bumped epoch and may arrive before the previous transaction's marker; it must be
        verified (and wait), not slipped into the transaction that is being closed."""
        entry = self.entries.get(producer_id)
        return (
            entry is not None
            and entry.current_txn_first_offset is not None
            and entry.producer_epoch == producer_epoch
        )

    # -- markers ---------------------------------------------------------------------------

    def check_marker(
        self, *, producer_id: int, producer_epoch: int, coordinator_epoch: int, origin: AppendOrigin
    ) -> AppendCheck:
        # Kafka's order (ProducerAppendInfo.appendEndTxnMarker): the producer epoch, then the
        # coordinator epoch.
        entry = self.entries.get(producer_id)
        if entry is None or origin is AppendOrigin.REPLICATION:
            return ACCEPT
        refusal = marker_refusal(
            marker_epoch=producer_epoch,
            stored_epoch=entry.producer_epoch,
            marker_coordinator_epoch=coordinator_epoch,
            stored_coordinator_epoch=entry.coordinator_epoch,
            transaction_open=entry.current_txn_first_offset is not None,
            knobs=self.checks.knobs,
        )
        if refusal is MarkerRefusal.PRODUCER_EPOCH:
            return AppendCheck(
                refusal.error,
                message=f"marker epoch {producer_epoch} stale against {entry.producer_epoch}",
            )
        if refusal is MarkerRefusal.COORDINATOR_EPOCH:
            return AppendCheck(
                refusal.error,
                message=f"coordinator epoch {coordinator_epoch} < {entry.coordinator_epoch}",
            )
        return ACCEPT

    def on_marker_appended(
        self,
        *,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        offset: int,
        commit: bool,
        now_ms: int,
    ) -> CompletedTxn | None:
        entry = self.entries.setdefault(producer_id, ProducerStateEntry(producer_id))
        entry.update_epoch(producer_epoch)
        entry.coordinator_epoch = coordinator_epoch
        entry.last_timestamp_ms = now_ms
        verification = self.verification_guards.get(producer_id)
        if verification is not None and marker_clears_verification(
            producer_epoch, verification.epoch, verification_adds=verification.adds
        ):
            del self.verification_guards[producer_id]
        first = entry.current_txn_first_offset
        entry.current_txn_first_offset = None
        if first is None:
            return None
        return CompletedTxn(producer_id, first, offset, is_aborted=not commit)

    # -- expiry ----------------------------------------------------------------------------

    def expire(self, now_ms: int) -> list[int]:
        """Remove producers idle longer than producer.id.expiration.ms with no open transaction
        (removeExpiredProducers); returns the removed producer ids."""
        if not self.checks.knobs.producer_state_expiry:
            return []
        limit = self.checks.producer_state_expiry_ms
        expired = [
            pid
            for pid, entry in self.entries.items()
            if entry.current_txn_first_offset is None and now_ms - entry.last_timestamp_ms >= limit
        ]
        for pid in expired:
            del self.entries[pid]
        return expired

    def expire_now(self, producer_id: int) -> bool:
        """Fault injection: forget a producer at once (as expiry would), unless a transaction
        is open."""
        entry = self.entries.get(producer_id)
        if entry is None or entry.current_txn_first_offset is not None:
            return False
        del self.entries[producer_id]
        return True
