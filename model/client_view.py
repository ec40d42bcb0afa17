"""The client-view properties: Elle's anomalies (protocol/client_view.py) over model states.

A model state holds what each client was told, without a ghost of its own:

- a send: its batch is acknowledged (with the offset), failed (with the error) or neither;
- a transaction: a client moves past a transaction (``current`` grows) only when its EndTxn
  returned success (client_responses._transaction_done), and what it asked for then is the
  coordinator's decision (the ghost ``outcomes``), as the action property
  ``decisions_asked`` checks on the step where the client is told; a fenced or crashed client
  never moves past it, so its transaction stays indefinite;
- the consumer's polls: the offsets it returned, in order, per partition (held to
  read_committed's rules whatever its isolation, as the other consumer properties are).

Each state's client view is built once and judged by the shared rules; each invariant is one
of Elle's names, so a counterexample is reported as Jepsen would name it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Final

from kafka_eos.protocol.client_view import (
    ANOMALIES,
    ClientView,
    Polled,
    Sent,
    Told,
    anomalies,
    told_by_error,
)
from kafka_eos.protocol.errors import ErrorCode

from .codes import ABORTING, COMMITTING, PREPARE_COMMIT
from .layout import (
    API_END_TXN,
    API_INIT_PRODUCER_ID,
    B_ACKED,
    B_FAILED,
    B_UNSENT,
    BT_EPOCH,
    BT_EXTRA,
    BT_SEQUENCE,
    BT_STATUS,
    C_BATCHES,
    C_CURRENT,
    C_STATE,
    CP_DELIVERED,
    CR_API,
    CR_TRANSACTION,
    D_RECORD,
    ENTRY_DATA,
    ENTRY_KIND,
    K_METADATA,
    M_COORDINATOR_RESPONSE,
    M_KIND,
    O_ABORT,
    O_COMMIT,
    P_LOG,
    PT_OWNER,
    PT_REPLY,
    PT_STATE,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_OUTCOMES,
    S_PARTITIONS,
    T_PENDING,
    Tup,
)
from .tables import REC_TXN

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: The client-view invariants: Elle's names.
CLIENT_VIEW_PROPERTIES = tuple(ANOMALIES)
_READER: Final = "consumer"


def client_view(model: KafkaEosModel, state: Tup) -> ClientView:
    """What the clients of ``state`` were told: their sends and the consumer's polls."""
    logs = tuple(partition[P_LOG] for partition in state[S_PARTITIONS])
    return _view(model, state[S_CLIENTS], state[S_CONSUMER], state[S_OUTCOMES], logs)


def _view(
    model: KafkaEosModel, clients: Tup, consumer: Tup, outcomes: Tup, logs: Tup
) -> ClientView:
    sent: list[Sent] = []
    of_record: dict[int, int] = {}  # global record index -> index in sent
    for proc, client in enumerate(clients):
        for rec, batch in enumerate(client[C_BATCHES]):
            part = model.record_partition[proc][rec]
            if batch[BT_STATUS] == B_UNSENT or part == model.offsets_partition:
                continue
            of_record[model.record_global[proc][rec]] = len(sent)
            sent.append(_sent(model, proc, rec, batch, client[C_CURRENT], outcomes))
    polled: list[Polled] = []
    for part, view in enumerate(consumer):
        log = logs[part]
        name = model.partition_names[part]
        for offset in view[CP_DELIVERED]:
            if offset >= len(log) or log[offset][ENTRY_KIND] != ENTRY_DATA:
                continue  # truncated by an unclean election: consumer_within_high_watermark
            record = log[offset][D_RECORD]
            number = of_record.get(record)
            if number is None:  # a record appended though its batch is not sent: say unknown
                number = of_record[record] = len(sent)
                sent.append(Sent(client="?", partition=name, offset=-1, told=Told.INDEFINITE))
            polled.append(Polled(reader=_READER, partition=name, offset=offset, sent=number))
    return ClientView(sent=sent, polled=polled)


def _sent(
    model: KafkaEosModel, proc: int, rec: int, batch: Tup, current: int, outcomes: Tup
) -> Sent:
    status, epoch, sequence, extra = (
        batch[BT_STATUS],
        batch[BT_EPOCH],
        batch[BT_SEQUENCE],
        batch[BT_EXTRA],
    )
    offset = extra if status == B_ACKED else -1
    told = Told.INDEFINITE
    if status == B_FAILED:
        told = told_by_error(ErrorCode(extra).name)
    transaction = model.records[model.record_global[proc][rec]][REC_TXN]
    if transaction < 0:
        told = Told.OK if status == B_ACKED else told
    elif current > model.record_txn[proc][rec]:  # its EndTxn returned success
        decided = outcomes[transaction]
        told = Told.OK if decided == O_COMMIT else Told.FAILED if decided == O_ABORT else told
    pid = model.pid_of[proc]
    order = (pid, epoch, sequence) if pid >= 0 and sequence >= 0 else None
    return Sent(
        client=model.process_names[proc],
        partition=model.partition_names[model.record_partition[proc][rec]],
        offset=offset,
        told=told,
        order=order,
        transaction=transaction if transaction >= 0 else None,
    )


def anomaly_finder(model: KafkaEosModel) -> Callable[[Tup], frozenset[str]]:
    """The names of the anomalies a state's client view shows. They are found once for all
    invariants, and once per (clients, consumer, outcomes, logs): what a client view is built
    from repeats across states that differ in the network or the coordinator."""

    def judge(clients: Tup, consumer: Tup, outcomes: Tup, logs: Tup) -> frozenset[str]:
        return frozenset(a.name for a in anomalies(_view(model, clients, consumer, outcomes, logs)))

    # wrapped, not decorated: compiled (mypyc), a closure cannot see a decorated nested def
    judged = lru_cache(maxsize=1 << 16)(judge)

    memo: list[object] = [None, frozenset()]

    def found(state: Tup) -> frozenset[str]:
        if memo[0] is not state:
            memo[0] = state
            if _quiet(state):
                memo[1] = frozenset()
            else:
                logs = tuple(partition[P_LOG] for partition in state[S_PARTITIONS])
                memo[1] = judged(state[S_CLIENTS], state[S_CONSUMER], state[S_OUTCOMES], logs)
        names: frozenset[str] = memo[1]  # type: ignore[assignment]
        return names

    return found


def client_view_invariants(
    found: Callable[[Tup], frozenset[str]],
) -> dict[str, Callable[[Tup], bool]]:
    """One invariant per Elle anomaly, each asking ``found`` (an :func:`anomaly_finder`)."""

    def holds(name: str) -> Callable[[Tup], bool]:
        return lambda state: name not in found(state)

    return {name: holds(name) for name in CLIENT_VIEW_PROPERTIES}


def _quiet(state: Tup) -> bool:
    """Nothing polled and at most one acknowledged batch: no anomaly can show (each needs a
    poll, or two acknowledged sends to compare)."""
    if any(view[CP_DELIVERED] for view in state[S_CONSUMER]):
        return False
    acked = 0
    for client in state[S_CLIENTS]:
        for batch in client[C_BATCHES]:
            acked += batch[BT_STATUS] == B_ACKED
    return acked < 2


def decisions_asked(model: KafkaEosModel) -> Callable[[Tup, object, Tup], bool]:
    """The action property ``decisions_asked``: each decision the coordinator takes was asked
    for by the client of that same transaction (an EndTxn it sent for it), or is an abort
    that fences (InitProducerId of a new incarnation) or times the transaction out; and a
    client told its EndTxn succeeded was told the decision: commit only of a committed
    transaction, abort only of one not committed."""

    def holds(state: Tup, label: object, target: Tup) -> bool:
        before, after = state[S_OUTCOMES], target[S_OUTCOMES]
        if before is not after:
            for txn in range(len(before)):  # by index: see transition_properties
                decided = after[txn]
                if before[txn] != decided and not _asked(model, state, txn, decided):
                    return False
        if state[S_CLIENTS] is not target[S_CLIENTS]:
            return _told_the_decision(model, state[S_CLIENTS], target[S_CLIENTS], after)
        return True

    return holds


def _asked(model: KafkaEosModel, state: Tup, txn: int, decided: int) -> bool:
    """Was the decision of ``txn`` being written asked for (transaction_log: the pending
    transition's reply names the request that asked, () for a timeout)?"""
    proc = model.transactions[txn][0]  # (process, local index, commit)
    pending = state[S_COORDINATOR][K_METADATA][model.tid_of[proc]][T_PENDING]
    if not pending or pending[PT_OWNER] != txn:
        return False
    reply = pending[PT_REPLY]
    api = reply[CR_API] if reply and reply[M_KIND] == M_COORDINATOR_RESPONSE else -1
    end_txn = api == API_END_TXN and reply[CR_TRANSACTION] == txn
    if decided == O_COMMIT:
        return end_txn and pending[PT_STATE] == PREPARE_COMMIT
    return end_txn or not reply or api == API_INIT_PRODUCER_ID


def _told_the_decision(model: KafkaEosModel, before: Tup, after: Tup, outcomes: Tup) -> bool:
    for proc in range(len(before)):  # by index: see transition_properties
        old, new = before[proc], after[proc]
        if old is new or old[C_STATE] not in (COMMITTING, ABORTING):
            continue
        if new[C_CURRENT] <= old[C_CURRENT]:
            continue
        decided = outcomes[model.txn_global[proc][old[C_CURRENT]]]
        if (decided == O_COMMIT) != (old[C_STATE] == COMMITTING):
            return False
    return True
