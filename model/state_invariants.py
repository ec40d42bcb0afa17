"""The invariants over the logs, the clients, the coordinator and the consumer (the
client-view ones are :mod:`.client_view`'s): each a predicate on one model state, named as in
:mod:`.properties`.

Per-partition work is cached on the partition value: partitions repeat across many states.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Final, cast

from kafka_eos.protocol.coordinator_states import TxnState

from .layout import (
    B_ACKED,
    BT_EXTRA,
    BT_STATUS,
    C_BATCHES,
    D_RECORD,
    D_TRANSACTIONAL,
    E_TXN_FIRST,
    ENTRY_DATA,
    ENTRY_EPOCH,
    ENTRY_KIND,
    ENTRY_PID,
    K_METADATA,
    O_ABORT,
    O_COMMIT,
    O_UNDECIDED,
    P_LOG,
    P_PRODUCERS,
    P_REPLICATION,
    RS_CACHES,
    RS_ENDS,
    RS_LEADER,
    RS_LOGS,
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_OUTCOMES,
    S_PARTITIONS,
    T_PARTITIONS,
    T_STATE,
    Tup,
)
from .property_steps import Predicate
from .tables import REC_PROCESS, REC_SOURCE, REC_TXN
from .views import ABORTED, PENDING, VISIBLE, fates, high_watermark

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

__all__ = ["readable_bound", "state_invariants"]

_FENCED: Final = 1
_DUPLICATE: Final = 2
_REORDERED: Final = 4


def state_invariants(model: KafkaEosModel) -> dict[str, Predicate]:
    """The invariants by name, closed over ``model``'s workload tables."""
    records = model.records
    offsets_partition = model.offsets_partition
    data_partitions = model.data_partitions
    record_global = model.record_global
    record_partition = model.record_partition

    def summarise(partition: Tup) -> tuple[int, tuple[tuple[int, int], ...]]:
        """Everything the invariants need from one partition, computed once per partition
        value: a bitmask of log-local breaches, and (transaction, fate) of each transactional
        data batch."""
        flags = 0
        highest_epoch: dict[int, int] = {}
        latest_record: dict[int, int] = {}
        seen: set[int] = set()
        kinds = fates(partition)
        txn_fates = []
        for offset, entry in enumerate(partition[P_LOG]):
            pid, epoch = entry[ENTRY_PID], entry[ENTRY_EPOCH]  # data or control
            if pid >= 0:
                if epoch < highest_epoch.get(pid, epoch):
                    flags |= _FENCED
                highest_epoch[pid] = epoch
            if entry[ENTRY_KIND] != ENTRY_DATA:
                continue
            record = entry[D_RECORD]
            if entry[D_TRANSACTIONAL]:
                txn_fates.append((records[record][REC_TXN], kinds[offset]))
            if record in seen:
                flags |= _DUPLICATE
                continue
            seen.add(record)
            proc = records[record][REC_PROCESS]
            if record < latest_record.get(proc, -1):
                flags |= _REORDERED
            latest_record[proc] = record
        return flags, tuple(txn_fates)

    # wrapped, not decorated: compiled (mypyc), a closure cannot see a decorated nested def
    summary = lru_cache(maxsize=1 << 17)(summarise)
    memo: list[object] = [None, ()]

    def summaries(state: Tup) -> Tup:
        # every invariant is called on the same state in a row: summarise it once
        if memo[0] is not state:
            memo[0] = state
            memo[1] = tuple(summary(p) for p in state[S_PARTITIONS])
        return cast(Tup, memo[1])

    def no_fenced_writes(state: Tup) -> bool:
        return not any(flags & _FENCED for flags, _ in summaries(state))

    def no_duplicates(state: Tup) -> bool:
        return not any(flags & _DUPLICATE for flags, _ in summaries(state)[:data_partitions])

    def per_producer_order(state: Tup) -> bool:
        return not any(flags & _REORDERED for flags, _ in summaries(state)[:data_partitions])

    def no_lost_acks(state: Tup) -> bool:
        partitions = state[S_PARTITIONS]
        for proc, client in enumerate(state[S_CLIENTS]):
            for rec, batch in enumerate(client[C_BATCHES]):
                if batch[BT_STATUS] == B_ACKED:
                    log = partitions[record_partition[proc][rec]][P_LOG]
                    offset = batch[BT_EXTRA]
                    if offset >= len(log) or log[offset][D_RECORD] != record_global[proc][rec]:
                        return False
        return True

    def open_txns_known(state: Tup) -> bool:
        metadata = state[S_COORDINATOR][K_METADATA]
        for part, partition in enumerate(state[S_PARTITIONS]):
            for pid, entry in enumerate(partition[P_PRODUCERS]):
                if entry and entry[E_TXN_FIRST] >= 0:
                    txn = metadata[model.pid_tid[pid]]
                    if txn[T_STATE] not in _OPEN_STATES or not txn[T_PARTITIONS] >> part & 1:
                        return False
        return True

    def atomic_transactions(state: Tup) -> bool:
        outcomes = state[S_OUTCOMES]
        for _, txn_fates in summaries(state):
            for txn, fate in txn_fates:
                outcome = outcomes[txn]
                if fate == VISIBLE and outcome != O_COMMIT:
                    return False
                if fate == ABORTED and outcome == O_COMMIT:
                    return False
        return True

    def read_committed_no_aborted(state: Tup) -> bool:
        outcomes = state[S_OUTCOMES]
        partitions = state[S_PARTITIONS]
        for part, (_, delivered) in enumerate(state[S_CONSUMER]):
            log = partitions[part][P_LOG]
            for offset in delivered:
                if offset >= len(log) or log[offset][ENTRY_KIND] != ENTRY_DATA:
                    continue  # truncated by an unclean election: consumer_within_high_watermark
                entry = log[offset]
                if (
                    entry[D_TRANSACTIONAL]
                    and outcomes[records[entry[D_RECORD]][REC_TXN]] != O_COMMIT
                ):
                    return False
        return True

    def read_committed_in_order(state: Tup) -> bool:
        outcomes = state[S_OUTCOMES]
        partitions = state[S_PARTITIONS]
        for part, (position, delivered) in enumerate(state[S_CONSUMER]):
            log = partitions[part][P_LOG]
            if position > len(log):
                return False  # what it read was truncated (an unclean election)
            expected = []
            for offset in range(position):
                entry = log[offset]
                if entry[ENTRY_KIND] != ENTRY_DATA:
                    continue
                if entry[D_TRANSACTIONAL]:
                    outcome = outcomes[records[entry[D_RECORD]][REC_TXN]]
                    if outcome == O_UNDECIDED:
                        return False  # the position passed still-open data
                    if outcome != O_COMMIT:
                        continue
                expected.append(offset)
            if tuple(expected) != delivered:
                return False
        return True

    def exactly_once_ctp(state: Tup) -> bool:
        if offsets_partition < 0:
            return True
        partitions = state[S_PARTITIONS]
        committed = model.committed_group_offset(partitions[offsets_partition])
        output = partitions[model.ctp_output]
        outcomes = state[S_OUTCOMES]
        kinds = fates(output)
        visible = [0] * model.ctp_input
        alive = [False] * model.ctp_input
        for offset, entry in enumerate(output[P_LOG]):
            if entry[ENTRY_KIND] != ENTRY_DATA:
                continue
            record = records[entry[D_RECORD]]
            source = record[REC_SOURCE]
            if source < 0:
                continue
            if kinds[offset] == VISIBLE:
                visible[source] += 1
                alive[source] = True
            elif kinds[offset] == PENDING and outcomes[record[REC_TXN]] != O_ABORT:
                alive[source] = True
        if any(count > 1 for count in visible):
            return False
        return all(alive[k] for k in range(min(committed, model.ctp_input)))

    def consumer_within_high_watermark(state: Tup) -> bool:
        partitions = state[S_PARTITIONS]
        return all(
            position <= readable_bound(partitions[part])
            for part, (position, _) in enumerate(state[S_CONSUMER])
        )

    return {
        "consumer_within_high_watermark": consumer_within_high_watermark,
        "replica_logs_match": _replica_logs_match,
        "no_fenced_writes": no_fenced_writes,
        "no_duplicates": no_duplicates,
        "no_lost_acks": no_lost_acks,
        "per_producer_order": per_producer_order,
        "open_txns_known": open_txns_known,
        "atomic_transactions": atomic_transactions,
        "read_committed_no_aborted": read_committed_no_aborted,
        "read_committed_in_order": read_committed_in_order,
        "exactly_once_ctp": exactly_once_ctp,
    }


def readable_bound(partition: Tup) -> int:
    """The highest offset a consumer may have passed: the high watermark; with replicas, at
    least the current leader epoch's start offset too. A new leader starts from the high
    watermark it kept as a follower, which may lag its predecessor's (Partition.makeLeader),
    but a clean election's leader held everything below that one: its log end when elected,
    where its epoch starts (Kafka relies on it the same way: KAFKA-7128's ISR rule,
    KIP-207's OFFSET_NOT_AVAILABLE while the high watermark is below it)."""
    replication = partition[P_REPLICATION]
    if not replication:
        return high_watermark(partition)
    epoch_start = int(replication[RS_CACHES][replication[RS_LEADER]][-1][1])
    return max(high_watermark(partition), epoch_start)


def _replica_logs_match(state: Tup) -> bool:
    """Every follower whose fetch offset the leader knows (it fetched since the election) holds
    a prefix of the leader's log: the leader's high watermark and its acks=all answers count
    the offsets below that fetch offset as on the follower (Partition.updateFollowerFetchState)."""
    for partition in state[S_PARTITIONS]:
        replication = partition[P_REPLICATION]
        if not replication:
            continue
        log, leader = partition[P_LOG], replication[RS_LEADER]
        for replica, own in enumerate(replication[RS_LOGS]):
            fetched = replica != leader and replication[RS_ENDS][replica] >= 0
            if fetched and log[: len(own)] != own:
                return False
    return True


_OPEN_STATES: Final = frozenset(
    int(s) for s in (TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)
)
