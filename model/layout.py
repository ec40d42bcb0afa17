"""The model state's layout: positions in the state tuple, codes, message shapes.

A model state is a plain tuple of seven components (tuples of small ints all the way down, so it
hashes fast and is immutable)::

    state = (clients, partitions, coordinator, network, consumer, outcomes, budget)

``clients`` — one tuple per producer process (ProducerSpec), ``C_*`` positions::

    (client_state, epoch, current, batches, next_sequences, added, awaiting)

    client_state    protocol.client_states.ClientState (TransactionManager.State)
    epoch           the producer epoch the client uses (-1 before InitProducerId)
    current         transactional: index of the current (or next) transaction;
                    ctp: the input offset being processed (-1 = not fetched yet)
    batches         one (status, epoch, sequence, extra) per record of the process's
                    workload, in send order; status is one of B_*; extra is the offset
                    (acked), the error (failed), the connection of the latest attempt (in
                    flight: only that attempt's answer counts; -1 while an idempotent
                    batch is re-enqueued after an error, to go out again) or -1 (unsent)
    next_sequences  one next sequence number per partition (RecordAccumulator's sequence)
    added           bitmask of partitions the coordinator acknowledged in this transaction
    awaiting        the outstanding coordinator request (a network message) or ()

``partitions`` — one tuple per partition (data partitions, then __consumer_offsets if a CTP
application runs), ``P_*`` positions::

    (log, producer_state, aborted)

    log             tuple of log entries, the offset is the index; a data entry is
                    (ENTRY_DATA, pid, epoch, sequence, record, transactional) and a control
                    entry (ENTRY_CONTROL, pid, epoch, commit, coordinator_epoch)
    producer_state  one ProducerStateEntry per producer id, or () when the leader has none:
                    (epoch, coordinator_epoch, batches, txn_first_offset) where batches holds
                    the last batch_cache_size (first_seq, last_seq, last_offset)
    aborted         the aborted-transaction index: (pid, first_offset, last_offset) entries

``coordinator`` — ``(coordinator_epoch, metadata, txn_log)``: ``metadata`` has one
``(state, epoch, partitions, owner, marker_acks, pending)`` per transactional.id (TxnState,
``state == -1`` before the first InitProducerId); ``pending`` is ``()`` or the transition being
written to ``__transaction_state``: ``(state, epoch, partitions, owner, reply)``. ``txn_log``
holds the last durable record per transactional.id (``()`` or ``(state, epoch, partitions,
owner)``), which a new coordinator reloads. ``owner`` is a ghost: the global index of the
transaction the coordinator's open transaction belongs to (-1: none).

``network`` — a sorted tuple (a multiset) of in-flight messages; any one may be delivered next,
which models delay and reordering across connections. Shapes (first element the M_* kind)::

    (M_PRODUCE, process, partition, pid, epoch, sequence, record, transactional, connection)
    (M_PRODUCE_RESPONSE, process, partition, epoch, sequence, record, error, offset, connection)
    (M_COORDINATOR_REQUEST, process, api, epoch, argument, transaction)
    (M_COORDINATOR_RESPONSE, process, api, error, epoch, transaction)
    (M_MARKER, partition, transactional_id, coordinator_epoch, epoch, commit)
    (M_MARKER_RESPONSE, partition, transactional_id, coordinator_epoch, error)

``connection`` numbers the client's connections (each retry opens a new one): requests of one
(process, partition, connection) are delivered in send order, different connections interleave.
A response travels on its request's connection.
``record`` in a produce message is the process-local record index; in a log entry it is the
global record index (Workload order).

``consumer`` — one ``(position, delivered_offsets)`` per data partition (``()`` without a
consumer). ``outcomes`` — one code per transaction of the workload (O_*), set when the
coordinator durably decides it (a ghost variable for the properties). ``budget`` — remaining
fault budget, ``F_*`` positions.
"""

from __future__ import annotations

from typing import Any

#: A state or any component of one: tuples of small ints all the way down.
Tup = tuple[Any, ...]
# state components
S_CLIENTS, S_PARTITIONS, S_COORDINATOR, S_NETWORK, S_CONSUMER, S_OUTCOMES, S_BUDGET = range(7)
STATE_VARIABLES = (
    "producers",
    "partitions",
    "coordinator",
    "network",
    "consumer",
    "outcomes",
    "budget",
)

# client
C_STATE, C_EPOCH, C_CURRENT, C_BATCHES, C_SEQUENCES, C_ADDED, C_AWAITING = range(7)
# batch status
B_UNSENT, B_INFLIGHT, B_ACKED, B_FAILED = range(4)
BATCH_STATUS_NAMES = ("unsent", "in_flight", "acked", "failed")

# partition
P_LOG, P_PRODUCERS, P_ABORTED = range(3)
ENTRY_DATA, ENTRY_CONTROL = 0, 1
# producer state entry
E_EPOCH, E_COORDINATOR_EPOCH, E_BATCHES, E_TXN_FIRST = range(4)

# coordinator
K_EPOCH, K_METADATA, K_LOG = range(3)
T_STATE, T_EPOCH, T_PARTITIONS, T_OWNER, T_ACKS, T_PENDING, T_LAST_EPOCH = range(7)
NO_METADATA = -1
#: metadata of a transactional.id the coordinator has no record of
NO_METADATA_ENTRY = (NO_METADATA, -1, 0, -1, 0, (), -1)
#: marker_acks: the low bits acknowledge a partition, these bits record one given up on.
FAILED_SHIFT = 16

# messages
(
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_MARKER,
    M_MARKER_RESPONSE,
) = range(6)
# coordinator APIs
API_INIT_PRODUCER_ID, API_ADD_PARTITIONS, API_ADD_OFFSETS, API_END_TXN = range(4)
API_NAMES = ("InitProducerId", "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn")


def request_key(api: int) -> int:
    """The dispatch key of a coordinator request of ``api``: each API has its handler."""
    return M_MARKER_RESPONSE + 1 + api


#: the dispatch key of a coordinator request, by API
REQUEST_KEYS = tuple(request_key(api) for api in range(len(API_NAMES)))


def dispatch_key(message: Tup) -> int:
    """Which actions a delivered message goes to: its kind, and a coordinator request's API."""
    kind: int = message[0]
    return REQUEST_KEYS[message[2]] if kind == M_COORDINATOR_REQUEST else kind


#: every dispatch key
MESSAGE_KEYS = (
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_COORDINATOR_RESPONSE,
    M_MARKER,
    M_MARKER_RESPONSE,
    *REQUEST_KEYS,
)

# transaction outcomes (ghost)
O_UNDECIDED, O_COMMIT, O_ABORT = range(3)
OUTCOME_NAMES = ("undecided", "commit", "abort")

# fault budget
F_LOSSES, F_RETRIES, F_BATCH_TIMEOUTS, F_TXN_TIMEOUTS, F_FAILOVERS, F_EXPIRIES = range(6)
BUDGET_NAMES = ("losses", "retries", "batch_timeouts", "txn_timeouts", "failovers", "expiries")


def replace(values: Tup, index: int, value: object) -> Tup:
    """``values`` with position ``index`` set to ``value`` (tuples are the model's only
    containers, so this is how every action builds its successor)."""
    return (*values[:index], value, *values[index + 1 :])


def add_messages(network: Tup, *messages: Tup) -> Tup:
    """The multiset ``network`` with ``messages`` added, kept sorted so equal multisets are
    equal tuples."""
    return tuple(sorted(network + messages))


def remove_message(network: Tup, message: Tup) -> Tup:
    """The multiset ``network`` with one copy of ``message`` removed."""
    index = network.index(message)
    return network[:index] + network[index + 1 :]
