"""Producer clients: the Sender draining the RecordAccumulator. A batch goes out (or a
re-enqueued one again), the in-flight batches of a partition are retried on a new connection
after a request timeout, and delivery.timeout.ms fails a batch.

Kafka: ``KafkaProducer.send``, ``Sender`` (``sendProducerData``, the retry after a request
timeout or disconnect), ``RecordAccumulator`` (``drain``, ``shouldStopDrainBatchesForPartition``,
``expiredBatches``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kafka_eos.protocol.sequence import NO_SEQUENCE

from .clients import client_step
from .codes import ABORTABLE_ERROR, IN_TRANSACTION, REQUEST_TIMED_OUT
from .layout import (
    B_FAILED,
    B_INFLIGHT,
    B_UNSENT,
    BT_EPOCH,
    BT_EXTRA,
    BT_SEQUENCE,
    BT_STATUS,
    C_ADDED,
    C_BATCHES,
    C_CURRENT,
    C_EPOCH,
    C_SEQUENCES,
    C_STATE,
    F_BATCH_TIMEOUTS,
    F_REQUEST_TIMEOUTS,
    F_RETRIES,
    M_KIND,
    M_PRODUCE,
    PR_CONNECTION,
    PR_PARTITION,
    PR_PROCESS,
    PR_RECORD,
    S_CLIENTS,
    S_NETWORK,
    Tup,
    replace,
)
from .params import IDEMPOTENT
from .registry import Action, ClientView, Step, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel


# ---------------------------------------------------------------------- Send
def may_send(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int]]:
    """An idempotent client's re-enqueued batches that head their partitions, then the next
    unsent batch in send order if it may go (see :func:`_may_send_new`)."""
    proc, client = view.proc, view.client
    kind = m.kinds[proc]
    if m.transactional[proc]:
        if client[C_STATE] != IN_TRANSACTION:
            return
        records = m.txn_records[proc][client[C_CURRENT]]
        yield from _re_enqueued_heads(m, proc, client)
    else:
        records = m.all_records[proc]
        if kind == IDEMPOTENT:
            yield from _re_enqueued_heads(m, proc, client)
        else:
            # without idempotence nothing keeps a partition's order: a re-enqueued batch goes
            # out again at once (no TransactionManager, so no shouldStopDrainBatchesForPartition)
            batches = client[C_BATCHES]
            for rec, batch in enumerate(batches):
                if batch[BT_STATUS] == B_INFLIGHT and batch[BT_EXTRA] < 0:
                    yield (rec,)
    batches = client[C_BATCHES]
    for rec in records:
        if batches[rec][BT_STATUS] == B_UNSENT:
            if _may_send_new(m, proc, client, rec):
                yield (rec,)
            return


def _re_enqueued_heads(m: KafkaEosModel, proc: int, client: Tup) -> Iterator[tuple[int]]:
    """Sender.drain of re-enqueued batches (in flight without an attempt outstanding): on each
    partition the retried batch with the lowest sequence goes out again once no batch with a
    lower sequence is in flight (RecordAccumulator.shouldStopDrainBatchesForPartition)."""
    batches = client[C_BATCHES]
    partitions = m.record_partition[proc]
    first: dict[int, int] = {}  # partition -> its in-flight batch with the lowest sequence
    for rec, batch in enumerate(batches):
        if batch[BT_STATUS] == B_INFLIGHT:
            part = partitions[rec]
            lowest = first.get(part)
            if lowest is None or batch[BT_SEQUENCE] < batches[lowest][BT_SEQUENCE]:
                first[part] = rec
    for rec in first.values():
        if batches[rec][BT_EXTRA] < 0:  # else its attempt is outstanding: the others wait behind it
            yield (rec,)


def _may_send_new(m: KafkaEosModel, proc: int, client: Tup, rec: int) -> bool:
    """A transactional batch's partition was added (under transaction version 1: under
    version 2 the leader adds it); an idempotent or transactional one does
    not overtake a re-enqueued batch (it is back at the head of the partition's queue), nor
    may an idempotent one go out while one is in flight under an older epoch (a new batch at
    sequence 0 could overtake it); fewer than max_in_flight batches are in flight to the
    partition."""
    part = m.record_partition[proc][rec]
    if m.transactional[proc] and not m.tv2 and not client[C_ADDED] >> part & 1:
        return False
    partitions = m.record_partition[proc]
    in_flight = 0
    for r, batch in enumerate(client[C_BATCHES]):
        if batch[BT_STATUS] == B_INFLIGHT and partitions[r] == part:
            in_flight += 1
            if batch[BT_EXTRA] < 0 and m.pid_of[proc] >= 0:
                return False
            if batch[BT_EPOCH] != client[C_EPOCH] and m.kinds[proc] == IDEMPOTENT:
                return False
    return in_flight < m.knobs.max_in_flight


def send(m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]) -> tuple[Step, Tup]:
    """KafkaProducer.send + Sender: a new batch goes out with the client's epoch and its
    partition's next sequence (TxnOffsetCommit: none), a re-enqueued one with its epoch and
    sequence as they stand (a bump may have rewritten them); on the connection that carries
    the current attempts of the partition's in-flight batches, which the batch records."""
    client = state[S_CLIENTS][proc]
    (rec,) = args
    part = m.record_partition[proc][rec]
    batches = client[C_BATCHES]
    sequences = client[C_SEQUENCES]
    connection = _current_connection(m, state, proc, part, batches)
    if batches[rec][BT_STATUS] == B_UNSENT:
        epoch = client[C_EPOCH]
        if m.pid_of[proc] < 0 or part == m.offsets_partition:
            seq = NO_SEQUENCE  # no idempotence, or a TxnOffsetCommit: no sequence numbers
        else:
            seq = sequences[part]
            sequences = replace(sequences, part, seq + 1)
        transactional = int(m.transactional[proc])
    else:  # re-enqueued after an error (as it stands: a KIP-360 bump may have rewritten it)
        _, epoch, seq, _ = batches[rec]
        transactional = int(m.transactional[proc])
    request = (M_PRODUCE, proc, part, m.pid_of[proc], epoch, seq, rec, transactional, connection)
    new_client = (
        *client[:C_BATCHES],
        replace(batches, rec, (B_INFLIGHT, epoch, seq, connection)),
        sequences,
        *client[C_ADDED:],
    )
    api = "TxnOffsetCommit" if part == m.offsets_partition else "Produce"
    step = Step(("Send", (m.process_names[proc], rec, m.partition_names[part], epoch, seq, api)))
    return step, client_step(state, proc, new_client, (request,))


def _show_send(args: tuple[Any, ...]) -> str:
    process, rec, partition, epoch, seq, api = args
    if api == "TxnOffsetCommit":
        return f"{process},r{rec},TxnOffsetCommit,e{epoch}"
    return f"{process},r{rec},{partition},e{epoch},s{seq}"


def _current_connection(m: KafkaEosModel, state: Tup, proc: int, part: int, batches: Tup) -> int:
    """The connection the producer uses for the partition: the one carrying the current
    attempts of its in-flight batches (so a new batch queues behind them, as on one TCP
    connection), or the newest one if none is in flight."""
    connection = -1
    for message in state[S_NETWORK]:
        if message[M_KIND] != M_PRODUCE:
            break  # the network is sorted: produce requests come first
        on = message[PR_CONNECTION]
        if message[PR_PROCESS] == proc and message[PR_PARTITION] == part and on > connection:
            batch = batches[message[PR_RECORD]]
            if batch[BT_STATUS] == B_INFLIGHT and batch[BT_EXTRA] == on:
                connection = on
    if connection < 0:
        connection = m.newest_connection(state)
    return connection


# ---------------------------------------------------------------- RetryProduce, TimeoutProduce
def may_retry(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Budget left; a partition with batches in flight. A transactional client retries only
    IN_TRANSACTION: in ABORTABLE_ERROR its re-enqueued batches wait for the abort, which
    fails them (a simplification, spec/SPEC.md §8)."""
    if view.retries:
        yield from _partitions_in_flight(m, view)


def may_time_out_produce(
    m: KafkaEosModel, view: ClientView
) -> Iterator[tuple[int, tuple[int, ...]]]:
    """Request-timeout budget left; a partition with batches in flight (a TxnOffsetCommit
    too); a transactional client only IN_TRANSACTION, as for a retry."""
    if view.request_timeouts:
        yield from _partitions_in_flight(m, view)


def _partitions_in_flight(
    m: KafkaEosModel, view: ClientView
) -> Iterator[tuple[int, tuple[int, ...]]]:
    proc, client = view.proc, view.client
    if m.transactional[proc] and client[C_STATE] != IN_TRANSACTION:
        return
    by_partition: dict[int, list[int]] = {}
    for rec, batch in enumerate(client[C_BATCHES]):
        if batch[BT_STATUS] == B_INFLIGHT:
            by_partition.setdefault(m.record_partition[proc][rec], []).append(rec)
    for part, records in by_partition.items():
        yield part, tuple(records)


def retry_produce(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int, tuple[int, ...]]
) -> tuple[Step, Tup]:
    """Sender retry after a request timeout or disconnect: a new connection, and every
    in-flight batch of the partition goes out again on it, in order, with the same epoch and
    sequence; the old requests may still be delivered, but their answers travel on the closed
    connection and are not read."""
    return _reconnect(m, state, proc, args, "RetryProduce", F_RETRIES)


def time_out_produce(
    m: KafkaEosModel, state: Tup, proc: int, args: tuple[int, tuple[int, ...]]
) -> tuple[Step, Tup]:
    """NetworkClient.handleTimedOutRequests: request.timeout.ms passed, the client closes the
    connection and every request on it completes as disconnected; Sender.completeBatch
    re-enqueues the batches (canRetry: an idempotent batch keeps its epoch and sequence,
    KIP-98) and they go out again, in order, on a new connection. A TxnOffsetCommit's
    handler re-enqueues it the same way (TxnRequestHandler.onComplete, disconnected). The
    first copies may still be delivered; their answers are never read."""
    return _reconnect(m, state, proc, args, "TimeoutProduce", F_REQUEST_TIMEOUTS)


def _reconnect(
    m: KafkaEosModel,
    state: Tup,
    proc: int,
    args: tuple[int, tuple[int, ...]],
    name: str,
    spent: int,
) -> tuple[Step, Tup]:
    """The partition's in-flight batches re-sent on a new connection, spending ``spent``."""
    client = state[S_CLIENTS][proc]
    part, records = args
    connection = m.newest_connection(state) + 1
    transactional = int(m.transactional[proc])
    batches = list(client[C_BATCHES])
    requests = []
    for rec in records:
        _, epoch, seq, _ = batches[rec]
        pid = m.pid_of[proc]
        requests.append((M_PRODUCE, proc, part, pid, epoch, seq, rec, transactional, connection))
        batches[rec] = (*batches[rec][:BT_EXTRA], connection)
    new_client = replace(client, C_BATCHES, tuple(batches))
    step = Step((name, (m.process_names[proc], m.partition_names[part], records)))
    return step, client_step(state, proc, new_client, tuple(requests), spent)


def _show_retry(args: tuple[Any, ...]) -> str:
    process, partition, records = args
    return f"{process},{partition}," + ",".join(f"r{r}" for r in records)


# ---------------------------------------------------------------------- ExpireBatch
def may_expire(m: KafkaEosModel, view: ClientView) -> Iterator[tuple[int]]:
    """Budget left; a transactional client IN_TRANSACTION or ABORTABLE_ERROR with a batch of
    its transaction in flight."""
    proc, client = view.proc, view.client
    if not view.batch_timeouts or not m.transactional[proc]:
        return
    if client[C_STATE] not in (IN_TRANSACTION, ABORTABLE_ERROR):
        return
    batches = client[C_BATCHES]
    for rec in m.txn_records[proc][client[C_CURRENT]]:
        if batches[rec][BT_STATUS] == B_INFLIGHT:
            yield (rec,)


def expire_batch(m: KafkaEosModel, state: Tup, proc: int, args: tuple[int]) -> tuple[Step, Tup]:
    """delivery.timeout.ms (RecordAccumulator.expiredBatches): the batch fails although its
    request may still be delivered, and the transaction must abort."""
    client = state[S_CLIENTS][proc]
    (rec,) = args
    _, epoch, seq, _ = client[C_BATCHES][rec]
    failed = replace(client[C_BATCHES], rec, (B_FAILED, epoch, seq, REQUEST_TIMED_OUT))
    new_client = (ABORTABLE_ERROR, *client[C_EPOCH:C_BATCHES], failed, *client[C_SEQUENCES:])
    step = Step(("ExpireBatch", (m.process_names[proc], rec)))
    return step, client_step(state, proc, new_client, (), F_BATCH_TIMEOUTS)


SENDER_ACTIONS = (
    Action(
        name="Send",
        touches=Touches(
            reads=("own", "previous", "budget:retries", "budget:batch_timeouts"),
            writes=("own", "inbox:partitions"),
        ),
        role="client",
        kafka="KafkaProducer.send, Sender draining RecordAccumulator",
        params=("process", "record", "partition", "epoch", "sequence", "request"),
        trigger="local",
        guard=may_send,
        effect=send,
        show=_show_send,
    ),
    Action(
        name="RetryProduce",
        touches=Touches(
            reads=(
                "own",
                "previous",
                "budget:retries",
                "budget:batch_timeouts",
                "inbox",
                "budget:losses",
                "budget:failovers",
            ),
            # a newer connection: answers on older ones no client reads are dropped
            writes=("own", "budget:retries", "inbox:partitions", "inbox:clients"),
        ),
        role="client",
        kafka="Sender (retry after a request timeout or disconnect)",
        params=("process", "partition", "records"),
        trigger="local",
        guard=may_retry,
        effect=retry_produce,
        budget="retries",
        show=_show_retry,
    ),
    Action(
        name="TimeoutProduce",
        role="client",
        kafka="NetworkClient.handleTimedOutRequests, Sender.completeBatch (reenqueueBatch)",
        params=("process", "partition", "records"),
        trigger="local",
        guard=may_time_out_produce,
        effect=time_out_produce,
        budget="request_timeouts",
        show=_show_retry,
    ),
    Action(
        name="ExpireBatch",
        touches=Touches(
            reads=(
                "own",
                "previous",
                "budget:retries",
                "budget:batch_timeouts",
                "inbox",
                "inbox:partitions",
            ),
            writes=("own", "budget:batch_timeouts", "inbox"),  # the failed batch's answer
        ),
        role="client",
        kafka="RecordAccumulator.expiredBatches (delivery.timeout.ms)",
        params=("process", "record"),
        trigger="local",
        guard=may_expire,
        effect=expire_batch,
        budget="batch_timeouts",
        show=lambda args: f"{args[0]},r{args[1]}",
    ),
)
