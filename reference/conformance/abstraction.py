"""The abstraction function: the reference's state as a model state (model/schema.py's tuple,
each component built by field name, so a field the schema gains cannot be left out here).

Every component is read from the reference's inspectable state (the broker's partition logs,
producer-state entries, aborted index, transaction metadata, marker jobs and
``__transaction_state`` log; each producer's transaction state, epoch, sequence books and
batches; the controlled network's envelopes), except the ghost variables the reference has no
field for, which the driver recorded as it went (:class:`.world.Ghosts`).

Identities are translated: the reference allocates producer ids, the model numbers them (a
transactional.id's producer id is its index); a record is identified by its value, which the
driver chose to be the model's record name; partitions ``t-i`` are topic ``t`` partition ``i``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model import schema as S
from kafka_eos.model.params import CTP, IDEMPOTENT, TRANSACTIONAL
from kafka_eos.model.unreadable import without_unreadable
from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.messages import ProduceRequest, TopicPartition, WriteTxnMarkersResponse
from kafka_eos.reference.node import OFFSETS_PARTITION
from kafka_eos.reference.producer import ProducerBatch

from .common import NODE
from .messages import produce_response
from .world import ConformanceWorld

_PREPARE = (int(TxnState.PREPARE_COMMIT), int(TxnState.PREPARE_ABORT))
_UNSENT = S.BATCH.make(status=L.B_UNSENT, epoch=-1, sequence=-1, extra=-1)


def abstract_state(world: ConformanceWorld) -> tuple:  # type: ignore[type-arg]
    model = world.model
    limits = model.budget_limits
    # the reference's broker still sends an answer on a connection its client closed; the
    # model drops every answer no client will read, so the abstraction does too
    return without_unreadable(model, S.STATE.make(
        producers=tuple(_client(world, proc) for proc in range(model.process_count)),
        partitions=tuple(_partition(world, part) for part in range(model.partition_count)),
        coordinator=_coordinator(world),
        network=tuple(sorted(m for e in world.network if not e.held for m in e.abstract)),
        consumer=_consumer(world),
        outcomes=tuple(world.ghosts.outcomes),
        budget=tuple(limit - used for limit, used in zip(limits, world.ghosts.used, strict=True)),
    ))


# ---------------------------------------------------------------------- producers
def _client(world: ConformanceWorld, proc: int) -> tuple:  # type: ignore[type-arg]
    model = world.model
    producer = world.producers[proc]
    transactional = model.kinds[proc] in (TRANSACTIONAL, CTP)
    if transactional:
        client_state = int(producer.txn_state)
        epoch = world.model_epoch(producer.producer_id, producer.producer_epoch)
    else:
        client_state = int(ClientState.READY)
        # the model's idempotent producer owns its producer id from the start (epoch 0); the
        # reference asks InitProducerId before its first batch
        epoch = -1 if model.pid_of[proc] < 0 else max(producer.producer_epoch, 0)
    batches = tuple(_batch(world, proc, rec) for rec in range(len(model.record_partition[proc])))
    sequences = tuple(
        producer.books[tp].next_sequence if tp in producer.books else 0 for tp in world.tps
    )
    added = sum(1 << world.part_of[tp] for tp in producer.partitions_in_txn)
    if world.offsets_added[proc]:
        added |= 1 << model.offsets_partition
    awaiting: tuple = ()  # type: ignore[type-arg]
    in_flight = world.requests.get((producer.client_id, producer.txn_in_flight or -1), ())
    if transactional and in_flight and in_flight[L.M_KIND] == L.M_COORDINATOR_REQUEST:
        awaiting = in_flight
    elif transactional:
        awaiting = _queued_request(world, proc)
    return S.CLIENT.make(
        state=client_state,
        epoch=epoch,
        current=world.ghosts.current[proc],
        batches=batches,
        next_sequence=sequences,
        added=added,
        awaiting=awaiting,
        generation=world.ghosts.generation[proc],
    )


def _queued_request(world: ConformanceWorld, proc: int) -> tuple:  # type: ignore[type-arg]
    """A coordinator request the transaction manager has queued but not sent (it re-sends
    after a timeout or a retriable error): the model's client is still awaiting its answer."""
    producer = world.producers[proc]
    if any(r.kind in ("init", "add_partitions", "add_offsets", "end") for r in producer.txn_queue):
        return world.last_coordinator_request.get(proc, ())
    return ()


def _offset_commit(world: ConformanceWorld, proc: int, rec: int) -> tuple:  # type: ignore[type-arg]
    """The offset record of a consume-transform-produce transaction: its TxnOffsetCommit."""
    attempts = world.offset_requests.get((proc, rec))
    if not attempts:
        return _UNSENT
    future = world.offset_futures.get((proc, rec))
    correlation_id, epoch = attempts[-1]
    if future is not None and future.done:
        if future.succeeded:
            # the transaction manager takes only its latest attempt's answer
            offset = world.offset_results.get((proc, correlation_id), -1)
            return S.BATCH.make(status=L.B_ACKED, epoch=epoch, sequence=-1, extra=offset)
        return S.BATCH.make(status=L.B_FAILED, epoch=epoch, sequence=-1, extra=int(future.error))
    connection = world.latest_connection[(proc, rec)]
    return S.BATCH.make(status=L.B_INFLIGHT, epoch=epoch, sequence=-1, extra=connection)


def _batch(world: ConformanceWorld, proc: int, rec: int) -> tuple:  # type: ignore[type-arg]
    if world.model.record_partition[proc][rec] == world.model.offsets_partition:
        return _offset_commit(world, proc, rec)
    batch = world.batches[proc][rec]
    if batch is None or not batch.attempts:
        return _UNSENT  # not handed to the producer yet, or never sent
    if batch.done:
        future = batch.futures[0]
        if future.succeeded:
            return _batch_of(world, batch, L.B_ACKED, future.value.offset)
        error = future.error if future.error is not None else ErrorCode.UNKNOWN_SERVER_ERROR
        return _batch_of(world, batch, L.B_FAILED, int(error))
    idempotent = world.model.pid_of[proc] >= 0
    if idempotent and batch.base_sequence < 0:
        return _UNSENT  # KIP-360 reset its sequence: it goes out again as a new batch
    connection = world.latest_connection[(proc, rec)]  # where its latest attempt travels
    re_enqueued = (idempotent and world.model.kinds[proc] == IDEMPOTENT) or batch.needs_send
    if batch.correlation_id is None and re_enqueued:
        connection = -1  # re-enqueued after an error: no attempt outstanding
    return _batch_of(world, batch, L.B_INFLIGHT, connection)


def _batch_of(world: ConformanceWorld, batch: ProducerBatch, status: int, extra: int) -> tuple:  # type: ignore[type-arg]
    epoch = world.model_epoch(batch.producer_id, batch.producer_epoch)
    return S.BATCH.make(status=status, epoch=epoch, sequence=batch.base_sequence, extra=extra)


# ---------------------------------------------------------------------- partitions
def _partition(world: ConformanceWorld, part: int) -> tuple:  # type: ignore[type-arg]
    model = world.model
    partition = world.node.partitions[world.tps[part]]
    log = _entries(world, part, partition.log.batches)
    producers: list[tuple[Any, ...]] = []
    for model_pid in range(model.pid_count):
        ref_pid = world.reference_pid(model_pid)
        entry = partition.producers.entries.get(ref_pid)
        if entry is None:
            producers.append(())
            continue
        first = entry.current_txn_first_offset
        producers.append(
            S.PRODUCER_ENTRY.make(
                epoch=world.model_epoch(ref_pid, entry.producer_epoch),
                coordinator_epoch=entry.coordinator_epoch,
                batches=tuple(entry.cached_ranges()),
                current_txn_first_offset=-1 if first is None else first,
            )
        )
    aborted = tuple(
        (world.model_pid(a.producer_id), a.first_offset, a.last_offset)
        for a in partition.log.aborted
    )
    verification: list[tuple[int, int] | tuple[()]] = []
    for model_pid in range(model.pid_count):
        ref_pid = world.reference_pid(model_pid)
        guard = partition.producers.verification_guards.get(ref_pid)
        verification.append(
            ()
            if guard is None
            else (world.model_guard(part, guard.guard), world.model_epoch(ref_pid, guard.epoch))
        )
    return S.PARTITION.make(
        log=log,
        producer_state=tuple(producers),
        aborted_index=aborted,
        replication=_replication(world, part),
        verification=tuple(verification),
    )


def _replication(world: ConformanceWorld, part: int) -> tuple:  # type: ignore[type-arg]
    """The model's replica ``r`` is the cluster's broker ``r`` of the assignment; a
    single-replica partition has no replication component (())."""
    replica_set = world.node.replica_sets.get(world.tps[part])
    if replica_set is None:
        return ()
    brokers = replica_set.assignment
    replicas = [replica_set.replicas[broker] for broker in brokers]
    return S.REPLICATION.make(
        leader=brokers.index(replica_set.leader),
        leader_epoch=replica_set.leader_epoch,
        isr=sum(1 << index for index, broker in enumerate(brokers) if broker in replica_set.isr),
        high_watermark=replica_set.high_watermark,
        follower_log_ends=tuple(replica_set.follower_ends[broker] for broker in brokers),
        epoch_caches=tuple(replica.epoch_cache for replica in replicas),
        follower_logs=tuple(
            ()
            if replica.broker == replica_set.leader
            else _entries(world, part, replica.partition.log.batches)
            for replica in replicas
        ),
        waiting_answers=tuple(sorted(_waiting(world, part))),
        follower_high_watermarks=tuple(
            -1 if replica.broker == replica_set.leader else replica.partition.high_watermark
            for replica in replicas
        ),
    )


def _waiting(world: ConformanceWorld, part: int) -> Iterable[tuple]:  # type: ignore[type-arg]
    """The produce purgatory: (offset the high watermark must pass, answer, request)."""
    for offset, request in world.node.waiting(world.tps[part]):
        if isinstance(request, ProduceRequest):
            for client, proc in world.proc_of.items():
                produce = world.requests.get((client, request.correlation_id))
                if (
                    produce is not None
                    and produce[L.M_KIND] == L.M_PRODUCE
                    and produce[L.PR_PROCESS] == proc
                    and produce[L.PR_PARTITION] == part
                ):
                    answer = produce_response(
                        produce, int(ErrorCode.NONE), offset - request.record_count + 1
                    )
                    yield offset + 1, answer, produce
        elif isinstance(request, WriteTxnMarkersResponse):
            sent = world.requests.get((NODE, request.correlation_id), ())
            for marker in sent:
                if marker[L.MK_PARTITION] == part:
                    answer = S.MARKER_RESPONSE.make(
                        partition=part,
                        transactional_id=marker[L.MK_TID],
                        coordinator_epoch=marker[L.MK_COORDINATOR_EPOCH],
                        epoch=marker[L.MK_EPOCH],
                        commit=marker[L.MK_COMMIT],
                        error=int(ErrorCode.NONE),
                    )
                    yield offset + 1, answer, marker


def _entries(world: ConformanceWorld, part: int, batches: Iterable[Any]) -> tuple:  # type: ignore[type-arg]
    """A log's batches as the model's entries."""
    log: list[tuple[Any, ...]] = []
    for batch in batches:
        pid = world.model_pid(batch.producer_id)
        if batch.is_control:
            log.append(
                S.CONTROL_ENTRY.make(
                    type=L.ENTRY_CONTROL,
                    producer_id=pid,
                    producer_epoch=world.model_epoch(batch.producer_id, batch.producer_epoch),
                    commit=int(batch.is_commit),
                    coordinator_epoch=batch.coordinator_epoch,
                )
            )
            continue
        if world.tps[part] == OFFSETS_PARTITION:
            record = world.offset_batch_record.get(batch.base_offset, -1)
        else:
            record = world.record_of[batch.records[0]]
        log.append(
            S.DATA_ENTRY.make(
                type=L.ENTRY_DATA,
                producer_id=pid,
                producer_epoch=world.model_epoch(batch.producer_id, batch.producer_epoch),
                base_sequence=batch.base_sequence,
                record=record,
                transactional=int(batch.is_transactional),
            )
        )
    return tuple(log)


# ---------------------------------------------------------------------- coordinator
def _coordinator(world: ConformanceWorld) -> tuple:  # type: ignore[type-arg]
    coordinator = world.node.txn_coordinator
    ghosts = world.ghosts
    metadata = []
    txn_log: list[tuple[Any, ...]] = []
    for tid, name in enumerate(world.model.transactional_ids):
        entry = coordinator.transactions.get(name)
        records = world.txn_log_records(name)
        if entry is None:
            metadata.append(L.NO_METADATA_ENTRY)
        else:
            state = int(entry.state)
            epoch = world.model_epoch(entry.producer_id, entry.producer_epoch)
            partitions = _mask(world, entry.partitions)
            last_epoch = _last_epoch(world, entry)
            if not records:
                # created by its first InitProducerId, not yet written: the model's coordinator
                # has no metadata until that record is durable
                state, epoch, partitions, last_epoch = L.NO_METADATA, -1, 0, -1
            acks = 0
            if state in _PREPARE:
                acks = ghosts.acked_markers[tid] | ghosts.fenced_markers[tid] << L.FAILED_SHIFT
            pending: tuple = ()  # type: ignore[type-arg]
            if entry.pending_state is not None:
                # the transition being written: the last record of the transaction log
                transit = world.txn_log_records(name, durable=False)[-1]
                pending = S.PENDING.make(
                    state=int(transit.state),
                    epoch=world.model_epoch(transit.producer_id, transit.producer_epoch),
                    partitions=_mask(world, transit.partitions),
                    owner=world.pending_owner[tid],
                    reply=world.pending_reply[tid],
                    last_producer_epoch=_last_epoch(world, transit),
                )
            owner = ghosts.owner[tid]
            metadata.append(
                S.METADATA.make(
                    state=state,
                    epoch=epoch,
                    partitions=partitions,
                    transaction=owner,
                    markers_acknowledged=acks,
                    pending=pending,
                    last_producer_epoch=last_epoch,
                )
            )
        records = world.txn_log_records(name)
        if not records:
            txn_log.append(())
        else:
            last = records[-1]
            txn_log.append(
                S.TXN_LOG_RECORD.make(
                    state=int(last.state),
                    epoch=world.model_epoch(last.producer_id, last.producer_epoch),
                    partitions=_mask(world, last.partitions),
                    owner=ghosts.log_owner[tid],
                    last_producer_epoch=_last_epoch(world, last),
                )
            )
    return S.COORDINATOR.make(
        coordinator_epoch=coordinator.coordinator_epoch,
        transactions=tuple(metadata),
        transaction_state_log=tuple(txn_log),
    )


def _last_epoch(world: ConformanceWorld, metadata: Any) -> int:
    """lastProducerEpoch as the model's epoch value: the epoch a KIP-360 bump bumped, of the
    previous producer id when that bump rotated it (the only way to epoch 0 with a
    lastProducerEpoch), else of the current one."""
    last = metadata.last_producer_epoch
    rotated = metadata.producer_epoch == 0 and metadata.previous_producer_id >= 0
    return world.model_epoch(
        metadata.previous_producer_id if rotated else metadata.producer_id, last
    )


def _mask(world: ConformanceWorld, partitions: Iterable[TopicPartition]) -> int:
    return sum(1 << world.part_of[tp] for tp in partitions)


# ---------------------------------------------------------------------- consumer
def _consumer(world: ConformanceWorld) -> tuple:  # type: ignore[type-arg]
    if not world.consumers:
        return ()
    out = []
    for part, consumer in enumerate(world.consumers):
        position = consumer.position(world.tps[part]) or 0
        delivered = tuple(world.ghosts.delivered[part])
        out.append(S.CONSUMER_PARTITION.make(position=position, delivered=delivered))
    return tuple(out)
