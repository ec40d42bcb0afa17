"""The Kafka exactly-once state machine: producers, partition leaders, the transaction
coordinator, the group offsets, a consumer, and a network that delays, reorders and loses.

:class:`KafkaEosModel` satisfies the checker's model interface (contract A). The state layout is
documented in :mod:`kafka_eos.model.layout`; the properties live in
:mod:`kafka_eos.model.properties`; spec/SPEC.md describes every action and property in prose.

Each action corresponds to one Kafka step. Client actions follow the Java TransactionManager
and Sender; leader actions follow UnifiedLog.append / ProducerAppendInfo (the Produce checks in
Kafka's order, with Kafka's error codes); coordinator actions follow TransactionCoordinator and
TransactionStateManager (every state change written to ``__transaction_state`` first: the
request sets a pending transition, ``CompleteTxnLogAppend`` makes it durable and answers).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import COMPLETED_STATES, PREPARE_STATES, TxnState
from kafka_eos.protocol.epochs import (
    BumpRequest,
    MarkerRefusal,
    bump_request,
    end_txn_is_retry,
    marker_refusal,
)
from kafka_eos.protocol.errors import FATAL_TO_TRANSACTIONAL_PRODUCER, ErrorCode
from kafka_eos.protocol.sequence import (
    NO_LAST_ACKED_SEQUENCE,
    NO_SEQUENCE,
    find_duplicate,
    in_sequence,
    out_of_order_is_gap,
)

from . import properties
from .layout import (
    API_ADD_OFFSETS,
    API_ADD_PARTITIONS,
    API_END_TXN,
    API_INIT_PRODUCER_ID,
    API_NAMES,
    B_ACKED,
    B_FAILED,
    B_INFLIGHT,
    B_UNSENT,
    C_ADDED,
    C_AWAITING,
    C_BATCHES,
    C_CURRENT,
    C_EPOCH,
    C_SEQUENCES,
    C_STATE,
    E_BATCHES,
    E_COORDINATOR_EPOCH,
    E_EPOCH,
    E_TXN_FIRST,
    ENTRY_CONTROL,
    ENTRY_DATA,
    F_BATCH_TIMEOUTS,
    F_EXPIRIES,
    F_FAILOVERS,
    F_LOSSES,
    F_RETRIES,
    F_TXN_TIMEOUTS,
    FAILED_SHIFT,
    K_EPOCH,
    K_LOG,
    K_METADATA,
    M_COORDINATOR_REQUEST,
    M_COORDINATOR_RESPONSE,
    M_MARKER,
    M_MARKER_RESPONSE,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    NO_METADATA,
    NO_METADATA_ENTRY,
    O_ABORT,
    O_COMMIT,
    O_UNDECIDED,
    P_LOG,
    P_PRODUCERS,
    S_BUDGET,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_NETWORK,
    S_OUTCOMES,
    S_PARTITIONS,
    T_ACKS,
    T_EPOCH,
    T_LAST_EPOCH,
    T_OWNER,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
    Move,
    Out,
    Tup,
    add_messages,
    remove_message,
    replace,
)
from .params import (
    CTP,
    IDEMPOTENT,
    PLAIN,
    READ_COMMITTED,
    TRANSACTIONAL,
    Faults,
    Knobs,
    ModelParams,
    Workload,
)
from .views import VISIBLE, fates, fetch, last_stable_offset

_U, _I, _R, _T, _C, _A, _AE, _F = (int(s) for s in ClientState)
_EMPTY, _ONGOING, _PC, _PA, _CC, _CA = (int(s) for s in list(TxnState)[:6])
_PREPARE = frozenset(int(s) for s in PREPARE_STATES)
_COMPLETED = frozenset(int(s) for s in COMPLETED_STATES)
_NONE = int(ErrorCode.NONE)
_OUT_OF_ORDER = int(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)
_INVALID_EPOCH = int(ErrorCode.INVALID_PRODUCER_EPOCH)
_INVALID_TXN_STATE = int(ErrorCode.INVALID_TXN_STATE)
_INVALID_MAPPING = int(ErrorCode.INVALID_PRODUCER_ID_MAPPING)
_CONCURRENT = int(ErrorCode.CONCURRENT_TRANSACTIONS)
_REQUEST_TIMED_OUT = int(ErrorCode.REQUEST_TIMED_OUT)
_PRODUCER_FENCED = int(ErrorCode.PRODUCER_FENCED)
_FATAL = frozenset(int(e) for e in FATAL_TO_TRANSACTIONAL_PRODUCER) | {_INVALID_MAPPING}
_MARKER_ERRORS = {refusal: int(refusal.error) for refusal in MarkerRefusal}

#: Every action the model can take (the label prefix), for coverage reports.
ACTION_NAMES = (
    "InitProducerId",
    "BeginTransaction",
    "Send",
    "RetryProduce",
    "ExpireBatch",
    "AddOffsetsToTxn",
    "CommitTransaction",
    "AbortTransaction",
    "FetchCommittedOffset",
    "ResendCoordinatorRequest",
    "ReceiveProduceResponse",
    "ReceiveCoordinatorResponse",
    "HandleProduce",
    "HandleWriteTxnMarkers",
    "ExpireProducerState",
    "HandleInitProducerId",
    "HandleAddPartitionsToTxn",
    "HandleAddOffsetsToTxn",
    "HandleEndTxn",
    "CompleteTxnLogAppend",
    "HandleWriteTxnMarkersResponse",
    "ResendTxnMarker",
    "TimeoutTransaction",
    "CoordinatorFailover",
    "LoseMessage",
    "Fetch",
)
#: What only transactional producers and the transaction coordinator do.
_TRANSACTIONAL_ACTIONS = frozenset(
    {
        "InitProducerId",
        "BeginTransaction",
        "CommitTransaction",
        "AbortTransaction",
        "ResendCoordinatorRequest",
        "ReceiveCoordinatorResponse",
        "HandleWriteTxnMarkers",
        "HandleInitProducerId",
        "HandleAddPartitionsToTxn",
        "HandleEndTxn",
        "CompleteTxnLogAppend",
        "HandleWriteTxnMarkersResponse",
        "ResendTxnMarker",
        "TimeoutTransaction",
    }
)

_TXN_STATE_NAMES = {int(state): state.kafka_name for state in TxnState}
_ERROR_NAMES = {int(code): code.name for code in ErrorCode}


def _error_name(code: int) -> str:
    return _ERROR_NAMES[code]


def _sent_on(client: Tup, request: Tup) -> Tup:
    """``client`` with the in-flight batch of the Produce ``request`` recording the request's
    connection (an in-flight batch's last field: where its latest attempt travels)."""
    batches = client[C_BATCHES]
    rec = request[6]
    batch = (*batches[rec][:3], request[8])
    return replace(client, C_BATCHES, replace(batches, rec, batch))


class KafkaEosModel:
    """Kafka's exactly-once protocol as a finite state machine (contract A).

    Keyword-only construction from the three parameter values of :mod:`.params`; ``checked``
    restricts the properties to a subset (names as in :data:`properties.ALL_PROPERTIES`).
    """

    deadlock_is_error = False

    def __init__(
        self,
        *,
        knobs: Knobs | None = None,
        faults: Faults | None = None,
        workload: Workload | None = None,
        checked: Iterable[str] | None = None,
    ) -> None:
        self.params = ModelParams(
            knobs=knobs or Knobs(), faults=faults or Faults(), workload=workload or Workload()
        )
        self.knobs = self.params.knobs
        self.faults = self.params.faults
        self.workload = self.params.workload
        self.checked = tuple(checked) if checked is not None else properties.ALL_PROPERTIES
        self._build_static()

    # ------------------------------------------------------------------ static tables
    def _build_static(self) -> None:
        workload, knobs = self.workload, self.knobs
        self.data_partitions = workload.partitions
        has_ctp = any(p.kind == CTP for p in workload.producers)
        self.offsets_partition = workload.partitions if has_ctp else -1
        self.partition_count = workload.partitions + (1 if has_ctp else 0)
        self.partition_names = tuple(f"t-{i}" for i in range(workload.partitions)) + (
            ("__consumer_offsets-0",) if has_ctp else ()
        )
        self.tv2 = knobs.transaction_version >= 2
        self.read_committed = workload.consumer == READ_COMMITTED
        # transactional ids, in order of first appearance; pid = its index
        tids: list[str] = []
        for spec in workload.producers:
            if spec.kind in (TRANSACTIONAL, CTP) and spec.transactional_id not in tids:
                tids.append(spec.transactional_id)
        self.transactional_ids = tuple(tids)
        pid_tid: list[int] = list(range(len(tids)))
        # per-process tables
        self.kinds: list[str] = []
        self.process_names: list[str] = []
        self.tid_of: list[int] = []
        self.pid_of: list[int] = []
        self.previous_incarnation: list[int] = []
        self.record_partition: list[tuple[int, ...]] = []
        self.record_global: list[tuple[int, ...]] = []
        self.record_txn: list[tuple[int, ...]] = []
        self.txn_records: list[tuple[tuple[int, ...], ...]] = []
        self.txn_commit: list[tuple[bool, ...]] = []
        self.txn_global: list[tuple[int, ...]] = []
        self.txn_mask: list[tuple[int, ...]] = []
        self.txn_offset_record: list[tuple[int, ...]] = []
        # global tables: record -> (process, local, partition, txn, value, ctp input, offset)
        self.records: list[tuple[int, int, int, int, str, int, int]] = []
        self.transactions: list[tuple[int, int, bool]] = []
        incarnation_count: dict[str, int] = {}
        last_of_tid: dict[str, int] = {}
        for index, spec in enumerate(workload.producers):
            self._add_process(index, spec, tids, pid_tid, incarnation_count, last_of_tid)
        self.pid_tid = tuple(pid_tid)
        self.pid_count = len(pid_tid)
        self.ctp_input = workload.ctp_input
        self.ctp_output = workload.ctp_output
        self.process_count = len(self.kinds)
        self._message_names: dict[Tup, str] = {}
        self._moves: dict[Tup, tuple[Move, ...]] = {}
        self._full_mask = (1 << self.partition_count) - 1

    def _add_process(
        self,
        index: int,
        spec: Any,
        tids: list[str],
        pid_tid: list[int],
        incarnation_count: dict[str, int],
        last_of_tid: dict[str, int],
    ) -> None:
        self.kinds.append(spec.kind)
        parts: list[int] = []
        txn_of_record: list[int] = []
        values: list[str] = []
        extra: list[tuple[int, int]] = []  # (ctp input, committed offset value)
        txn_recs: list[tuple[int, ...]] = []
        commits: list[bool] = []
        masks: list[int] = []
        offset_recs: list[int] = []
        if spec.kind in (TRANSACTIONAL, CTP):
            tid = tids.index(spec.transactional_id)
            incarnation = incarnation_count.get(spec.transactional_id, 0)
            incarnation_count[spec.transactional_id] = incarnation + 1
            name = f"{spec.transactional_id}#{incarnation}"
            self.tid_of.append(tid)
            self.pid_of.append(tid)
            self.previous_incarnation.append(last_of_tid.get(spec.transactional_id, -1))
            last_of_tid[spec.transactional_id] = index
            if spec.kind == TRANSACTIONAL:
                txn_specs = [(t.partitions, t.commit) for t in spec.transactions]
            else:
                txn_specs = [((self.workload.ctp_output,), True)] * self.workload.ctp_input
            for t, (partitions, commit) in enumerate(txn_specs):
                local: list[int] = []
                for partition in partitions:
                    local.append(len(parts))
                    parts.append(partition)
                    txn_of_record.append(t)
                    label = f"out{t}" if spec.kind == CTP else f"t{t}"
                    values.append(f"{name}.{label}.p{partition}")
                    extra.append((t if spec.kind == CTP else -1, -1))
                offset_rec = -1
                if spec.kind == CTP:
                    offset_rec = len(parts)
                    local.append(offset_rec)
                    parts.append(self.offsets_partition)
                    txn_of_record.append(t)
                    values.append(f"{name}.offset{t + 1}")
                    extra.append((-1, t + 1))
                txn_recs.append(tuple(local))
                commits.append(commit)
                masks.append(sum(1 << p for p in set(partitions)))
                offset_recs.append(offset_rec)
        else:
            name = f"{spec.kind}{index}"
            self.tid_of.append(-1)
            if spec.kind == IDEMPOTENT and self.knobs.idempotence:
                self.pid_of.append(len(pid_tid))
                pid_tid.append(-1)
            else:
                self.pid_of.append(-1)
            self.previous_incarnation.append(-1)
            for position, partition in enumerate(spec.batches):
                parts.append(partition)
                txn_of_record.append(-1)
                values.append(f"{name}.r{position}.p{partition}")
                extra.append((-1, -1))
        self.process_names.append(name)
        first_txn = len(self.transactions)
        for t, commit in enumerate(commits):
            self.transactions.append((index, t, commit))
        globals_: list[int] = []
        for local, partition in enumerate(parts):
            globals_.append(len(self.records))
            t = txn_of_record[local]
            self.records.append(
                (
                    index,
                    local,
                    partition,
                    first_txn + t if t >= 0 else -1,
                    values[local],
                    extra[local][0],
                    extra[local][1],
                )
            )
        self.record_partition.append(tuple(parts))
        self.record_global.append(tuple(globals_))
        self.record_txn.append(tuple(txn_of_record))
        self.txn_records.append(tuple(txn_recs))
        self.txn_commit.append(tuple(commits))
        self.txn_global.append(tuple(range(first_txn, first_txn + len(commits))))
        self.txn_mask.append(tuple(masks))
        self.txn_offset_record.append(tuple(offset_recs))

    # ------------------------------------------------------------------ contract A
    def init_states(self) -> list[Tup]:
        clients = []
        for i, kind in enumerate(self.kinds):
            transactional = kind in (TRANSACTIONAL, CTP)
            clients.append(
                (
                    _U if transactional else _R,
                    -1 if transactional or self.pid_of[i] < 0 else 0,
                    -1 if kind == CTP else 0,
                    ((B_UNSENT, -1, -1, -1),) * len(self.record_partition[i]),
                    (0,) * self.partition_count,
                    0,
                    (),
                )
            )
        partition = ((), ((),) * self.pid_count, ())
        metadata = (NO_METADATA_ENTRY,) * len(self.transactional_ids)
        coordinator = (0, metadata, ((),) * len(self.transactional_ids))
        consumer = ((0, ()),) * self.data_partitions if self.workload.consumer else ()
        f = self.faults
        budget = (f.losses, f.retries, f.batch_timeouts, f.txn_timeouts, f.failovers, f.expiries)
        return [
            (
                tuple(clients),
                (partition,) * self.partition_count,
                coordinator,
                (),
                consumer,
                (O_UNDECIDED,) * len(self.transactions),
                budget,
            )
        ]

    def action_names(self) -> tuple[str, ...]:
        """The actions this configuration can take: a fault with no budget, or a part of the
        workload that is absent, is left out, so that an action the checker reports as never
        taken is a real surprise (usually a guard that never holds), not a switched-off one."""
        return tuple(name for name in ACTION_NAMES if name not in self._switched_off())

    def _switched_off(self) -> set[str]:
        faults, workload = self.faults, self.workload
        off = {
            action
            for action, budget in (
                ("LoseMessage", faults.losses),
                ("RetryProduce", faults.retries),
                ("ExpireBatch", faults.batch_timeouts),
                ("TimeoutTransaction", faults.txn_timeouts),
                ("CoordinatorFailover", faults.failovers),
                ("ExpireProducerState", faults.expiries),
            )
            if budget == 0
        }
        if faults.losses == 0 and faults.failovers == 0:  # nothing can go unanswered
            off |= {"ResendCoordinatorRequest", "ResendTxnMarker"}
        if not self.transactional_ids:
            off |= _TRANSACTIONAL_ACTIONS
        if self.offsets_partition < 0:  # no consume-transform-produce application
            off |= {"AddOffsetsToTxn", "HandleAddOffsetsToTxn", "FetchCommittedOffset"}
        if workload.consumer is None:
            off.add("Fetch")
        return off

    def invariants(self) -> Mapping[str, Any]:
        return properties.invariants(self)

    def action_properties(self) -> Mapping[str, Any]:
        return properties.action_properties(self)

    def variables(self, state: Tup) -> dict[str, Any]:
        from .variables import state_variables

        return state_variables(self, state)

    def actions(self, state: Tup) -> Out:
        out: Out = []
        network = state[S_NETWORK]
        budget = state[S_BUDGET]
        previous = None
        connections: set[tuple[int, int, int]] = set()
        for message in network:
            if message == previous:
                continue
            previous = message
            rest = remove_message(network, message)
            kind = message[0]
            if kind == M_PRODUCE:
                # Requests on one connection are handled in order (the broker mutes a
                # connection while it handles one of its requests): only the oldest request
                # of a (producer, partition, connection) may be delivered; a retry opens a new
                # connection, so requests of different connections interleave freely. In the
                # sorted network the oldest request of a connection comes first. A produce
                # request is never "lost": one that is never delivered is a delay for ever
                # (TCP loses a connection's tail, not a request in the middle), and the
                # client's retry does not depend on noticing the loss.
                connection = (message[1], message[2], message[8])
                if connection in connections:
                    continue
                connections.add(connection)
                self._handle_produce(state, message, rest, out)
                continue
            if kind == M_PRODUCE_RESPONSE:
                self._receive_produce_response(state, message, rest, out)
            elif kind == M_COORDINATOR_REQUEST:
                self._handle_coordinator_request(state, message, rest, out)
            elif kind == M_COORDINATOR_RESPONSE:
                self._receive_coordinator_response(state, message, rest, out)
            elif kind == M_MARKER:
                self._handle_marker(state, message, rest, out)
            else:
                self._handle_marker_response(state, message, rest, out)
            self._lose(state, message, rest, out)
        for process in range(self.process_count):
            self._client_actions(state, process, out)
        if self.transactional_ids:
            self._coordinator_actions(state, out)
        if self.knobs.producer_state_expiry and budget[F_EXPIRIES]:
            self._expiry_actions(state, out)
        if state[S_CONSUMER]:
            self._consumer_actions(state, out)
        return out

    def _lose(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        """The network drops ``message`` (a request or a response), within the loss budget."""
        budget = state[S_BUDGET]
        if budget[F_LOSSES]:
            out.append(
                (
                    f"LoseMessage({self.describe_message(message)})",
                    (
                        *state[:S_NETWORK],
                        rest,
                        *state[S_NETWORK + 1 : S_BUDGET],
                        replace(budget, F_LOSSES, budget[F_LOSSES] - 1),
                    ),
                )
            )

    # ------------------------------------------------------------------ naming
    def describe_message(self, message: Tup) -> str:
        """A short readable name of a network message (used in labels)."""
        name = self._message_names.get(message)
        if name is None:
            name = self._message_names[message] = self._describe(message)
        return name

    def _describe(self, message: Tup) -> str:
        kind = message[0]
        if kind == M_PRODUCE:
            _, proc, part, _pid, epoch, seq, rec, _txn, connection = message
            return (
                f"Produce,{self.process_names[proc]},{self.partition_names[part]},"
                f"r{rec},e{epoch},s{seq},c{connection}"
            )
        if kind == M_PRODUCE_RESPONSE:
            _, proc, part, epoch, seq, rec, err, offset, connection = message
            return (
                f"ProduceResponse,{self.process_names[proc]},{self.partition_names[part]},"
                f"r{rec},c{connection},{_error_name(err)},o{offset}"
            )
        if kind == M_COORDINATOR_REQUEST:
            _, proc, api, epoch, _arg, _txn = message
            return f"{API_NAMES[api]},{self.process_names[proc]},e{epoch}"
        if kind == M_COORDINATOR_RESPONSE:
            _, proc, api, err, epoch, _txn = message
            return (
                f"{API_NAMES[api]}Response,{self.process_names[proc]},{_error_name(err)},e{epoch}"
            )
        if kind == M_MARKER:
            _, part, tid, cepoch, epoch, commit = message
            return (
                f"WriteTxnMarkers,{self.partition_names[part]},{self.transactional_ids[tid]},"
                f"{'COMMIT' if commit else 'ABORT'},e{epoch},ce{cepoch}"
            )
        _, part, tid, cepoch, err = message
        return (
            f"WriteTxnMarkersResponse,{self.partition_names[part]},"
            f"{self.transactional_ids[tid]},{_error_name(err)},ce{cepoch}"
        )

    # ------------------------------------------------------------------ leader: Produce
    def _handle_produce(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        """UnifiedLog.append for a client Produce (or the group coordinator's TxnOffsetCommit
        append to __consumer_offsets): the checks in Kafka's order, then the append."""
        _, proc, part, pid, epoch, seq, rec, txn, connection = message
        partitions = state[S_PARTITIONS]
        partition = partitions[part]
        log, producers, aborted = partition
        gid = self.record_global[proc][rec]
        error = _NONE
        offset = -1
        entry = producers[pid] if pid >= 0 else ()
        from_coordinator = part == self.offsets_partition
        asks = txn and self._asks_coordinator(entry, epoch, from_coordinator)
        if asks:
            # 1. KIP-890: the coordinator's word comes before the append and its duplicate
            # check (ReplicaManager verifies, then UnifiedLog appends)
            answer = self._coordinator_answer(state, part, pid, epoch, from_coordinator)
            if answer is None:
                return  # the leader's add waits for the coordinator (see _coordinator_answer)
            error = answer
        if pid >= 0 and error == _NONE:
            # 2. duplicate of a cached batch: answer with the original offset, append nothing
            if entry and not from_coordinator and entry[E_EPOCH] == epoch:
                found = find_duplicate(entry[E_BATCHES], seq, seq)
                if found is not None:
                    response = (
                        M_PRODUCE_RESPONSE,
                        proc,
                        part,
                        epoch,
                        seq,
                        rec,
                        _NONE,
                        found,
                        connection,
                    )
                    out.append(
                        (
                            f"HandleProduce({self.partition_names[part]},{self.process_names[proc]},r{rec},e{epoch},s{seq},DUPLICATE)",
                            (
                                *state[:S_NETWORK],
                                add_messages(rest, response),
                                *state[S_NETWORK + 1 :],
                            ),
                        )
                    )
                    return
            error = self._validate(entry, epoch, seq, txn, asks, from_coordinator)
        if error == _NONE:
            offset = len(log)
            log = (*log, (ENTRY_DATA, pid, epoch, seq, gid, txn))
            if pid >= 0:
                producers = replace(
                    producers,
                    pid,
                    self._after_data(entry, epoch, seq, offset, txn, from_coordinator),
                )
            partitions = replace(partitions, part, (log, producers, aborted))
        # the answer goes back on the request's connection
        response = (M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, offset, connection)
        label = (
            f"HandleProduce({self.partition_names[part]},{self.process_names[proc]},r{rec},"
            f"e{epoch},s{seq},{_error_name(error) if error else f'o{offset}'})"
        )
        out.append(
            (
                label,
                (
                    state[S_CLIENTS],
                    partitions,
                    state[S_COORDINATOR],
                    add_messages(rest, response),
                    *state[S_CONSUMER:],
                ),
            )
        )

    def _asks_coordinator(self, entry: Tup, epoch: int, from_coordinator: bool) -> bool:
        """KIP-890: a transactional append outside a transaction open here AT THIS EPOCH
        (UnifiedLog.hasOngoingTransaction(producerId, producerEpoch)) needs the coordinator:
        part 1 verifies (partition_verification; TxnOffsetCommit appends to
        __consumer_offsets too), part 2 (transaction version 2) has the leader add the
        partition, whatever partition_verification says."""
        if entry and entry[E_TXN_FIRST] >= 0 and entry[E_EPOCH] == epoch:
            return False
        return self.knobs.partition_verification or (self.tv2 and not from_coordinator)

    def _coordinator_answer(
        self, state: Tup, part: int, pid: int, epoch: int, from_coordinator: bool
    ) -> int | None:
        """The coordinator's answer to the leader (handleVerifyPartitionsInTransaction, or
        under transaction version 2 handleAddPartitionsToTransaction), in its order: epoch,
        then state. The add is refused with CONCURRENT_TRANSACTIONS while a transition is
        being written or the transaction is in Prepare*, and the client retries the batch as
        it was: here the Produce waits instead (None), which has the same outcomes. Partitions
        are added by the clients themselves (spec/SPEC.md §8), so the add finds them there."""
        metadata = state[S_COORDINATOR][K_METADATA][self.pid_tid[pid]]
        if metadata[T_EPOCH] != epoch:
            return _INVALID_EPOCH
        adds = self.tv2 and not from_coordinator
        if adds and (metadata[T_PENDING] or metadata[T_STATE] in _PREPARE):
            return None
        if metadata[T_STATE] != _ONGOING or not metadata[T_PARTITIONS] >> part & 1:
            return _INVALID_TXN_STATE
        return _NONE

    def _validate(
        self,
        entry: Tup,
        epoch: int,
        seq: int,
        txn: int,
        asks: bool,
        from_coordinator: bool,
    ) -> int:
        """Checks 3-5 of a Produce (the coordinator and the duplicate check came first); NONE
        or Kafka's error."""
        knobs = self.knobs
        # 3. producer epoch: an older epoch is a fenced (zombie) producer
        if knobs.producer_epoch_check and entry and epoch < entry[E_EPOCH]:
            return _INVALID_EPOCH
        # 4. sequence number
        if not from_coordinator:
            if not entry:
                # TV2 (the coordinator was asked): a producer the leader has no state for
                # starts at 0
                if asks and self.tv2 and seq != 0:
                    return _OUT_OF_ORDER
            elif epoch != entry[E_EPOCH]:
                if seq != 0:
                    return _OUT_OF_ORDER
            else:
                batches = entry[E_BATCHES]
                last = batches[-1][1] if batches else NO_SEQUENCE
                if not in_sequence(last, seq):
                    return _OUT_OF_ORDER
        # 5. a non-transactional write while a transaction is open
        if entry and entry[E_TXN_FIRST] >= 0 and not txn:
            return _INVALID_TXN_STATE
        return _NONE

    def _after_data(
        self,
        entry: Tup,
        epoch: int,
        seq: int,
        offset: int,
        txn: int,
        from_coordinator: bool,
    ) -> Tup:
        """ProducerStateEntry after appending one data batch (addBatch: a new epoch clears
        the batch cache; the cache keeps the last batch_cache_size batches)."""
        batches = entry[E_BATCHES] if entry and entry[E_EPOCH] == epoch else ()
        if not from_coordinator:
            batches = (*batches, (seq, seq, offset))[-self.knobs.batch_cache_size :]
        coordinator_epoch = entry[E_COORDINATOR_EPOCH] if entry else -1
        first = entry[E_TXN_FIRST] if entry else -1
        if first < 0 and txn:
            first = offset
        return (epoch, coordinator_epoch, batches, first)

    # ------------------------------------------------------------------ leader: markers
    def _handle_marker(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        """WriteTxnMarkers at a partition leader (ProducerAppendInfo.appendEndTxnMarker)."""
        _, part, tid, cepoch, epoch, commit = message
        partitions = state[S_PARTITIONS]
        log, producers, aborted = partitions[part]
        pid = tid  # a transactional.id's producer id is its index
        entry = producers[pid]
        error = _NONE
        if entry:
            refusal = marker_refusal(
                marker_epoch=epoch,
                stored_epoch=entry[E_EPOCH],
                marker_coordinator_epoch=cepoch,
                stored_coordinator_epoch=entry[E_COORDINATOR_EPOCH],
                transaction_open=entry[E_TXN_FIRST] >= 0,
                knobs=self.knobs,
            )
            error = _MARKER_ERRORS[refusal]
        if error == _NONE:
            offset = len(log)
            log = (*log, (ENTRY_CONTROL, pid, epoch, commit, cepoch))
            first = entry[E_TXN_FIRST] if entry else -1
            if first >= 0 and not commit:
                aborted = (*aborted, (pid, first, offset))
            batches = entry[E_BATCHES] if entry and entry[E_EPOCH] == epoch else ()
            producers = replace(producers, pid, (epoch, cepoch, batches, -1))
            partitions = replace(partitions, part, (log, producers, aborted))
        response = (M_MARKER_RESPONSE, part, tid, cepoch, error)
        label = (
            f"HandleWriteTxnMarkers({self.partition_names[part]},{self.transactional_ids[tid]},"
            f"{'COMMIT' if commit else 'ABORT'},e{epoch},ce{cepoch},{_error_name(error)})"
        )
        out.append(
            (
                label,
                (
                    state[S_CLIENTS],
                    partitions,
                    state[S_COORDINATOR],
                    add_messages(rest, response),
                    *state[S_CONSUMER:],
                ),
            )
        )

    def _expiry_actions(self, state: Tup, out: Out) -> None:
        """ProducerStateManager.removeExpiredProducers: an idle entry (no open transaction)
        is dropped; afterwards the leader accepts any sequence from that producer."""
        partitions = state[S_PARTITIONS]
        budget = state[S_BUDGET]
        for part, (log, producers, aborted) in enumerate(partitions):
            for pid, entry in enumerate(producers):
                if entry and entry[E_TXN_FIRST] < 0:
                    new_partition = (log, replace(producers, pid, ()), aborted)
                    out.append(
                        (
                            f"ExpireProducerState({self.partition_names[part]},pid{pid})",
                            (
                                state[S_CLIENTS],
                                replace(partitions, part, new_partition),
                                *state[S_COORDINATOR:S_BUDGET],
                                replace(budget, F_EXPIRIES, budget[F_EXPIRIES] - 1),
                            ),
                        )
                    )

    # ------------------------------------------------------------------ clients
    def _client_actions(self, state: Tup, proc: int, out: Out) -> None:
        """The steps a client takes by itself. They depend only on the client, two fault
        budgets and whether its previous incarnation started, and client values repeat across
        many states, so the moves are computed once per such key and then applied."""
        clients = state[S_CLIENTS]
        client = clients[proc]
        cstate = client[C_STATE]
        if cstate == _F:
            return
        budget = state[S_BUDGET]
        previous = self.previous_incarnation[proc]
        previous_started = previous < 0 or clients[previous][C_STATE] != _U
        key = (proc, client, budget[F_RETRIES], budget[F_BATCH_TIMEOUTS], previous_started)
        moves = self._moves.get(key)
        if moves is None:
            moves = self._moves[key] = tuple(self._client_moves(*key))
        for label, new_client, messages, spent in moves:
            network = state[S_NETWORK]
            if messages:
                if messages[0][0] == M_PRODUCE and messages[0][8] < 0:
                    request = self._on_current_connection(state, client, messages[0])
                    messages = (request,)
                    new_client = _sent_on(new_client, request)
                network = add_messages(network, *messages)
            new_budget = budget if spent < 0 else replace(budget, spent, budget[spent] - 1)
            out.append(
                (
                    label,
                    (
                        replace(clients, proc, new_client),
                        state[S_PARTITIONS],
                        state[S_COORDINATOR],
                        network,
                        state[S_CONSUMER],
                        state[S_OUTCOMES],
                        new_budget,
                    ),
                )
            )
        if client[C_AWAITING] and self._something_was_lost(state):
            self._maybe_resend(state, proc, client, out)
        if cstate == _R and self.kinds[proc] == CTP and client[C_CURRENT] < 0:
            self._fetch_committed_offset(state, proc, client, out)

    def _on_current_connection(self, state: Tup, client: Tup, request: Tup) -> Tup:
        """``request`` on the connection its producer currently uses for that partition: the
        one carrying the current attempts of its in-flight batches (so a new batch queues behind
        them, as on one TCP connection), or the newest connection if none is in flight."""
        proc, part = request[1], request[2]
        batches = client[C_BATCHES]
        connection = -1
        for message in state[S_NETWORK]:
            if message[0] != M_PRODUCE:
                break  # the network is sorted: produce requests come first
            if message[1] == proc and message[2] == part and message[8] > connection:
                batch = batches[message[6]]
                if batch[0] == B_INFLIGHT and batch[3] == message[8]:
                    connection = message[8]
        if connection < 0:
            connection = self.faults.retries - state[S_BUDGET][F_RETRIES]
        return (*request[:8], connection)

    def _client_moves(
        self,
        proc: int,
        client: Tup,
        retries: int,
        timeouts: int,
        previous_started: bool,
    ) -> Iterator[Move]:
        """(label, new client, messages sent, budget index spent or -1) for every step the
        client may take on its own."""
        cstate = client[C_STATE]
        kind = self.kinds[proc]
        if kind in (IDEMPOTENT, PLAIN):
            yield from self._send_next(proc, client, tuple(range(len(client[C_BATCHES]))), retries)
            yield from self._retry_moves(proc, client, retries)
            return
        name = self.process_names[proc]
        awaiting = client[C_AWAITING]
        if cstate == _U:
            if previous_started:
                request = (M_COORDINATOR_REQUEST, proc, API_INIT_PRODUCER_ID, -1, -1, -1)
                yield (
                    f"InitProducerId({name})",
                    (_I, *client[1:C_AWAITING], request),
                    (request,),
                    -1,
                )
            return
        current = client[C_CURRENT]
        if cstate == _R:
            if current >= 0 and current < len(self.txn_records[proc]):
                mask = self.txn_mask[proc][current]
                epoch = client[C_EPOCH]
                txn = self.txn_global[proc][current]
                request = (M_COORDINATOR_REQUEST, proc, API_ADD_PARTITIONS, epoch, mask, txn)
                new_client = (
                    _T,
                    epoch,
                    current,
                    client[C_BATCHES],
                    client[C_SEQUENCES],
                    0,
                    request,
                )
                yield (f"BeginTransaction({name},txn{current})", new_client, (request,), -1)
            return
        if cstate == _T:
            # In ABORTABLE_ERROR the Sender aborts re-enqueued batches instead of re-sending
            # them (accumulator.abortUndrainedBatches): only IN_TRANSACTION retries.
            yield from self._retry_moves(proc, client, retries)
        if cstate in (_T, _AE):
            yield from self._expire_moves(proc, client, timeouts)
        if cstate == _T:
            records = self.txn_records[proc][current]
            yield from self._send_next(proc, client, records, retries)
            statuses = [client[C_BATCHES][r][0] for r in records]
            offset_rec = self.txn_offset_record[proc][current]
            offsets_bit = 1 << self.offsets_partition if offset_rec >= 0 else 0
            if (
                offset_rec >= 0
                and not awaiting
                and not client[C_ADDED] & offsets_bit
                and all(
                    s != B_UNSENT for r, s in zip(records, statuses, strict=True) if r != offset_rec
                )
            ):
                request = (
                    M_COORDINATOR_REQUEST,
                    proc,
                    API_ADD_OFFSETS,
                    client[C_EPOCH],
                    offsets_bit,
                    self.txn_global[proc][current],
                )
                yield (
                    f"AddOffsetsToTxn({name})",
                    replace(client, C_AWAITING, request),
                    (request,),
                    -1,
                )
            if not awaiting and all(s == B_ACKED for s in statuses):
                commit = self.txn_commit[proc][current]
                request = (
                    M_COORDINATOR_REQUEST,
                    proc,
                    API_END_TXN,
                    client[C_EPOCH],
                    int(commit),
                    self.txn_global[proc][current],
                )
                action = "CommitTransaction" if commit else "AbortTransaction"
                new_client = (_C if commit else _A, *client[1:C_AWAITING], request)
                yield (f"{action}({name})", new_client, (request,), -1)
        elif cstate == _AE:
            batches = client[C_BATCHES]
            if not awaiting and all(
                batches[r][0] != B_INFLIGHT for r in self.txn_records[proc][current]
            ):
                # (partitions were added: a batch can only fail after its partition was)
                request = (
                    M_COORDINATOR_REQUEST,
                    proc,
                    API_END_TXN,
                    client[C_EPOCH],
                    0,
                    self.txn_global[proc][current],
                )
                new_client = (_A, *client[1:C_AWAITING], request)
                yield (f"AbortTransaction({name})", new_client, (request,), -1)

    def _client_step(
        self,
        state: Tup,
        proc: int,
        client: Tup,
        message: Tup | None,
        label: str,
        out: Out,
    ) -> None:
        network = state[S_NETWORK]
        if message is not None:
            network = add_messages(network, message)
        out.append(
            (
                label,
                (
                    replace(state[S_CLIENTS], proc, client),
                    state[S_PARTITIONS],
                    state[S_COORDINATOR],
                    network,
                    *state[S_CONSUMER:],
                ),
            )
        )

    def _send_next(
        self,
        proc: int,
        client: Tup,
        records: tuple[int, ...],
        retries: int,
    ) -> Iterator[Move]:
        """KafkaProducer.send + Sender: the next unsent batch in send order goes out with the
        next sequence number of its partition, if fewer than max_in_flight are outstanding,
        on the newest connection."""
        batches = client[C_BATCHES]
        partitions = self.record_partition[proc]
        if self.kinds[proc] == IDEMPOTENT:
            yield from self._resend_moves(proc, client)
        for rec in records:
            if batches[rec][0] == B_UNSENT:
                break
        else:
            return
        part = partitions[rec]
        if not client[C_ADDED] >> part & 1 and self.kinds[proc] in (TRANSACTIONAL, CTP):
            return
        if self._waits_behind_retries(proc, client, part):
            return
        in_flight = sum(
            1 for r, b in enumerate(batches) if b[0] == B_INFLIGHT and partitions[r] == part
        )
        if in_flight >= self.knobs.max_in_flight:
            return
        pid = self.pid_of[proc]
        epoch = client[C_EPOCH]
        sequences = client[C_SEQUENCES]
        if pid < 0 or part == self.offsets_partition:
            seq = NO_SEQUENCE  # no idempotence, or a TxnOffsetCommit: no sequence numbers
        else:
            seq = sequences[part]
            sequences = replace(sequences, part, seq + 1)
        transactional = int(self.kinds[proc] in (TRANSACTIONAL, CTP))
        # the connection is filled in when the move is applied (_on_current_connection), in
        # the request and in the batch (_sent_on)
        request = (M_PRODUCE, proc, part, pid, epoch, seq, rec, transactional, -1)
        new_client = (
            client[C_STATE],
            epoch,
            client[C_CURRENT],
            replace(batches, rec, (B_INFLIGHT, epoch, seq, -1)),
            sequences,
            client[C_ADDED],
            client[C_AWAITING],
        )
        name = self.process_names[proc]
        if part == self.offsets_partition:
            label = f"Send({name},r{rec},TxnOffsetCommit,e{epoch})"
        else:
            label = f"Send({name},r{rec},{self.partition_names[part]},e{epoch},s{seq})"
        yield (label, new_client, (request,), -1)

    def _resend_moves(self, proc: int, client: Tup) -> Iterator[Move]:
        """Sender.drain of re-enqueued batches (in flight without an attempt outstanding): on
        each partition the retried batch with the lowest sequence goes out again, with its
        epoch and sequence as they stand (a bump may have rewritten them), once no batch with
        a lower sequence is in flight (RecordAccumulator.shouldStopDrainBatchesForPartition);
        new batches of the partition queue behind it."""
        batches = client[C_BATCHES]
        partitions = self.record_partition[proc]
        first: dict[int, int] = {}  # partition -> its in-flight batch with the lowest sequence
        for rec, batch in enumerate(batches):
            if batch[0] == B_INFLIGHT:
                part = partitions[rec]
                lowest = first.get(part)
                if lowest is None or batch[2] < batches[lowest][2]:
                    first[part] = rec
        name = self.process_names[proc]
        for part, rec in first.items():
            _, epoch, seq, connection = batches[rec]
            if connection >= 0:
                continue  # its attempt is outstanding: the re-enqueued ones wait behind it
            request = (M_PRODUCE, proc, part, self.pid_of[proc], epoch, seq, rec, 0, -1)
            label = f"Send({name},r{rec},{self.partition_names[part]},e{epoch},s{seq})"
            yield (label, client, (request,), -1)

    def _waits_behind_retries(self, proc: int, client: Tup, part: int) -> bool:
        """Whether a new batch of the partition must wait: a re-enqueued batch heads the
        partition's queue, or a batch is still in flight under an epoch older than the
        producer's (after a bump another partition asked for: a new batch at sequence 0 could
        overtake it)."""
        if self.kinds[proc] != IDEMPOTENT:
            return False
        epoch = client[C_EPOCH]
        partitions = self.record_partition[proc]
        for rec, batch in enumerate(client[C_BATCHES]):
            in_flight_here = batch[0] == B_INFLIGHT and partitions[rec] == part
            if in_flight_here and (batch[3] < 0 or batch[1] != epoch):
                return True
        return False

    def _retry_moves(
        self,
        proc: int,
        client: Tup,
        retries: int,
    ) -> Iterator[Move]:
        """Sender retry after a request timeout or disconnect: the client opens a new
        connection and re-sends every in-flight batch of the partition, in sequence order,
        with the same epoch and sequence; the first requests may still be delivered later."""
        if not retries:
            return
        connection = self.faults.retries - retries + 1
        transactional = int(self.kinds[proc] in (TRANSACTIONAL, CTP))
        by_partition: dict[int, list[Tup]] = {}
        batches = client[C_BATCHES]
        for rec, (status, epoch, seq, _) in enumerate(batches):
            if status == B_INFLIGHT:
                part = self.record_partition[proc][rec]
                by_partition.setdefault(part, []).append(
                    (
                        M_PRODUCE,
                        proc,
                        part,
                        self.pid_of[proc],
                        epoch,
                        seq,
                        rec,
                        transactional,
                        connection,
                    )
                )
        for part, requests in by_partition.items():
            shown = ",".join(f"r{r[6]}" for r in requests)
            # the batches' latest attempts are now these: the client closed the old connection
            # and will not take an answer sent on it
            retried = list(batches)
            for request in requests:
                retried[request[6]] = (*batches[request[6]][:3], connection)
            yield (
                f"RetryProduce({self.process_names[proc]},{self.partition_names[part]},{shown})",
                replace(client, C_BATCHES, tuple(retried)),
                tuple(requests),
                F_RETRIES,
            )

    def _expire_moves(
        self,
        proc: int,
        client: Tup,
        timeouts: int,
    ) -> Iterator[Move]:
        """delivery.timeout.ms expires an in-flight batch of a transactional producer: the
        batch fails (its request may still be in flight) and the transaction must abort."""
        if not timeouts:
            return
        batches = client[C_BATCHES]
        for rec in self.txn_records[proc][client[C_CURRENT]]:
            status, epoch, seq, _ = batches[rec]
            if status != B_INFLIGHT:
                continue
            new_client = (
                _AE,
                client[C_EPOCH],
                client[C_CURRENT],
                replace(batches, rec, (B_FAILED, epoch, seq, _REQUEST_TIMED_OUT)),
                client[C_SEQUENCES],
                client[C_ADDED],
                client[C_AWAITING],
            )
            yield (
                f"ExpireBatch({self.process_names[proc]},r{rec})",
                new_client,
                (),
                F_BATCH_TIMEOUTS,
            )

    def _something_was_lost(self, state: Tup) -> bool:
        """Whether a message may have gone missing: only a loss, or a failover that dropped a
        pending write's answer, can leave a request without an answer. (A cheap test that
        spares the resend guards' scans of the network in every other state.)"""
        budget = state[S_BUDGET]
        faults = self.faults
        return budget[F_LOSSES] != faults.losses or budget[F_FAILOVERS] != faults.failovers

    def _maybe_resend(self, state: Tup, proc: int, client: Tup, out: Out) -> None:
        """A coordinator request (or its response) was lost: the client times out and sends it
        again. (Modelled only once nothing for it is in flight or being written.)"""
        request = client[C_AWAITING]
        network = state[S_NETWORK]
        if request in network:
            return
        for message in network:
            if message[0] == M_COORDINATOR_RESPONSE and message[1] == proc:
                return
        tid = self.tid_of[proc]
        pending = state[S_COORDINATOR][K_METADATA][tid][T_PENDING]
        if pending and pending[4] and pending[4][0] == proc:
            return
        label = f"ResendCoordinatorRequest({self.process_names[proc]},{API_NAMES[request[2]]})"
        if client[C_STATE] == _AE:
            # the timed-out request is re-enqueued, then failed when dequeued: a doomed
            # transaction sends nothing but EndTxn(abort) (maybeTerminateRequestWithError)
            self._client_step(state, proc, (*client[:C_AWAITING], ()), None, label, out)
        else:
            self._client_step(state, proc, client, request, label, out)

    def _fetch_committed_offset(self, state: Tup, proc: int, client: Tup, out: Out) -> None:
        """OffsetFetch(requireStable) by the CTP application at start-up: wait while
        transactional offsets are pending (UNSTABLE_OFFSET_COMMIT), then resume from the
        committed offset."""
        partition = state[S_PARTITIONS][self.offsets_partition]
        if last_stable_offset(partition) != len(partition[P_LOG]):
            return
        committed = self.committed_group_offset(partition)
        self._client_step(
            state,
            proc,
            replace(client, C_CURRENT, committed),
            None,
            f"FetchCommittedOffset({self.process_names[proc]},{committed})",
            out,
        )

    def committed_group_offset(self, partition: Tup) -> int:
        """The group's committed input offset as read_committed readers of
        __consumer_offsets see it (0 before any commit)."""
        committed = 0
        kinds = fates(partition)
        for offset, entry in enumerate(partition[P_LOG]):
            if kinds[offset] == VISIBLE:
                committed = self.records[entry[4]][6]
        return committed

    # ------------------------------------------------------------------ client: responses
    def _receive_produce_response(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        _, proc, part, epoch, seq, rec, error, offset, connection = message
        clients = state[S_CLIENTS]
        client = clients[proc]
        status, b_epoch, b_seq, b_connection = client[C_BATCHES][rec]
        name = self.process_names[proc]
        label = f"ReceiveProduceResponse({name},r{rec},c{connection},{_error_name(error)})"
        if status != B_INFLIGHT or b_connection != connection:
            # an answer to a batch resolved already, or to an earlier attempt of the batch (its
            # connection was closed by the retry, so the Java client never reads it; or it was
            # answered and re-enqueued since): nothing to do
            out.append((label, (*state[:S_NETWORK], rest, *state[S_NETWORK + 1 :])))
            return
        batches = client[C_BATCHES]
        kind = self.kinds[proc]
        if error == _NONE:
            # an epoch bump may have rewritten the batch's epoch and sequence since it went out:
            # it is acknowledged as it stands now (TransactionManager.handleCompletedBatch)
            client = replace(
                client, C_BATCHES, replace(batches, rec, (B_ACKED, b_epoch, b_seq, offset))
            )
            if kind == IDEMPOTENT and b_epoch != client[C_EPOCH]:
                client = self._maybe_restart_sequences(proc, client, part)
        elif kind in (TRANSACTIONAL, CTP):
            # KIP-588: INVALID_PRODUCER_EPOCH and the rest are abortable for a Produce; fencing
            # is fatal. A TxnOffsetCommit's INVALID_PRODUCER_EPOCH or INVALID_TXN_STATE is
            # fatal (TxnOffsetCommitHandler: only group-membership errors are abortable). A
            # client already in FATAL_ERROR still completes its batches (the Sender keeps
            # handling responses) but stays fatal.
            fatal = error in _FATAL or part == self.offsets_partition
            new_state = _F if fatal or client[C_STATE] == _F else _AE
            client = (
                new_state,
                client[C_EPOCH],
                client[C_CURRENT],
                replace(batches, rec, (B_FAILED, epoch, seq, error)),
                client[C_SEQUENCES],
                client[C_ADDED],
                client[C_AWAITING],
            )
        elif error == _OUT_OF_ORDER:
            # TransactionManager.canRetry: an idempotent producer retries the batch whatever
            # the case (re-enqueued: in flight, no attempt outstanding); a real gap (the next
            # expected batch, under the sequence it was sent with) also asks for an epoch bump
            client = replace(
                client, C_BATCHES, replace(batches, rec, (B_INFLIGHT, b_epoch, b_seq, -1))
            )
            gap = out_of_order_is_gap(
                base_sequence=b_seq,
                last_acked_sequence=self._last_acked_sequence(proc, batches, part, b_epoch),
                reset=b_epoch != epoch,
            )
            if gap:
                client = self._bump_idempotent_epoch(proc, client, part)
        else:
            # a non-retriable error: the batch fails and its sequence may be a gap now
            failed = replace(batches, rec, (B_FAILED, b_epoch, b_seq, error))
            client = self._bump_idempotent_epoch(proc, replace(client, C_BATCHES, failed), part)
        out.append(
            (
                label,
                (
                    replace(clients, proc, client),
                    state[S_PARTITIONS],
                    state[S_COORDINATOR],
                    rest,
                    *state[S_CONSUMER:],
                ),
            )
        )

    def _last_acked_sequence(self, proc: int, batches: Tup, part: int, epoch: int) -> int:
        """TxnPartitionEntry.lastAckedSequence: the highest sequence acknowledged on the
        partition under ``epoch`` (a bump resets it)."""
        partitions = self.record_partition[proc]
        last = NO_LAST_ACKED_SEQUENCE
        for r, batch in enumerate(batches):
            if batch[0] == B_ACKED and batch[1] == epoch and partitions[r] == part:
                last = max(last, batch[2])
        return last

    def _bump_idempotent_epoch(self, proc: int, client: Tup, part: int) -> Tup:
        """KIP-360 for an idempotent producer (Sender.bumpIdempotentEpochAndResetIdIfNeeded on
        its next loop, which waits for nothing): epoch + 1, and on the partition that asked,
        every unacknowledged batch that has a sequence, still in flight under the old epoch
        or re-enqueued, takes the new epoch and a sequence from 0 in order
        (TxnPartitionMap.startSequencesAtBeginning). Other partitions restart at 0 once their
        old-epoch batches are resolved."""
        epoch = client[C_EPOCH] + 1
        batches = list(client[C_BATCHES])
        partitions = self.record_partition[proc]
        unacked = sorted(
            (batch[2], r)
            for r, batch in enumerate(batches)
            if batch[0] == B_INFLIGHT and partitions[r] == part
        )
        for seq, (_, r) in enumerate(unacked):
            batches[r] = (B_INFLIGHT, epoch, seq, batches[r][3])
        sequences = list(client[C_SEQUENCES])
        sequences[part] = len(unacked)
        for other in range(len(sequences)):
            if other != part and not any(
                b[0] == B_INFLIGHT and partitions[r] == other for r, b in enumerate(batches)
            ):
                sequences[other] = 0
        return (
            client[C_STATE],
            epoch,
            client[C_CURRENT],
            tuple(batches),
            tuple(sequences),
            client[C_ADDED],
            client[C_AWAITING],
        )

    def _maybe_restart_sequences(self, proc: int, client: Tup, part: int) -> Tup:
        """TransactionManager.maybeUpdateProducerIdAndEpoch: once a partition has no batch in
        flight under an older epoch, its sequences restart at 0 under the current one."""
        partitions = self.record_partition[proc]
        for r, batch in enumerate(client[C_BATCHES]):
            if batch[0] == B_INFLIGHT and partitions[r] == part:
                return client
        return replace(client, C_SEQUENCES, replace(client[C_SEQUENCES], part, 0))

    def _receive_coordinator_response(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        _, proc, api, error, epoch, txn = message
        clients = state[S_CLIENTS]
        client = clients[proc]
        awaiting = client[C_AWAITING]
        label = (
            f"ReceiveCoordinatorResponse({self.process_names[proc]},{API_NAMES[api]},"
            f"{_error_name(error)})"
        )
        network = rest
        if not awaiting or awaiting[2] != api or awaiting[5] != txn or client[C_STATE] == _F:
            out.append((label, (*state[:S_NETWORK], rest, *state[S_NETWORK + 1 :])))
            return
        cstate = client[C_STATE]
        if error == _CONCURRENT and cstate == _AE:
            # re-enqueued, then failed when dequeued: in ABORTABLE_ERROR the transaction
            # manager sends nothing but EndTxn(abort) (maybeTerminateRequestWithError)
            client = (*client[:C_AWAITING], ())
        elif error == _CONCURRENT:
            # TransactionManager re-enqueues the request after a back-off
            network = add_messages(rest, awaiting)
        elif error in _FATAL or (
            api != API_ADD_PARTITIONS and api != API_ADD_OFFSETS and error != _NONE
        ):
            client = (_F, *client[1:C_AWAITING], ())
        elif api == API_INIT_PRODUCER_ID:
            client = (
                _R,
                epoch,
                client[C_CURRENT],
                client[C_BATCHES],
                (0,) * self.partition_count,
                0,
                (),
            )
        elif api in (API_ADD_PARTITIONS, API_ADD_OFFSETS):
            if error == _NONE:
                client = (cstate, *client[1:C_ADDED], client[C_ADDED] | awaiting[4], ())
            else:
                client = (_AE if cstate != _AE else cstate, *client[1:C_AWAITING], ())
        else:  # EndTxn accepted
            client = self._transaction_done(proc, client, cstate == _C, epoch)
            if client[C_STATE] == _I:
                network = add_messages(network, client[C_AWAITING])
        out.append(
            (
                label,
                (
                    replace(clients, proc, client),
                    state[S_PARTITIONS],
                    state[S_COORDINATOR],
                    network,
                    *state[S_CONSUMER:],
                ),
            )
        )

    def _transaction_done(self, proc: int, client: Tup, committed: bool, epoch: int = -1) -> Tup:
        """The client after its transaction completed: READY for the next one. TV2 adopts the
        bumped epoch EndTxn returned (sequences restart at 0); TV1 after an abort with failed
        batches asks InitProducerId for a bump (KIP-360); a CTP application stops after an
        abort (a new incarnation takes over from the committed offsets)."""
        current = client[C_CURRENT]
        next_txn = current + 1
        if self.kinds[proc] == CTP and not committed:
            next_txn = len(self.txn_records[proc])
        sequences = client[C_SEQUENCES]
        new_epoch = client[C_EPOCH]
        if self.tv2 and epoch >= 0 and epoch != new_epoch:
            new_epoch = epoch
            sequences = (0,) * self.partition_count
        batches = client[C_BATCHES]
        if (
            not self.tv2
            and not committed
            and any(batches[r][0] == B_FAILED for r in self.txn_records[proc][current])
        ):
            request = (M_COORDINATOR_REQUEST, proc, API_INIT_PRODUCER_ID, new_epoch, 1, -1)
            return (_I, new_epoch, next_txn, batches, sequences, 0, request)
        return (_R, new_epoch, next_txn, batches, sequences, 0, ())

    # ------------------------------------------------------------------ coordinator
    def _handle_coordinator_request(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        """TransactionCoordinator.handle{InitProducerId, AddPartitionsToTransaction,
        EndTransaction}: either an immediate error, or a pending transition to write."""
        _, proc, api, epoch, argument, txn = message
        tid = self.tid_of[proc]
        coordinator = state[S_COORDINATOR]
        metadata = coordinator[K_METADATA][tid]
        status = metadata[T_STATE]
        pending = metadata[T_PENDING]
        current_epoch = metadata[T_EPOCH]
        transition: Tup = ()
        error = _NONE
        reply_epoch = current_epoch
        if api == API_INIT_PRODUCER_ID:
            # prepareInitProducerIdTransit: the state decides first; only a bump from a
            # completed (or empty) state checks the expected epoch. In Ongoing the transaction
            # is fenced whatever epoch the request names (same producer id).
            if pending:
                error = _CONCURRENT
            elif status == NO_METADATA:
                transition = (_EMPTY, 0, 0, -1, (proc, api, _NONE, 0, txn), -1)
            elif status in _COMPLETED:
                # a new incarnation (no epoch) always bumps; a KIP-360 bump request may be
                # a retry (answered with the current epoch, nothing written) or fenced
                outcome = (
                    BumpRequest.BUMP
                    if epoch < 0
                    else bump_request(epoch, current_epoch, metadata[T_LAST_EPOCH])
                )
                if outcome is BumpRequest.BUMP:
                    transition = (
                        _EMPTY,
                        current_epoch + 1,
                        0,
                        -1,
                        (proc, api, _NONE, current_epoch + 1, txn),
                        current_epoch if epoch >= 0 else -1,  # lastProducerEpoch
                    )
                elif outcome is BumpRequest.FENCED:
                    error = _PRODUCER_FENCED
            elif status == _ONGOING:
                # fence the previous incarnation: bump the epoch and abort its transaction
                transition = (
                    _PA,
                    current_epoch + 1,
                    metadata[T_PARTITIONS],
                    metadata[T_OWNER],
                    (proc, api, _CONCURRENT, current_epoch + 1, txn),
                    -1,
                )
            else:
                error = _CONCURRENT
        elif api in (API_ADD_PARTITIONS, API_ADD_OFFSETS):
            if status == NO_METADATA:
                error = _INVALID_MAPPING
            elif epoch != current_epoch:
                error = _PRODUCER_FENCED
            elif pending or status in _PREPARE:
                error = _CONCURRENT
            elif status == _ONGOING and not argument & ~metadata[T_PARTITIONS]:
                error = _NONE  # already in the transaction: nothing to write
            else:
                ongoing = status == _ONGOING
                transition = (
                    _ONGOING,
                    current_epoch,
                    (metadata[T_PARTITIONS] if ongoing else 0) | argument,
                    metadata[T_OWNER] if ongoing else txn,
                    (proc, api, _NONE, current_epoch, txn),
                    metadata[T_LAST_EPOCH],
                )
        else:
            transition, error, reply_epoch = self._end_txn(
                metadata, proc, epoch, bool(argument), txn
            )
        if transition:
            metadata = replace(metadata, T_PENDING, transition)
            coordinator = replace(
                coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata)
            )
            network = rest
        else:
            network = add_messages(
                rest, (M_COORDINATOR_RESPONSE, proc, api, error, reply_epoch, txn)
            )
        action = (
            "HandleInitProducerId",
            "HandleAddPartitionsToTxn",
            "HandleAddOffsetsToTxn",
            "HandleEndTxn",
        )[api]
        outcome = "WRITE" if transition else _error_name(error)
        if api == API_END_TXN:
            outcome = f"{'COMMIT' if argument else 'ABORT'},{outcome}"
        out.append(
            (
                f"{action}({self.transactional_ids[tid]},{self.process_names[proc]},e{epoch},{outcome})",
                (state[S_CLIENTS], state[S_PARTITIONS], coordinator, network, *state[S_CONSUMER:]),
            )
        )

    def _end_txn(
        self, metadata: Tup, proc: int, epoch: int, commit: bool, txn: int
    ) -> tuple[Tup, int, int]:
        """EndTxn: (transition to write, immediate error, epoch in the response)."""
        status = metadata[T_STATE]
        current = metadata[T_EPOCH]
        prepare = _PC if commit else _PA
        complete = _CC if commit else _CA
        if status == NO_METADATA:
            return (), _INVALID_MAPPING, current
        if self.tv2:
            retry = end_txn_is_retry(epoch, current, status)
            if not retry and epoch != current:
                return (), _PRODUCER_FENCED, current
            if metadata[T_PENDING]:
                return (), _CONCURRENT, current
            if status == _ONGOING and not retry:
                return (
                    (
                        prepare,
                        current + 1,
                        metadata[T_PARTITIONS],
                        metadata[T_OWNER],
                        (proc, API_END_TXN, _NONE, current + 1, txn),
                        current,  # prepareAbortOrCommit with an epoch bump
                    ),
                    _NONE,
                    current + 1,
                )
            if retry and status == complete:
                return (), _NONE, current
            if retry and status == prepare:
                return (), _CONCURRENT, current
            return (), _INVALID_TXN_STATE, current
        if epoch != current:
            return (), _PRODUCER_FENCED, current
        if metadata[T_PENDING]:
            return (), _CONCURRENT, current
        if status == _ONGOING:
            return (
                (
                    prepare,
                    current,
                    metadata[T_PARTITIONS],
                    metadata[T_OWNER],
                    (proc, API_END_TXN, _NONE, current, txn),
                    metadata[T_LAST_EPOCH],
                ),
                _NONE,
                current,
            )
        if status == complete:
            return (), _NONE, current
        if status == prepare:
            return (), _CONCURRENT, current
        return (), _INVALID_TXN_STATE, current

    def _coordinator_actions(self, state: Tup, out: Out) -> None:
        coordinator = state[S_COORDINATOR]
        budget = state[S_BUDGET]
        for tid, metadata in enumerate(coordinator[K_METADATA]):
            name = self.transactional_ids[tid]
            if metadata[T_PENDING]:
                self._complete_log_append(state, tid, metadata, out)
                continue
            status = metadata[T_STATE]
            if status in _PREPARE:
                if self._something_was_lost(state):
                    self._resend_markers(state, tid, metadata, out)
            elif status == _ONGOING and budget[F_TXN_TIMEOUTS]:
                # transaction.timeout.ms: abort with a bumped epoch, which also fences
                transition = (
                    _PA,
                    metadata[T_EPOCH] + 1,
                    metadata[T_PARTITIONS],
                    metadata[T_OWNER],
                    (),
                    -1,  # an epoch fence clears lastProducerEpoch
                )
                new_coordinator = replace(
                    coordinator,
                    K_METADATA,
                    replace(coordinator[K_METADATA], tid, replace(metadata, T_PENDING, transition)),
                )
                out.append(
                    (
                        f"TimeoutTransaction({name},e{metadata[T_EPOCH]})",
                        (
                            *state[:S_COORDINATOR],
                            new_coordinator,
                            *state[S_NETWORK:S_BUDGET],
                            replace(budget, F_TXN_TIMEOUTS, budget[F_TXN_TIMEOUTS] - 1),
                        ),
                    )
                )
        if budget[F_FAILOVERS]:
            self._failover(state, out)

    def _complete_log_append(self, state: Tup, tid: int, metadata: Tup, out: Out) -> None:
        """The pending record is replicated in __transaction_state: the transition completes,
        the client gets its answer, and a Prepare* state sends WriteTxnMarkers everywhere."""
        new_state, epoch, partitions, owner, reply, last_epoch = metadata[T_PENDING]
        coordinator = state[S_COORDINATOR]
        cepoch = coordinator[K_EPOCH]
        network = state[S_NETWORK]
        outcomes = state[S_OUTCOMES]
        messages: list[Tup] = []
        if reply:
            proc, api, error, reply_epoch, txn = reply
            messages.append((M_COORDINATOR_RESPONSE, proc, api, error, reply_epoch, txn))
        pending: Tup = ()
        if new_state in _PREPARE:
            commit = new_state == _PC
            if owner >= 0 and outcomes[owner] == O_UNDECIDED:
                outcomes = replace(outcomes, owner, O_COMMIT if commit else O_ABORT)
            for part in range(self.partition_count):
                if partitions >> part & 1:
                    messages.append((M_MARKER, part, tid, cepoch, epoch, int(commit)))
        record = (new_state, epoch, partitions, owner, last_epoch)
        metadata = (new_state, epoch, partitions, owner, 0, pending, last_epoch)
        coordinator = (
            cepoch,
            replace(coordinator[K_METADATA], tid, metadata),
            replace(coordinator[K_LOG], tid, record),
        )
        label = (
            f"CompleteTxnLogAppend({self.transactional_ids[tid]},"
            f"{_TXN_STATE_NAMES[new_state]},e{epoch})"
        )
        out.append(
            (
                label,
                (
                    state[S_CLIENTS],
                    state[S_PARTITIONS],
                    coordinator,
                    add_messages(network, *messages),
                    state[S_CONSUMER],
                    outcomes,
                    state[S_BUDGET],
                ),
            )
        )

    def _resend_markers(self, state: Tup, tid: int, metadata: Tup, out: Out) -> None:
        """TransactionMarkerChannelManager retries a marker whose request or response was
        lost (one with nothing in flight and not acknowledged), unless the transaction's
        markers were given up."""
        cepoch = state[S_COORDINATOR][K_EPOCH]
        network = state[S_NETWORK]
        acks = metadata[T_ACKS]
        if acks >> FAILED_SHIFT:
            return  # removeMarkersForTxnId: nothing is sent for it until a failover
        commit = int(metadata[T_STATE] == _PC)
        for part in range(self.partition_count):
            if not metadata[T_PARTITIONS] >> part & 1 or acks >> part & 1:
                continue
            marker = (M_MARKER, part, tid, cepoch, metadata[T_EPOCH], commit)
            if marker in network or any(
                m[0] == M_MARKER_RESPONSE and m[1] == part and m[2] == tid and m[3] == cepoch
                for m in network
            ):
                continue
            out.append(
                (
                    f"ResendTxnMarker({self.transactional_ids[tid]},{self.partition_names[part]})",
                    (*state[:S_NETWORK], add_messages(network, marker), *state[S_NETWORK + 1 :]),
                )
            )

    def _handle_marker_response(self, state: Tup, message: Tup, rest: Tup, out: Out) -> None:
        """TransactionMarkerRequestCompletionHandler: once every partition acknowledged, write
        Complete*; an error (fenced epoch or coordinator) gives up the transaction's markers
        (removeMarkersForTxnId): it stays in Prepare* until a failover reloads it, and later
        answers are not looked at."""
        _, part, tid, cepoch, error = message
        coordinator = state[S_COORDINATOR]
        metadata = coordinator[K_METADATA][tid]
        label = (
            f"HandleWriteTxnMarkersResponse({self.transactional_ids[tid]},"
            f"{self.partition_names[part]},{_error_name(error)})"
        )
        if (
            cepoch != coordinator[K_EPOCH]
            or metadata[T_STATE] not in _PREPARE
            or metadata[T_PENDING]
            or not metadata[T_PARTITIONS] >> part & 1
            or metadata[T_ACKS] >> part & 1
            or metadata[T_ACKS] >> FAILED_SHIFT  # given up
        ):
            out.append((label, (*state[:S_NETWORK], rest, *state[S_NETWORK + 1 :])))
            return
        if error == _NONE:
            acks = metadata[T_ACKS] | 1 << part
        else:
            acks = metadata[T_ACKS] | 1 << (part + FAILED_SHIFT)
        metadata = replace(metadata, T_ACKS, acks)
        if acks & self._full_mask == metadata[T_PARTITIONS]:
            complete = _CC if metadata[T_STATE] == _PC else _CA
            metadata = replace(
                metadata,
                T_PENDING,
                (complete, metadata[T_EPOCH], 0, -1, (), metadata[T_LAST_EPOCH]),
            )
        coordinator = replace(
            coordinator, K_METADATA, replace(coordinator[K_METADATA], tid, metadata)
        )
        out.append(
            (label, (state[S_CLIENTS], state[S_PARTITIONS], coordinator, rest, *state[S_CONSUMER:]))
        )

    def _failover(self, state: Tup, out: Out) -> None:
        """A new leader of __transaction_state (coordinator epoch + 1) loads the durable
        records: pending writes are lost, Prepare* transactions get their markers again."""
        coordinator = state[S_COORDINATOR]
        cepoch = coordinator[K_EPOCH] + 1
        metadata = []
        messages = []
        for tid, record in enumerate(coordinator[K_LOG]):
            if not record:
                metadata.append(NO_METADATA_ENTRY)
                continue
            status, epoch, partitions, owner, last_epoch = record
            metadata.append((status, epoch, partitions, owner, 0, (), last_epoch))
            if status in _PREPARE:
                for part in range(self.partition_count):
                    if partitions >> part & 1:
                        messages.append((M_MARKER, part, tid, cepoch, epoch, int(status == _PC)))
        budget = state[S_BUDGET]
        out.append(
            (
                f"CoordinatorFailover(ce{cepoch})",
                (
                    state[S_CLIENTS],
                    state[S_PARTITIONS],
                    (cepoch, tuple(metadata), coordinator[K_LOG]),
                    add_messages(state[S_NETWORK], *messages),
                    state[S_CONSUMER],
                    state[S_OUTCOMES],
                    replace(budget, F_FAILOVERS, budget[F_FAILOVERS] - 1),
                ),
            )
        )

    # ------------------------------------------------------------------ consumer
    def _consumer_actions(self, state: Tup, out: Out) -> None:
        """A Fetch by the consumer: everything from its position up to the LSO
        (read_committed, aborted data skipped) or the high watermark (read_uncommitted)."""
        consumer = state[S_CONSUMER]
        partitions = state[S_PARTITIONS]
        read_committed = self.read_committed
        for part, (position, delivered) in enumerate(consumer):
            partition = partitions[part]
            # cheap test first: is there anything new below the LSO / high watermark?
            limit = len(partition[P_LOG])
            if read_committed:
                for entry in partition[P_PRODUCERS]:
                    if entry and 0 <= entry[E_TXN_FIRST] < limit:
                        limit = entry[E_TXN_FIRST]
            if limit <= position:
                continue
            limit, returned = fetch(partition, position, read_committed)
            new_consumer = replace(consumer, part, (limit, delivered + returned))
            shown = "".join(f",o{o}" for o in returned)
            out.append(
                (
                    f"Fetch({self.partition_names[part]},{position}..{limit}{shown})",
                    (*state[:S_CONSUMER], new_consumer, *state[S_CONSUMER + 1 :]),
                )
            )
