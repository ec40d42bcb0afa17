"""The transaction coordinator (Kafka's TransactionCoordinator, TransactionStateManager and
TransactionMarkerChannelManager), sans-I/O.

Inspectable state:

* ``coordinator_epoch``: the leader epoch of ``__transaction_state`` on this node; a failover
  (:meth:`fail_over`) starts a new epoch and reloads every transactional.id from the log;
* ``transactions``: transactional.id -> ``TransactionMetadata`` (txn_metadata.py);
* ``marker_jobs``: transactional.id -> :class:`MarkerJob`, the markers of a decided
  transaction not yet acknowledged by every partition leader.

Each request handler validates, and either answers at once or prepares a transition, writes it
to the transaction log through the host node (``host.append_txn_log``) and answers when the
write is replicated. The host (BrokerNode) routes messages and owns the logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafka_eos.protocol.coordinator_checks import (
    ADD_PARTITIONS_ORDER,
    VERIFY_ONLY_ORDER,
    aborts_without_transaction,
    commit_overtaken_by_abort,
    coordinator_busy,
    end_txn_order,
    first_refusal,
)
from kafka_eos.protocol.coordinator_states import TxnState, is_legal_transition
from kafka_eos.protocol.epochs import (
    BumpRequest,
    bump_request,
    bumped_epoch,
    end_txn_is_retry,
    end_txn_retries_rotation,
    end_txn_rotates,
    epoch_exhausted,
    fenced_epoch,
)
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.messages import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    PartitionResult,
    TopicPartition,
    TxnMarker,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.txn_metadata import TransactionMetadata, TxnTransit

if TYPE_CHECKING:
    from kafka_eos.reference.node import BrokerNode, Outbound

_E, _O, _PC, _PA, _CC, _CA, _D, _PEF = TxnState


def _busy(metadata: TransactionMetadata) -> bool:
    """A transition being written, or Prepare* with its markers being written (Kafka's
    pending Complete*), which refuses a request CONCURRENT_TRANSACTIONS."""
    return coordinator_busy(metadata.state, metadata.pending_transition)


Reply = Callable[[object], "list[Outbound]"]


@dataclass(frozen=True, slots=True)
class MarkersInFlight:
    """One WriteTxnMarkers request of a job awaiting its answer: the partitions it carries and
    when it went out (its own timer: Kafka retries per request, not per job)."""

    partitions: frozenset[TopicPartition]
    sent_at_ms: int


@dataclass(slots=True)
class MarkerJob:
    """The markers of one decided transaction (TxnMarkerEntry / PendingCompleteTxn)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    commit: bool
    coordinator_epoch: int
    remaining: set[TopicPartition]
    sent_at_ms: int = -1
    #: correlation id -> the request awaiting its answer
    in_flight: dict[int, MarkersInFlight] = field(default_factory=dict)


class TransactionCoordinator:
    def __init__(self, host: BrokerNode) -> None:
        self.host = host
        self.config = host.config
        self.coordinator_epoch = 0
        self.transactions: dict[str, TransactionMetadata] = {}
        self.marker_jobs: dict[str, MarkerJob] = {}
        self.marker_requests: dict[int, str] = {}  # correlation id -> transactional.id

    @property
    def now_ms(self) -> int:
        return self.host.clock.now_ms()

    # -- loading and failover ----------------------------------------------------------------

    def load(self, coordinator_epoch: int, transits: list[TxnTransit]) -> list[Outbound]:
        """Become coordinator at ``coordinator_epoch`` with the transaction log's contents:
        the last record of each transactional.id wins; decided transactions get their markers
        re-sent (TransactionStateManager.loadTransactionsForTxnTopicPartition)."""
        self.coordinator_epoch = coordinator_epoch
        self.transactions = {}
        self.marker_jobs = {}
        self.marker_requests = {}
        for transit in transits:
            self.transactions[transit.transactional_id] = TransactionMetadata.from_transit(transit)
        out: list[Outbound] = []
        for metadata in self.transactions.values():
            if metadata.state in (_PC, _PA):
                out += self._start_markers(metadata)
        return out

    # -- InitProducerId ------------------------------------------------------------------------

    def handle_init_producer_id(
        self, request: InitProducerIdRequest, reply: Reply
    ) -> list[Outbound]:
        def answer(error: ErrorCode, pid: int = -1, epoch: int = -1) -> list[Outbound]:
            return reply(InitProducerIdResponse(request.correlation_id, error, pid, epoch))

        if request.transactional_id is None:
            return answer(ErrorCode.NONE, self.host.allocate_producer_id(), 0)
        if not 0 < request.transaction_timeout_ms <= self.config.transaction_max_timeout_ms:
            return answer(ErrorCode.INVALID_TRANSACTION_TIMEOUT)
        metadata = self.transactions.get(request.transactional_id)
        if metadata is None:
            metadata = TransactionMetadata(
                request.transactional_id,
                self.host.allocate_producer_id(),
                txn_timeout_ms=request.transaction_timeout_ms,
            )
            self.transactions[request.transactional_id] = metadata
        if metadata.pending_transition:
            return answer(ErrorCode.CONCURRENT_TRANSACTIONS)
        if request.producer_id >= 0 and not self._is_valid_producer_id(metadata, request):
            return answer(ErrorCode.PRODUCER_FENCED)
        if metadata.state in (_PC, _PA):
            return answer(ErrorCode.CONCURRENT_TRANSACTIONS)
        if metadata.state == _O:
            # Fence the previous incarnation: bump its epoch and abort its transaction with the
            # bumped epoch; the new incarnation retries once the abort is complete.
            return self._fence_and_abort(metadata) + answer(ErrorCode.CONCURRENT_TRANSACTIONS)
        is_bump = request.producer_id >= 0 and request.producer_epoch >= 0
        if is_bump:
            # KIP-360: a retry of the last bump (also one that rotated the producer id) gets
            # the current epoch; a stale epoch is fenced
            outcome = bump_request(
                request.producer_epoch, metadata.producer_epoch, metadata.last_producer_epoch
            )
            if outcome is BumpRequest.RETRY:
                return answer(ErrorCode.NONE, metadata.producer_id, metadata.producer_epoch)
            if outcome is BumpRequest.FENCED:
                return answer(ErrorCode.PRODUCER_FENCED)
        transit = self._prepare_epoch_bump(
            metadata, request.transaction_timeout_ms, remember_epoch=is_bump
        )

        def done(ok: bool) -> list[Outbound]:
            if not ok:
                return answer(ErrorCode.NOT_COORDINATOR)
            return answer(ErrorCode.NONE, transit.producer_id, transit.producer_epoch)

        return self._write(metadata, transit, done)

    def _is_valid_producer_id(
        self, metadata: TransactionMetadata, request: InitProducerIdRequest
    ) -> bool:
        """KIP-360 (isValidProducerId): the caller names the current producer id (its epoch is
        checked next), or the previous one whose epoch was exhausted (a retry of the bump
        that rotated the id)."""
        if metadata.producer_epoch < 0 or request.producer_id == metadata.producer_id:
            return True
        return (
            request.producer_id == metadata.previous_producer_id
            and epoch_exhausted(request.producer_epoch, self.config.max_producer_epoch)
        )

    def _prepare_epoch_bump(
        self, metadata: TransactionMetadata, timeout_ms: int, *, remember_epoch: bool
    ) -> TxnTransit:
        """The next epoch (a new producer id once the epoch is exhausted). Only a KIP-360 bump
        request remembers the epoch it bumped, so that its retry is recognised: a new
        incarnation's InitProducerId clears it, which fences the old one's bump."""
        pid, previous = metadata.producer_id, metadata.previous_producer_id
        rotated, epoch = self._bumped(metadata.producer_epoch)
        if rotated:  # prepareProducerIdRotation
            previous, pid = pid, self.host.allocate_producer_id()
        return metadata.prepare(
            _E,
            self.now_ms,
            producer_id=pid,
            previous_producer_id=previous,
            producer_epoch=epoch,
            last_producer_epoch=metadata.producer_epoch if remember_epoch else -1,
            txn_timeout_ms=timeout_ms,
            partitions=frozenset(),
            txn_start_timestamp=-1,
        )

    def _bumped(self, epoch: int) -> tuple[bool, int]:
        """Whether the epoch bump rotates the producer id, and the next epoch (KAFKA-5283;
        knob producer_id_rotation off: the epoch wraps around)."""
        return bumped_epoch(
            epoch,
            max_epoch=self.config.max_producer_epoch,
            rotation=self.config.knobs.producer_id_rotation,
        )

    def _fenced(self, epoch: int) -> int:
        """prepareFenceProducerEpoch's epoch; under transaction version 2 also the epoch of a
        decision (prepareAbortOrCommit's epoch + 1, never past the bound)."""
        return fenced_epoch(
            epoch,
            max_epoch=self.config.max_producer_epoch,
            rotation=self.config.knobs.producer_id_rotation,
        )

    def _next_producer_id(self, prepared_epoch: int) -> int:
        """Transaction version 2: the producer id a Prepare* at ``prepared_epoch`` completes
        under, allocated now (endTransaction's nextProducerId, KAFKA-20090 for a fence's
        abort); -1: it keeps its own."""
        rotates = self.config.knobs.transaction_version >= 2 and end_txn_rotates(
            prepared_epoch,
            max_epoch=self.config.max_producer_epoch,
            rotation=self.config.knobs.producer_id_rotation,
        )
        return self.host.allocate_producer_id() if rotates else -1

    def _fence_and_abort(self, metadata: TransactionMetadata) -> list[Outbound]:
        """prepareFenceProducerEpoch + the abort that follows (PrepareEpochFence is never
        written: the bumped epoch goes into the PrepareAbort record)."""
        assert is_legal_transition(metadata.state, _PEF)
        # at the largest epoch Kafka cannot bump further; the abort still fences
        bumped = self._fenced(metadata.producer_epoch)
        # lastProducerEpoch is cleared: the fenced epoch must not pass for a retry (of an
        # InitProducerId or, with transaction version 2, of an EndTxn).
        transit = metadata.prepare(
            _PA,
            self.now_ms,
            producer_epoch=bumped,
            last_producer_epoch=-1,
            next_producer_id=self._next_producer_id(bumped),
        )
        return self._write(metadata, transit, lambda ok: self._after_prepare(metadata, ok))

    def _abort_timed_out(self, metadata: TransactionMetadata) -> list[Outbound]:
        """abortTimedOutTransactions: fence, then abort with the bumped epoch (KAFKA-6119).
        ``timeout_epoch_bump`` off is the coordinator before that fix: it ended the transaction
        as a client's EndTxn(abort) would, at the transaction's own epoch under version 1."""
        if self.config.knobs.timeout_epoch_bump:
            return self._fence_and_abort(metadata)
        return self._prepare_end(metadata, _PA, lambda error: [])

    # -- AddPartitionsToTxn / AddOffsetsToTxn --------------------------------------------------

    def handle_add_partitions(
        self, request: AddPartitionsToTxnRequest, reply: Reply
    ) -> list[Outbound]:
        def answer(
            error: ErrorCode, per_partition: dict[TopicPartition, ErrorCode] | None = None
        ) -> list[Outbound]:
            codes = per_partition or {tp: error for tp in request.partitions}
            results = tuple(
                PartitionResult(tp.topic, tp.partition, codes[tp]) for tp in request.partitions
            )
            top = error if per_partition is None else ErrorCode.NONE
            return reply(AddPartitionsToTxnResponse(request.correlation_id, top, results))

        metadata = self.transactions.get(request.transactional_id)
        error = self._check_identity(
            metadata,
            request.producer_id,
            request.producer_epoch,
            verify_only=request.verify_only,  # handleVerifyPartitionsInTransaction's order
        )
        if error is not ErrorCode.NONE:
            return answer(error)
        assert metadata is not None
        if request.verify_only:
            # KIP-890 part 1: is each partition already in the ONGOING transaction? A pending
            # transition is not looked at (as in Kafka's handleVerifyPartitionsInTransaction):
            # partitions join the metadata only once their write is durable, and the leader's
            # append is checked again against the producer state anyway.
            ongoing = metadata.state == _O
            return answer(
                ErrorCode.NONE,
                {
                    tp: ErrorCode.NONE
                    if ongoing and tp in metadata.partitions
                    else ErrorCode.INVALID_TXN_STATE
                    for tp in request.partitions
                },
            )
        return self._add_to_transaction(metadata, set(request.partitions), answer)

    def handle_add_offsets(self, request: AddOffsetsToTxnRequest, reply: Reply) -> list[Outbound]:
        def answer(error: ErrorCode) -> list[Outbound]:
            return reply(AddOffsetsToTxnResponse(request.correlation_id, error))

        metadata = self.transactions.get(request.transactional_id)
        error = self._check_identity(metadata, request.producer_id, request.producer_epoch)
        if error is not ErrorCode.NONE:
            return answer(error)
        assert metadata is not None
        offsets_partition = self.host.offsets_partition_for(request.group_id)
        return self._add_to_transaction(metadata, {offsets_partition}, lambda e, *_: answer(e))

    @staticmethod
    def _check_identity(
        metadata: TransactionMetadata | None,
        producer_id: int,
        producer_epoch: int,
        *,
        verify_only: bool = False,
    ) -> ErrorCode:
        if metadata is None:
            return ErrorCode.INVALID_PRODUCER_ID_MAPPING
        return ErrorCode(
            first_refusal(
                VERIFY_ONLY_ORDER if verify_only else ADD_PARTITIONS_ORDER,
                other_producer_id=metadata.producer_id != producer_id,
                other_epoch=metadata.producer_epoch != producer_epoch,
                busy=_busy(metadata),
            )
        )

    def _add_to_transaction(
        self,
        metadata: TransactionMetadata,
        partitions: set[TopicPartition],
        answer: Callable[..., list[Outbound]],
    ) -> list[Outbound]:
        if metadata.state == _O and partitions <= metadata.partitions:
            return answer(ErrorCode.NONE)  # nothing new: no write (Kafka answers at once)
        starting = metadata.state != _O
        transit = metadata.prepare(
            _O,
            self.now_ms,
            partitions=frozenset(metadata.partitions | partitions),
            txn_start_timestamp=self.now_ms if starting else metadata.txn_start_timestamp,
            client_transaction_version=self.config.knobs.transaction_version,
        )
        return self._write(
            metadata,
            transit,
            lambda ok: answer(ErrorCode.NONE if ok else ErrorCode.NOT_COORDINATOR),
        )

    # -- EndTxn ----------------------------------------------------------------------------------

    def handle_end_txn(self, request: EndTxnRequest, reply: Reply) -> list[Outbound]:
        metadata = self.transactions.get(request.transactional_id)

        def answer(error: ErrorCode) -> list[Outbound]:
            pid = epoch = -1
            if (
                self.config.knobs.transaction_version >= 2
                and metadata is not None
                and error
                in (
                    ErrorCode.NONE,
                    ErrorCode.CONCURRENT_TRANSACTIONS,
                )
            ):
                pid, epoch = metadata.answered_identity()
            return reply(EndTxnResponse(request.correlation_id, error, pid, epoch))

        tv2 = self.config.knobs.transaction_version >= 2
        # retryOnOverflow (KAFKA-18660): the decision rotated the producer id since
        rotated = (
            tv2
            and metadata is not None
            and request.producer_id == metadata.previous_producer_id >= 0
            and end_txn_retries_rotation(
                request.producer_epoch, metadata.producer_epoch, self.config.max_producer_epoch
            )
        )
        if metadata is None:
            return answer(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
        # TV2: a retry of an EndTxn that already bumped the epoch carries the epoch before it.
        is_retry = tv2 and end_txn_is_retry(
            request.producer_epoch, metadata.producer_epoch, metadata.state, rotated=rotated
        )
        # under the old id only the retry passes (the epochs of two producer ids are not
        # compared: at Kafka's bound the exhausted epoch is never the new id's 0)
        error = first_refusal(
            end_txn_order(tv2),
            other_producer_id=metadata.producer_id != request.producer_id and not rotated,
            other_epoch=not is_retry
            and (rotated or request.producer_epoch != metadata.producer_epoch),
            busy=_busy(metadata),
        )
        if error:
            return answer(ErrorCode(error))
        wanted = _PC if request.committed else _PA
        state = metadata.state
        if state == _O:
            return self._prepare_end(metadata, wanted, answer)
        if state in (_CC, _CA) and (state == _CC) == request.committed and (is_retry or not tv2):
            return answer(ErrorCode.NONE)
        if aborts_without_transaction(
            tv2=tv2, commit=request.committed, retry=is_retry, state=state
        ):
            return self._prepare_end(metadata, _PA, answer)  # the empty abort
        if commit_overtaken_by_abort(retry=is_retry, commit=request.committed, state=state):
            return answer(ErrorCode.PRODUCER_FENCED)
        return answer(ErrorCode.INVALID_TXN_STATE)

    def _prepare_end(
        self,
        metadata: TransactionMetadata,
        target: TxnState,
        answer: Callable[[ErrorCode], list[Outbound]],
    ) -> list[Outbound]:
        changes: dict[str, object] = {}
        if self.config.knobs.transaction_version >= 2:
            # KIP-890 part 2: every EndTxn bumps the epoch; the markers carry the bumped one.
            # The Prepare* and its markers keep the producer id, at epoch + 1; at the
            # exhausted epoch the transaction completes under a new one (nextProducerId).
            bumped = self._fenced(metadata.producer_epoch)
            changes = {
                "producer_epoch": bumped,
                "last_producer_epoch": metadata.producer_epoch,
                "next_producer_id": self._next_producer_id(bumped),
            }
        transit = metadata.prepare(target, self.now_ms, **changes)

        def done(ok: bool) -> list[Outbound]:
            if not ok:
                return answer(ErrorCode.NOT_COORDINATOR)
            # Answer the client first, then send the markers (as Kafka does).
            return answer(ErrorCode.NONE) + self._after_prepare(metadata, True)

        return self._write(metadata, transit, done)

    def _after_prepare(self, metadata: TransactionMetadata, ok: bool) -> list[Outbound]:
        return self._start_markers(metadata) if ok else []

    # -- markers ---------------------------------------------------------------------------------

    def _start_markers(self, metadata: TransactionMetadata) -> list[Outbound]:
        job = MarkerJob(
            metadata.transactional_id,
            metadata.producer_id,
            metadata.producer_epoch,
            commit=metadata.state == _PC,
            coordinator_epoch=self.coordinator_epoch,
            remaining=set(metadata.partitions),
        )
        self.marker_jobs[metadata.transactional_id] = job
        if not job.remaining:
            return self._complete(metadata)
        return self._send_markers(job, job.remaining)

    def _send_markers(self, job: MarkerJob, due: set[TopicPartition]) -> list[Outbound]:
        """One WriteTxnMarkers per leader for the ``due`` partitions
        (TransactionMarkerChannelManager.addTxnMarkersToBrokerQueue, drained per broker)."""
        from kafka_eos.reference.node import Outbound

        job.sent_at_ms = self.now_ms
        by_leader: dict[str, list[TopicPartition]] = {}
        for tp in sorted(due):
            by_leader.setdefault(self.host.leader_of(tp), []).append(tp)
        out = []
        for leader, partitions in by_leader.items():
            correlation_id = self.host.next_correlation_id()
            marker = TxnMarker(
                job.producer_id,
                job.producer_epoch,
                job.commit,
                tuple(partitions),
                job.coordinator_epoch,
            )
            self.marker_requests[correlation_id] = job.transactional_id
            job.in_flight[correlation_id] = MarkersInFlight(frozenset(partitions), self.now_ms)
            out.append(Outbound(leader, WriteTxnMarkersRequest(correlation_id, (marker,))))
        return out

    def handle_markers_response(self, response: WriteTxnMarkersResponse) -> list[Outbound]:
        """A leader answered markers (TransactionMarkerRequestCompletionHandler)."""
        transactional_id = self.marker_requests.pop(response.correlation_id, None)
        job = self.marker_jobs.get(transactional_id) if transactional_id else None
        if job is None or response.correlation_id not in job.in_flight:
            return []  # an answer to a deposed coordinator epoch, or to a finished job
        del job.in_flight[response.correlation_id]
        for marker_result in response.markers:
            for result in marker_result.results:
                tp = TopicPartition(result.topic, result.partition)
                if result.error_code is ErrorCode.NONE:
                    job.remaining.discard(tp)
                elif result.error_code in (
                    ErrorCode.INVALID_PRODUCER_EPOCH,
                    ErrorCode.TRANSACTION_COORDINATOR_FENCED,
                ):
                    # The producer's epoch or the coordinator moved on: this transaction's
                    # markers are obsolete. Stop sending them and do not complete it
                    # (TransactionMarkerRequestCompletionHandler: removeMarkersForTxnId).
                    del self.marker_jobs[job.transactional_id]
                    return []
        metadata = self.transactions[job.transactional_id]
        if not job.remaining:
            return self._complete(metadata)
        return []  # the rest is retried by tick()

    def _complete(self, metadata: TransactionMetadata) -> list[Outbound]:
        job = self.marker_jobs.pop(metadata.transactional_id, None)
        if metadata.pending_transition:
            return []
        target = _CC if metadata.state == _PC else _CA
        changes: dict[str, object] = {}
        if metadata.next_producer_id >= 0:  # prepareComplete: the rotated producer id
            changes = {
                "producer_id": metadata.next_producer_id,
                "previous_producer_id": metadata.producer_id,
                "producer_epoch": 0,
                "next_producer_id": -1,
            }
        transit = metadata.prepare(target, self.now_ms, partitions=frozenset(), **changes)

        def done(ok: bool) -> list[Outbound]:
            # a failed write keeps the markers' job for a retry, unless the coordinator moved
            # on: the new epoch reloaded the transaction and runs a job of its own
            if not ok and job is not None and job.coordinator_epoch == self.coordinator_epoch:
                self.marker_jobs.setdefault(metadata.transactional_id, job)
            return []

        return self._write(metadata, transit, done)

    # -- time ------------------------------------------------------------------------------------

    def tick(self) -> list[Outbound]:
        out: list[Outbound] = []
        now = self.now_ms
        for metadata in list(self.transactions.values()):
            if (
                metadata.state == _O
                and not metadata.pending_transition
                and metadata.txn_start_timestamp + metadata.txn_timeout_ms < now
            ):
                out += self._abort_timed_out(metadata)
        for job in list(self.marker_jobs.values()):
            out += self._retry_markers(job, now)
        return out

    def _retry_markers(self, job: MarkerJob, now: int) -> list[Outbound]:
        """A request unanswered for ``marker_retry_backoff_ms`` stands for one whose connection
        was lost: only ITS partitions are sent again (TransactionMarkerRequestCompletionHandler
        .onComplete, wasDisconnected: re-enqueue that request's markers), while another
        request of the job may still be answered. Partitions in no request (a retriable error
        answered) go out again after the backoff too."""
        backoff = self.config.marker_retry_backoff_ms
        expired = [cid for cid, sent in job.in_flight.items() if now - sent.sent_at_ms >= backoff]
        for correlation_id in expired:
            del job.in_flight[correlation_id]
            self.marker_requests.pop(correlation_id, None)
        if not expired and now - job.sent_at_ms < backoff:
            return []
        awaited = {tp for sent in job.in_flight.values() for tp in sent.partitions}
        due = job.remaining - awaited
        return self._send_markers(job, due) if due else []

    # -- the transaction log ---------------------------------------------------------------------

    def _write(
        self,
        metadata: TransactionMetadata,
        transit: TxnTransit,
        on_done: Callable[[bool], list[Outbound]],
    ) -> list[Outbound]:
        """Append ``transit`` to the transaction log; when replicated, complete the transition
        if this coordinator epoch is still current (else the write belongs to a deposed one)."""
        epoch = self.coordinator_epoch

        def replicated() -> list[Outbound]:
            current = self.transactions.get(metadata.transactional_id)
            if epoch != self.coordinator_epoch or current is not metadata:
                return on_done(False)
            metadata.complete(transit)
            return on_done(True)

        return self.host.append_txn_log(transit, replicated)
