"""Programs (model labels, shrunk until removing any one step makes them pass) the refinement
tests found.

PROGRAMS: the known disagreements between the reference and the model (none today), each a
strict xfail whose last step the reference does differently, explained in
kafka_eos.reference.conformance.known; when the two come to agree, the test XPASSes and fails
the suite, so the entry in ``known.KNOWN`` can go. AGREED: programs that once disagreed, kept
as regressions after one side was fixed (some moved to a transaction-version-1
configuration when version 2's clients stopped sending the AddPartitionsToTxn or
AddOffsetsToTxn they start with: what they pin down is the same under either version).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from kafka_eos.model.codes import (
    FATAL_ERROR,
    INVALID_TXN_STATE,
    NOT_LEADER_OR_FOLLOWER,
    ONGOING,
    PRODUCER_FENCED,
)
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.layout import (
    B_FAILED,
    B_INFLIGHT,
    BT_STATUS,
    C_BATCHES,
    C_STATE,
    ENTRY_CONTROL,
    K_METADATA,
    M_KIND,
    M_PRODUCE_RESPONSE,
    M_VERIFY_RESPONSE,
    P_LOG,
    P_VERIFICATION,
    PRR_ERROR,
    S_CLIENTS,
    S_COORDINATOR,
    S_NETWORK,
    S_PARTITIONS,
    T_PARTITIONS,
    T_PENDING,
    T_STATE,
)
from kafka_eos.model.params import Faults, Knobs
from kafka_eos.model.registry import Step, step
from kafka_eos.protocol.client_states import ClientState
from kafka_eos.protocol.coordinator_states import TxnState
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.conformance.known import KNOWN

from .programs import final_states, run_program
from .workloads import TRANSACTIONS, model

_EXPLAINED = {d.name: d.explanation for d in KNOWN}
_CTP = load_check_config("ctp").model.workload
_TV1 = Knobs(transaction_version=1)
_CONFIGS = {
    "txn2": model(TRANSACTIONS),
    "txn1": model(TRANSACTIONS, knobs=Knobs(transaction_version=1)),
    "ctp": model(_CTP),
    "ctp-weak": model(_CTP, knobs=Knobs(producer_epoch_check=False)),
    "ctp-retriable": model(_CTP, faults=Faults(retriable_errors=1)),
    "fencing": model(load_check_config("default").model.workload),
    # transaction version 1, where the clients' AddPartitionsToTxn and AddOffsetsToTxn are
    "ctp-tv1": model(_CTP, knobs=_TV1),
    "ctp-retriable-tv1": model(_CTP, knobs=_TV1, faults=Faults(retriable_errors=1)),
    "fencing-tv1": model(load_check_config("default").model.workload, knobs=_TV1),
    "small-batch-cache": load_check_config("small-batch-cache").model,
    "retriable-errors": load_check_config("retriable-errors").model,
    "tv2-producer-epoch-wrap": load_check_config("tv2-producer-epoch-wrap").model,
    "producer-id-rotation": load_check_config("producer-id-rotation").model,
    "replicated-transactions": load_check_config("replicated-transactions").model,
    "tv1-late-marker": load_check_config("tv1-late-marker").model,
    "ctp-request-timeouts": load_check_config("ctp-request-timeouts").model,
    # two consume-transform-produce incarnations whose epoch wraps at 1 (producer id
    # rotation off), two request timeouts, the checks a drawn program had off
    "ctp-wrap-timeouts": model(
        replace(_CTP, max_producer_epoch=1, consumer="read_committed"),
        knobs=Knobs(batch_cache_size=1, max_in_flight=1, marker_retry_accepted=False,
                    marker_transaction_version=False, partition_verification=False,
                    verification_guard=False, coordinator_epoch_check=False,
                    producer_epoch_check=False, timeout_epoch_bump=False,
                    producer_id_rotation=False, group_generation_check=False),
        faults=Faults(request_timeouts=2),
    ),
    # one consume-transform-produce application whose transaction may time out; its epoch
    # bound of 1 rotates the producer id at the timeout's abort
    "ctp-timeout-rotation": model(
        replace(_CTP, producers=_CTP.producers[:1], max_producer_epoch=1),
        faults=Faults(txn_timeouts=1),
    ),
}

#: consume-transform-produce: both incarnations initialised, app#0 at epoch 0, app#1 at 1.
_APP0_AND_APP1_INITIALISED = [
    step("InitProducerId", "app#0"),
    step("HandleInitProducerId", "app", "app#0", -1, "WRITE", 0),
    step("CompleteTxnLogAppend", "app", "Empty", 0),
    step("InitProducerId", "app#1"),
    step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
    step("CompleteTxnLogAppend", "app", "Empty", 1),
]

#: consume-transform-produce: app#1, initialised at epoch 1, opens txn0 on t-0.
_APP1_OPENS_TXN0_AT_E1 = [
    step("ReceiveCoordinatorResponse", "app#1", "InitProducerId", "NONE"),
    step("FetchCommittedOffset", "app#1", 0),
    step("BeginTransaction", "app#1", 0),
    step("HandleAddPartitionsToTxn", "app", "app#1", 1, "WRITE", 0),
    step("CompleteTxnLogAppend", "app", "Ongoing", 1),
    step("ReceiveCoordinatorResponse", "app#1", "AddPartitionsToTxn", "NONE"),
]

def _first_begins_txn0_at_e0(tid: str) -> list[Step]:
    """The first incarnation of ``tid`` is initialised (epoch 0) and begins txn0 (under
    transaction version 2 that sends nothing: the leaders add the partitions)."""
    process = f"{tid}#0"
    return [
        step("InitProducerId", process),
        step("HandleInitProducerId", tid, process, -1, "WRITE", 0),
        step("CompleteTxnLogAppend", tid, "Empty", 0),
        step("ReceiveCoordinatorResponse", process, "InitProducerId", "NONE"),
        step("BeginTransaction", process, 0),
    ]


def _first_opens_txn0_at_e0(tid: str) -> list[Step]:
    """... and (transaction version 1) adds its partitions: the coordinator opens txn0."""
    return [
        *_first_begins_txn0_at_e0(tid),
        step("HandleAddPartitionsToTxn", tid, f"{tid}#0", 0, "WRITE", 0),
        step("CompleteTxnLogAppend", tid, "Ongoing", 0),
    ]


def _group_coordinator_adds(proc: str, guard: int, connection: int = 0) -> list[Step]:
    """Transaction version 2: the group coordinator holding ``proc``'s TxnOffsetCommit (record
    1, epoch 0, sent on ``connection``) adds __consumer_offsets-0 to app's transaction: a
    write to the log."""
    offsets = "__consumer_offsets-0"
    return [
        step("VerifyPartition", offsets, proc, 1, 0, -1, guard, connection),
        step("HandleVerifyPartition", "app", offsets, proc, 0, "ADD", "WRITE", guard, connection),
    ]


def _leader_opens(
    tid: str, part: str, proc: str, rec: int, epoch: int, *, offset: int, seq: int = 0
) -> list[Step]:
    """Transaction version 2: ``proc`` sends ``rec``, whose leader adds ``part`` to the
    transaction (guard 1): the coordinator writes Ongoing, then the leader appends."""
    return [
        step("Send", proc, rec, part, epoch, seq, "Produce"),
        step("VerifyPartition", part, proc, rec, epoch, seq, 1, 0),
        step("HandleVerifyPartition", tid, part, proc, epoch, "ADD", "WRITE", 1, 0),
        step("CompleteTxnLogAppend", tid, "Ongoing", epoch),
        step("AppendVerified", part, proc, rec, epoch, seq, "NONE", offset, 0),
    ]


#: app#0 is initialised (epoch 0) and opens txn0: the start of several programs.
_APP0_OPENS_TXN0_AT_E0 = _first_opens_txn0_at_e0("app")

#: ... as a consume-transform-produce application: it fetches its input's committed offset
#: before it begins.
_CTP_APP0_OPENS_TXN0_AT_E0 = [
    *_APP0_OPENS_TXN0_AT_E0[:4],
    step("FetchCommittedOffset", "app#0", 0),
    *_APP0_OPENS_TXN0_AT_E0[4:],
]

#: tx#0 is initialised (epoch 0) and opens txn0: the start of several programs.
_TX0_OPENS_TXN0_AT_E0 = _first_opens_txn0_at_e0("tx")

#: tx#0's InitProducerId is written (the third epoch bump) and it opens txn0 at epoch 2: part
#: of several shrunk programs.
_TX0_OPENS_TXN0_AT_E2 = [
    step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
    step("CompleteTxnLogAppend", "tx", "Empty", 2),
    step("ReceiveCoordinatorResponse", "tx#0", "InitProducerId", "NONE"),
    step("BeginTransaction", "tx#0", 0),
    step("HandleAddPartitionsToTxn", "tx", "tx#0", 2, "WRITE", 0),
    step("CompleteTxnLogAppend", "tx", "Ongoing", 2),
]

#: ... under transaction version 2: tx#0 begins txn0 at epoch 2 (no AddPartitionsToTxn).
_TX0_BEGINS_TXN0_AT_E2 = _TX0_OPENS_TXN0_AT_E2[:4]

#: tx#0 is initialised (epoch 0) and tx#1's first InitProducerId is lost: the start of two
#: shrunk programs.
_TX1_INIT_LOST = [
    step("InitProducerId", "tx#0"),
    step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
    step("CompleteTxnLogAppend", "tx", "Empty", 0),
    step("InitProducerId", "tx#1"),
    step("LoseMessage", "InitProducerId,tx#1,e-1"),
]

def _verified(
    tid: str, part: str, proc: str, rec: int, epoch: int, seq: int, *, adds: bool, answer: str,
    result: str, offset: int = -1,
) -> list[Step]:
    """A Produce the leader holds for the KIP-890 round trip: it asks the coordinator (guard
    1), the coordinator answers ``answer``; on NONE the leader appends (or answers) with
    ``result``, an error is the Produce's answer in the coordinator's step."""
    asks = [
        step("VerifyPartition", part, proc, rec, epoch, seq, 1, 0),
        step("HandleVerifyPartition", *(tid, part, proc, epoch), "ADD" if adds else "VERIFY",
             answer, 1, 0),
    ]
    if answer != "NONE":
        assert result == answer, "the leader hands the coordinator's error on"
        return asks
    return [*asks, step("AppendVerified", part, proc, rec, epoch, seq, result, offset, 0)]


#: tv2-producer-epoch-wrap: app#0 (epoch 0) opens txn0, app#1's InitProducerId fences it at
#: epoch 1 (PrepareAbort written); with producer_id_rotation off app#1's retry will wrap the
#: epoch around to 0, app#0's own.
_APP1_FENCES_APP0_AT_E1 = [
    step("InitProducerId", "app#0"),
    step("HandleInitProducerId", "app", "app#0", -1, "WRITE", 0),
    step("CompleteTxnLogAppend", "app", "Empty", 0),
    step("InitProducerId", "app#1"),
    step("ReceiveCoordinatorResponse", "app#0", "InitProducerId", "NONE"),
    step("BeginTransaction", "app#0", 0),
    step("HandleAddPartitionsToTxn", "app", "app#0", 0, "WRITE", 0),
    step("CompleteTxnLogAppend", "app", "Ongoing", 0),
    step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
    step("ReceiveCoordinatorResponse", "app#0", "AddPartitionsToTxn", "NONE"),
    step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
]
#: ... and the fence's ABORT marker is written and acknowledged (a stable fetch goes first,
#: SPEC.md §8).
_ABORT_MARKED = [
    step("HandleWriteTxnMarkers", "t-0", "app", "ABORT", 1, 0, "NONE"),
    step("Fetch", "t-0", 0, 1, ()),
    step("HandleWriteTxnMarkersResponse", "app", "t-0", "ABORT", 1, 0, "NONE"),
]


def _abort_completed(tid: str, epoch: int) -> list[Step]:
    """``tid``'s abort at ``epoch`` (PrepareAbort written) marked on t-0, where nothing else
    was written, and completed: the coordinator is idle again (while the markers are written
    it answers a request CONCURRENT_TRANSACTIONS before it looks at the epoch)."""
    return [
        step("HandleWriteTxnMarkers", "t-0", tid, "ABORT", epoch, 0, "NONE"),
        step("Fetch", "t-0", 0, 1, ()),
        step("HandleWriteTxnMarkersResponse", tid, "t-0", "ABORT", epoch, 0, "NONE"),
        step("CompleteTxnLogAppend", tid, "CompleteAbort", epoch),
    ]


#: ctp-wrap-timeouts: app#0 (epoch 0) sends its Produce and its TxnOffsetCommit (twice: the
#: first times out), the first copy's add opens the transaction; app#1's InitProducerId fences
#: it (PrepareAbort at epoch 1) and, re-sent once the abort is complete, wraps the epoch around
#: to 0 (producer_id_rotation off): app#0, a zombie, holds the coordinator's epoch again, with
#: the Produce and the second TxnOffsetCommit not yet verified.
_ZOMBIE_APP0_AT_WRAPPED_E0 = [
    *_first_begins_txn0_at_e0("app")[:4],
    step("FetchCommittedOffset", "app#0", 0),
    step("BeginTransaction", "app#0", 0),
    step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
    step("Send", "app#0", 1, "__consumer_offsets-0", 0, -1, "TxnOffsetCommit"),
    step("TimeoutProduce", "app#0", "__consumer_offsets-0", (1,)),
    *_group_coordinator_adds("app#0", 1),
    step("CompleteTxnLogAppend", "app", "Ongoing", 0),
    step("InitProducerId", "app#1"),
    step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 1),
    step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
    step("HandleWriteTxnMarkers", "__consumer_offsets-0", "app", "ABORT", 1, 0, "NONE"),
    step("HandleWriteTxnMarkersResponse", "app", "__consumer_offsets-0", "ABORT", 1, 0, "NONE"),
    step("CompleteTxnLogAppend", "app", "CompleteAbort", 1),
    step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 1),
    step("CompleteTxnLogAppend", "app", "Empty", 0),
]

#: None today (kafka_eos.reference.conformance.known lists none).
PROGRAMS: dict[str, tuple[str, list[Step]]] = {}


#: app#0's first Produce held by t-0's leader for the leader's add (transaction version 2).
_HELD_FOR_ITS_ADD = [
    *_first_begins_txn0_at_e0("app"),
    step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
    step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
]
#: ... re-sent to t-0's new leader, whose add finds t-0 in the transaction: it appends.
_RETRY_FINDS_T0_ADDED = [
    step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
    step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
    step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "NONE", 1, 0),
    step("AppendVerified", "t-0", "app#0", 0, 0, 0, "NONE", 0, 0),
]

#: Disagreements fixed since, each as a regression test: its program (ending at the step the
#: two sides used to take differently) must run without a disagreement.
AGREED: dict[str, tuple[str, list[Step]]] = {
    # t-0's leader fails over while it holds app#0's first Produce for the leader's add
    # (transaction version 2). Kafka's AddPartitionsToTxn goes on: the coordinator adds t-0
    # and opens the transaction; then ReplicaManager's postVerificationCallback calls
    # appendRecords, which the old leader refuses NOT_LEADER_OR_FOLLOWER
    # (Partition.appendRecordsToLeader); the producer retries to the new leader, which
    # verifies again and appends. The model had answered the held Produce at the failover and
    # dropped the round trip; the reference had appended it on the deposed replica.
    "leader_failover_during_verification": (
        "replicated-transactions",
        [
            *_HELD_FOR_ITS_ADD,
            step("LeaderFailover", "t-0", 0, 1, 1, "clean", "up"),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "WRITE", 1, 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("AppendVerified", "t-0", "app#0", 0, 0, 0, "NOT_LEADER_OR_FOLLOWER", -1, 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NOT_LEADER_OR_FOLLOWER"),
            *_RETRY_FINDS_T0_ADDED,
        ],
    ),
    # A leader fails over while app's COMMIT marker waits in its produce purgatory for the
    # follower: the model answers it NOT_LEADER_OR_FOLLOWER and sends it again to the new
    # leader in one step (the coordinator's retry folded in: model/purgatory.py's complete);
    # the driver left the reference's answer in flight. Found by a sweep of every state's
    # shortest path and transitions (the random refinement tests had not met it).
    "failover_while_a_marker_waits": (
        "replicated-transactions",
        [
            *_first_begins_txn0_at_e0("app"),
            *_leader_opens("app", "t-0", "app#0", 0, 0, offset=0),
            step("FollowerFetch", "t-0", 1, 0, 1),
            step("FollowerFetch", "t-0", 1, 1, 1),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NONE"),
            step("CommitTransaction", "app#0"),
            step("HandleEndTxn", "app", "app#0", 0, "COMMIT", "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "PrepareCommit", 1),
            step("HandleWriteTxnMarkers", "t-0", "app", "COMMIT", 1, 0, "NONE"),
            step("LeaderFailover", "t-0", 0, 1, 1, "clean", "up"),
            step("HandleWriteTxnMarkers", "t-0", "app", "COMMIT", 1, 0, "NONE"),
        ],
    ),
    # Transaction version 1: app's ABORT marker times out (TimeoutTxnMarker) and both copies
    # are handled; the first answer completes the abort, the second copy's answer is never
    # read (its connection was closed). The next transaction aborts at the same epoch, and
    # its ABORT marker to t-0 is the same marker: the driver kept the reference's unread
    # answer in flight, where it passed for the new marker's once the coordinator awaited
    # that (the model had dropped it, model/unreadable.py). Found by the shortest-path sweep.
    "late_marker_answer_is_not_the_next_abort_s": (
        "tv1-late-marker",
        [
            *_first_begins_txn0_at_e0("app"),
            step("HandleAddPartitionsToTxn", "app", "app#0", 0, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("ReceiveCoordinatorResponse", "app#0", "AddPartitionsToTxn", "NONE"),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "VERIFY", "NONE", 1, 0),
            step("AppendVerified", "t-0", "app#0", 0, 0, 0, "NONE", 0, 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NONE"),
            step("AbortTransaction", "app#0"),
            step("HandleEndTxn", "app", "app#0", 0, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 0),
            step("ReceiveCoordinatorResponse", "app#0", "EndTxn", "NONE"),
            step("BeginTransaction", "app#0", 1),
            step("TimeoutTxnMarker", "app", "t-0"),
            step("HandleWriteTxnMarkers", "t-0", "app", "ABORT", 0, 0, "NONE"),
            step("Fetch", "t-0", 0, 2, ()),
            step("HandleWriteTxnMarkersResponse", "app", "t-0", "ABORT", 0, 0, "NONE"),
            step("CompleteTxnLogAppend", "app", "CompleteAbort", 0),
            step("HandleAddPartitionsToTxn", "app", "app#0", 0, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("ReceiveCoordinatorResponse", "app#0", "AddPartitionsToTxn", "NONE"),
            step("Send", "app#0", 1, "t-0", 0, 1, "Produce"),
            step("VerifyPartition", "t-0", "app#0", 1, 0, 1, 1, 1),
            step("HandleWriteTxnMarkers", "t-0", "app", "ABORT", 0, 0, "NONE"),
            step("Fetch", "t-0", 2, 3, ()),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "VERIFY", "NONE", 1, 1),
            step("AppendVerified", "t-0", "app#0", 1, 0, 1, "INVALID_TXN_STATE", -1, 1),
            step("ReceiveProduceResponse", "app#0", 1, 1, "INVALID_TXN_STATE"),
            step("AbortTransaction", "app#0"),
            step("HandleEndTxn", "app", "app#0", 0, "ABORT", "WRITE", 1),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 0),
        ],
    ),
    # Transaction version 2: app's next TxnOffsetCommit (txn1, epoch 1) is held by the group
    # coordinator for its add when txn0's COMMIT marker, bumped to epoch 1, reaches
    # __consumer_offsets-0. The marker leaves that verification be, since it was started
    # for the next transaction (UnifiedLog.updateProducers: a control batch at the epoch of a
    # verification that supports the epoch bump, AddPartitionsToTxnManager's ADD_PARTITION,
    # the TxnOffsetCommit's operation too); the model cleared it on the offsets partition and
    # so refused the TxnOffsetCommit INVALID_TXN_STATE. Found by the shortest-path sweep.
    "offsets_marker_keeps_the_next_transactions_verification": (
        "ctp-request-timeouts",
        [
            *_first_begins_txn0_at_e0("app")[:-1],
            step("FetchCommittedOffset", "app#0", 0),
            step("BeginTransaction", "app#0", 0),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "WRITE", 1, 0),
            step("Send", "app#0", 1, "__consumer_offsets-0", 0, -1, "TxnOffsetCommit"),
            step("VerifyPartition", "__consumer_offsets-0", "app#0", 1, 0, -1, 1, 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            *_group_coordinator_adds("app#0", 1)[1:],
            step("AppendVerified", "t-0", "app#0", 0, 0, 0, "NONE", 0, 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NONE"),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("AppendVerified", "__consumer_offsets-0", "app#0", 1, 0, -1, "NONE", 0, 0),
            step("ReceiveProduceResponse", "app#0", 1, 0, "NONE"),
            step("CommitTransaction", "app#0"),
            step("HandleEndTxn", "app", "app#0", 0, "COMMIT", "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "PrepareCommit", 1),
            step("ReceiveCoordinatorResponse", "app#0", "EndTxn", "NONE"),
            step("HandleWriteTxnMarkers", "t-0", "app", "COMMIT", 1, 0, "NONE"),
            step("HandleWriteTxnMarkersResponse", "app", "t-0", "COMMIT", 1, 0, "NONE"),
            step("BeginTransaction", "app#0", 1),
            step("Send", "app#0", 2, "t-0", 1, 0, "Produce"),
            step("VerifyPartition", "t-0", "app#0", 2, 1, 0, 1, 0),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 1, "ADD",
                 "CONCURRENT_TRANSACTIONS", 1, 0),
            step("ReceiveProduceResponse", "app#0", 2, 0, "CONCURRENT_TRANSACTIONS"),
            step("Send", "app#0", 3, "__consumer_offsets-0", 1, -1, "TxnOffsetCommit"),
            step("VerifyPartition", "__consumer_offsets-0", "app#0", 3, 1, -1, 1, 0),
            step("TimeoutProduce", "app#0", "__consumer_offsets-0", (3,)),
            step("VerifyPartition", "__consumer_offsets-0", "app#0", 3, 1, -1, 1, 1),
            step("HandleWriteTxnMarkers", "__consumer_offsets-0", "app", "COMMIT", 1, 0, "NONE"),
        ],
    ),
    # The same failover where the old leader's broker restarts (it crashed): the held Produce
    # fails at once (its connection closes) and the producer retries to the new leader, while
    # the old broker's AddPartitionsToTxn is still on its way. Here it comes first and opens
    # the transaction, with no answer owed to anyone; the retry's add finds t-0 added.
    "leader_restart_during_verification": (
        "replicated-transactions",
        [
            *_HELD_FOR_ITS_ADD,
            step("LeaderFailover", "t-0", 0, 1, 1, "clean", "restarted"),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "WRITE", 1, 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NOT_LEADER_OR_FOLLOWER"),
            *_RETRY_FINDS_T0_ADDED,
        ],
    ),
    # A batch expires (delivery.timeout.ms) while another of its producer's batches waits
    # re-enqueued after a retriable error: the abortable error leaves the re-enqueued one be
    # (RecordAccumulator.abortUndrainedBatches aborts only batches without a sequence), and
    # the abort fails it with the expiry's error (SPEC.md §8: Kafka would re-send it). The
    # reference failed it at once.
    "expiry_fails_a_reenqueued_batch": (
        "retriable-errors",
        [
            *_first_begins_txn0_at_e0("app"),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            step("NotEnoughReplicas", "t-0", "app#0", 0, 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "NOT_ENOUGH_REPLICAS"),
            step("Send", "app#0", 1, "t-1", 0, 0, "Produce"),
            step("ExpireBatch", "app#0", 1),
            step("AbortTransaction", "app#0"),
        ],
    ),
    # A failover while the Complete* record is being written: the new coordinator epoch
    # reloads the prepared transaction and sends its markers again; the old epoch's failed
    # write must not put its finished markers' job back.
    "failover_during_the_complete_write_restarts_the_markers": (
        "ctp-tv1",
        [
            step("InitProducerId", "app#0"),
            step("HandleInitProducerId", "app", "app#0", -1, "WRITE", 0),
            step("InitProducerId", "app#1"),
            step("LoseMessage", "InitProducerId,app#1,e-1"),
            step("CompleteTxnLogAppend", "app", "Empty", 0),
            step("ReceiveCoordinatorResponse", "app#0", "InitProducerId", "NONE"),
            step("FetchCommittedOffset", "app#0", 0),
            step("BeginTransaction", "app#0", 0),
            step("HandleAddPartitionsToTxn", "app", "app#0", 0, "WRITE", 0),
            step("ResendCoordinatorRequest", "app#1", "InitProducerId"),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("TimeoutTransaction", "app", 0),
            step("ReceiveCoordinatorResponse", "app#0", "AddPartitionsToTxn", "NONE"),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
            step("HandleWriteTxnMarkers", "t-0", "app", "ABORT", 1, 0, "NONE"),
            step("HandleWriteTxnMarkersResponse", "app", "t-0", "ABORT", 1, 0, "NONE"),
            step("CoordinatorFailover", 1),
        ],
    ),
    # A failover loses tx#1's fencing write; the CONCURRENT_TRANSACTIONS answered with it (held
    # by the driver until the write is durable) is delivered when tx#1 re-sends, not twice.
    "failover_loses_the_fence_and_its_held_answer": (
        "txn1",
        [
            step("InitProducerId", "tx#0"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("InitProducerId", "tx#1"),
            step("ReceiveCoordinatorResponse", "tx#0", "InitProducerId", "NONE"),
            step("LoseMessage", "InitProducerId,tx#1,e-1"),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("LoseMessage", "InitProducerId,tx#1,e-1"),
            step("BeginTransaction", "tx#0", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#0", 0, "WRITE", 0),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("CompleteTxnLogAppend", "tx", "Ongoing", 0),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CoordinatorFailover", 1),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 1),
        ],
    ),
    # KIP-360 lastProducerEpoch: tx#0 bumps its epoch after an expired batch, the answer is
    # lost, and the retry (naming the epoch it bumped) gets the current epoch, not FENCED.
    "tv1_retried_bump_gets_the_current_epoch": (
        "txn1",
        [
            *_TX0_OPENS_TXN0_AT_E0,
            step("ReceiveCoordinatorResponse", "tx#0", "AddPartitionsToTxn", "NONE"),
            step("Send", "tx#0", 0, "t-0", 0, 0, "Produce"),
            step("ExpireBatch", "tx#0", 0),
            step("AbortTransaction", "tx#0"),
            step("HandleEndTxn", "tx", "tx#0", 0, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 0),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 0, 0, "NONE"),
            step("Fetch", "t-0", 0, 1, ()),  # the consumer passes the marker at once
            step("HandleWriteTxnMarkersResponse", "tx", "t-0", "ABORT", 0, 0, "NONE"),
            # the driver delivers each partition's marker on its own, as the model does
            step("HandleWriteTxnMarkers", "t-1", "tx", "ABORT", 0, 0, "NONE"),
            step("Fetch", "t-1", 0, 1, ()),  # the consumer passes the marker at once
            step("HandleWriteTxnMarkersResponse", "tx", "t-1", "ABORT", 0, 0, "NONE"),
            step("CompleteTxnLogAppend", "tx", "CompleteAbort", 0),
            step("ReceiveCoordinatorResponse", "tx#0", "EndTxn", "NONE"),
            step("HandleInitProducerId", "tx", "tx#0", 0, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("LoseMessage", "InitProducerIdResponse,tx#0,NONE,e1"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#0", 0, "NONE", 0),
            step("ReceiveCoordinatorResponse", "tx#0", "InitProducerId", "NONE"),
        ],
    ),
    # ... while a new incarnation's InitProducerId (no epoch) clears lastProducerEpoch, so the
    # old incarnation's bump, naming the epoch before, is fenced.
    "tv1_new_incarnation_fences_the_old_bump": (
        "txn1",
        [
            step("CoordinatorFailover", 1),
            step("InitProducerId", "tx#0"),
            step("LoseMessage", "InitProducerId,tx#0,e-1"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("InitProducerId", "tx#1"),
            step("LoseMessage", "InitProducerId,tx#1,e-1"),
            step("ReceiveCoordinatorResponse", "tx#0", "InitProducerId", "NONE"),
            step("BeginTransaction", "tx#0", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#0", 0, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Ongoing", 0),
            step("ReceiveCoordinatorResponse", "tx#0", "AddPartitionsToTxn", "NONE"),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("Send", "tx#0", 0, "t-0", 0, 0, "Produce"),
            step("ExpireBatch", "tx#0", 0),
            step("AbortTransaction", "tx#0"),
            step("HandleEndTxn", "tx", "tx#0", 0, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 0),
            step("HandleInitProducerId", "tx", "tx#1", -1, "CONCURRENT_TRANSACTIONS", 0),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 0, 1, "NONE"),
            step("Fetch", "t-0", 0, 1, ()),  # the consumer passes the marker at once
            step("HandleWriteTxnMarkersResponse", "tx", "t-0", "ABORT", 0, 1, "NONE"),
            # the driver delivers each partition's marker on its own, as the model does
            step("HandleWriteTxnMarkers", "t-1", "tx", "ABORT", 0, 1, "NONE"),
            step("Fetch", "t-1", 0, 1, ()),  # the consumer passes the marker at once
            step("HandleWriteTxnMarkersResponse", "tx", "t-1", "ABORT", 0, 1, "NONE"),
            step("CompleteTxnLogAppend", "tx", "CompleteAbort", 0),
            step("ReceiveCoordinatorResponse", "tx#0", "EndTxn", "NONE"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("HandleInitProducerId", "tx", "tx#0", 0, "PRODUCER_FENCED", 0),
        ],
    ),
    # A TxnOffsetCommit at the epoch a timeout abort has just fenced: the coordinator's
    # verification says PRODUCER_FENCED, which the leader reports as INVALID_PRODUCER_EPOCH for
    # TxnOffsetCommit as for Produce (Kafka's AddPartitionsToTxnManager), and which is fatal
    # to the producer for a TxnOffsetCommit (TxnOffsetCommitHandler), abortable for a Produce.
    "txn_offset_commit_fenced_by_verification_is_fatal": (
        "ctp-tv1",
        [
            step("CoordinatorFailover", 1),
            step("InitProducerId", "app#0"),
            step("LoseMessage", "InitProducerId,app#0,e-1"),
            step("InitProducerId", "app#1"),
            step("LoseMessage", "InitProducerId,app#1,e-1"),
            step("ResendCoordinatorRequest", "app#0", "InitProducerId"),
            step("HandleInitProducerId", "app", "app#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Empty", 0),
            step("ResendCoordinatorRequest", "app#1", "InitProducerId"),
            step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Empty", 1),
            step("ReceiveCoordinatorResponse", "app#0", "InitProducerId", "NONE"),
            step("FetchCommittedOffset", "app#0", 0),
            step("BeginTransaction", "app#0", 0),
            step("HandleAddPartitionsToTxn", "app", "app#0", 0, "PRODUCER_FENCED", 0),
            *_APP1_OPENS_TXN0_AT_E1,
            step("Send", "app#1", 0, "t-0", 1, 0, "Produce"),
            step("AddOffsetsToTxn", "app#1"),
            *_verified("app", "t-0", "app#1", 0, 1, 0, adds=False, answer="NONE", result="NONE",
                       offset=0),
            step("HandleAddOffsetsToTxn", "app", "app#1", 1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 1),
            step("TimeoutTransaction", "app", 1),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 2),
            step("HandleWriteTxnMarkers", "__consumer_offsets-0", "app", "ABORT", 2, 1, "NONE"),
            step("ReceiveCoordinatorResponse", "app#1", "AddOffsetsToTxn", "NONE"),
            *_verified(
                *("app", "__consumer_offsets-0", "app#1", 1, 1, -1),
                adds=False,
                answer="INVALID_PRODUCER_EPOCH",
                result="INVALID_PRODUCER_EPOCH",
            ),
            step("ReceiveProduceResponse", "app#1", 1, 0, "INVALID_PRODUCER_EPOCH"),
        ],
    ),
    # A transaction-timeout abort is being written when tx#0's write to its second partition
    # is sent: the write reaches the leader once the abort is complete and its add is fenced
    # (while the abort is being written, or its markers are, the leader's add is refused with
    # CONCURRENT_TRANSACTIONS and the batch retried).
    "tv2_leader_add_after_a_pending_abort": (
        "txn2",
        [
            *_first_begins_txn0_at_e0("tx"),
            *_leader_opens("tx", "t-0", "tx#0", 0, 0, offset=0),
            step("TimeoutTransaction", "tx", 0),
            step("Send", "tx#0", 1, "t-1", 0, 0, "Produce"),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 1),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 1, 0, "NONE"),
            step("Fetch", "t-0", 0, 2, ()),  # the consumer passes r0 and the marker
            step("HandleWriteTxnMarkersResponse", "tx", "t-0", "ABORT", 1, 0, "NONE"),
            step("CompleteTxnLogAppend", "tx", "CompleteAbort", 1),
            *_verified("tx", "t-1", "tx#0", 1, 0, 0, adds=True,
                       answer="INVALID_PRODUCER_EPOCH", result="INVALID_PRODUCER_EPOCH"),
            step("ReceiveProduceResponse", "tx#0", 1, 0, "INVALID_PRODUCER_EPOCH"),
        ],
    ),
    # A failover while tx#1's InitProducerId is being written: the new coordinator (a
    # follower that never had the unreplicated record) loses the transition; the reference
    # answers NOT_COORDINATOR, which the driver delivers when the model's client re-sends.
    "failover_loses_unreplicated_txn_log_record": (
        "txn2",
        [
            step("InitProducerId", "tx#0"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("InitProducerId", "tx#1"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CoordinatorFailover", 1),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("ReceiveCoordinatorResponse", "tx#1", "InitProducerId", "NONE"),
        ],
    ),
    # KIP-360 as Kafka's client does it (TransactionManager.canRetry, bumpIdempotentProducerEpoch):
    # OUT_OF_ORDER for the next expected batch retries it and bumps the epoch at once, without
    # waiting for r1's retry in flight; both batches are re-sequenced from 0 under the new
    # epoch, r0 goes out again as e1/s0 (next the leader appends it a second time: the
    # small-batch-cache verdict row) and r1's answer to its old-epoch attempt acknowledges it.
    "idempotent_bump_retries_and_rewrites_in_flight": (
        "small-batch-cache",
        [
            step("Send", "idempotent0", 0, "t-0", 0, 0, "Produce"),
            step("Send", "idempotent0", 1, "t-0", 0, 1, "Produce"),
            step("RetryProduce", "idempotent0", "t-0", (0, 1)),
            step("HandleProduce", "t-0", "idempotent0", 0, 0, 0, "NONE", 0, 0),
            step("HandleProduce", "t-0", "idempotent0", 1, 0, 1, "NONE", 1, 0),
            # the copies the retry sent on connection 1
            step(
                "HandleProduce",
                *("t-0", "idempotent0", 0, 0, 0, "OUT_OF_ORDER_SEQUENCE_NUMBER", -1, 1),
            ),
            step("ReceiveProduceResponse", "idempotent0", 0, 1, "OUT_OF_ORDER_SEQUENCE_NUMBER"),
            step("Send", "idempotent0", 0, "t-0", 1, 0, "Produce"),
            step("HandleProduce", "t-0", "idempotent0", 1, 0, 1, "DUPLICATE", 1, 1),
            step("ReceiveProduceResponse", "idempotent0", 1, 1, "NONE"),
        ],
    ),
    # Kafka's prepareInitProducerIdTransit looks at the state first: in Ongoing it fences the
    # transaction whatever epoch the request names (same producer id), so a zombie's KIP-360
    # bump request (tx#1 at epoch 1, after it aborted a transaction with an expired batch)
    # aborts the newer incarnation's ongoing transaction; the expected epoch is checked only
    # for a bump from a completed or empty state.
    "tv1_stale_bump_request_fences_ongoing": (
        "txn1",
        [
            step("InitProducerId", "tx#0"),
            step("InitProducerId", "tx#1"),
            step("CoordinatorFailover", 1),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("HandleInitProducerId", "tx", "tx#1", -1, "CONCURRENT_TRANSACTIONS", 0),
            step("LoseMessage", "InitProducerId,tx#1,e-1"),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("LoseMessage", "InitProducerIdResponse,tx#0,NONE,e0"),
            step("ReceiveCoordinatorResponse", "tx#1", "InitProducerId", "NONE"),
            step("BeginTransaction", "tx#1", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#1", 1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Ongoing", 1),
            step("ReceiveCoordinatorResponse", "tx#1", "AddPartitionsToTxn", "NONE"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("Send", "tx#1", 0, "t-0", 1, 0, "Produce"),
            step("ExpireBatch", "tx#1", 0),
            step("AbortTransaction", "tx#1"),
            step("HandleEndTxn", "tx", "tx#1", 1, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 1),
            step("HandleInitProducerId", "tx", "tx#0", -1, "CONCURRENT_TRANSACTIONS", 0),
            *_verified("tx", "t-0", "tx#1", 0, 1, 0, adds=False,
                       answer="INVALID_TXN_STATE", result="INVALID_TXN_STATE"),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 1, 1, "NONE"),
            step("Fetch", "t-0", 0, 1, ()),
            step("HandleWriteTxnMarkersResponse", "tx", "t-0", "ABORT", 1, 1, "NONE"),
            step("CompleteTxnLogAppend", "tx", "CompleteAbort", 1),
            *_TX0_OPENS_TXN0_AT_E2,
            step("ReceiveCoordinatorResponse", "tx#0", "AddPartitionsToTxn", "NONE"),
            step("ReceiveCoordinatorResponse", "tx#1", "EndTxn", "NONE"),
            step("HandleInitProducerId", "tx", "tx#1", 1, "WRITE", 0),
        ],
    ),
    # Kafka's ProducerAppendInfo (KAFKA-19999) writes a TV2 marker with exactly the stored
    # epoch again when no transaction is open: the re-sent marker after a failover is written
    # twice, and the deposed coordinator's copy is then fenced by its coordinator epoch.
    # Kafka's TransactionCoordinator.endTransaction (TV2) recognises a retry by the stored
    # epoch being the request's + 1 (retryOnEpochBump), not by lastProducerEpoch: after the
    # coordinator's own timeout abort bumped the epoch, a late EndTxn(ABORT) gets NONE.
    "tv2_end_txn_retry_after_timeout_abort": (
        "txn2",
        [
            step("CoordinatorFailover", 1),
            step("InitProducerId", "tx#0"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("InitProducerId", "tx#1"),
            step("LoseMessage", "InitProducerIdResponse,tx#0,NONE,e0"),
            step("LoseMessage", "InitProducerId,tx#1,e-1"),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("HandleInitProducerId", "tx", "tx#0", -1, "CONCURRENT_TRANSACTIONS", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            *_TX0_BEGINS_TXN0_AT_E2,
            *_leader_opens("tx", "t-0", "tx#0", 0, 2, offset=0),
            step("TimeoutTransaction", "tx", 2),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 3),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 3, 1, "NONE"),
            step("Fetch", "t-0", 0, 2, ()),  # the consumer passes r0 and the marker
            step("HandleWriteTxnMarkersResponse", "tx", "t-0", "ABORT", 3, 1, "NONE"),
            step("CompleteTxnLogAppend", "tx", "CompleteAbort", 3),
            step("ReceiveProduceResponse", "tx#0", 0, 0, "NONE"),
            step("Send", "tx#0", 1, "t-1", 2, 0, "Produce"),
            *_verified("tx", "t-1", "tx#0", 1, 2, 0, adds=True,
                       answer="INVALID_PRODUCER_EPOCH", result="INVALID_PRODUCER_EPOCH"),
            step("ReceiveProduceResponse", "tx#0", 1, 0, "INVALID_PRODUCER_EPOCH"),
            step("AbortTransaction", "tx#0"),
            step("HandleEndTxn", "tx", "tx#0", 2, "ABORT", "NONE", 0),
        ],
    ),
    # Kafka's TransactionManager (TV2): needToTriggerEpochBumpFromClient is false, so after
    # aborting a transaction with a failed batch the producer takes the bumped epoch EndTxn
    # returned and is READY, without an InitProducerId of its own.
    "tv2_abort_takes_the_epoch_end_txn_returned": (
        "txn2",
        [
            step("InitProducerId", "tx#0"),
            step("LoseMessage", "InitProducerId,tx#0,e-1"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("InitProducerId", "tx#1"),
            step("CompleteTxnLogAppend", "tx", "Empty", 0),
            step("LoseMessage", "InitProducerIdResponse,tx#0,NONE,e0"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("HandleInitProducerId", "tx", "tx#0", -1, "CONCURRENT_TRANSACTIONS", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            *_TX0_BEGINS_TXN0_AT_E2,
            step("Send", "tx#0", 0, "t-0", 2, 0, "Produce"),
            step("ExpireBatch", "tx#0", 0),
            step("AbortTransaction", "tx#0"),
            # no leader added t-0: the coordinator holds Empty, and aborts with an epoch bump
            # all the same (transaction version 2's empty abort)
            step("HandleEndTxn", "tx", "tx#0", 2, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 3),
            step("ReceiveCoordinatorResponse", "tx#0", "EndTxn", "NONE"),
        ],
    ),
    # Kafka's TransactionManager fails every queued request but FindCoordinator while in
    # ABORTABLE_ERROR (maybeTerminateRequestWithError): a timed-out AddOffsetsToTxn is not
    # re-sent, the doomed transaction only aborts.
    "no_resend_in_abortable_error": (
        "ctp-tv1",
        [
            *_APP0_AND_APP1_INITIALISED,
            *_APP1_OPENS_TXN0_AT_E1,
            step("TimeoutTransaction", "app", 1),
            step("Send", "app#1", 0, "t-0", 1, 0, "Produce"),
            step("AddOffsetsToTxn", "app#1"),
            step("HandleAddOffsetsToTxn", "app", "app#1", 1, "CONCURRENT_TRANSACTIONS", 0),
            step("LoseMessage", "AddOffsetsToTxn,app#1,e1"),
            step("ExpireBatch", "app#1", 0),
            step("ResendCoordinatorRequest", "app#1", "AddOffsetsToTxn"),
        ],
    ),
    # Kafka's Sender closes the connection of a timed-out request (NetworkClient disconnects)
    # and re-sends the batch on a new one: the answer to the earlier attempt never reaches the
    # client, which waits for the latest attempt's. The model drops that answer as the leader
    # makes it (model/unreadable.py); the reference's broker still sends it, and the driver's
    # abstraction drops it the same way, so the last HandleProduce leaves both without it.
    "superseded_attempt_answer_ignored": (
        "txn1",
        [
            *_TX1_INIT_LOST,
            step("LoseMessage", "InitProducerIdResponse,tx#0,NONE,e0"),
            step("ResendCoordinatorRequest", "tx#1", "InitProducerId"),
            step("ResendCoordinatorRequest", "tx#0", "InitProducerId"),
            step("HandleInitProducerId", "tx", "tx#0", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 2),
            step("ReceiveCoordinatorResponse", "tx#1", "InitProducerId", "NONE"),
            step("BeginTransaction", "tx#1", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#1", 2, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Ongoing", 2),
            step("TimeoutTransaction", "tx", 2),
            step("ReceiveCoordinatorResponse", "tx#1", "AddPartitionsToTxn", "NONE"),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 3),
            step("Send", "tx#1", 0, "t-0", 2, 0, "Produce"),
            step("RetryProduce", "tx#1", "t-0", (0,)),
            *_abort_completed("tx", 3),
            *_verified("tx", "t-0", "tx#1", 0, 2, 0, adds=False,
                       answer="INVALID_PRODUCER_EPOCH", result="INVALID_PRODUCER_EPOCH"),
        ],
    ),
    # The same for an acknowledgement: the batch stays in flight until its latest attempt is
    # answered (here DUPLICATE would follow, with the same offset); the first attempt's answer
    # is dropped as it is made.
    "superseded_attempt_ack_ignored": (
        "small-batch-cache",
        [
            step("Send", "idempotent0", 0, "t-0", 0, 0, "Produce"),
            step("RetryProduce", "idempotent0", "t-0", (0,)),
            step("HandleProduce", "t-0", "idempotent0", 0, 0, 0, "NONE", 0, 0),
        ],
    ),
    "tv2_marker_retry_after_failover": (
        "txn2",
        [
            *_first_begins_txn0_at_e0("tx"),
            *_leader_opens("tx", "t-0", "tx#0", 0, 0, offset=0),
            step("TimeoutTransaction", "tx", 0),
            step("CompleteTxnLogAppend", "tx", "PrepareAbort", 1),
            step("CoordinatorFailover", 1),
            step("HandleWriteTxnMarkers", "t-0", "tx", "ABORT", 1, 1, "NONE"),
            step("Fetch", "t-0", 0, 2, ()),  # the consumer passes r0 and the marker
            step(
                "HandleWriteTxnMarkers",
                *("t-0", "tx", "ABORT", 1, 0, "TRANSACTION_COORDINATOR_FENCED"),
            ),
        ],
    ),
    # tx#0's AddPartitionsToTxn at epoch 0 arrives while tx#1's (epoch 1) is being written:
    # handleAddPartitionsToTransaction looks for a pending transition before the epoch
    # (KAFKA-18660), so the zombie waits, and is fenced once the write is durable. Both sides
    # declare that order once (protocol/coordinator_checks.py); before, both fenced it at once.
    "stale_add_waits_for_a_busy_coordinator": (
        "txn1",
        [
            *_TX0_OPENS_TXN0_AT_E0[:5],  # tx#0's AddPartitionsToTxn is on its way
            step("InitProducerId", "tx#1"),
            step("HandleInitProducerId", "tx", "tx#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "tx", "Empty", 1),
            step("ReceiveCoordinatorResponse", "tx#1", "InitProducerId", "NONE"),
            step("BeginTransaction", "tx#1", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#1", 1, "WRITE", 0),
            step("HandleAddPartitionsToTxn", "tx", "tx#0", 0, "CONCURRENT_TRANSACTIONS", 0),
            step("CompleteTxnLogAppend", "tx", "Ongoing", 1),
            step("HandleAddPartitionsToTxn", "tx", "tx#0", 0, "PRODUCER_FENCED", 0),
        ],
    ),
    # app#1's fence and its retried InitProducerId rotate app's producer id (max_producer_epoch
    # 1) while app#0's transaction is open; app#0's Produce is verified against the coordinator
    # (KIP-890), which no longer knows its producer id: INVALID_PRODUCER_ID_MAPPING.
    # Sender.failBatch hands it to TransactionManager.handleFailedBatch, whose
    # maybeTransitionToErrorState holds InvalidPidMappingException fatal since KAFKA-18019
    # (Kafka 4.0): the client is FATAL_ERROR on both sides. (Found by the refinement tests on
    # producer-id-rotation when the model made it fatal and the reference abortable; both were
    # then made abortable, after Kafka 3.9's maybeTransitionToErrorState.)
    # app#0's Produce is answered NOT_ENOUGH_REPLICAS (still on its way) when its
    # AddOffsetsToTxn is refused PRODUCER_FENCED (app#1's InitProducerId fenced it): Kafka's
    # Sender then aborts every incomplete batch with the fatal error (maybeAbortBatches), so
    # the batch fails PRODUCER_FENCED at once and the retriable answer is never read. (Found by
    # a long drawn refinement run: the model failed the batch only on that answer, with
    # TRANSACTION_ABORTABLE, the reference with PRODUCER_FENCED.)
    "fatal_error_fails_the_batch_in_flight": (
        "ctp-retriable-tv1",
        [
            step("InitProducerId", "app#0"),
            step("HandleInitProducerId", "app", "app#0", -1, "WRITE", 0),
            step("InitProducerId", "app#1"),
            step("CompleteTxnLogAppend", "app", "Empty", 0),
            step("ReceiveCoordinatorResponse", "app#0", "InitProducerId", "NONE"),
            step("FetchCommittedOffset", "app#0", 0),
            step("BeginTransaction", "app#0", 0),
            step("HandleAddPartitionsToTxn", "app", "app#0", 0, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
            step("ReceiveCoordinatorResponse", "app#0", "AddPartitionsToTxn", "NONE"),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            step("NotEnoughReplicas", "t-0", "app#0", 0, 0),
            step("AddOffsetsToTxn", "app#0"),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
            # the fence's abort completes: while its markers are written the coordinator
            # would answer CONCURRENT_TRANSACTIONS before it looks at the epoch (KAFKA-18660)
            step("HandleWriteTxnMarkers", "t-0", "app", "ABORT", 1, 0, "NONE"),
            step("HandleWriteTxnMarkersResponse", "app", "t-0", "ABORT", 1, 0, "NONE"),
            step("CompleteTxnLogAppend", "app", "CompleteAbort", 1),
            step("HandleAddOffsetsToTxn", "app", "app#0", 0, "PRODUCER_FENCED", 0),
            step("ReceiveCoordinatorResponse", "app#0", "AddOffsetsToTxn", "PRODUCER_FENCED"),
        ],
    ),
    # After a coordinator failover the deposed coordinator's marker for t-1 is written and
    # answered: the new coordinator (its own markers in flight) does not count that answer
    # (TransactionMarkerRequestCompletionHandler: the coordinator epoch changed, cancel). The
    # driver's re-keying of a timed-out marker's twin answer (TimeoutTxnMarker) took it for
    # the new job's, and the reference counted t-1 acknowledged. (Found by a long drawn
    # refinement run; a driver bug, not the reference's.)
    "deposed_coordinators_marker_answer_is_not_counted": (
        "fencing-tv1",
        [
            *_APP0_OPENS_TXN0_AT_E0,
            step("TimeoutTransaction", "app", 0),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
            step("CoordinatorFailover", 1),
            step("HandleWriteTxnMarkers", "t-1", "app", "ABORT", 1, 0, "NONE"),
            step("Fetch", "t-1", 0, 1, ()),
            step("HandleWriteTxnMarkersResponse", "app", "t-1", "ABORT", 1, 0, "NONE"),
        ],
    ),
    # app#0's transaction times out with its Produce and its TxnOffsetCommit in flight (the
    # group coordinator's add of the offsets partition opened it, the append still waiting for
    # the answer); the abort rotates the producer id (max_producer_epoch 1), so the Produce's
    # add is refused INVALID_PRODUCER_ID_MAPPING, a fatal error. Sender.runOnce's
    # maybeAbortBatches fails the accumulator's batches only: the TxnOffsetCommit, a
    # transactional request, stays in flight and TxnOffsetCommitHandler reads its answer
    # (INVALID_TXN_STATE: the ABORT marker took its VerificationGuard). The model failed it
    # with the Produce; the reference, like Kafka, kept it. (Found by a 6,000-program drawn
    # refinement run.)
    "txn_offset_commit_outlives_a_fatal_error": (
        "ctp-timeout-rotation",
        [
            *_first_begins_txn0_at_e0("app")[:4],
            step("FetchCommittedOffset", "app#0", 0),
            step("BeginTransaction", "app#0", 0),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            step("Send", "app#0", 1, "__consumer_offsets-0", 0, -1, "TxnOffsetCommit"),
            # the group coordinator adds the offsets partition: the transaction opens
            *_group_coordinator_adds("app#0", 1),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("TimeoutTransaction", "app", 0),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
            step("HandleWriteTxnMarkers", "__consumer_offsets-0", "app", "ABORT", 1, 0, "NONE"),
            step(
                "HandleWriteTxnMarkersResponse",
                *("app", "__consumer_offsets-0", "ABORT", 1, 0, "NONE"),
            ),
            step("CompleteTxnLogAppend", "app", "CompleteAbort", 2),
            *_verified(
                *("app", "t-0", "app#0", 0, 0, 0),
                adds=True,
                answer="INVALID_PRODUCER_ID_MAPPING",
                result="INVALID_PRODUCER_ID_MAPPING",
            ),
            step("ReceiveProduceResponse", "app#0", 0, 0, "INVALID_PRODUCER_ID_MAPPING"),
            # the TxnOffsetCommit, held for its verification's answer, is answered, and read
            # (its guard went with the ABORT marker: INVALID_TXN_STATE)
            step(
                "AppendVerified",
                *("__consumer_offsets-0", "app#0", 1, 0, -1, "INVALID_TXN_STATE", -1), 0,
            ),
            step("ReceiveProduceResponse", "app#0", 1, 0, "INVALID_TXN_STATE"),
        ],
    ),
    "produce_refused_after_a_rotation_is_fatal": (
        "producer-id-rotation",
        [
            *_APP1_FENCES_APP0_AT_E1,
            *_ABORT_MARKED,
            step("CompleteTxnLogAppend", "app", "CompleteAbort", 1),
            step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Empty", 2),
            step("Send", "app#0", 0, "t-0", 0, 0, "Produce"),
            *_verified(
                *("app", "t-0", "app#0", 0, 0, 0),
                adds=False,
                answer="INVALID_PRODUCER_ID_MAPPING",
                result="INVALID_PRODUCER_ID_MAPPING",
            ),
            step("ReceiveProduceResponse", "app#0", 0, 0, "INVALID_PRODUCER_ID_MAPPING"),
        ],
    ),
    # With producer_id_rotation off an epoch wraps around to one a zombie still holds. These
    # three were known disagreements while the model's clients added their partitions
    # themselves under transaction version 2 (the model refused each last step with
    # INVALID_TXN_STATE); with the leader's add as the coordinator's transition and the empty
    # abort, both sides do what Kafka's handleAddPartitionsToTransaction and endTransaction do.
    # The zombie's Produce, verified only after the wrap, reaches the coordinator through the
    # leader's add while no transaction is open at that epoch: the add opens one.
    "wrapped_zombie_adds_a_partition": (
        "ctp-wrap-timeouts",
        [
            *_ZOMBIE_APP0_AT_WRAPPED_E0,
            step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "WRITE", 1, 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
        ],
    ),
    # ... its TxnOffsetCommit's second copy opens the zombie's own transaction at the wrapped
    # epoch first; the leader's add of t-0 finds it without t-0 and adds it.
    "wrapped_zombie_adds_to_its_own_transaction": (
        "ctp-wrap-timeouts",
        [
            *_ZOMBIE_APP0_AT_WRAPPED_E0,
            # the TxnOffsetCommit's second copy opens the zombie's own transaction
            *_group_coordinator_adds("app#0", 2, connection=1),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
            step("VerifyPartition", "t-0", "app#0", 0, 0, 0, 1, 0),
            step("HandleVerifyPartition", "app", "t-0", "app#0", 0, "ADD", "WRITE", 1, 0),
            step("CompleteTxnLogAppend", "app", "Ongoing", 0),
        ],
    ),
    # The zombie's write is refused (the fence's ABORT marker took its VerificationGuard) and
    # it aborts at epoch 0 once app#1 holds Empty at epoch 0: transaction version 2's empty
    # abort, PrepareAbort with the epoch bumped (endTransaction from Empty at the current
    # epoch).
    "wrapped_zombie_aborts_nothing": (
        "tv2-producer-epoch-wrap",
        [
            *_first_begins_txn0_at_e0("app")[:3],
            step("InitProducerId", "app#1"),
            *_first_begins_txn0_at_e0("app")[3:],
            *_leader_opens("app", "t-0", "app#0", 0, 0, offset=0)[:-1],  # the append waits
            step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
            *_ABORT_MARKED,
            step("CompleteTxnLogAppend", "app", "CompleteAbort", 1),
            # the ABORT marker took the VerificationGuard: the held Produce is refused
            step("AppendVerified", "t-0", "app#0", 0, 0, 0, "INVALID_TXN_STATE", -1, 0),
            step("HandleInitProducerId", "app", "app#1", -1, "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "Empty", 0),
            step("ReceiveProduceResponse", "app#0", 0, 0, "INVALID_TXN_STATE"),
            step("AbortTransaction", "app#0"),
            step("HandleEndTxn", "app", "app#0", 0, "ABORT", "WRITE", 0),
            step("CompleteTxnLogAppend", "app", "PrepareAbort", 1),
        ],
    ),
    # A coordinator failover loses the transaction-log write of a leader's add (transaction
    # version 2) with the Produce held for it: the deposed coordinator's append fails with
    # NOT_COORDINATOR, which the leader answers the Produce as NOT_ENOUGH_REPLICAS
    # (ReplicaManager.appendRecords), and the client re-sends the batch. The model had the held
    # Produce wait for ever for its lost answer.
    "failover_loses_the_leaders_add": (
        "txn2",
        [
            *_first_begins_txn0_at_e0("tx"),
            *_leader_opens("tx", "t-0", "tx#0", 0, 0, offset=0)[:3],
            step("CoordinatorFailover", 1),
            step("ReceiveProduceResponse", "tx#0", 0, 0, "NOT_ENOUGH_REPLICAS"),
            step("Send", "tx#0", 0, "t-0", 0, 0, "Produce"),
        ],
    ),
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=_EXPLAINED[name]))
        for name in PROGRAMS
    ],
)
def test_the_reference_refines_the_model_on(name: str) -> None:
    config, labels = PROGRAMS[name]
    result = run_program(_CONFIGS[config], labels)
    assert result.ran == len(labels), "the program no longer applies: shrink a new one"
    assert result.failed_at is None, f"step {result.failed_at + 1}: {labels[result.failed_at]}"


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_the_program_applies_up_to_its_last_step(name: str) -> None:
    """Guards the xfails above: they fail for the documented reason, at the last step, not
    because the program stopped applying."""
    config, labels = PROGRAMS[name]
    assert run_program(_CONFIGS[config], labels[:-1]).failed_at is None
    assert run_program(_CONFIGS[config], labels).failed_at == len(labels) - 1


def test_each_known_disagreement_has_its_program() -> None:
    assert set(PROGRAMS) == set(_EXPLAINED)


@pytest.mark.parametrize("name", list(AGREED))
def test_the_reference_agrees_with_the_model_on(name: str) -> None:
    config, labels = AGREED[name]
    result = run_program(_CONFIGS[config], labels)
    assert result.ran == len(labels), "the program no longer applies"
    assert result.failed_at is None, f"step {result.failed_at + 1}: {labels[result.failed_at]}"


def test_a_deposed_leader_refuses_its_held_produce_after_the_coordinator_added_on_both_sides() -> (
    None
):
    """A leader failover does not stop the KIP-890 round trip of the Produce the old leader
    holds: the coordinator still adds the partition and opens the transaction, and the old
    leader then answers the Produce NOT_LEADER_OR_FOLLOWER with nothing appended anywhere."""
    config, labels = AGREED["leader_failover_during_verification"]
    model = _CONFIGS[config]
    refused = step("AppendVerified", "t-0", "app#0", 0, 0, 0, "NOT_LEADER_OR_FOLLOWER", -1, 0)
    world, state = final_states(model, labels[: labels.index(refused) + 1])
    metadata = state[S_COORDINATOR][K_METADATA][model.transactional_ids.index("app")]
    assert (metadata[T_STATE], metadata[T_PARTITIONS]) == (ONGOING, 1)
    answers = [m for m in state[S_NETWORK] if m[M_KIND] == M_PRODUCE_RESPONSE]
    assert [m[PRR_ERROR] for m in answers] == [NOT_LEADER_OR_FOLLOWER]
    assert not state[S_PARTITIONS][0][P_LOG]
    reference = world.node.txn_coordinator.transactions["app"]
    assert reference.state is TxnState.ONGOING and reference.partitions == {world.tps[0]}
    replicas = world.node.replica_sets[world.tps[0]].replicas.values()
    assert all(replica.partition.log_end_offset == 0 for replica in replicas)


def test_a_restarted_leaders_add_opens_the_transaction_and_owes_no_answer_on_both_sides() -> (
    None
):
    """A leader whose broker restarts during the KIP-890 round trip: the held Produce failed
    at the failover (its connection closed), and the old broker's add, still delivered,
    opens the transaction while nothing waits for its answer."""
    config, labels = AGREED["leader_restart_during_verification"]
    model = _CONFIGS[config]
    written = step("CompleteTxnLogAppend", "app", "Ongoing", 0)
    world, state = final_states(model, labels[: labels.index(written) + 1])
    metadata = state[S_COORDINATOR][K_METADATA][model.transactional_ids.index("app")]
    assert (metadata[T_STATE], metadata[T_PARTITIONS], metadata[T_PENDING]) == (ONGOING, 1, ())
    answers = [m for m in state[S_NETWORK] if m[M_KIND] == M_PRODUCE_RESPONSE]
    assert [m[PRR_ERROR] for m in answers] == [NOT_LEADER_OR_FOLLOWER]
    assert not any(m[M_KIND] == M_VERIFY_RESPONSE for m in state[S_NETWORK])
    assert not world.node.pending_verifications
    reference = world.node.txn_coordinator.transactions["app"]
    assert reference.state is TxnState.ONGOING and reference.partitions == {world.tps[0]}


def test_a_marker_at_the_next_transactions_epoch_keeps_its_offsets_verification_on_both_sides() -> (
    None
):
    """Transaction version 2: the COMMIT marker bumped to epoch 1 reaches __consumer_offsets-0
    while the group coordinator verifies the next transaction's TxnOffsetCommit at epoch 1:
    the verification stays, on the offsets partition as on a data partition."""
    config, labels = AGREED["offsets_marker_keeps_the_next_transactions_verification"]
    model = _CONFIGS[config]
    world, state = final_states(model, labels)
    offsets = state[S_PARTITIONS][model.offsets_partition]
    assert offsets[P_LOG][-1][0] == ENTRY_CONTROL
    assert [entry for entry in offsets[P_VERIFICATION] if entry] == [(1, 1)]
    reference = world.node.partitions[world.tps[model.offsets_partition]].producers
    assert [entry.epoch for entry in reference.verification_guards.values()] == [1]


def test_a_produce_refused_for_a_rotated_producer_id_is_fatal_on_both_sides() -> None:
    """KAFKA-18019 (Kafka 4.0): a producer whose Produce the coordinator's verification
    refuses with INVALID_PRODUCER_ID_MAPPING (its producer id was rotated away) can only be
    closed; recovering with an epoch bump, as Kafka 2.5 to 3.9 did, could repeat work a newer
    incarnation did since."""
    config, labels = AGREED["produce_refused_after_a_rotation_is_fatal"]
    model = _CONFIGS[config]
    world, state = final_states(model, labels)
    proc = model.process_names.index("app#0")
    assert state[S_CLIENTS][proc][C_STATE] == FATAL_ERROR
    assert world.producers[proc].txn_state is ClientState.FATAL_ERROR


def test_a_fatal_error_fails_the_batches_in_flight_on_both_sides() -> None:
    """Sender.runOnce: once the transaction manager has a fatal error, maybeAbortBatches
    fails every incomplete batch with it, the one in flight too; its answer, still on the
    way, is never read (the model drops it, the reference finds the batch done)."""
    config, labels = AGREED["fatal_error_fails_the_batch_in_flight"]
    model = _CONFIGS[config]
    world, state = final_states(model, labels)
    proc = model.process_names.index("app#0")
    client = state[S_CLIENTS][proc]
    assert client[C_STATE] == FATAL_ERROR
    assert client[C_BATCHES][0] == (B_FAILED, 0, 0, PRODUCER_FENCED)
    assert not any(m[M_KIND] == M_PRODUCE_RESPONSE for m in state[S_NETWORK])
    assert not any(book.batches for book in world.producers[proc].books.values())


def test_a_txn_offset_commit_in_flight_outlives_a_fatal_error_on_both_sides() -> None:
    """Sender.runOnce's maybeAbortBatches aborts the accumulator's batches; a TxnOffsetCommit
    is a transactional request, in flight until TxnOffsetCommitHandler reads its answer,
    which it does in FATAL_ERROR too (the Sender keeps polling)."""
    config, labels = AGREED["txn_offset_commit_outlives_a_fatal_error"]
    model = _CONFIGS[config]
    proc = model.process_names.index("app#0")
    offsets = next(
        r for r, part in enumerate(model.record_partition[proc]) if part == model.offsets_partition
    )
    fatal = step("ReceiveProduceResponse", "app#0", 0, 0, "INVALID_PRODUCER_ID_MAPPING")
    world, state = final_states(model, labels[: labels.index(fatal) + 1])
    client = state[S_CLIENTS][proc]
    assert client[C_STATE] == FATAL_ERROR
    assert client[C_BATCHES][offsets][BT_STATUS] == B_INFLIGHT
    assert not world.offset_futures[(proc, offsets)].done
    world, state = final_states(model, labels)
    answered = (B_FAILED, 0, -1, INVALID_TXN_STATE)
    assert state[S_CLIENTS][proc][C_BATCHES][offsets] == answered
    assert world.offset_futures[(proc, offsets)].error is ErrorCode.INVALID_TXN_STATE
