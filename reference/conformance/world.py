"""The reference under test, set up like one model configuration and driven one model action
at a time.

A :class:`ConformanceWorld` holds one :class:`~kafka_eos.reference.node.BrokerNode` (partition
leader, transaction coordinator, group coordinator), one
:class:`~kafka_eos.reference.producer.KafkaProducer` per producer process of the model's
workload (a second process with the same transactional.id is a restarted incarnation), one
read_committed / read_uncommitted :class:`~kafka_eos.reference.consumer.KafkaConsumer` per data
partition when the workload has a consumer, and a *controlled network*: every message a
component sends waits in :attr:`ConformanceWorld.network` until the driver delivers it, loses
it, or leaves it there (delay and reordering).

Driving (:meth:`ConformanceWorld.perform`) takes one model transition ``(state, label,
next_state)`` and does on the reference what the label means: a client operation, delivering
or losing the one in-flight message the model consumes, a coordinator failover, a transaction
timeout, a marker retry, producer-state expiry, a request timeout and retry, a fetch. Messages
the model does not have (FindCoordinator, Metadata, the idempotent producer's InitProducerId,
the leader's KIP-890 verification round trip, ListOffsets, Fetch) are *internal*: the driver
delivers them at once, so they are part of the step that caused them.

Ghost variables the model keeps and the reference has no field for (which transaction a
coordinator entry belongs to, the decided outcome of each transaction, the remaining fault
budget, the connection a produce request travels on, the offsets a consumer delivered) are
recorded here as the driver goes; :mod:`.abstraction` reads them.

The mapping of the model's knobs onto the reference (:func:`broker_config`,
:func:`producer_settings`):

* ``transaction_version``, ``partition_verification``, ``coordinator_epoch_check``,
  ``producer_epoch_check`` and ``batch_cache_size`` are BrokerConfig's fields of the same
  name; ``idempotence`` is the idempotent producers' enable.idempotence (the model's leaders
  always deduplicate a producer id's batches, so BrokerConfig.idempotence stays on);
  ``producer_state_expiry`` turns ``producer_state_expiry_ms`` on (the clock never moves on
  its own here: expiry happens when the driver injects it, and only with the knob on);
* ``max_in_flight`` is the producer's max.in.flight.requests.per.connection;
* the producers add partitions with AddPartitionsToTxn before sending (the client side of
  transaction version 1), whatever the broker's transaction version: that is what the model's
  clients do, and a transaction-version-2 coordinator still bumps the epoch on every EndTxn
  and answers with the new epoch, which the client adopts.

Replication: by default (``deferred=True``) the broker runs with deferred replication. After
every step the driver lets followers catch up on every partition except
``__transaction_state``, whose writes stay pending (the coordinator answers
CONCURRENT_TRANSACTIONS meanwhile) until the model's ``CompleteTxnLogAppend``: the model's
pending transition is the record above that partition's high watermark, its durable log the
records below it. The one answer the reference gives before the write it belongs to is durable
(CONCURRENT_TRANSACTIONS to the InitProducerId that fences an open transaction) is held in the
network until then.

Batching: the producer's Sender sends whatever is ready when it runs; the driver holds every
batch (as linger.ms would) and releases exactly the one the model's ``Send`` names, and the
batches the model's ``RetryProduce`` re-sends.

The virtual clock stays at 0: every time-driven event (request timeout, delivery timeout,
transaction timeout, marker retry, producer-state expiry) is a fault the driver injects, on the
one request, batch, transaction or producer the model names, by making exactly that one due
and calling the component's ``tick()``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import CTP, IDEMPOTENT, TRANSACTIONAL
from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.sequence import NO_SEQUENCE
from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.messages import (
    AddOffsetsToTxnRequest,
    AddOffsetsToTxnResponse,
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
    EndTxnRequest,
    EndTxnResponse,
    InitProducerIdRequest,
    InitProducerIdResponse,
    OffsetFetchRequest,
    ProduceRequest,
    TopicPartition,
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.node import OFFSETS_PARTITION, BrokerConfig, BrokerNode, Outbound
from kafka_eos.reference.producer import KafkaProducer, ProducerBatch

NODE = "broker-0"
TOPIC = "t"
#: The consume-transform-produce application's input (the model leaves it abstract: only the
#: committed input offsets matter); the group commits offsets for its one partition.
INPUT_TOPIC = "input"
INPUT = TopicPartition(INPUT_TOPIC, 0)
#: ``next_attempt_ms`` of a batch the driver holds back (the clock never gets there).
HOLD_MS = 10**15
_ONGOING, _PC, _PA = (
    int(TxnState.ONGOING),
    int(TxnState.PREPARE_COMMIT),
    int(TxnState.PREPARE_ABORT),
)
_OPEN = (_ONGOING, _PC, _PA)


class Unsupported(Exception):
    """The reference has no way to do what this model action does (reported, not a failure
    of refinement: the reference may do less than the model allows)."""


class NotEnabled(Exception):
    """The reference cannot take this step now: it is not in a state where the action exists
    (during a replay: the reference refuses the step the model took)."""


def broker_config(model: KafkaEosModel) -> BrokerConfig:
    knobs = model.knobs
    return BrokerConfig(
        transaction_version=knobs.transaction_version,
        partition_verification=knobs.partition_verification,
        coordinator_epoch_check=knobs.coordinator_epoch_check,
        producer_epoch_check=knobs.producer_epoch_check,
        batch_cache_size=knobs.batch_cache_size,
        producer_state_expiry_ms=86_400_000 if knobs.producer_state_expiry else None,
    )


def producer_settings(model: KafkaEosModel, proc: int) -> dict[str, Any]:
    kind = model.kinds[proc]
    transactional = kind in (TRANSACTIONAL, CTP)
    return {
        "client_id": model.process_names[proc],
        "transactional_id": model.transactional_ids[model.tid_of[proc]] if transactional else None,
        "enable_idempotence": transactional or (kind == IDEMPOTENT and model.knobs.idempotence),
        "max_in_flight": model.knobs.max_in_flight,
        "retry_backoff_ms": 0,
        # the model's clients add partitions explicitly (see the module docstring)
        "transaction_version": 1,
    }


@dataclass(slots=True)
class Envelope:
    """One message in flight, with the model messages it stands for (none: internal)."""

    number: int
    source: str
    destination: str
    message: Any
    abstract: tuple[tuple, ...]  # type: ignore[type-arg]
    internal: bool
    #: an answer the driver holds until the transaction-log write it belongs to completes
    held: bool = False


@dataclass(slots=True)
class Ghosts:
    """What the model tracks that the reference has no field for."""

    owner: list[int]  # per transactional.id: the transaction its open entry belongs to
    log_owner: list[int]  # per transactional.id: owner at its last transaction-log record
    log_records: list[int]  # per transactional.id: records seen in __transaction_state
    outcomes: list[int]  # per transaction: O_*
    current: list[int]  # per process: index of the current / next transaction
    fenced_markers: list[int]  # per transactional.id: partitions whose marker came back fenced
    acked_markers: list[int]  # per transactional.id: partitions acknowledged (last seen)
    used: list[int] = field(default_factory=lambda: [0] * 6)  # fault budget used, F_* order
    delivered: list[list[int]] = field(default_factory=list)  # per data partition


class ConformanceWorld:
    """``deferred=True`` runs the broker with deferred replication: a transaction-log write
    stays pending (the coordinator answers CONCURRENT_TRANSACTIONS meanwhile) until the
    driver performs the model's CompleteTxnLogAppend; data partitions are replicated at the
    end of every step. ``deferred=False`` replicates everything at once: the coordinator
    completes a transition with the request that started it."""

    def __init__(self, model: KafkaEosModel, *, deferred: bool = True) -> None:
        self.deferred = deferred
        self.model = model
        self.clock = VirtualClock()
        config = dataclasses.replace(broker_config(model), deferred_replication=deferred)
        self.node = BrokerNode(node_id=NODE, config=config, clock=self.clock)
        self.node.create_topic(TOPIC, model.data_partitions)
        if model.offsets_partition >= 0:
            self.node.create_topic(INPUT_TOPIC, 1)
        self.tps = [TopicPartition(TOPIC, p) for p in range(model.data_partitions)]
        if model.offsets_partition >= 0:
            self.tps.append(OFFSETS_PARTITION)
        self.part_of = {tp: p for p, tp in enumerate(self.tps)}
        self.producers = [
            KafkaProducer(clock=self.clock, bootstrap=NODE, **producer_settings(model, proc))
            for proc in range(model.process_count)
        ]
        self.proc_of = {p.client_id: proc for proc, p in enumerate(self.producers)}
        self.record_of = {record[4]: g for g, record in enumerate(model.records)}
        # per process, per local record: the batch the driver handed to the producer
        self.batches: list[list[ProducerBatch | None]] = [
            [None] * len(model.record_partition[proc]) for proc in range(model.process_count)
        ]
        self.released: set[int] = set()  # id() of batches the driver lets the Sender send
        self.network: list[Envelope] = []
        self.requests: dict[tuple[str, int], tuple] = {}  # type: ignore[type-arg]
        self.last_coordinator_request: dict[int, tuple] = {}  # type: ignore[type-arg]
        # per process: a NOT_COORDINATOR answer held back (see _set_aside_deposed_answers)
        self.deposed_answers: dict[int, Envelope] = {}
        self._numbers = 0
        self.ahead: Counter[tuple] = Counter()  # type: ignore[type-arg]
        # consume-transform-produce: sendOffsetsToTransaction of each offset record
        self.offset_futures: dict[tuple[int, int], Any] = {}  # (proc, rec) -> Future
        self.offset_requests: dict[tuple[int, int], list[tuple[int, int]]] = {}  # -> (cid, epoch)
        self.offset_batch_record: dict[int, int] = {}  # offsets-log base offset -> record
        self.offset_results: dict[tuple[int, int], int] = {}  # (proc, cid) -> log offset
        self.offsets_added = [False] * model.process_count  # AddOffsetsToTxn acknowledged
        # (proc, rec) -> the connection of the latest Produce / TxnOffsetCommit attempt
        self.latest_connection: dict[tuple[int, int], int] = {}
        tids = len(model.transactional_ids)
        self.ghosts = Ghosts(
            owner=[-1] * tids,
            log_owner=[-1] * tids,
            log_records=[0] * tids,
            outcomes=[L.O_UNDECIDED] * len(model.transactions),
            current=[-1 if kind == CTP else 0 for kind in model.kinds],
            fenced_markers=[0] * tids,
            acked_markers=[0] * tids,
            delivered=[[] for _ in range(model.data_partitions)],
        )
        self._delivering_txn = -1
        self._delivering_request: tuple = ()  # type: ignore[type-arg]
        self._retrying = False
        self._pending_before = [False] * len(model.transactional_ids)
        # per transactional.id: the pending transaction-log write's owner and the answer the
        # coordinator gives when it completes (the model's pending transition)
        self.pending_owner = [-1] * len(model.transactional_ids)
        self.pending_reply: list[tuple] = [()] * len(model.transactional_ids)  # type: ignore[type-arg]
        self.consumers: list[KafkaConsumer] = []
        if model.workload.consumer:
            for p in range(model.data_partitions):
                consumer = KafkaConsumer(
                    client_id=f"consumer-{p}",
                    clock=self.clock,
                    bootstrap=NODE,
                    isolation_level=model.workload.consumer,
                )
                consumer.assign([self.tps[p]])
                self.consumers.append(consumer)
                self._deliver_now(f"consumer-{p}", consumer.poll_outbound())  # ListOffsets
        self._observe_coordinator(before=None)

    # ------------------------------------------------------------------ addresses
    def endpoint(self, name: str) -> Any:
        if name == NODE:
            return self.node
        if name.startswith("consumer-"):
            return self.consumers[int(name.split("-")[1])]
        return self.producers[self.proc_of[name]]

    def tid_index(self, name: str) -> int:
        return self.model.transactional_ids.index(name)

    def model_pid(self, ref_pid: int) -> int:
        """The model's producer id of a reference producer id (-1: none / unknown)."""
        if ref_pid < 0:
            return -1
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = self.node.txn_coordinator.transactions.get(name)
            if metadata is not None and ref_pid in (
                metadata.producer_id,
                metadata.previous_producer_id,
            ):
                return tid
        for proc, producer in enumerate(self.producers):
            if producer.transactional_id is None and producer.producer_id == ref_pid:
                return self.model.pid_of[proc]
        return -1

    def reference_pid(self, model_pid: int) -> int:
        tid = self.model.pid_tid[model_pid]
        if tid >= 0:
            metadata = self.node.txn_coordinator.transactions.get(self.model.transactional_ids[tid])
            return metadata.producer_id if metadata is not None else -1
        proc = self.model.pid_of.index(model_pid)
        return self.producers[proc].producer_id

    # ------------------------------------------------------------------ the network
    def _post(self, source: str, outbounds: list[Outbound] | None) -> None:
        for outbound in outbounds or ():
            abstract = self._abstract_message(source, outbound)
            self._numbers += 1
            self.network.append(
                Envelope(
                    self._numbers,
                    source,
                    outbound.destination,
                    outbound.message,
                    abstract if abstract is not None else (),
                    abstract is None,
                    self._owed_after_write(outbound),
                )
            )

    def _owed_after_write(self, outbound: Outbound) -> bool:
        """The reference answers a fencing InitProducerId (CONCURRENT_TRANSACTIONS) while the
        fence's PrepareAbort is still being written; the model answers once it is durable.
        The driver holds the answer until then (a network delay)."""
        message = outbound.message
        if not self.deferred or not isinstance(message, InitProducerIdResponse):
            return False
        if message.error_code is not ErrorCode.CONCURRENT_TRANSACTIONS:
            return False
        producer = self.producers[self.proc_of[outbound.destination]]
        name = producer.transactional_id or ""
        metadata = self.node.txn_coordinator.transactions.get(name)
        tid = self.model.transactional_ids.index(name)
        fresh = not self._pending_before[tid]  # the write this very request started
        return metadata is not None and metadata.pending_state is not None and fresh

    def _deliver_now(self, source: str, outbounds: list[Outbound]) -> None:
        """Send ``outbounds`` and deliver them (and what they cause) at once: internal traffic."""
        before = {e.number for e in self.network}
        self._post(source, outbounds)
        while True:
            fresh = [e for e in self.network if e.number not in before and e.internal]
            if not fresh:
                return
            self._deliver(fresh[0])

    def _deliver(self, envelope: Envelope) -> None:
        self.network.remove(envelope)
        endpoint = self.endpoint(envelope.destination)
        if envelope.destination == NODE:
            self._post(NODE, endpoint.receive(envelope.source, envelope.message))
        else:
            message = envelope.message
            if (
                isinstance(message, AddOffsetsToTxnResponse)
                and message.error_code is ErrorCode.NONE
                and endpoint.txn_in_flight == message.correlation_id
            ):
                self.offsets_added[self.proc_of[envelope.destination]] = True
            endpoint.receive(envelope.source, message)

    def settle(self) -> None:
        """Let every producer's Sender run (held batches stay), and deliver internal messages,
        until nothing internal is left."""
        for _ in range(1000):
            for proc in range(len(self.producers)):
                self._flush_producer(proc)
            internal = [e for e in self.network if e.internal]
            if internal:
                self._deliver(internal[0])
            elif not (self.deferred and self._replicate_data()):
                return
        raise RuntimeError("internal messages keep coming: the reference does not settle")

    def _replicate_data(self) -> bool:
        """Followers catch up on every partition but __transaction_state (whose writes
        complete with the model's CompleteTxnLogAppend). True when anything happened."""
        from kafka_eos.reference.node import TXN_STATE_PARTITION

        happened = False
        for tp, partition in list(self.node.partitions.items()):
            if tp == TXN_STATE_PARTITION:
                continue
            behind = partition.high_watermark < partition.log_end_offset
            out = self.node.replicate(tp)
            if out or behind:
                happened = True
                self._post(NODE, out)
        return happened

    def _flush_producer(self, proc: int) -> None:
        producer = self.producers[proc]
        for book in producer.books.values():
            for batch in book.batches:
                if batch.needs_send:
                    batch.next_attempt_ms = 0 if id(batch) in self.released else HOLD_MS
        self._post(producer.client_id, producer.poll_outbound())
        for book in producer.books.values():
            for batch in book.batches:
                if not batch.needs_send:
                    self.released.discard(id(batch))

    # ------------------------------------------------------------------ message abstraction
    def _abstract_message(self, source: str, outbound: Outbound) -> tuple[tuple, ...] | None:  # type: ignore[type-arg]
        message = outbound.message
        if source in self.proc_of:
            request = self._abstract_request(self.proc_of[source], message)
            if request is not None:
                self.requests[(source, message.correlation_id)] = request
                if request[0] == L.M_COORDINATOR_REQUEST:
                    self.last_coordinator_request[self.proc_of[source]] = request
                return (request,)
            return None
        if source != NODE:
            return None  # consumers: fetched atomically by the Fetch action
        if isinstance(message, WriteTxnMarkersRequest):
            markers = []
            for marker in message.markers:
                tid = self.model_pid(marker.producer_id)
                for tp in marker.partitions:
                    markers.append(
                        (
                            L.M_MARKER,
                            self.part_of[tp],
                            tid,
                            marker.coordinator_epoch,
                            marker.producer_epoch,
                            int(marker.transaction_result),
                        )
                    )
            self.requests[(NODE, message.correlation_id)] = tuple(markers)
            return tuple(markers)
        if isinstance(message, WriteTxnMarkersResponse):
            sent = self.requests.get((NODE, message.correlation_id), ())
            cepoch = sent[0][3] if sent else -1
            responses = []
            for result in message.markers:
                tid = self.model_pid(result.producer_id)
                for partition_result in result.results:
                    tp = TopicPartition(partition_result.topic, partition_result.partition)
                    responses.append(
                        (
                            L.M_MARKER_RESPONSE,
                            self.part_of[tp],
                            tid,
                            cepoch,
                            int(partition_result.error_code),
                        )
                    )
            return tuple(responses)
        if outbound.destination in self.proc_of:
            request = self.requests.get((outbound.destination, message.correlation_id))
            if request is None:
                return None
            return (self._abstract_response(request, message),)
        return None  # node to node: the KIP-890 verification round trip

    def _abstract_request(self, proc: int, message: Any) -> tuple | None:  # type: ignore[type-arg]
        model = self.model
        if isinstance(message, ProduceRequest):
            part = self.part_of[TopicPartition(message.topic, message.partition)]
            g = self.record_of[message.records[0]]
            return self._attempt(
                (
                    L.M_PRODUCE,
                    proc,
                    part,
                    model.pid_of[proc] if message.producer_id >= 0 else -1,
                    message.producer_epoch,
                    message.base_sequence,
                    model.records[g][1],
                    int(message.transactional),
                    self._connection(proc, part),
                )
            )
        if self.producers[proc].transactional_id is None:
            return None
        txn = self._current_txn(proc)
        if isinstance(message, InitProducerIdRequest):
            if message.producer_id >= 0:
                return (
                    L.M_COORDINATOR_REQUEST,
                    proc,
                    L.API_INIT_PRODUCER_ID,
                    message.producer_epoch,
                    1,
                    -1,
                )
            return (L.M_COORDINATOR_REQUEST, proc, L.API_INIT_PRODUCER_ID, -1, -1, -1)
        if isinstance(message, AddPartitionsToTxnRequest):
            mask = sum(1 << self.part_of[tp] for tp in set(message.partitions))
            return (
                L.M_COORDINATOR_REQUEST,
                proc,
                L.API_ADD_PARTITIONS,
                message.producer_epoch,
                mask,
                txn,
            )
        if isinstance(message, AddOffsetsToTxnRequest):
            mask = 1 << model.offsets_partition
            return (
                L.M_COORDINATOR_REQUEST,
                proc,
                L.API_ADD_OFFSETS,
                message.producer_epoch,
                mask,
                txn,
            )
        if isinstance(message, TxnOffsetCommitRequest):
            committed = message.offsets[0].committed_offset
            rec = self._offset_record(proc, committed)
            self.offset_requests.setdefault((proc, rec), []).append(
                (message.correlation_id, message.producer_epoch)
            )
            return self._attempt(
                (
                    L.M_PRODUCE,
                    proc,
                    model.offsets_partition,
                    model.pid_of[proc],
                    message.producer_epoch,
                    NO_SEQUENCE,
                    rec,
                    1,
                    self._connection(proc, model.offsets_partition),
                )
            )
        if isinstance(message, EndTxnRequest):
            return (
                L.M_COORDINATOR_REQUEST,
                proc,
                L.API_END_TXN,
                message.producer_epoch,
                int(message.committed),
                txn,
            )
        return None

    def _attempt(self, request: tuple) -> tuple:  # type: ignore[type-arg]
        """Record ``request`` (a model Produce) as the latest attempt of its record."""
        self.latest_connection[(request[1], request[6])] = request[8]
        return request

    def _connection(self, proc: int, part: int) -> int:
        """The connection a new produce request travels on (the model numbers connections;
        the reference has none): a retry opens a new one; a first attempt queues behind the
        current attempts of the partition's in-flight batches, else takes the newest."""
        if self._retrying:
            return self.ghosts.used[L.F_RETRIES]
        connection = -1
        for envelope in self.network:
            for message in envelope.abstract:
                if message[0] != L.M_PRODUCE or message[1] != proc or message[2] != part:
                    continue
                if message[8] > connection and self._current_attempt(proc, message):
                    connection = message[8]
        return connection if connection >= 0 else self.ghosts.used[L.F_RETRIES]

    def _current_attempt(self, proc: int, message: tuple) -> bool:  # type: ignore[type-arg]
        rec = message[6]
        if message[2] == self.model.offsets_partition:
            future = self.offset_futures.get((proc, rec))
            attempts = self.offset_requests.get((proc, rec), [])
            return bool(attempts) and attempts[-1][1] == message[4] and not (future and future.done)
        batch = self.batches[proc][rec]
        # (not by epoch and sequence: an epoch bump rewrites those of a batch in flight)
        return (
            batch is not None
            and not batch.done
            and batch.correlation_id is not None
            and self.latest_connection.get((proc, rec)) == message[8]
        )

    def _offset_record(self, proc: int, committed: int) -> int:
        """The process-local record of the offset commit of input offset ``committed``."""
        for rec, g in enumerate(self.model.record_global[proc]):
            record = self.model.records[g]
            if record[2] == self.model.offsets_partition and record[6] == committed:
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
        if request[0] == L.M_PRODUCE and isinstance(message, TxnOffsetCommitResponse):
            _, proc, part, _pid, epoch, seq, rec, _txn, connection = request
            errors = [r.error_code for r in message.results if r.error_code is not ErrorCode.NONE]
            error = int(errors[0]) if errors else int(ErrorCode.NONE)
            offset = -1
            if not errors:
                offset = self._last_offsets_append(self.producers[proc])
                self.offset_batch_record[offset] = self.model.record_global[proc][rec]
                self.offset_results[(proc, message.correlation_id)] = offset
            return (L.M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, offset, connection)
        if request[0] == L.M_PRODUCE:
            _, proc, part, _pid, epoch, seq, rec, _txn, connection = request
            offset = message.base_offset if message.error_code is ErrorCode.NONE else -1
            return (L.M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, offset, connection)
        _, proc, api, _epoch, _argument, txn = request
        if isinstance(message, AddPartitionsToTxnResponse) and message.error_code is ErrorCode.NONE:
            errors = [r.error_code for r in message.results if r.error_code is not ErrorCode.NONE]
            error = int(errors[0]) if errors else error
        epoch = -1
        if (
            isinstance(message, InitProducerIdResponse | EndTxnResponse)
            and message.producer_epoch >= 0
        ):
            epoch = message.producer_epoch
        else:
            # The reference's response carries no epoch here; the model's is the epoch the
            # coordinator holds when it answers (the client ignores it).
            name = self.producers[proc].transactional_id
            metadata = self.node.txn_coordinator.transactions.get(name or "")
            epoch = metadata.producer_epoch if metadata is not None else -1
        return (L.M_COORDINATOR_RESPONSE, proc, api, error, epoch, txn)

    # ------------------------------------------------------------------ ghost bookkeeping
    def _coordinator_snapshot(self) -> list[tuple[int, int]]:
        out = []
        for name in self.model.transactional_ids:
            metadata = self.node.txn_coordinator.transactions.get(name)
            out.append(
                (-1, -1) if metadata is None else (int(metadata.state), metadata.producer_epoch)
            )
        return out

    def _observe_coordinator(self, before: list[tuple[int, int]] | None) -> None:
        ghosts = self.ghosts
        coordinator = self.node.txn_coordinator
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = coordinator.transactions.get(name)
            state = int(metadata.state) if metadata is not None else -1
            previous = before[tid][0] if before else -1
            if state == _ONGOING and previous != _ONGOING:
                ghosts.owner[tid] = (
                    self.pending_owner[tid] if self.deferred else self._delivering_txn
                )
            elif state not in _OPEN:
                ghosts.owner[tid] = -1
            owner = ghosts.owner[tid]
            if state in (_PC, _PA) and owner >= 0 and ghosts.outcomes[owner] == L.O_UNDECIDED:
                ghosts.outcomes[owner] = L.O_COMMIT if state == _PC else L.O_ABORT
            records = self.txn_log_records(name)
            if len(records) != ghosts.log_records[tid]:
                ghosts.log_records[tid] = len(records)
                ghosts.log_owner[tid] = owner if records and int(records[-1].state) in _OPEN else -1
            if state not in (_PC, _PA):
                ghosts.fenced_markers[tid] = 0
                ghosts.acked_markers[tid] = 0
            else:
                job = coordinator.marker_jobs.get(name)
                completing = metadata is not None and metadata.pending_state in (
                    TxnState.COMPLETE_COMMIT,
                    TxnState.COMPLETE_ABORT,
                )
                if job is None and completing:
                    assert metadata is not None
                    ghosts.acked_markers[tid] = sum(
                        1 << self.part_of[tp] for tp in metadata.partitions
                    )
                elif job is not None:
                    ghosts.acked_markers[tid] = sum(
                        1 << self.part_of[tp]
                        for tp in metadata.partitions
                        if tp not in job.remaining
                    )

    def txn_log_records(self, name: str, *, durable: bool = True) -> list[Any]:
        """The transaction log's records of ``name`` (durable: replicated, below the high
        watermark; else every record written, the pending one included)."""
        from kafka_eos.reference.node import TXN_STATE_PARTITION
        from kafka_eos.reference.txn_metadata import TxnTransit

        out = []
        partition = self.node.partitions[TXN_STATE_PARTITION]
        for batch in partition.log.batches:
            if durable and batch.base_offset >= partition.high_watermark:
                break
            for record in batch.records:
                transit = TxnTransit.from_json(record)
                if transit.transactional_id == name:
                    out.append(transit)
        return out

    def _observe_clients(self, before: list[int]) -> None:
        closing = (int(ClientState.COMMITTING_TRANSACTION), int(ClientState.ABORTING_TRANSACTION))
        after_ok = (int(ClientState.READY), int(ClientState.INITIALIZING))
        for proc, producer in enumerate(self.producers):
            if before[proc] in closing and int(producer.txn_state) in after_ok:
                self.offsets_added[proc] = False
                committed = before[proc] == int(ClientState.COMMITTING_TRANSACTION)
                if self.model.kinds[proc] == CTP and not committed:
                    # the application stops; a new incarnation resumes from the committed offset
                    self.ghosts.current[proc] = len(self.model.txn_records[proc])
                else:
                    self.ghosts.current[proc] += 1

    # ------------------------------------------------------------------ driving
    def perform(self, state: tuple, label: str, target: tuple) -> str:  # type: ignore[type-arg]
        """Do on the reference what the model transition ``state --label--> target`` does.

        Returns ``"done"`` or ``"already"`` (the reference did this step as part of an
        earlier one, e.g. CompleteTxnLogAppend, which it does with the request that caused
        it). Raises :class:`Unsupported` or :class:`NotEnabled`.
        """
        name = label.split("(", 1)[0]
        args = label[len(name) + 1 : -1].split(",") if "(" in label else []
        handler = getattr(self, f"_do_{name}", None)
        if handler is None:
            handler = self._deliver_consumed if name.startswith(("Handle", "Receive")) else None
        if handler is None:
            raise Unsupported(f"{name} has no counterpart in the reference driver")
        before_clients = [int(p.txn_state) for p in self.producers]
        before_coordinator = self._coordinator_snapshot()
        self._delivering_txn = -1
        self._delivering_request = ()
        before_pending = self._pending_states()
        self._pending_before = before_pending
        outcome: str = handler(state, args, target)
        if outcome == "done":
            self.settle()
        self._observe_pending(before_pending)
        self._observe_clients(before_clients)
        self._observe_coordinator(before_coordinator)
        return outcome

    def _pending_states(self) -> list[bool]:
        coordinator = self.node.txn_coordinator
        return [
            (m := coordinator.transactions.get(name)) is not None and m.pending_state is not None
            for name in self.model.transactional_ids
        ]

    def _observe_pending(self, before: list[bool]) -> None:
        """A transition newly pending: whose transaction it carries, and the answer owed."""
        coordinator = self.node.txn_coordinator
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = coordinator.transactions.get(name)
            if metadata is None or metadata.pending_state is None or before[tid]:
                continue
            target = int(metadata.pending_state)
            state = int(metadata.state)
            if target == _ONGOING and state != _ONGOING:
                self.pending_owner[tid] = self._delivering_txn
            elif target in _OPEN:
                self.pending_owner[tid] = self.ghosts.owner[tid]
            else:
                self.pending_owner[tid] = -1
            request = self._delivering_request
            reply: tuple = ()  # type: ignore[type-arg]
            if request and self.model.tid_of[request[1]] == tid:
                transit = self.txn_log_records(name, durable=False)[-1]
                error = int(ErrorCode.NONE)
                if request[2] == L.API_INIT_PRODUCER_ID and state == _ONGOING:
                    error = int(ErrorCode.CONCURRENT_TRANSACTIONS)  # the fence
                reply = (request[1], request[2], error, transit.producer_epoch, request[5])
            self.pending_reply[tid] = reply

    # -- consumed messages
    def consumed(self, state: tuple, target: tuple) -> list[tuple]:  # type: ignore[type-arg]
        gone = Counter(state[L.S_NETWORK]) - Counter(target[L.S_NETWORK])
        return list(gone.elements())

    def envelope_for(self, message: tuple) -> Envelope | None:  # type: ignore[type-arg]
        for envelope in self.network:
            if message in envelope.abstract and not envelope.held:
                return envelope
        return None

    def _deliver_consumed(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        consumed = self.consumed(state, target)
        if not consumed:
            raise NotEnabled("the model step consumes no message")
        envelope = self.envelope_for(consumed[0])
        if envelope is None:
            return self._ahead_or_missing(consumed[0])
        if self._on_closed_connection(consumed[0]):
            self.network.remove(envelope)
            self._take_envelope(envelope, consumed[0])
            return "done"
        for message in envelope.abstract:
            if message[0] == L.M_PRODUCE:
                self._delivering_txn = self.model.records[
                    self.model.record_global[message[1]][message[6]]
                ][3]
            elif message[0] == L.M_COORDINATOR_REQUEST:
                self._delivering_txn = message[5]
                self._delivering_request = message
        self._deliver(envelope)
        self._take_envelope(envelope, consumed[0])
        return "done"

    def _on_closed_connection(self, message: tuple) -> bool:  # type: ignore[type-arg]
        """An answer to an earlier attempt of a Produce or TxnOffsetCommit: the producer's
        retry closed the connection it travels on (as Kafka's NetworkClient does on a request
        timeout), so it never reaches the producer. The reference has no connections: the
        driver drops it."""
        if message[0] != L.M_PRODUCE_RESPONSE:
            return False
        latest = self.latest_connection.get((message[1], message[5]), message[8])
        return latest != message[8]

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

    def _do_LoseMessage(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
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
    def _proc(self, name: str) -> int:
        return self.model.process_names.index(name)

    def _do_InitProducerId(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(args[0])].init_transactions()
        return "done"

    def _do_BeginTransaction(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(args[0])
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
        value = self.model.records[self.model.record_global[proc][rec]][4]
        producer.send(tp.topic, value, partition=tp.partition)
        batch = producer.books[tp].batches[-1]
        batch.next_attempt_ms = HOLD_MS
        self.batches[proc][rec] = batch

    def _do_Send(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(args[0])
        rec = int(args[1][1:])
        if args[2] == "TxnOffsetCommit":
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
        # the reference's transaction manager sends TxnOffsetCommit as soon as AddOffsetsToTxn
        # is acknowledged: the model's Send of the offset record is part of that step
        if self.offset_requests.get((proc, rec)):
            return "already"
        raise NotEnabled("the producer has not sent its TxnOffsetCommit")

    def _do_AddOffsetsToTxn(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(args[0])
        current = self.ghosts.current[proc]
        rec = self.model.txn_offset_record[proc][current]
        committed = self.model.records[self.model.record_global[proc][rec]][6]
        future = self.producers[proc].send_offsets_to_transaction(
            {INPUT: committed}, self.model.workload.group
        )
        self.offset_futures[(proc, rec)] = future
        return "done"

    def _do_FetchCommittedOffset(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        """OffsetFetch(requireStable) at start-up, as the application's consumer does."""
        proc = self._proc(args[0])
        request = OffsetFetchRequest(
            self.node.next_correlation_id(),
            self.model.workload.group,
            (INPUT,),
            require_stable=True,
        )
        responses = [o.message for o in self.node.receive(f"{args[0]}.consumer", request)]
        fetched = responses[0].offsets[0] if responses and responses[0].offsets else None
        if fetched is None or fetched.error_code is not ErrorCode.NONE:
            raise NotEnabled("the group's offsets are not stable (UNSTABLE_OFFSET_COMMIT)")
        self.ghosts.current[proc] = max(fetched.committed_offset, 0)
        return "done"

    def _do_CommitTransaction(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(args[0])].commit_transaction()
        return "done"

    def _do_AbortTransaction(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        self.producers[self._proc(args[0])].abort_transaction()
        return "done"

    def _do_CompleteLocalAbort(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        # the reference's transaction manager completes an abort with nothing to end at once
        return "already"

    def _do_CompleteTxnLogAppend(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
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

    def _do_RetryProduce(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        """A request timeout: the client gives up on the partition's in-flight requests and
        re-sends their batches (same epoch and sequence) on a new connection."""
        proc = self._proc(args[0])
        producer = self.producers[proc]
        tp = self.tps[self.model.partition_names.index(args[1])]
        stale = -producer.request_timeout_ms - 1
        book = producer.books.get(tp)
        batches = list(book.batches) if book else []
        for request in producer.in_flight.values():
            if request.batch is not None and request.batch.tp == tp:
                request.sent_at_ms = stale
            offsets = isinstance(request.message, TxnOffsetCommitRequest)
            if offsets and tp == OFFSETS_PARTITION:
                request.sent_at_ms = stale
        self.ghosts.used[L.F_RETRIES] += 1
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

    def _do_ExpireBatch(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        """delivery.timeout.ms: the reference expires a batch only once no request of it is in
        flight, so its in-flight request times out first (request.timeout.ms), then the batch."""
        proc = self._proc(args[0])
        producer = self.producers[proc]
        batch = self.batches[proc][int(args[1][1:])]
        if batch is None or batch.done:
            raise NotEnabled("no such batch in flight on the reference")
        for request in producer.in_flight.values():
            if request.batch is batch:
                request.sent_at_ms = -producer.request_timeout_ms - 1
        batch.created_ms = -producer.delivery_timeout_ms - 1
        self.ghosts.used[L.F_BATCH_TIMEOUTS] += 1
        producer.tick()
        return "done"

    def _do_ResendCoordinatorRequest(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        proc = self._proc(args[0])
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
    def _do_ResendTxnMarker(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        job = self.node.txn_coordinator.marker_jobs.get(args[0])
        if job is None:
            raise NotEnabled(f"the coordinator has no markers to send for {args[0]}")
        tp = self.tps[self.model.partition_names.index(args[1])]
        if tp not in job.remaining:
            return "already"
        job.sent_at_ms = -(10**12)
        self._post(NODE, self.node.tick())
        return "done"

    def _do_TimeoutTransaction(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        metadata = self.node.txn_coordinator.transactions.get(args[0])
        if metadata is None:
            raise NotEnabled(f"the coordinator has no transaction for {args[0]}")
        metadata.txn_start_timestamp = -metadata.txn_timeout_ms - 1
        self.ghosts.used[L.F_TXN_TIMEOUTS] += 1
        self._post(NODE, self.node.tick())
        return "done"

    def _do_CoordinatorFailover(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
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
        model's client re-sends (ResendCoordinatorRequest)."""
        for envelope in list(self.network):
            message = envelope.message
            if (
                envelope.source == NODE
                and envelope.destination in self.proc_of
                and getattr(message, "error_code", None) is ErrorCode.NOT_COORDINATOR
            ):
                self.network.remove(envelope)
                self.deposed_answers[self.proc_of[envelope.destination]] = envelope

    def _do_ExpireProducerState(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        if self.node.config.producer_state_expiry_ms is None:
            raise NotEnabled("producer-state expiry is off on this reference")
        tp = self.tps[self.model.partition_names.index(args[0])]
        ref_pid = self.reference_pid(int(args[1][3:]))
        if not self.node.expire_producer(tp, ref_pid):
            raise NotEnabled(f"the leader of {tp} cannot expire producer {ref_pid} now")
        self.ghosts.used[L.F_EXPIRIES] += 1
        return "done"

    # -- the consumer
    def _do_Fetch(self, state: tuple, args: list[str], target: tuple) -> str:  # type: ignore[type-arg]
        part = self.model.partition_names.index(args[0])
        consumer = self.consumers[part]
        self._deliver_now(consumer.client_id, consumer.poll_outbound())
        for record in consumer.poll():
            self.ghosts.delivered[part].append(record.offset)
        return "done"


__all__ = [
    "ConformanceWorld",
    "Envelope",
    "NotEnabled",
    "Unsupported",
    "broker_config",
    "producer_settings",
]
