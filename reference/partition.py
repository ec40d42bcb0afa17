"""One partition as its leader sees it: the log plus the producer state that guards it
(the part of Kafka's UnifiedLog that validates and appends).

Inspectable state: ``log`` (:class:`~kafka_eos.reference.log.PartitionLog`), ``producers``
(:class:`~kafka_eos.reference.producer_state.ProducerStateManager`), and the derived offsets
``high_watermark``, ``first_unstable_offset`` and ``last_stable_offset``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.sequence import NO_SEQUENCE, last_sequence
from kafka_eos.reference.log import AbortedTxn, LogBatch, PartitionLog
from kafka_eos.reference.messages import READ_COMMITTED, TopicPartition
from kafka_eos.reference.producer_state import (
    AppendOrigin,
    CompletedTxn,
    ProducerChecks,
    ProducerStateManager,
)
from kafka_eos.reference.storage import Stream


@dataclass(frozen=True, slots=True)
class AppendResult:
    error: ErrorCode
    base_offset: int = -1
    last_offset: int = -1
    duplicate: bool = False
    message: str = ""
    batch: LogBatch | None = None  # the appended batch (None for errors and duplicates)
    completed_txn: CompletedTxn | None = None  # markers: the transaction they closed here


@dataclass(frozen=True, slots=True)
class ReadResult:
    batches: list[LogBatch]
    aborted: list[AbortedTxn]
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int


class Partition:
    def __init__(self, tp: TopicPartition, stream: Stream, checks: ProducerChecks) -> None:
        self.tp = tp
        self.log = PartitionLog(str(tp), stream)
        self.producers = ProducerStateManager(checks)
        #: transactions whose marker is in the log but not yet below the high watermark: they
        #: still hold the LSO (ProducerStateManager.unreplicatedTxns)
        self.unreplicated_txns: list[CompletedTxn] = []
        #: the leader epoch this replica appends in while it leads (see LogBatch.leader_epoch)
        self.leader_epoch = 0

    # -- offsets ---------------------------------------------------------------------------

    @property
    def high_watermark(self) -> int:
        return self.log.high_watermark

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def first_unstable_offset(self) -> int | None:
        """First offset of the earliest transaction still open on this partition, or whose
        marker is not replicated yet (ProducerStateManager.firstUnstableOffset)."""
        hw = self.log.high_watermark
        if self.unreplicated_txns:
            self.unreplicated_txns = [t for t in self.unreplicated_txns if t.last_offset >= hw]
        starts = [
            e.current_txn_first_offset
            for e in self.producers.entries.values()
            if e.current_txn_first_offset is not None
        ]
        starts += [txn.first_offset for txn in self.unreplicated_txns]
        return min(starts) if starts else None

    @property
    def last_stable_offset(self) -> int:
        first_unstable = self.first_unstable_offset
        hw = self.log.high_watermark
        return hw if first_unstable is None else min(first_unstable, hw)

    def replicate(self) -> None:
        """Every appended batch is now replicated: the high watermark reaches the log end."""
        self.log.high_watermark = self.log.log_end_offset

    # -- appends ---------------------------------------------------------------------------

    def append_data(
        self,
        *,
        producer_id: int,
        producer_epoch: int,
        base_sequence: int,
        records: tuple[str, ...],
        record_count: int,
        transactional: bool,
        origin: AppendOrigin,
        now_ms: int,
        payload: object = None,
        verification_guard: int | None = None,
        verification_required: bool = False,
    ) -> AppendResult:
        count = max(record_count, len(records), 1)
        tracked = producer_id >= 0
        last_seq = NO_SEQUENCE if base_sequence < 0 else last_sequence(base_sequence, count)
        if tracked:
            check = self.producers.check_data_batch(
                producer_id=producer_id,
                producer_epoch=producer_epoch,
                first_seq=base_sequence,
                last_seq=last_seq,
                transactional=transactional,
                origin=origin,
                verification_guard=verification_guard,
                verification_required=verification_required,
            )
            if check.duplicate_base_offset is not None:
                base = check.duplicate_base_offset
                return AppendResult(ErrorCode.NONE, base, base + count - 1, duplicate=True)
            if check.error is not ErrorCode.NONE:
                return AppendResult(check.error, message=check.message)
        base = self.log.log_end_offset
        batch = LogBatch(
            base_offset=base,
            last_offset=base + count - 1,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            base_sequence=base_sequence,
            is_transactional=transactional,
            is_control=False,
            records=records,
            payload=payload,
            append_time_ms=now_ms,
            leader_epoch=self.leader_epoch,
        )
        self.log.append(batch)
        if tracked:
            self._track_data(batch)
        return AppendResult(ErrorCode.NONE, base, batch.last_offset, batch=batch)

    def _track_data(self, batch: LogBatch) -> None:
        last_seq = (
            NO_SEQUENCE
            if batch.base_sequence < 0
            else last_sequence(batch.base_sequence, batch.record_count)
        )
        self.producers.on_data_appended(
            producer_id=batch.producer_id,
            producer_epoch=batch.producer_epoch,
            first_seq=batch.base_sequence,
            last_seq=last_seq,
            first_offset=batch.base_offset,
            last_offset=batch.last_offset,
            transactional=batch.is_transactional,
            now_ms=batch.append_time_ms,
        )

    def append_marker(
        self,
        *,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        coordinator_epoch: int,
        now_ms: int,
        origin: AppendOrigin = AppendOrigin.COORDINATOR,
    ) -> AppendResult:
        check = self.producers.check_marker(
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            coordinator_epoch=coordinator_epoch,
            origin=origin,
        )
        if check.error is not ErrorCode.NONE:
            return AppendResult(check.error, message=check.message)
        offset = self.log.log_end_offset
        batch = LogBatch(
            base_offset=offset,
            last_offset=offset,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            base_sequence=NO_SEQUENCE,
            is_transactional=True,
            is_control=True,
            records=(),
            is_commit=commit,
            coordinator_epoch=coordinator_epoch,
            append_time_ms=now_ms,
            leader_epoch=self.leader_epoch,
        )
        self.log.append(batch)
        completed = self._track_marker(batch)
        return AppendResult(ErrorCode.NONE, offset, offset, batch=batch, completed_txn=completed)

    def _track_marker(self, batch: LogBatch) -> CompletedTxn | None:
        completed = self.producers.on_marker_appended(
            producer_id=batch.producer_id,
            producer_epoch=batch.producer_epoch,
            coordinator_epoch=batch.coordinator_epoch,
            offset=batch.base_offset,
            commit=batch.is_commit,
            now_ms=batch.append_time_ms,
        )
        if completed is not None and completed.last_offset >= self.log.high_watermark:
            self.unreplicated_txns.append(completed)
        if completed is not None and completed.is_aborted:
            self.log.add_aborted(
                AbortedTxn(completed.producer_id, completed.first_offset, completed.last_offset)
            )
        return completed

    def load(self) -> list[LogBatch]:
        """Rebuild producer state and the aborted index by replaying the stored log (Kafka's
        log recovery / loadProducerState)."""
        batches = self.log.load()
        self._track_all(batches)
        return batches

    def truncate_to(self, offset: int) -> list[LogBatch]:
        """Drop the unreplicated batches at ``offset`` and above (a new leader that never had
        them) and rebuild producer state from what is left, as Kafka does after truncation."""
        dropped = self.log.truncate_to(offset)
        if any(batch.producer_id >= 0 for batch in dropped):
            self.rebuild_producer_state()
        return dropped

    def rebuild_producer_state(self) -> None:
        """Producer state and the aborted index rebuilt by replaying the log
        (UnifiedLog.rebuildProducerState / loadProducerState)."""
        self.producers = ProducerStateManager(self.producers.checks)
        self.log.aborted = []
        self.unreplicated_txns = []
        self._track_all(self.log.batches)

    # -- as a follower (reference/replication.py) ------------------------------------------

    def truncate_as_follower(self, offset: int) -> None:
        """A follower cuts its log at ``offset`` before fetching from a new leader (KIP-101:
        AbstractFetcherThread.truncate, UnifiedLog.truncateTo): what it drops may lie below
        the high watermark it had learned (an unclean election), which comes down with it."""
        self.log.high_watermark = min(self.log.high_watermark, offset)
        self.truncate_to(offset)

    def append_as_follower(self, batch: LogBatch) -> None:
        """UnifiedLog.appendAsFollower: the leader's batch at the leader's offsets, not
        validated again; producer state and aborted index follow it as on the leader
        (ProducerAppendInfo with AppendOrigin.REPLICATION)."""
        self.log.append(batch)
        self._track_all([batch])

    def _track_all(self, batches: list[LogBatch]) -> None:
        for batch in batches:
            if batch.producer_id < 0:
                continue
            if batch.is_control:
                self._track_marker(batch)
            else:
                self._track_data(batch)

    # -- reads -----------------------------------------------------------------------------

    def read(self, fetch_offset: int, isolation_level: int, max_records: int) -> ReadResult:
        lso = self.last_stable_offset
        end = lso if isolation_level == READ_COMMITTED else self.log.high_watermark
        batches = self.log.read(fetch_offset, end, max_records) if fetch_offset < end else []
        aborted: list[AbortedTxn] = []
        if isolation_level == READ_COMMITTED and batches:
            aborted = self.log.aborted_overlapping(fetch_offset, batches[-1].last_offset + 1)
        return ReadResult(batches, aborted, self.log.high_watermark, lso, self.log.log_start_offset)
