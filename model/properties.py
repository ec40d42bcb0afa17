"""The properties of Kafka's exactly-once protocol, as predicates over model states.

Invariants are checked on every reachable state, action properties on every transition. Each
property's name is used everywhere (the checker's verdict, spec/SPEC.md, the verdict table, the
history checks of contract D); its description names the Jepsen anomaly it rules out where one
fits (duplicate, lost write, aborted read, torn transaction).

Per-partition work is cached on the partition value: partitions repeat across many states.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.client_states import is_legal_transition as client_transition_ok
from kafka_eos.protocol.client_view import ANOMALIES
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.coordinator_states import is_legal_transition as txn_transition_ok

from .client_view import (
    CLIENT_VIEW_PROPERTIES,
    anomaly_finder,
    client_view_invariants,
    decisions_asked,
)
from .footprints import PROPERTY_READS
from .layout import (
    B_ACKED,
    BT_EXTRA,
    BT_STATUS,
    C_BATCHES,
    C_STATE,
    D_RECORD,
    D_TRANSACTIONAL,
    E_TXN_FIRST,
    ENTRY_DATA,
    ENTRY_EPOCH,
    ENTRY_KIND,
    ENTRY_PID,
    K_METADATA,
    NO_METADATA,
    O_ABORT,
    O_COMMIT,
    O_UNDECIDED,
    P_LOG,
    P_PRODUCERS,
    P_REPLICATION,
    RS_CACHES,
    RS_ENDS,
    RS_LEADER,
    RS_LEADER_EPOCH,
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
from .tables import REC_PROCESS, REC_SOURCE, REC_TXN
from .views import ABORTED, PENDING, VISIBLE, fates, high_watermark, last_stable_offset

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: One-line descriptions (the long form is in spec/SPEC.md).
DESCRIPTIONS: dict[str, str] = {
    "no_fenced_writes": "no partition accepts a batch from a producer epoch older than one it "
    "already stored for that producer id (a zombie write)",
    "no_duplicates": "no record is appended twice to a partition (Jepsen: duplicate)",
    "no_lost_acks": "every acknowledged record is in the log at the acknowledged offset "
    "(Jepsen: lost write)",
    "per_producer_order": "each producer's records appear in a partition in the order it sent "
    "them (Jepsen: nonmonotonic send)",
    "open_txns_known": "every transaction open on a partition is ongoing or being completed at "
    "the coordinator, with that partition in its set (otherwise: a hanging transaction, the LSO "
    "is stuck)",
    "atomic_transactions": "what read_committed readers can see of every partition (including "
    "__consumer_offsets) agrees with the coordinator's decision: committed transactions' "
    "records only, never an aborted or undecided one (Jepsen: torn transaction)",
    "read_committed_no_aborted": "the consumer never returns a record of an aborted or "
    "still-open transaction (Jepsen: aborted read)",
    "read_committed_in_order": "the consumer returns exactly the committed records below its "
    "position, in offset order, without gaps",
    "exactly_once_ctp": "consume-transform-produce: each input record's output is visible at "
    "most once, and every input below the committed group offset has its output visible or "
    "committed (Jepsen: duplicate / lost write)",
    "offsets_immutable": "logs only grow at the end, one batch at a time: offsets are "
    "contiguous and an offset never changes its batch; with replicas, below the high watermark "
    "(what consumers may read), which never moves back on one leader",
    "consumer_within_high_watermark": "the consumer's position never passes a partition's "
    "high watermark (or, after a clean election, the new leader's log end when elected): it "
    "never read a record that a leader change can truncate",
    "replica_logs_match": "a follower that fetched from the current leader holds a prefix of "
    "the leader's log (KIP-101/279 truncation): what the leader counts as replicated is there",
    "lso_bounds": "LSO <= high watermark, and the LSO never decreases on one leader",
    "coordinator_transitions_legal": "every transaction-coordinator state change is legal in "
    "Kafka's TransactionState table",
    "client_transitions_legal": "every client TransactionManager state change is legal in "
    "Kafka's table",
    "decisions_asked": "every commit or abort decision at the coordinator was asked for by "
    "the client for that same transaction (or is a fencing or timeout abort), and a client "
    "told its EndTxn succeeded was told the decision",
    # judged by what the clients were told, by Elle's names (model/client_view.py)
    **ANOMALIES,
}

INVARIANTS = (
    "no_fenced_writes",
    "no_duplicates",
    "no_lost_acks",
    "per_producer_order",
    "open_txns_known",
    "atomic_transactions",
    "read_committed_no_aborted",
    "read_committed_in_order",
    "exactly_once_ctp",
    "consumer_within_high_watermark",
    "replica_logs_match",
    *CLIENT_VIEW_PROPERTIES,
)
ACTION_PROPERTIES = (
    "offsets_immutable",
    "lso_bounds",
    "coordinator_transitions_legal",
    "client_transitions_legal",
    "decisions_asked",
)
ALL_PROPERTIES = INVARIANTS + ACTION_PROPERTIES

Predicate = Callable[..., bool]
#: ``invariants_hold_after`` and ``action_properties_hold`` (the checker's fast paths):
#: (state, label, next state) -> whether every property holds.
StepCheck = Callable[[Tup, object, Tup], bool]
#: What a state's client view shows: the names of its anomalies (client_view.anomaly_finder).
Anomalies = Callable[[Tup], frozenset[str]]
#: The state component of each kind of location footprints.PROPERTY_READS names.
_COMPONENTS = {"clients": S_CLIENTS, "partitions": S_PARTITIONS, "consumer": S_CONSUMER,
               "coordinator": S_COORDINATOR, "outcomes": S_OUTCOMES}

#: The state components each property reads (footprints.PROPERTY_READS, declared once for
#: partial-order reduction; a test holds each property to it). An invariant whose components
#: a step leaves untouched (the same objects) gives on the next state what it gave on the
#: state before; an action property allows every step that leaves its components untouched
#: (it constrains how they change).
READS: dict[str, tuple[int, ...]] = {
    name: tuple(sorted(_COMPONENTS[kind] for kind in kinds))
    for name, kinds in PROPERTY_READS.items()
}


def invariants(model: KafkaEosModel, anomalies: Anomalies | None = None) -> dict[str, Predicate]:
    """The checked invariants by name; the client-view ones ask ``anomalies`` (made here if
    not given; pass the one given to :func:`invariants_hold_after`, so both share its memo)."""
    found = anomalies if anomalies is not None else anomaly_finder(model)
    table = {**_invariant_table(model), **client_view_invariants(found)}
    return {name: table[name] for name in INVARIANTS if name in model.checked}


def action_properties(model: KafkaEosModel) -> dict[str, Predicate]:
    table: dict[str, Predicate] = {
        "offsets_immutable": _offsets_immutable,
        "lso_bounds": _lso_bounds,
        "coordinator_transitions_legal": _coordinator_transitions_legal,
        "client_transitions_legal": _client_transitions_legal,
        "decisions_asked": decisions_asked(model),
    }
    return {name: table[name] for name in ACTION_PROPERTIES if name in model.checked}


def invariants_hold_after(
    checked: Mapping[str, Predicate], anomalies: Anomalies | None = None
) -> StepCheck:
    """Whether every invariant of ``checked`` holds on a new state, given that they all hold
    on the state it was reached from: only those reading a component the step changed are
    called (most steps change one or two of the seven). With ``anomalies`` (what the
    client-view invariants of ``checked`` ask), those are one call: a state's anomalies are
    found once, and the six invariants are one test of them."""
    predicates = dict(checked)
    viewed = frozenset(name for name in CLIENT_VIEW_PROPERTIES if name in predicates)
    if anomalies is not None and viewed:
        found = anomalies
        # the first client-view invariant stands for all (they read the same components)
        group = next(name for name in predicates if name in viewed)
        predicates = {
            name: (lambda state: viewed.isdisjoint(found(state))) if name == group else holds
            for name, holds in predicates.items() if name == group or name not in viewed
        }
    to_call = _by_changed_components(predicates)

    def hold_after(state: Tup, label: object, target: Tup) -> bool:
        # a loop, not all() over a generator: this runs on every new state
        for holds in to_call(state, target):  # noqa: SIM110
            if not holds(target):
                return False
        return True

    return hold_after


def action_properties_hold(checked: Mapping[str, Predicate]) -> StepCheck:
    """Whether every action property of ``checked`` holds on a step: only those reading a
    component the step changed are called. (Grouped by component rather than selected like
    the invariants: this runs on every transition, where one pass over three components
    costs less than a selection.)"""
    groups = tuple(
        (at, tuple(allows for name, allows in checked.items() if at in READS[name]))
        for at in sorted({at for name in checked for at in READS[name]})
    )

    def hold(state: Tup, label: object, target: Tup) -> bool:
        for at, properties in groups:
            if state[at] is not target[at]:
                for allows in properties:
                    if not allows(state, label, target):
                        return False
        return True

    return hold


def _by_changed_components(
    checked: Mapping[str, Predicate],
) -> Callable[[Tup, Tup], tuple[Predicate, ...]]:
    """The predicates of ``checked`` (in order) that read a component changed between two
    states, as a function of the two states; the selection is cached per set of changes."""
    components = tuple(sorted({at for name in checked for at in READS[name]}))
    selections: dict[int, tuple[Predicate, ...]] = {0: ()}

    def to_call(state: Tup, target: Tup) -> tuple[Predicate, ...]:
        changed = 0
        for at in components:
            if state[at] is not target[at]:
                changed |= 1 << at
        selection = selections.get(changed)
        if selection is None:
            selection = selections[changed] = tuple(
                predicate for name, predicate in checked.items()
                if any(changed >> at & 1 for at in READS[name])
            )
        return selection

    return to_call


# ---------------------------------------------------------------------- invariants
_FENCED, _DUPLICATE, _REORDERED = 1, 2, 4


def _invariant_table(model: KafkaEosModel) -> dict[str, Predicate]:
    records = model.records
    offsets_partition = model.offsets_partition
    data_partitions = model.data_partitions
    record_global = model.record_global
    record_partition = model.record_partition

    @lru_cache(maxsize=1 << 17)
    def summary(partition: Tup) -> tuple[int, tuple[tuple[int, int], ...]]:
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


def _same_leader(old: Tup, new: Tup) -> bool:
    """Whether two values of a partition have the same leader epoch (always, unreplicated)."""
    before, after = old[P_REPLICATION], new[P_REPLICATION]
    return not before or before[RS_LEADER_EPOCH] == after[RS_LEADER_EPOCH]


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


_OPEN_STATES = frozenset(
    int(s) for s in (TxnState.ONGOING, TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)
)


# ---------------------------------------------------------------------- action properties
# The action properties run on every transition; most transitions leave the component they
# look at untouched (the same tuple object), so each starts with an identity test, with the
# component's index bound as a default argument (a fast local).
def _offsets_immutable(state: Tup, label: str, target: Tup, _at: int = S_PARTITIONS) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for old, new in zip(before, after, strict=True):
        old_log, new_log = old[P_LOG], new[P_LOG]
        if old[P_REPLICATION]:
            # a new leader may lack its predecessor's entries above the high watermark, and
            # start from a lower high watermark of its own (Partition.makeLeader); one leader's
            # never moves back (UnifiedLog.maybeIncrementHighWatermark)
            hw = high_watermark(old)
            if new_log[:hw] != old_log[:hw]:
                return False
            if high_watermark(new) < hw and _same_leader(old, new):
                return False
            continue
        if old_log is new_log:
            continue
        grown = len(new_log) - len(old_log)
        if grown not in (0, 1) or new_log[: len(old_log)] != old_log:
            return False
    return True


def _lso_bounds(state: Tup, label: str, target: Tup, _at: int = S_PARTITIONS) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for old, new in zip(before, after, strict=True):
        if old is new:
            continue
        lso = last_stable_offset(new)
        if lso > high_watermark(new):
            return False
        # a new leader's LSO follows its own high watermark, which may lag its predecessor's
        if lso < last_stable_offset(old) and _same_leader(old, new):
            return False
    return True


def _coordinator_transitions_legal(
    state: Tup,
    label: str,
    target: Tup,
    _at: int = S_COORDINATOR,
) -> bool:
    before, after = state[_at], target[_at]
    if before is after or before[K_METADATA] is after[K_METADATA]:
        return True
    for old, new in zip(before[K_METADATA], after[K_METADATA], strict=True):
        source, destination = old[T_STATE], new[T_STATE]
        if source in (destination, NO_METADATA):
            continue
        if (source, destination) not in _LEGAL_COORDINATOR:
            return False
    return True


def _client_transitions_legal(
    state: Tup,
    label: str,
    target: Tup,
    _at: int = S_CLIENTS,
) -> bool:
    before, after = state[_at], target[_at]
    if before is after:
        return True
    for old, new in zip(before, after, strict=True):
        if old[C_STATE] != new[C_STATE] and (old[C_STATE], new[C_STATE]) not in _LEGAL_CLIENT:
            return False
    return True


_LEGAL_COORDINATOR = frozenset(
    (int(source), int(target))
    for source in TxnState
    for target in TxnState
    if txn_transition_ok(source, target)
)
_LEGAL_CLIENT = frozenset(
    (int(source), int(target))
    for source in ClientState
    for target in ClientState
    if client_transition_ok(source, target)
)


def describe(name: str) -> str:
    """The one-line description of property ``name``."""
    return DESCRIPTIONS[name]
