"""What each model action does on the reference (a mixin of :class:`~.world.ConformanceWorld`).

:meth:`~.world.ConformanceWorld.perform` calls ``_do_<Action>`` for the model's action of that
name with the step (its arguments read by parameter name, ``step.arg("process")``), and
:meth:`ActionHandlers._deliver_consumed` for every other action that consumes a message
(delivering the one in-flight message the model consumes). A handler returns ``"done"`` or
``"already"`` (the reference did this step as part of an earlier one), or raises
:class:`~.common.Unsupported` or :class:`~.common.NotEnabled`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kafka_eos.model import layout as L
from kafka_eos.model.actions import BY_NAME
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import CTP, TRANSACTIONAL
from kafka_eos.model.registry import Step
from kafka_eos.model.replication import deposed_message
from kafka_eos.model.tables import REC_GROUP_OFFSET, REC_TXN, REC_VALUE
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.group_coordinator import Group, GroupState, Member
from kafka_eos.reference.messages import (
    OffsetFetchRequest,
    ProduceRequest,
    TopicPartition,
    TxnOffsetCommitRequest,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.node import OFFSETS_PARTITION, BrokerNode, Outbound
from kafka_eos.reference.producer import ConsumerGroupMetadata, KafkaProducer, ProducerBatch
from kafka_eos.reference.replication import ReplicaSet
from kafka_eos.reference.txn_coordinator import MarkersInFlight

from .common import HOLD_MS, INPUT, NODE, Envelope, Ghosts, NotEnabled, Unsupported


class ActionHandlers:
    """The per-label handlers of :meth:`~.world.ConformanceWorld.perform`. The attributes are
    ConformanceWorld's (set in its ``__init__``)."""

    deferred: bool
    model: KafkaEosModel
    node: BrokerNode
    producers: list[KafkaProducer]
    consumers: list[KafkaConsumer]
    proc_of: dict[str, int]
    tps: list[TopicPartition]
    batches: list[list[ProducerBatch | None]]
    released: set[int]
    network: list[Envelope]
    requests: dict[tuple[str, int], tuple]  # type: ignore[type-arg]
    deposed_answers: dict[int, Envelope]
    pending_reply: list[tuple]  # type: ignore[type-arg]
    ahead: Counter[tuple]  # type: ignore[type-arg]
    offset_futures: dict[tuple[int, int], Any]
    offset_requests: dict[tuple[int, int], list[tuple[int, int]]]
    offsets_added: list[bool]
    latest_connection: dict[tuple[int, int], int]
    ghosts: Ghosts
    _numbers: int
    _delivering_txn: int
    _delivering_request: tuple  # type: ignore[type-arg]
    _delivering_produce: tuple  # type: ignore[type-arg]
    _delivering_verify: tuple  # type: ignore[type-arg]
    _retrying: bool

    if TYPE_CHECKING:

        def reference_pid(self, model_pid: int) -> int: ...
        def _post(self, source: str, outbounds: list[Outbound] | None) -> None: ...
        def _deliver_now(self, source: str, outbounds: list[Outbound]) -> None: ...
        def _deliver(self, envelope: Envelope) -> None: ...
        def settle(self) -> None: ...
        def _abstract_response(self, request: tuple, message: Any) -> tuple: ...  # type: ignore[type-arg]

    # -- consumed messages
    def consumed(self, state: tuple, target: tuple) -> list[tuple]:  # type: ignore[type-arg]
        gone = Counter(state[L.S_NETWORK]) - Counter(target[L.S_NETWORK])
        return list(gone.elements())

    def envelope_for(self, message: tuple) -> Envelope | None:  # type: ignore[type-arg]
        """The reference's message standing for ``message``: after TimeoutTxnMarker the model
        has two copies of one marker (and of its answer) where the reference has a request
        its coordinator still awaits and one it forgot; the model reads the first answer
        that comes, Kafka only the awaited one's (spec/SPEC.md §8), so that one goes first."""
        found = [e for e in self.network if message in e.abstract and not e.held]
        awaited = self.node.txn_coordinator.marker_requests
        markers = (WriteTxnMarkersRequest, WriteTxnMarkersResponse)
        for envelope in found:
            if isinstance(envelope.message, markers) and envelope.message.correlation_id in awaited:
                return envelope
        if found and isinstance(found[0].message, WriteTxnMarkersResponse):
            self._awaits_instead(found[0].message.correlation_id, message)
        return found[0] if found else None

    def _awaits_instead(self, forgotten: int, answer: tuple) -> None:  # type: ignore[type-arg]
        """The model reads the answer to the copy of a marker the reference's coordinator
        forgot (the two copies answered differently): that copy is the re-sent one in this
        run (Kafka's, in which the copy written second was the re-sent one), so the
        coordinator awaits its answer instead of the other copy's."""
        coordinator = self.node.txn_coordinator
        name = self.model.transactional_ids[answer[L.MR_TID]]
        job = coordinator.marker_jobs.get(name)
        tp = self.tps[answer[L.MR_PARTITION]]
        if job is None or forgotten in job.in_flight:
            return
        if answer[L.MR_COORDINATOR_EPOCH] != job.coordinator_epoch:
            return  # a deposed coordinator's marker: no copy of the job's, its answer is dropped
        for correlation_id, request in list(job.in_flight.items()):
            if tp in request.partitions:
                job.in_flight[forgotten] = job.in_flight.pop(correlation_id)
                coordinator.marker_requests[forgotten] = coordinator.marker_requests.pop(
                    correlation_id
                )
                return

    def _deliver_consumed(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        # the delivered message first: a step may also drop answers it left unreadable
        # (model/unreadable.py: a client gone fatal reads none of its other answers)
        kinds = BY_NAME[step.name].consumes
        consumed = sorted(self.consumed(state, target),
                          key=lambda message: L.dispatch_key(message) not in kinds)
        if len(consumed) > 1 and L.dispatch_key(consumed[1]) in kinds:
            consumed = self._delivered_first(state, step, consumed)
        if not consumed:
            consumed = self._resent_at_once(state, step, kinds)
        if not consumed:
            raise NotEnabled("the model step consumes no message")
        envelope = self.envelope_for(consumed[0])
        if envelope is None:
            return self._ahead_or_missing(consumed[0])
        if self._on_closed_connection(consumed[0]):
            self.network.remove(envelope)
            self._take_envelope(envelope, consumed[0])
            return "done"
        if len(envelope.abstract) > 1 and isinstance(envelope.message, WriteTxnMarkersRequest):
            envelope = self._split_markers(envelope, consumed[0])
        for message in envelope.abstract:
            if message[L.M_KIND] in (L.M_PRODUCE, L.M_VERIFY, L.M_VERIFY_RESPONSE):
                # (the verification messages carry the held Produce's process and record)
                g = self.model.record_global[message[L.PR_PROCESS]][message[L.PR_RECORD]]
                self._delivering_txn = self.model.records[g][REC_TXN]
                if message[L.M_KIND] == L.M_PRODUCE:
                    self._delivering_produce = message
                elif message[L.M_KIND] == L.M_VERIFY:
                    self._delivering_verify = message
            elif message[L.M_KIND] == L.M_COORDINATOR_REQUEST:
                self._delivering_txn = message[L.CQ_TRANSACTION]
                self._delivering_request = message
        self._deliver(envelope)
        self._take_envelope(envelope, consumed[0])
        return "done"

    def _delivered_first(self, state: tuple, step: Step, consumed: list[tuple]) -> list[tuple]:  # type: ignore[type-arg]
        """Two messages of the step's kind left the network (one delivered, the other dropped
        as unreadable by it: the twin answer of a timed-out marker's two copies): the one
        whose delivery the model labels as ``step`` goes first."""
        effect = BY_NAME[step.name].effect
        network = state[L.S_NETWORK]

        def labelled(message: tuple) -> bool:  # type: ignore[type-arg]
            rest = L.remove_message(network, message)
            return bool(effect(self.model, state, message, rest)[0] == step)

        return sorted(consumed, key=lambda message: not labelled(message))

    def _split_markers(self, envelope: Envelope, message: tuple) -> Envelope:  # type: ignore[type-arg]
        """The reference's coordinator sends a leader one WriteTxnMarkers for all of a
        transaction's partitions it leads; the model sends one per partition, as to partitions
        on different brokers, and may deliver them apart (another write can land between).
        The driver splits the request: the model's partition goes now, the others stay in
        flight as a request of their own, which the coordinator awaits like any other."""
        request = envelope.message
        (marker,) = request.markers
        chosen = self.tps[message[L.MK_PARTITION]]
        rest = tuple(tp for tp in marker.partitions if tp != chosen)
        abstract = list(envelope.abstract)
        abstract.remove(message)
        now = WriteTxnMarkersRequest(
            request.correlation_id, (replace(marker, partitions=(chosen,)),)
        )
        later_id = self.node.next_correlation_id()
        later = WriteTxnMarkersRequest(later_id, (replace(marker, partitions=rest),))
        coordinator = self.node.txn_coordinator
        tid = coordinator.marker_requests.get(request.correlation_id)
        job = coordinator.marker_jobs.get(tid) if tid is not None else None
        if tid is not None and job is not None and request.correlation_id in job.in_flight:
            sent_at_ms = job.in_flight[request.correlation_id].sent_at_ms
            coordinator.marker_requests[later_id] = tid
            job.in_flight[request.correlation_id] = MarkersInFlight(
                frozenset((chosen,)), sent_at_ms
            )
            job.in_flight[later_id] = MarkersInFlight(frozenset(rest), sent_at_ms)
        self.requests[(NODE, request.correlation_id)] = (message,)
        self.requests[(NODE, later_id)] = tuple(abstract)
        self.network.remove(envelope)
        self._numbers += 1
        source, destination = envelope.source, envelope.destination
        self.network.append(
            Envelope(self._numbers, source, destination, later, tuple(abstract), False)
        )
        split = Envelope(envelope.number, source, destination, now, (message,), False)
        self.network.append(split)
        return split

    def _resent_at_once(self, state: tuple, step: Step, kinds: tuple[int, ...]) -> list[tuple]:  # type: ignore[type-arg]
        """The request a handler answered CONCURRENT_TRANSACTIONS: its client read the answer
        in the same step (model/concurrent_answers.py) and re-sent the very same request, so
        the network looks unchanged; it is the one request of the step's process."""
        if "process" not in BY_NAME[step.name].params:
            return []
        proc = self.model.process_names.index(step.arg("process"))
        return [
            message
            for message in dict.fromkeys(state[L.S_NETWORK])
            if L.dispatch_key(message) in kinds
            and message[L.M_KIND] == L.M_COORDINATOR_REQUEST
            and message[L.CQ_PROCESS] == proc
        ][:1]

    def _on_closed_connection(self, message: tuple) -> bool:  # type: ignore[type-arg]
        """An answer to an earlier attempt of a Produce or TxnOffsetCommit: the producer's
        retry closed the connection it travels on (as Kafka's NetworkClient does on a request
        timeout), so it never reaches the producer. The reference has no connections: the
        driver drops it."""
        if message[L.M_KIND] != L.M_PRODUCE_RESPONSE:
            return False
        connection = message[L.PRR_CONNECTION]
        key = (message[L.PRR_PROCESS], message[L.PRR_RECORD])
        return bool(self.latest_connection.get(key, connection) != connection)

    def _take_envelope(self, envelope: Envelope, message: tuple) -> None:  # type: ignore[type-arg]
        # The reference sends one WriteTxnMarkers (and one response) for all partitions of a
        # transaction on one leader, where the model has one message per partition: the
        # model's steps on the siblings are already done.
        self.ahead.update(envelope.abstract)
        self.ahead[message] -= 1

    def _ahead_or_missing(self, message: tuple) -> str:  # type: ignore[type-arg]
        if self.ahead[message] > 0:
            self.ahead[message] -= 1
            return "already"
        raise NotEnabled(
            f"the reference has no such message in flight: {self.model.describe_message(message)}"
        )

    def _do_LoseMessage(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        consumed = self.consumed(state, target)
        if not consumed:
            raise NotEnabled("the model step loses no message")
        envelope = self.envelope_for(consumed[0])
        if envelope is None:
            return self._ahead_or_missing(consumed[0])
        budget = self.model.faults.losses - self.ghosts.used[L.F_LOSSES]
        if len(envelope.abstract) > budget:
            raise Unsupported(
                f"the reference carries {len(envelope.abstract)} model messages in this one "
                f"request; losing it needs a loss budget of {len(envelope.abstract)}"
            )
        self.network.remove(envelope)
        self.ghosts.used[L.F_LOSSES] += len(envelope.abstract)
        self._take_envelope(envelope, consumed[0])
        return "done"

    # -- client operations
    def _proc(self, step: Step) -> int:
        """The process a client step names."""
        return self.model.process_names.index(step.arg("process"))

    def _do_InitProducerId(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(step)].init_transactions()
        return "done"

    def _do_BeginTransaction(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(step)
        producer = self.producers[proc]
        producer.begin_transaction()
        current = self.ghosts.current[proc]
        self.offsets_added[proc] = False
        offset_record = self.model.txn_offset_record[proc][current]
        for rec in self.model.txn_records[proc][current]:
            if rec != offset_record:
                self._hand_over(proc, rec)
        return "done"

    def _hand_over(self, proc: int, rec: int) -> None:
        """KafkaProducer.send of one record of the workload; the driver holds its batch until
        the model's Send."""
        producer = self.producers[proc]
        part = self.model.record_partition[proc][rec]
        tp = self.tps[part]
        value = self.model.records[self.model.record_global[proc][rec]][REC_VALUE]
        producer.send(tp.topic, value, partition=tp.partition)
        batch = producer.books[tp].batches[-1]
        batch.next_attempt_ms = HOLD_MS
        self.batches[proc][rec] = batch

    def _do_Send(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(step)
        rec: int = step.arg("record")
        if step.arg("request") == "TxnOffsetCommit":
            return self._send_offsets(proc, rec)
        if self.model.kinds[proc] in (TRANSACTIONAL, CTP):
            batch = self.batches[proc][rec]
            if batch is None:
                raise NotEnabled(f"record r{rec} was never handed to the producer")
        else:
            batch = self.batches[proc][rec]
            if batch is None or batch.done:
                self._hand_over(proc, rec)
                batch = self.batches[proc][rec]
        assert batch is not None
        if not batch.needs_send:
            return "already"
        self.released.add(id(batch))  # a new batch, or a re-enqueued one going out again
        return "done"

    def _send_offsets(self, proc: int, rec: int) -> str:
        # transaction version 1: the reference's transaction manager sends TxnOffsetCommit as
        # soon as AddOffsetsToTxn is acknowledged, so the model's Send of the offset record is
        # part of that step; version 2: sendOffsetsToTransaction sends it at once
        if self.model.tv2 and (proc, rec) not in self.offset_futures:
            self._send_offsets_to_transaction(proc)
            return "done"
        if self.offset_requests.get((proc, rec)):
            return "already"
        raise NotEnabled("the producer has not sent its TxnOffsetCommit")

    def _do_AddOffsetsToTxn(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        self._send_offsets_to_transaction(self._proc(step))
        return "done"

    def _send_offsets_to_transaction(self, proc: int) -> None:
        """KafkaProducer.sendOffsetsToTransaction of the current transaction's offset."""
        current = self.ghosts.current[proc]
        rec = self.model.txn_offset_record[proc][current]
        committed = self.model.records[self.model.record_global[proc][rec]][REC_GROUP_OFFSET]
        future = self.producers[proc].send_offsets_to_transaction(
            {INPUT: committed}, self._group_metadata(proc)
        )
        self.offset_futures[(proc, rec)] = future

    def _do_FetchCommittedOffset(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """OffsetFetch(requireStable) at start-up, as the application's consumer does."""
        proc = self._proc(step)
        request = OffsetFetchRequest(
            self.node.next_correlation_id(),
            self.model.workload.group,
            (INPUT,),
            require_stable=True,
        )
        consumer = f"{step.arg('process')}.consumer"
        responses = [o.message for o in self.node.receive(consumer, request)]
        fetched = responses[0].offsets[0] if responses and responses[0].offsets else None
        if fetched is None or fetched.error_code is not ErrorCode.NONE:
            raise NotEnabled("the group's offsets are not stable (UNSTABLE_OFFSET_COMMIT)")
        self.ghosts.current[proc] = max(fetched.committed_offset, 0)
        self._join_group(proc)
        return "done"

    def _group(self) -> Group:
        groups = self.node.group_coordinator.groups
        group_id = self.model.workload.group
        if group_id not in groups:
            groups[group_id] = Group(group_id, state=GroupState.STABLE)
        return groups[group_id]

    def _join_group(self, proc: int) -> None:
        """The member is assigned the input partition in the group's current generation
        (the model's owner): it holds that generation from now on. The group exists in the
        reference only with a rebalance budget, as the model checks generations only then."""
        self.ghosts.generation[proc] = self.ghosts.used[L.F_REBALANCES]
        if not self.model.faults.rebalances:
            return
        member = self._member_id(proc)
        group = self._group()
        group.members.setdefault(member, Member(member, 30_000, 30_000, (), 0))
        group.generation_id = self.ghosts.used[L.F_REBALANCES]

    def _member_id(self, proc: int) -> str:
        return f"{self.model.transactional_ids[self.model.tid_of[proc]]}-member"

    def _group_metadata(self, proc: int) -> ConsumerGroupMetadata | str:
        """What the application passes to sendOffsetsToTransaction: its consumer's group
        metadata (KIP-447) when the group has members, else the group id alone."""
        if not self.model.faults.rebalances:
            return self.model.workload.group
        return ConsumerGroupMetadata(
            self.model.workload.group, self.ghosts.generation[proc], self._member_id(proc)
        )

    def _do_Rebalance(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """A rebalance completes: the group's next generation (the input partition goes to
        the next member, which fetches its offset; the previous one is not told)."""
        self.ghosts.used[L.F_REBALANCES] += 1
        self._group().generation_id = self.ghosts.used[L.F_REBALANCES]
        return "done"

    def _do_CommitTransaction(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(step)].commit_transaction()
        return "done"

    def _do_AbortTransaction(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(step)].abort_transaction()
        return "done"

    def _do_CompleteTxnLogAppend(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        from kafka_eos.reference.node import TXN_STATE_PARTITION

        partition = self.node.partitions[TXN_STATE_PARTITION]
        if not self.deferred or partition.high_watermark >= partition.log_end_offset:
            # immediate replication: the transition completed with the request (or timeout,
            # or marker response) that started it
            return "already"
        self._post(NODE, self.node.replicate(TXN_STATE_PARTITION))
        for envelope in self.network:
            if envelope.held:
                # the fencing InitProducerId's answer, now due, with the epoch now durable
                envelope.held = False
                request = self.requests[(envelope.destination, envelope.message.correlation_id)]
                envelope.abstract = (self._abstract_response(request, envelope.message),)
        return "done"

    def _do_RetryProduce(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """A request timeout: the client gives up on the partition's in-flight requests and
        re-sends their batches (same epoch and sequence) on a new connection."""
        return self._time_out_partition(step, L.F_RETRIES)

    def _do_TimeoutProduce(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """The request-timeout fault on a Produce (or TxnOffsetCommit): as RetryProduce, from
        the request_timeouts budget."""
        return self._time_out_partition(step, L.F_REQUEST_TIMEOUTS)

    def _do_TimeoutCoordinatorRequest(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """request.timeout.ms on the outstanding coordinator request: the reference's producer
        gives up on it (a late answer is not read: its correlation id is forgotten) and
        re-sends it, while the first copy stays in flight."""
        proc = self._proc(step)
        producer = self.producers[proc]
        if producer.txn_in_flight is None or producer.txn_in_flight not in producer.in_flight:
            raise NotEnabled("the producer has no coordinator request in flight")
        producer.in_flight[producer.txn_in_flight].sent_at_ms = -producer.request_timeout_ms - 1
        self.ghosts.used[L.F_REQUEST_TIMEOUTS] += 1
        producer.tick()
        return "done"

    def _time_out_partition(self, step: Step, spent: int) -> str:
        proc = self._proc(step)
        producer = self.producers[proc]
        tp = self.tps[self.model.partition_names.index(step.arg("partition"))]
        stale = -producer.request_timeout_ms - 1
        book = producer.books.get(tp)
        batches = list(book.batches) if book else []
        for request in producer.in_flight.values():
            if request.batch is not None and request.batch.tp == tp:
                request.sent_at_ms = stale
            offsets = isinstance(request.message, TxnOffsetCommitRequest)
            if offsets and tp == OFFSETS_PARTITION:
                request.sent_at_ms = stale
        self.ghosts.used[spent] += 1
        producer.tick()
        for batch in batches:
            if batch.needs_send and batch.attempts:
                self.released.add(id(batch))
        self._retrying = True
        try:
            self.settle()
        finally:
            self._retrying = False
        return "done"

    def _do_NotEnoughReplicas(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        return self._refuse_produce(state, step, target, ErrorCode.NOT_ENOUGH_REPLICAS)

    def _do_NotLeaderOrFollower(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        return self._refuse_produce(state, step, target, ErrorCode.NOT_LEADER_OR_FOLLOWER)

    def _refuse_produce(self, state: tuple, step: Step, target: tuple, error: ErrorCode) -> str:  # type: ignore[type-arg]
        """The leader answers the Produce the model consumes with a retriable error."""
        self.node.refuse_next_produce(error)
        try:
            outcome = self._deliver_consumed(state, step, target)
        finally:
            self.node.produce_refusals.clear()
        self.ghosts.used[L.F_RETRIABLE_ERRORS] += 1
        return outcome

    def _do_ExpireBatch(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """delivery.timeout.ms: the reference expires a batch only once no request of it is in
        flight, so its in-flight request times out first (request.timeout.ms), then the batch."""
        proc = self._proc(step)
        producer = self.producers[proc]
        batch = self.batches[proc][step.arg("record")]
        if batch is None or batch.done:
            raise NotEnabled("no such batch in flight on the reference")
        for request in producer.in_flight.values():
            if request.batch is batch:
                request.sent_at_ms = -producer.request_timeout_ms - 1
        batch.created_ms = -producer.delivery_timeout_ms - 1
        self.ghosts.used[L.F_BATCH_TIMEOUTS] += 1
        producer.tick()
        return "done"

    def _do_ResendCoordinatorRequest(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(step)
        producer = self.producers[proc]
        deposed = self.deposed_answers.pop(proc, None)
        if deposed is not None:
            # NOT_COORDINATOR: the client finds the coordinator and re-sends
            producer.receive(deposed.source, deposed.message)
            return "done"
        if producer.txn_in_flight is None or producer.txn_in_flight not in producer.in_flight:
            raise NotEnabled("the producer has no coordinator request outstanding")
        producer.in_flight[producer.txn_in_flight].sent_at_ms = -producer.request_timeout_ms - 1
        producer.tick()
        return "done"

    # -- coordinator and leader faults
    def _do_ResendTxnMarker(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        tid = step.arg("transactional_id")
        job = self.node.txn_coordinator.marker_jobs.get(tid)
        if job is None:
            raise NotEnabled(f"the coordinator has no markers to send for {tid}")
        tp = self.tps[self.model.partition_names.index(step.arg("partition"))]
        if tp not in job.remaining:
            return "already"
        # the model re-sends the lost marker alone: the reference's request that carried it
        # times out (its connection is taken as lost), not the job's other requests, whose
        # answers may still be on their way (TransactionMarkerRequestCompletionHandler)
        stale = -(10**12)
        carrying = [cid for cid, sent in job.in_flight.items() if tp in sent.partitions]
        for correlation_id in carrying:
            job.in_flight[correlation_id] = replace(job.in_flight[correlation_id], sent_at_ms=stale)
        if not carrying:
            job.sent_at_ms = stale
        self._post(NODE, self.node.tick())
        return "done"

    def _do_TimeoutTxnMarker(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """request.timeout.ms on the WriteTxnMarkers carrying the model's partition: the
        reference's coordinator forgets that request (its late answer is not read) and sends
        the marker again, while the first copy stays in flight. A request carrying other
        partitions too is split first, so that only the model's partition times out."""
        tid = self.model.transactional_ids.index(step.arg("transactional_id"))
        part = self.model.partition_names.index(step.arg("partition"))
        marker = next(
            (m for m in state[L.S_NETWORK] if m[L.M_KIND] == L.M_MARKER
             and m[L.MK_TID] == tid and m[L.MK_PARTITION] == part),
            None,
        )
        envelope = self.envelope_for(marker) if marker is not None else None
        if marker is None or envelope is None:
            raise NotEnabled("the reference has no such marker in flight")
        if len(envelope.abstract) > 1:
            envelope = self._split_markers(envelope, marker)
        job = self.node.txn_coordinator.marker_jobs[self.model.transactional_ids[tid]]
        request = job.in_flight[envelope.message.correlation_id]
        job.in_flight[envelope.message.correlation_id] = replace(request, sent_at_ms=-(10**12))
        self.ghosts.used[L.F_REQUEST_TIMEOUTS] += 1
        self._post(NODE, self.node.tick())
        return "done"

    def _do_TimeoutTransaction(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        tid = step.arg("transactional_id")
        metadata = self.node.txn_coordinator.transactions.get(tid)
        if metadata is None:
            raise NotEnabled(f"the coordinator has no transaction for {tid}")
        metadata.txn_start_timestamp = -metadata.txn_timeout_ms - 1
        self.ghosts.used[L.F_TXN_TIMEOUTS] += 1
        self._post(NODE, self.node.tick())
        return "done"

    def _do_CoordinatorFailover(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        self.ghosts.used[L.F_FAILOVERS] += 1
        self._post(NODE, self.node.fail_over_coordinator())
        if not self.deferred:
            self._post(NODE, self.node.replicate())
        self._set_aside_deposed_answers()
        return "done"

    def _set_aside_deposed_answers(self) -> None:
        """The reference answers NOT_COORDINATOR to a request whose transaction-log write the
        failover lost; the model's request is simply lost with the old coordinator. The client
        retries either way, so the driver holds the answer back and delivers it when the
        model's client re-sends (ResendCoordinatorRequest). The same goes for an answer held
        until its write is durable (the fencing InitProducerId's CONCURRENT_TRANSACTIONS):
        that write is lost too."""
        for envelope in list(self.network):
            message = envelope.message
            if (
                envelope.source == NODE
                and envelope.destination in self.proc_of
                and (
                    envelope.held
                    or getattr(message, "error_code", None) is ErrorCode.NOT_COORDINATOR
                )
            ):
                self.network.remove(envelope)
                self.deposed_answers[self.proc_of[envelope.destination]] = envelope

    def _do_ExpireProducerState(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        if not self.node.config.knobs.producer_state_expiry:
            raise NotEnabled("producer-state expiry is off on this reference")
        tp = self.tps[self.model.partition_names.index(step.arg("partition"))]
        ref_pid = self.reference_pid(step.arg("producer_id"))
        if not self.node.expire_producer(tp, ref_pid):
            raise NotEnabled(f"the leader of {tp} cannot expire producer {ref_pid} now")
        self.ghosts.used[L.F_EXPIRIES] += 1
        return "done"

    # -- replication (the model's replica r is broker-r)
    def _replica_set(self, step: Step) -> tuple[TopicPartition, ReplicaSet]:
        tp = self.tps[self.model.partition_names.index(step.arg("partition"))]
        replica_set = self.node.replica_sets.get(tp)
        if replica_set is None:
            raise NotEnabled(f"{tp} has one replica on this reference")
        return tp, replica_set

    def _do_FollowerFetch(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        tp, replica_set = self._replica_set(step)
        broker = replica_set.assignment[step.arg("replica")]
        if not replica_set.needs_fetch(broker):
            raise NotEnabled(f"a fetch by {broker} changes nothing on {tp}")
        self._post_retrying_markers(self.node.follower_fetch(tp, broker))
        return "done"

    def _do_ShrinkIsr(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        tp, replica_set = self._replica_set(step)
        broker = replica_set.assignment[step.arg("replica")]
        if broker not in replica_set.lagging_followers():
            raise NotEnabled(f"{broker} is not an in-sync follower behind the leader of {tp}")
        self._post_retrying_markers(self.node.shrink_isr(tp, broker))
        return "done"

    def _do_LeaderFailover(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """The leader fails and the controller elects the replica the model names (the one
        Kafka's election picks: the driver checks it is); the Produce requests in flight to
        the old leader arrive there and are answered NOT_LEADER_OR_FOLLOWER."""
        tp, replica_set = self._replica_set(step)
        old = replica_set.leader
        new = replica_set.assignment[step.arg("new_leader")]
        clean = step.arg("election") == "clean"
        chosen = replica_set.elect(
            unclean=self.node.config.knobs.unclean_leader_election, excluding=old
        )
        if chosen != (new, clean):
            raise NotEnabled(f"the controller elects {chosen} for {tp}, not {(new, clean)}")
        self.ghosts.used[L.F_LEADER_FAILOVERS] += 1
        self._post_retrying_markers(self.node.elect_leader(tp, new, clean=clean))
        restarted = step.arg("old_broker") == "restarted"
        if restarted:
            self._post(NODE, self.node.lose_held_requests(tp, old))
        self._mark_deposed(self.tps.index(tp), restarted=restarted)
        for envelope in list(self.network):
            message = envelope.message
            if isinstance(message, ProduceRequest) and (message.topic, message.partition) == (
                tp.topic,
                tp.partition,
            ):
                self.network.remove(envelope)
                self._post(NODE, self.node.receive(envelope.source, message, at=old))
        return "done"

    def _post_retrying_markers(self, outbounds: list[Outbound]) -> None:
        """Post what a leader sent when its produce purgatory released appends; a marker whose
        wait ended with an error (NOT_LEADER_OR_FOLLOWER at a failover,
        NOT_ENOUGH_REPLICAS_AFTER_APPEND) is sent again in the model's step
        (model/purgatory.py's complete: its answer and the coordinator's retry,
        TransactionMarkerRequestCompletionHandler), so the answer goes to the coordinator now
        and its retry, due at once, sends those markers again."""
        refused = [
            outbound
            for outbound in outbounds
            if isinstance(outbound.message, WriteTxnMarkersResponse)
            and any(
                result.error_code is not ErrorCode.NONE
                for marker in outbound.message.markers
                for result in marker.results
            )
        ]
        self._post(NODE, [outbound for outbound in outbounds if outbound not in refused])
        coordinator = self.node.txn_coordinator
        for outbound in refused:
            name = coordinator.marker_requests.get(outbound.message.correlation_id)
            self._post(NODE, self.node.receive(NODE, outbound.message))
            job = coordinator.marker_jobs.get(name) if name else None
            if job is not None:  # its retry backoff passed
                job.sent_at_ms = coordinator.now_ms - self.node.config.marker_retry_backoff_ms
        self._post(NODE, coordinator.tick() if refused else [])

    def _mark_deposed(self, part: int, *, restarted: bool) -> None:
        """The old leader's verifications go on (model/replication.py's deposed_message):
        its verification messages in flight, the requests their answers will be read against,
        and the answers owed by pending writes of version-2 adds become what the model makes
        of them; an answer to a restarted broker is lost, and none is owed to it any more."""
        for envelope in list(self.network):
            after = [deposed_message(m, part, restarted) for m in envelope.abstract]
            if None in after:
                self.network.remove(envelope)
            else:
                envelope.abstract = tuple(m for m in after if m is not None)
        for key, request in self.requests.items():
            if request and isinstance(request[0], int):  # one model message
                self.requests[key] = deposed_message(request, part, restarted) or request
        self.pending_reply = [
            deposed_message(reply, part, restarted) or () for reply in self.pending_reply
        ]

    # -- the consumer
    def _do_Fetch(self, state: tuple, step: Step, target: tuple) -> str:  # type: ignore[type-arg]
        part = self.model.partition_names.index(step.arg("partition"))
        consumer = self.consumers[part]
        self._deliver_now(consumer.client_id, consumer.poll_outbound())
        for record in consumer.poll():
            self.ghosts.delivered[part].append(record.offset)
        return "done"


__all__ = ["ActionHandlers"]
