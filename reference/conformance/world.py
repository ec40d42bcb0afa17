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
ListOffsets, Fetch) are *internal*: the driver
delivers them at once, so they are part of the step that caused them.

Ghost variables the model keeps and the reference has no field for (which transaction a
coordinator entry belongs to, the decided outcome of each transaction, the remaining fault
budget, the connection a produce request travels on, the offsets a consumer delivered) are
recorded in :attr:`ConformanceWorld.ghosts` as the driver goes; :mod:`.abstraction` reads them.

The driver is split by concern: :mod:`.common` sets the reference up like the model's
configuration (the mapping of the model's knobs onto the reference is described there),
:mod:`.messages` maps the reference's messages onto the model's, and :mod:`.actions` holds what
each model action does on the reference; this module holds the world, its controlled network,
and the ghost bookkeeping after every step.

Replication: with the workload's ``replicas`` above 1 the node simulates that many brokers
(the model's replica ``r`` is ``broker-r``) and every data partition has a replica on each:
their followers fetch, the ISR shrinks and leaders fail over only when the model's
FollowerFetch, ShrinkIsr and LeaderFailover say so. By default (``deferred=True``) the broker
runs with deferred replication. After every step the driver lets followers catch up on every
unreplicated partition except ``__transaction_state``, whose writes stay pending (the
coordinator answers CONCURRENT_TRANSACTIONS meanwhile) until the model's
``CompleteTxnLogAppend``: the model's pending transition is the record above that partition's
high watermark, its durable log the records below it. The one answer the reference gives
before the write it belongs to is durable (CONCURRENT_TRANSACTIONS to the InitProducerId that
fences an open transaction) is held in the network until then. A marker whose wait for the
high watermark ends with an error (a failover, the ISR below min.insync.replicas) is sent
again in the model's step (the answer and the coordinator's retry in one): the driver
delivers the answer to the coordinator and makes its marker retry due at once. A
LeaderFailover ending ``,restarted`` also restarts the old leader's broker
(``BrokerNode.lose_held_requests``).

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
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model import schema as S
from kafka_eos.model.actions import BY_NAME
from kafka_eos.model.client_responses import reads_answer
from kafka_eos.model.codes import CONCURRENT, NONE, RESTARTED
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.markers import answer_awaited
from kafka_eos.model.params import CTP
from kafka_eos.model.registry import Step
from kafka_eos.model.tables import REC_VALUE
from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.messages import (
    AddOffsetsToTxnResponse,
    InitProducerIdResponse,
    TopicPartition,
    WriteTxnMarkersResponse,
)
from kafka_eos.reference.node import OFFSETS_PARTITION, BrokerNode, Outbound
from kafka_eos.reference.producer import KafkaProducer, ProducerBatch

from .actions import ActionHandlers
from .common import (
    HOLD_MS,
    INPUT_TOPIC,
    NODE,
    TOPIC,
    Envelope,
    Ghosts,
    NotEnabled,
    Unsupported,
    broker_config,
    producer_settings,
)
from .messages import MessageMapping

_ONGOING, _PC, _PA = (
    int(TxnState.ONGOING),
    int(TxnState.PREPARE_COMMIT),
    int(TxnState.PREPARE_ABORT),
)
_OPEN = (_ONGOING, _PC, _PA)
#: A marker answer that makes the coordinator give up the transaction's markers.
_MARKER_FENCING_ERRORS = (
    ErrorCode.INVALID_PRODUCER_EPOCH,
    ErrorCode.TRANSACTION_COORDINATOR_FENCED,
)


class ConformanceWorld(MessageMapping, ActionHandlers):
    """``deferred=True`` runs the broker with deferred replication: a transaction-log write
    stays pending (the coordinator answers CONCURRENT_TRANSACTIONS meanwhile) until the
    driver performs the model's CompleteTxnLogAppend; data partitions are replicated at the
    end of every step. ``deferred=False`` replicates everything at once: the coordinator
    completes a transition with the request that started it."""

    def __init__(self, model: KafkaEosModel, *, deferred: bool = True) -> None:
        self.deferred = deferred
        self.model = model
        self.clock = VirtualClock()
        if model.workload.replicas > 1 and not deferred:
            raise Unsupported("replicated partitions replicate when the model says: deferred")
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
        self.record_of = {record[REC_VALUE]: g for g, record in enumerate(model.records)}
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
        # every producer id a transactional.id has had -> (transactional.id, generation): 0
        # for one given to a new transactional.id, one more than its previousProducerId's for
        # a rotated one (model/producer_ids.py)
        self.generations: dict[int, tuple[int, int]] = {}
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
            generation=[-1] * model.process_count,
        )
        self._delivering_txn = -1
        self._delivering_request: tuple = ()  # type: ignore[type-arg]
        self._delivering_produce: tuple = ()  # type: ignore[type-arg]
        self._delivering_verify: tuple = ()  # type: ignore[type-arg]
        self.guard_numbers: dict[int, int] = {}
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
        if name in self.node.broker_ids:
            return self.node
        if name.startswith("consumer-"):
            return self.consumers[int(name.split("-")[1])]
        return self.producers[self.proc_of[name]]

    def tid_index(self, name: str) -> int:
        return self.model.transactional_ids.index(name)

    def _generation(self, ref_pid: int) -> tuple[int, int]:
        """(transactional.id, generation) of a reference producer id; (-1, 0): none's."""
        if ref_pid not in self.generations:
            self._note_producer_ids()
        return self.generations.get(ref_pid, (-1, 0))

    def _note_producer_ids(self) -> None:
        """Record the generation of every producer id the coordinator holds, pending or in
        its log: a transition whose previousProducerId is set was written by a rotation, and
        one whose nextProducerId is set will rotate to it."""
        coordinator = self.node.txn_coordinator
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = coordinator.transactions.get(name)
            holders: list[Any] = list(self.txn_log_records(name, durable=False))
            if metadata is not None:
                holders.append(metadata)
            for holder in holders:
                pid, previous = holder.producer_id, holder.previous_producer_id
                if pid >= 0 and pid not in self.generations:
                    generation = (
                        self.generations.get(previous, (tid, 0))[1] + 1 if previous >= 0 else 0
                    )
                    self.generations[pid] = (tid, generation)
                # a transaction-version-2 decision names the producer id it rotates to
                rotated_to = holder.next_producer_id
                if rotated_to >= 0 and rotated_to not in self.generations:
                    self.generations[rotated_to] = (tid, self.generations[pid][1] + 1)

    def model_epoch(self, ref_pid: int, epoch: int) -> int:
        """The model's epoch value of a reference (producer id, epoch): a transactional.id's
        producer-id generation folded in (model/producer_ids.py); other epochs as they are."""
        if ref_pid < 0 or epoch < 0:
            return epoch
        _, generation = self._generation(ref_pid)
        return generation * (self.model.epochs.max_epoch + 1) + epoch

    def model_pid(self, ref_pid: int) -> int:
        """The model's producer id (producer-state slot) of a reference producer id (-1: none
        / unknown); a transactional.id's rotated producer ids have slots of their own."""
        if ref_pid < 0:
            return -1
        tid, generation = self._generation(ref_pid)
        if tid >= 0:
            return self.model.epochs.slot(tid, generation * (self.model.epochs.max_epoch + 1))
        for proc, producer in enumerate(self.producers):
            if producer.transactional_id is None and producer.producer_id == ref_pid:
                return self.model.pid_of[proc]
        return -1

    def reference_pid(self, model_pid: int) -> int:
        tid = self.model.pid_tid[model_pid]
        if tid >= 0:
            epochs = self.model.epochs
            generation = 0
            if model_pid >= epochs.first_rotated_slot:
                generation = (model_pid - epochs.first_rotated_slot) // epochs.tid_count + 1
            self._note_producer_ids()
            # the latest producer id of that generation (one whose first write a failover
            # lost was given again, as a new one)
            ids = [pid for pid, at in self.generations.items() if at == (tid, generation)]
            return max(ids, default=-1)
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
        if envelope.destination in self.node.broker_ids:
            jobs = set(self.node.txn_coordinator.marker_jobs)
            self._post(NODE, endpoint.receive(envelope.source, envelope.message))
            if isinstance(envelope.message, WriteTxnMarkersResponse):
                self._note_given_up_markers(envelope.message, jobs)
        else:
            message = envelope.message
            if (
                isinstance(message, AddOffsetsToTxnResponse)
                and message.error_code is ErrorCode.NONE
                and endpoint.txn_in_flight == message.correlation_id
            ):
                self.offsets_added[self.proc_of[envelope.destination]] = True
            endpoint.receive(envelope.source, message)

    def _note_given_up_markers(self, response: WriteTxnMarkersResponse, jobs: set[str]) -> None:
        """The model's marker_acks ghost of a refused marker: the coordinator dropped a job
        still in Prepare* (removeMarkersForTxnId), so the partitions answered with a fencing
        error are the ones given up on."""
        coordinator = self.node.txn_coordinator
        for name in jobs - set(coordinator.marker_jobs):
            metadata = coordinator.transactions.get(name)
            if metadata is None or metadata.state not in (_PC, _PA) or metadata.pending_state:
                continue  # completed, or completing: not given up
            tid = self.model.transactional_ids.index(name)
            for marker in response.markers:
                for result in marker.results:
                    if result.error_code in _MARKER_FENCING_ERRORS:
                        tp = TopicPartition(result.topic, result.partition)
                        self.ghosts.fenced_markers[tid] |= 1 << self.part_of[tp]

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
            if tp == TXN_STATE_PARTITION or tp in self.node.replica_sets:
                continue  # (replicas fetch when the model's FollowerFetch says)
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

    # ------------------------------------------------------------------ ghost bookkeeping
    def _coordinator_snapshot(self) -> list[tuple[int, int]]:
        out = []
        for name in self.model.transactional_ids:
            metadata = self.node.txn_coordinator.transactions.get(name)
            if metadata is None:
                out.append((-1, -1))
                continue
            epoch = self.model_epoch(metadata.producer_id, metadata.producer_epoch)
            out.append((int(metadata.state), epoch))
        return out

    def _observe_coordinator(self, before: list[tuple[int, int]] | None) -> None:
        ghosts = self.ghosts
        coordinator = self.node.txn_coordinator
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = coordinator.transactions.get(name)
            state = int(metadata.state) if metadata is not None else -1
            previous = before[tid][0] if before else -1
            if state in _OPEN and previous not in _OPEN:  # (a TV2 empty abort: Prepare*)
                ghosts.owner[tid] = (
                    self.pending_owner[tid] if self.deferred else self._delivering_txn
                )
            elif state not in _OPEN:
                ghosts.owner[tid] = -1
            elif metadata is not None and state == _ONGOING and metadata.pending_state is None:
                if self.deferred and self._pending_before[tid]:
                    ghosts.owner[tid] = self.pending_owner[tid]  # its write just completed
                elif self._takes_over(tid, metadata):
                    ghosts.owner[tid] = self._delivering_txn
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
                elif job is not None and metadata is not None:
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
    def perform(self, state: tuple, label: Step, target: tuple) -> str:  # type: ignore[type-arg]
        """Do on the reference what the model transition ``state --label--> target`` does.

        Returns ``"done"`` or ``"already"`` (the reference did this step as part of an
        earlier one, e.g. CompleteTxnLogAppend, which it does with the request that caused
        it). Raises :class:`Unsupported` or :class:`NotEnabled`.
        """
        name = label.name
        handler = getattr(self, f"_do_{name}", None)
        if handler is None and name in BY_NAME and BY_NAME[name].trigger == "message":
            handler = self._deliver_consumed  # a message delivered: the reference handles it
        if handler is None:
            raise Unsupported(f"{name} has no counterpart in the reference driver")
        before_clients = [int(p.txn_state) for p in self.producers]
        before_coordinator = self._coordinator_snapshot()
        self._delivering_txn = -1
        self._delivering_request = ()
        self._delivering_produce = ()
        self._delivering_verify = ()
        before_pending = self._pending_states()
        self._pending_before = before_pending
        before_targets = self._pending_targets()
        outcome: str = handler(state, label, target)
        if outcome == "done":
            self.settle()
            self._read_answers_at_once(state, target)
            self._drop_unawaited_marker_answers(target)
        self._observe_clients(before_clients)
        # (the owner of a write completed in this step before that of one it starts:
        # transaction version 2's empty abort writes its Complete* at once)
        self._observe_coordinator(before_coordinator)
        self._observe_pending(before_targets)
        return outcome

    def _read_answers_at_once(self, state: tuple, target: tuple) -> None:  # type: ignore[type-arg]
        """Answers the model reads in the step that makes them, delivered now on the reference
        too: a CONCURRENT_TRANSACTIONS answer to a client's outstanding request
        (model/concurrent_answers.py: the client re-sends the request), and the coordinator's
        error answer to a leader's verification (model/verification.py: the leader answers the
        held Produce with it)."""
        for envelope in list(self.network):
            if envelope.held or envelope not in self.network:
                continue
            if any(self._read_at_once(state, target, message) for message in envelope.abstract):
                self._deliver(envelope)
                self.settle()

    def _drop_unawaited_marker_answers(self, target: tuple) -> None:  # type: ignore[type-arg]
        """A marker answer the coordinator no longer awaits is one it never reads: its
        request's connection was closed (TimeoutTxnMarker), or it answers a transaction
        already complete (model/unreadable.py drops it for ever). The reference's coordinator
        ignores it by correlation id; delivered now, it cannot later pass in the abstraction
        for the answer to an identical marker (the next transaction's, at the same epoch under
        transaction version 1)."""
        for envelope in list(self.network):
            if envelope.held or envelope not in self.network or len(envelope.abstract) != 1:
                continue
            (message,) = envelope.abstract
            if message[L.M_KIND] == L.M_MARKER_RESPONSE and not answer_awaited(target, message):
                self._deliver(envelope)
                self.settle()

    def _read_at_once(self, state: tuple, target: tuple, message: tuple) -> bool:  # type: ignore[type-arg]
        if message[L.M_KIND] == L.M_VERIFY_RESPONSE:
            return bool(message[L.VR_ERROR] != NONE)
        if message[L.M_KIND] != L.M_COORDINATOR_RESPONSE or message[L.CR_ERROR] != CONCURRENT:
            return False
        client = state[L.S_CLIENTS][message[L.CR_PROCESS]]
        return reads_answer(client, message) and message not in target[L.S_NETWORK]

    def _takes_over(self, tid: int, metadata: Any) -> bool:
        """The model's owner ghost: an add (a client's Add*, or a transaction-version-2
        leader's) of a later transaction of the same epoch handled while the coordinator's
        transaction is Ongoing (opened by a late copy of an earlier transaction's request)
        makes that later transaction its owner."""
        adding = self._delivering_add()
        return bool(
            adding
            and adding[0] == tid
            and adding[1] == self.model_epoch(metadata.producer_id, metadata.producer_epoch)
            and self._delivering_txn > self.ghosts.owner[tid]
        )

    def _delivering_add(self) -> tuple[int, int] | None:
        """(transactional.id, epoch) of the add being delivered: a client's AddPartitionsToTxn
        or AddOffsetsToTxn, or a leader's add (transaction version 2); None if none is."""
        request, verify = self._delivering_request, self._delivering_verify
        if request and request[L.CQ_API] in (L.API_ADD_PARTITIONS, L.API_ADD_OFFSETS):
            return self.model.tid_of[request[L.CQ_PROCESS]], request[L.CQ_EPOCH]
        if verify and verify[L.VQ_ADD]:
            return self.model.pid_tid[verify[L.VQ_PID]], verify[L.VQ_EPOCH]
        return None

    def _pending_states(self) -> list[bool]:
        coordinator = self.node.txn_coordinator
        return [
            (m := coordinator.transactions.get(name)) is not None and m.pending_state is not None
            for name in self.model.transactional_ids
        ]

    def _pending_targets(self) -> list[TxnState | None]:
        """The state each transactional.id's pending transition goes to (None: none)."""
        coordinator = self.node.txn_coordinator
        return [
            m.pending_state if (m := coordinator.transactions.get(name)) is not None else None
            for name in self.model.transactional_ids
        ]

    def _observe_pending(self, before: list[TxnState | None]) -> None:
        """A transition newly pending: whose transaction it carries, and the answer owed. (A
        transition may follow another in one step: transaction version 2's empty abort
        writes its Complete* as soon as its Prepare* is durable.)"""
        coordinator = self.node.txn_coordinator
        for tid, name in enumerate(self.model.transactional_ids):
            metadata = coordinator.transactions.get(name)
            if metadata is None or metadata.pending_state in (None, before[tid]):
                continue
            target = int(metadata.pending_state)
            state = int(metadata.state)
            # a transaction opened (Ongoing, or transaction version 2's empty abort) or taken over
            opens = target in _OPEN and state not in _OPEN
            if opens or (target == _ONGOING and self._takes_over(tid, metadata)):
                self.pending_owner[tid] = self._delivering_txn
            elif target in _OPEN:
                self.pending_owner[tid] = self.ghosts.owner[tid]
            else:
                self.pending_owner[tid] = -1
            self.pending_reply[tid] = self._reply_owed(tid, name, state)

    def _reply_owed(self, tid: int, name: str, state: int) -> tuple:  # type: ignore[type-arg]
        """The answer the model's pending transition of ``tid`` owes: the CoordinatorResponse
        to the request being delivered, or the VerifyPartitionResponse to the leader whose
        add (transaction version 2) is being delivered; () for none (the coordinator's own
        transition)."""
        verify = self._delivering_verify
        if verify and verify[L.VQ_ADD] and self.model.pid_tid[verify[L.VQ_PID]] == tid:
            if verify[L.VQ_DEPOSED] == RESTARTED:
                return ()  # its broker restarted since it asked: no answer is owed
            values = S.VERIFY.named(verify)
            del values["kind"], values["add"]
            return S.VERIFY_RESPONSE.make(**values, error=int(ErrorCode.NONE))
        request = self._delivering_request
        reply: tuple = ()  # type: ignore[type-arg]
        if request and self.model.tid_of[request[L.CQ_PROCESS]] == tid:
            transit = self.txn_log_records(name, durable=False)[-1]
            error = int(ErrorCode.NONE)
            api = request[L.CQ_API]
            if api == L.API_INIT_PRODUCER_ID and state == _ONGOING:
                error = int(ErrorCode.CONCURRENT_TRANSACTIONS)  # the fence
            # an EndTxn is answered with what the transaction completes under
            pid, epoch = (
                transit.answered_identity()
                if api == L.API_END_TXN
                else (transit.producer_id, transit.producer_epoch)
            )
            reply = S.COORDINATOR_RESPONSE.make(
                process=request[L.CQ_PROCESS],
                api=api,
                error=error,
                epoch=self.model_epoch(pid, epoch),
                transaction=request[L.CQ_TRANSACTION],
                connection=request[L.CQ_CONNECTION],
            )
        return reply


__all__ = [
    "ConformanceWorld",
    "Envelope",
    "NotEnabled",
    "Unsupported",
    "broker_config",
    "producer_settings",
]
