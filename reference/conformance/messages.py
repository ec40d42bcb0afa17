"""How the reference's messages stand for the model's (a mixin of
:class:`~.world.ConformanceWorld`).

Each message a component sends is mapped, as it is sent, onto the model messages it stands for:

* a producer's Produce and TxnOffsetCommit are the model's produce request (the offset commit
  one to the offsets partition, with no sequence), with the connection it travels on (the model
  numbers connections; the reference has none, so the driver keeps the latest attempt of each
  record); InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn and EndTxn of a transactional
  producer are the model's coordinator requests, with the transaction they belong to;
* the coordinator's WriteTxnMarkers to a leader, and the leader's response, are one model
  message per partition;
* an answer to a producer is the model's response to the request it answers (found by
  correlation id), with what the reference's response leaves out (the epoch the coordinator
  holds, the offset a TxnOffsetCommit was appended at) read off the broker.

* the leader's KIP-890 AddPartitionsToTxn to the coordinator (verifyOnly, or transaction
  version 2's add) and its answer are the model's verification messages, carrying the
  Produce (or TxnOffsetCommit) being delivered when it was sent and the model's number of the
  verification guard (:meth:`MessageMapping.model_guard`).

Everything else (FindCoordinator, Metadata, the idempotent producer's InitProducerId, the
consumers' traffic) stands for nothing: it is internal, and the driver delivers it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kafka_eos.model import layout as L
from kafka_eos.model import schema as S
from kafka_eos.model.codes import RESTARTED
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.tables import REC_GROUP_OFFSET, REC_LOCAL, REC_PARTITION
from kafka_eos.protocol.errors import ErrorCode, verification_answer
from kafka_eos.protocol.sequence import NO_SEQUENCE
from kafka_eos.reference.messages import (
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    ProduceRequest,
    TopicPartition,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.node import OFFSETS_PARTITION, BrokerNode, Outbound
from kafka_eos.reference.producer import KafkaProducer, ProducerBatch

from .common import NODE, Envelope, Ghosts, NotEnabled


class MessageMapping:
    """The mapping of reference messages onto model messages. The attributes are
    ConformanceWorld's (set in its ``__init__``)."""

    model: KafkaEosModel
    node: BrokerNode
    producers: list[KafkaProducer]
    proc_of: dict[str, int]
    part_of: dict[TopicPartition, int]
    tps: list[TopicPartition]
    record_of: dict[str, int]
    batches: list[list[ProducerBatch | None]]
    network: list[Envelope]
    requests: dict[tuple[str, int], tuple]  # type: ignore[type-arg]
    last_coordinator_request: dict[int, tuple]  # type: ignore[type-arg]
    offset_futures: dict[tuple[int, int], Any]
    offset_requests: dict[tuple[int, int], list[tuple[int, int]]]
    offset_batch_record: dict[int, int]
    offset_results: dict[tuple[int, int], int]
    latest_connection: dict[tuple[int, int], int]
    ghosts: Ghosts
    _retrying: bool
    #: the model Produce whose delivery is under way (a verification it starts carries it)
    _delivering_produce: tuple  # type: ignore[type-arg]
    #: the reference's verification guards by the model's number for them
    guard_numbers: dict[int, int]

    if TYPE_CHECKING:

        def model_pid(self, ref_pid: int) -> int: ...
        def model_epoch(self, ref_pid: int, epoch: int) -> int: ...

    def _abstract_message(self, source: str, outbound: Outbound) -> tuple[tuple, ...] | None:  # type: ignore[type-arg]
        message = outbound.message
        if source in self.proc_of:
            request = self._abstract_request(self.proc_of[source], message)
            if request is not None:
                self.requests[(source, message.correlation_id)] = request
                if request[L.M_KIND] == L.M_COORDINATOR_REQUEST:
                    self.last_coordinator_request[self.proc_of[source]] = request
                return (request,)
            return None
        if source != NODE:
            return None  # consumers: fetched atomically by the Fetch action
        if isinstance(message, WriteTxnMarkersRequest):
            markers = []
            for marker in message.markers:
                tid = self._tid_of(marker.producer_id)
                for tp in marker.partitions:
                    markers.append(
                        S.MARKER.make(
                            partition=self.part_of[tp],
                            transactional_id=tid,
                            coordinator_epoch=marker.coordinator_epoch,
                            epoch=self.model_epoch(marker.producer_id, marker.producer_epoch),
                            commit=int(marker.transaction_result),
                        )
                    )
            self.requests[(NODE, message.correlation_id)] = tuple(markers)
            return tuple(markers)
        if isinstance(message, WriteTxnMarkersResponse):
            sent = self.requests.get((NODE, message.correlation_id), ())
            cepoch, epoch, commit = (
                (sent[0][L.MK_COORDINATOR_EPOCH], sent[0][L.MK_EPOCH], sent[0][L.MK_COMMIT])
                if sent
                else (-1, -1, -1)
            )
            responses = []
            for result in message.markers:
                tid = self._tid_of(result.producer_id)
                for partition_result in result.results:
                    tp = TopicPartition(partition_result.topic, partition_result.partition)
                    responses.append(
                        S.MARKER_RESPONSE.make(
                            partition=self.part_of[tp],
                            transactional_id=tid,
                            coordinator_epoch=cepoch,
                            epoch=epoch,
                            commit=commit,
                            error=int(partition_result.error_code),
                        )
                    )
            return tuple(responses)
        if outbound.destination in self.proc_of:
            request = self.requests.get((outbound.destination, message.correlation_id))
            if request is None:
                return None
            return (self._abstract_response(request, message),)
        if isinstance(message, AddPartitionsToTxnRequest):
            return self._abstract_verification(message)
        if isinstance(message, AddPartitionsToTxnResponse):
            return self._abstract_verification_answer(message)
        return None

    # -- the KIP-890 verification round trip (node to node)
    def _abstract_verification(self, message: AddPartitionsToTxnRequest) -> tuple[tuple, ...]:  # type: ignore[type-arg]
        produce = self._delivering_produce
        if not produce:
            raise NotEnabled("a verification no model Produce started")
        part = produce[L.PR_PARTITION]
        guard = self.node.pending_verifications[message.correlation_id].guard
        verify = S.VERIFY.make(
            process=produce[L.PR_PROCESS],
            partition=part,
            pid=produce[L.PR_PID],
            epoch=produce[L.PR_EPOCH],
            sequence=produce[L.PR_SEQUENCE],
            record=produce[L.PR_RECORD],
            connection=produce[L.PR_CONNECTION],
            guard=self.model_guard(part, guard),
            add=int(not message.verify_only),
            deposed=0,  # (a failover marks it: actions.py's _mark_deposed)
        )
        self.requests[(NODE, message.correlation_id)] = verify
        return (verify,)

    def _abstract_verification_answer(
        self, message: AddPartitionsToTxnResponse
    ) -> tuple[tuple, ...] | None:  # type: ignore[type-arg]
        verify = self.requests.get((NODE, message.correlation_id))
        if verify is None:
            raise NotEnabled("an answer to a verification the driver did not see")
        if verify[L.VQ_DEPOSED] == RESTARTED:
            return None  # to a broker that restarted since it asked: nothing awaits it
        error = message.error_code
        if error is ErrorCode.NONE:
            errors = [r.error_code for r in message.results if r.error_code is not ErrorCode.NONE]
            error = errors[0] if errors else ErrorCode.NONE
        values = S.VERIFY.named(verify)
        del values["kind"], values["add"]
        # as the leader hands it on (node.py)
        return (S.VERIFY_RESPONSE.make(**values, error=verification_answer(error)),)

    def model_guard(self, part: int, guard: int) -> int:
        """The model's number of the reference's verification ``guard`` on partition
        ``part``: a new one takes the smallest number that no entry of the leader and no
        verification message of the partition holds (as model/leaders.py allocates it)."""
        if guard not in self.guard_numbers:
            producers = self.node.partitions[self.tps[part]].producers
            in_use = {
                self.guard_numbers[entry.guard]
                for entry in producers.verification_guards.values()
                if entry.guard in self.guard_numbers
            }
            for envelope in self.network:
                for abstract in envelope.abstract:
                    if abstract[L.M_KIND] in (L.M_VERIFY, L.M_VERIFY_RESPONSE) and (
                        abstract[L.VQ_PARTITION] == part
                    ):
                        in_use.add(abstract[L.VQ_GUARD])
            number = 1
            while number in in_use:
                number += 1
            self.guard_numbers[guard] = number
        return self.guard_numbers[guard]

    def _tid_of(self, ref_pid: int) -> int:
        """The transactional.id (index) whose producer id, first or rotated, ``ref_pid`` is."""
        slot = self.model_pid(ref_pid)
        return self.model.pid_tid[slot] if slot >= 0 else -1

    def _abstract_request(self, proc: int, message: Any) -> tuple | None:  # type: ignore[type-arg]
        model = self.model
        if isinstance(message, ProduceRequest):
            part = self.part_of[TopicPartition(message.topic, message.partition)]
            g = self.record_of[message.records[0]]
            return self._attempt(
                S.PRODUCE.make(
                    process=proc,
                    partition=part,
                    pid=model.pid_of[proc] if message.producer_id >= 0 else -1,
                    epoch=self.model_epoch(message.producer_id, message.producer_epoch),
                    sequence=message.base_sequence,
                    record=model.records[g][REC_LOCAL],
                    transactional=int(message.transactional),
                    connection=self._connection(proc, part),
                )
            )
        if self.producers[proc].transactional_id is None:
            return None
        txn = self._current_txn(proc)
        if isinstance(message, InitProducerIdRequest):
            bump = message.producer_id >= 0  # KIP-360: a bump names its current epoch
            return _coordinator_request(
                proc,
                L.API_INIT_PRODUCER_ID,
                self.model_epoch(message.producer_id, message.producer_epoch) if bump else -1,
                1 if bump else -1,
                -1,
                self._newest_connection(),
            )
        if isinstance(message, AddPartitionsToTxnRequest):
            mask = sum(1 << self.part_of[tp] for tp in set(message.partitions))
            return _coordinator_request(
                proc,
                L.API_ADD_PARTITIONS,
                self.model_epoch(message.producer_id, message.producer_epoch),
                mask,
                txn,
                self._newest_connection(),
            )
        if isinstance(message, AddOffsetsToTxnRequest):
            mask = 1 << model.offsets_partition
            return _coordinator_request(
                proc,
                L.API_ADD_OFFSETS,
                self.model_epoch(message.producer_id, message.producer_epoch),
                mask,
                txn,
                self._newest_connection(),
            )
        if isinstance(message, TxnOffsetCommitRequest):
            committed = message.offsets[0].committed_offset
            rec = self._offset_record(proc, committed)
            epoch = self.model_epoch(message.producer_id, message.producer_epoch)
            self.offset_requests.setdefault((proc, rec), []).append((message.correlation_id, epoch))
            return self._attempt(
                S.PRODUCE.make(
                    process=proc,
                    partition=model.offsets_partition,
                    pid=model.pid_of[proc],
                    epoch=epoch,
                    sequence=NO_SEQUENCE,
                    record=rec,
                    transactional=1,
                    connection=self._connection(proc, model.offsets_partition),
                )
            )
        if isinstance(message, EndTxnRequest):
            return _coordinator_request(
                proc,
                L.API_END_TXN,
                self.model_epoch(message.producer_id, message.producer_epoch),
                int(message.committed),
                txn,
                self._newest_connection(),
            )
        return None

    def _attempt(self, request: tuple) -> tuple:  # type: ignore[type-arg]
        """Record ``request`` (a model Produce) as the latest attempt of its record."""
        key = (request[L.PR_PROCESS], request[L.PR_RECORD])
        self.latest_connection[key] = request[L.PR_CONNECTION]
        return request

    def _connection(self, proc: int, part: int) -> int:
        """The connection a new produce request travels on (the model numbers connections;
        the reference has none): a retry opens a new one; a first attempt queues behind the
        current attempts of the partition's in-flight batches, else takes the newest."""
        if self._retrying:
            return self._newest_connection()
        connection = -1
        for envelope in self.network:
            for message in envelope.abstract:
                if (
                    message[L.M_KIND] != L.M_PRODUCE
                    or message[L.PR_PROCESS] != proc
                    or message[L.PR_PARTITION] != part
                ):
                    continue
                on = message[L.PR_CONNECTION]
                if on > connection and self._current_attempt(proc, message):
                    connection = on
        return connection if connection >= 0 else self._newest_connection()

    def _newest_connection(self) -> int:
        """The model's number of the newest connection a client opened
        (layout.connections_opened): a coordinator request travels on it, and a Produce retry
        or request timeout opens the next one."""
        return sum(self.ghosts.used[f] for f in L.CONNECTION_BUDGETS)

    def _current_attempt(self, proc: int, message: tuple) -> bool:  # type: ignore[type-arg]
        """Whether ``message`` travels on the connection of its record's latest attempt, still
        unanswered (not by epoch and sequence: an epoch bump rewrites those of a batch in
        flight; nor by epoch alone for a TxnOffsetCommit: under transaction version 2 one
        answered CONCURRENT_TRANSACTIONS by its add goes out again at once, while an earlier
        copy of the same epoch may still be on its way)."""
        rec = message[L.PR_RECORD]
        if self.latest_connection.get((proc, rec)) != message[L.PR_CONNECTION]:
            return False
        if message[L.PR_PARTITION] == self.model.offsets_partition:
            future = self.offset_futures.get((proc, rec))
            return bool(self.offset_requests.get((proc, rec))) and not (future and future.done)
        batch = self.batches[proc][rec]
        return batch is not None and not batch.done and batch.correlation_id is not None

    def _offset_record(self, proc: int, committed: int) -> int:
        """The process-local record of the offset commit of input offset ``committed``."""
        for rec, g in enumerate(self.model.record_global[proc]):
            record = self.model.records[g]
            if (
                record[REC_PARTITION] == self.model.offsets_partition
                and record[REC_GROUP_OFFSET] == committed
            ):
                return rec
        raise NotEnabled(f"the workload commits no input offset {committed}")

    def _current_txn(self, proc: int) -> int:
        current = self.ghosts.current[proc]
        txns = self.model.txn_global[proc]
        return txns[current] if 0 <= current < len(txns) else -1

    def _last_offsets_append(self, producer: KafkaProducer) -> int:
        """Where the TxnOffsetCommit just answered was appended: the group coordinator's last
        data batch of this producer id in __consumer_offsets (its response has no offset)."""
        metadata = self.node.txn_coordinator.transactions.get(producer.transactional_id or "")
        pid = metadata.producer_id if metadata is not None else producer.producer_id
        for batch in reversed(self.node.partitions[OFFSETS_PARTITION].log.batches):
            if not batch.is_control and batch.producer_id == pid:
                return batch.base_offset
        return -1

    def _abstract_response(self, request: tuple, message: Any) -> tuple:  # type: ignore[type-arg]
        error = int(getattr(message, "error_code", ErrorCode.NONE))
        if request[L.M_KIND] == L.M_PRODUCE and isinstance(message, TxnOffsetCommitResponse):
            proc, rec = request[L.PR_PROCESS], request[L.PR_RECORD]
            errors = [r.error_code for r in message.results if r.error_code is not ErrorCode.NONE]
            error = int(errors[0]) if errors else int(ErrorCode.NONE)
            if error == ErrorCode.NOT_COORDINATOR:
                # the group coordinator's answer when a failover lost its add's write; the
                # model answers it as a leader does a Produce (NOT_ENOUGH_REPLICAS): the
                # client re-sends either way (model/transaction_log.py, _write_lost)
                error = int(ErrorCode.NOT_ENOUGH_REPLICAS)
            offset = -1
            if not errors:
                offset = self._last_offsets_append(self.producers[proc])
                self.offset_batch_record[offset] = self.model.record_global[proc][rec]
                self.offset_results[(proc, message.correlation_id)] = offset
            return produce_response(request, error, offset)
        if request[L.M_KIND] == L.M_PRODUCE:
            offset = message.base_offset if message.error_code is ErrorCode.NONE else -1
            return produce_response(request, error, offset)
        proc, api, txn = request[L.CQ_PROCESS], request[L.CQ_API], request[L.CQ_TRANSACTION]
        connection = request[L.CQ_CONNECTION]  # the answer travels on its request's connection
        if isinstance(message, AddPartitionsToTxnResponse) and message.error_code is ErrorCode.NONE:
            errors = [r.error_code for r in message.results if r.error_code is not ErrorCode.NONE]
            error = int(errors[0]) if errors else error
        epoch = -1
        if (
            isinstance(message, InitProducerIdResponse | EndTxnResponse)
            and message.producer_epoch >= 0
        ):
            epoch = self.model_epoch(message.producer_id, message.producer_epoch)
        else:
            # The reference's response carries no epoch here; the model's is the epoch the
            # coordinator holds when it answers (the client ignores it).
            name = self.producers[proc].transactional_id
            metadata = self.node.txn_coordinator.transactions.get(name or "")
            epoch = (
                self.model_epoch(metadata.producer_id, metadata.producer_epoch)
                if metadata is not None
                else -1
            )
        return S.COORDINATOR_RESPONSE.make(
            process=proc, api=api, error=error, epoch=epoch, transaction=txn, connection=connection
        )


def _coordinator_request(
    proc: int, api: int, epoch: int, argument: int, txn: int, connection: int
) -> tuple:  # type: ignore[type-arg]
    return S.COORDINATOR_REQUEST.make(
        process=proc,
        api=api,
        epoch=epoch,
        argument=argument,
        transaction=txn,
        connection=connection,
    )


def produce_response(request: tuple, error: int, offset: int) -> tuple:  # type: ignore[type-arg]
    """The answer to model Produce ``request``: on its connection, for its record."""
    return S.PRODUCE_RESPONSE.make(
        process=request[L.PR_PROCESS],
        partition=request[L.PR_PARTITION],
        epoch=request[L.PR_EPOCH],
        sequence=request[L.PR_SEQUENCE],
        record=request[L.PR_RECORD],
        error=error,
        offset=offset,
        connection=request[L.PR_CONNECTION],
    )


__all__ = ["MessageMapping"]
