"""The schema of the network's messages (part of :mod:`.schema`): one component per kind, its
code stored first; ``text`` lists the fields a message's text shows (:mod:`.messages`)."""

from __future__ import annotations

from .fields import Component, Field, field

_KIND = field("kind", "the message kind (M_*)", "M_KIND", show="hidden")
_PROCESS = ("process", "the producer process", "process")
_PARTITION_DOC = "the partition"


def _message(
    name: str, code: str, value: int, doc: str, fields: tuple[Field, ...], text: tuple[str, ...]
) -> Component:
    return Component(name, doc, (_KIND, *fields), code=code, code_value=value, text=text)


PRODUCE = _message(
    "Produce",
    "M_PRODUCE",
    0,
    "a Produce request (or a TxnOffsetCommit, to the offsets partition, with no sequence)",
    (
        field("process", "the sending producer process", "PR_PROCESS", show="process"),
        field("partition", "the destination partition", "PR_PARTITION", show="partition"),
        field("pid", "the producer id (-1: no idempotence)", "PR_PID", show="hidden"),
        field("epoch", "the producer epoch", "PR_EPOCH", tag="e"),
        field("sequence", "the first sequence number (-1: none)", "PR_SEQUENCE", tag="s"),
        field("record", "the process-local record index", "PR_RECORD", tag="r"),
        field("transactional", "1 for a transactional batch", "PR_TRANSACTIONAL", show="hidden"),
        field(
            "connection",
            "the client's connection it travels on (each retry opens a new one: "
            "requests of one (process, partition, connection) are delivered in send order)",
            "PR_CONNECTION",
            tag="c",
        ),
    ),
    ("process", "partition", "record", "epoch", "sequence", "connection"),
)

PRODUCE_RESPONSE = _message(
    "ProduceResponse",
    "M_PRODUCE_RESPONSE",
    1,
    "the answer to a Produce, on its connection",
    (
        field("process", "the producer process answered", "PRR_PROCESS", show="process"),
        field("partition", "the partition that answers", "PRR_PARTITION", show="partition"),
        field("epoch", "the epoch of the request answered", "PRR_EPOCH", show="hidden"),
        field(
            "sequence", "the sequence number of the request answered", "PRR_SEQUENCE", show="hidden"
        ),
        field(
            "record",
            "the process-local record index of the request answered",
            "PRR_RECORD",
            tag="r",
        ),
        field("error", "the error code (NONE, DUPLICATE...)", "PRR_ERROR", show="error"),
        field(
            "offset",
            "the offset it was appended at (-1 on an error; the original one for a duplicate)",
            "PRR_OFFSET",
            tag="o",
        ),
        field("connection", "the connection of the request answered", "PRR_CONNECTION", tag="c"),
    ),
    ("process", "partition", "record", "connection", "error", "offset"),
)

COORDINATOR_REQUEST = _message(
    "CoordinatorRequest",
    "M_COORDINATOR_REQUEST",
    2,
    "InitProducerId, AddPartitionsToTxn, "
    "AddOffsetsToTxn or EndTxn (its text starts with the API's name)",
    (
        field("process", "the requesting producer process", "CQ_PROCESS", show="process"),
        field("api", "API_*", "CQ_API", show="hidden"),
        field(
            "epoch",
            "the producer epoch it names (-1: none, a new incarnation's InitProducerId)",
            "CQ_EPOCH",
            tag="e",
        ),
        field(
            "argument",
            "the partitions' bitmask (Add*), commit (EndTxn), or 0",
            "CQ_ARGUMENT",
            show="hidden",
        ),
        field(
            "transaction", "ghost: the transaction it belongs to", "CQ_TRANSACTION", show="hidden"
        ),
        field(
            "connection",
            "the client's connection it travels on (a request timeout opens a new one; the text "
            "shows it once it is not the first)",
            "CQ_CONNECTION",
            show="connection",
            tag="c",
        ),
    ),
    ("process", "epoch", "connection"),
)

COORDINATOR_RESPONSE = _message(
    "CoordinatorResponse",
    "M_COORDINATOR_RESPONSE",
    3,
    "the coordinator's answer (its text starts with the API's name and Response)",
    (
        field("process", "the producer process answered", "CR_PROCESS", show="process"),
        field("api", "the API answered (API_*)", "CR_API", show="hidden"),
        field("error", "the error code", "CR_ERROR", show="error"),
        field(
            "epoch",
            "the epoch it carries (InitProducerId, TV2 EndTxn: the client's new epoch)",
            "CR_EPOCH",
            tag="e",
        ),
        field(
            "transaction",
            "ghost: the transaction of the request answered",
            "CR_TRANSACTION",
            show="hidden",
        ),
        field(
            "connection",
            "the connection of the request answered (the client reads it only on its latest)",
            "CR_CONNECTION",
            show="connection",
            tag="c",
        ),
    ),
    ("process", "error", "epoch", "connection"),
)

MARKER = _message(
    "WriteTxnMarkers",
    "M_MARKER",
    4,
    "one partition's transaction marker",
    (
        field("partition", "the partition the marker goes to", "MK_PARTITION", show="partition"),
        field(
            "transactional_id",
            "the transactional.id (its index = its producer id)",
            "MK_TID",
            show="transactional_id",
        ),
        field(
            "coordinator_epoch",
            "the coordinator epoch of the coordinator that sends it",
            "MK_COORDINATOR_EPOCH",
            tag="ce",
        ),
        field("epoch", "the producer epoch it carries", "MK_EPOCH", tag="e"),
        field("commit", "1: COMMIT, 0: ABORT", "MK_COMMIT", show="commit"),
    ),
    ("partition", "transactional_id", "commit", "epoch", "coordinator_epoch"),
)

MARKER_RESPONSE = _message(
    "WriteTxnMarkersResponse",
    "M_MARKER_RESPONSE",
    5,
    "a leader's answer to a marker",
    (
        field("partition", "the partition that answers", "MR_PARTITION", show="partition"),
        field("transactional_id", "the transactional.id", "MR_TID", show="transactional_id"),
        field(
            "coordinator_epoch",
            "the coordinator epoch of the marker answered",
            "MR_COORDINATOR_EPOCH",
            tag="ce",
        ),
        # the coordinator's completion handler knows the marker it sent (TxnIdAndMarkerEntry):
        # a late copy's answer is not taken for a later transaction's (TimeoutTxnMarker)
        field("epoch", "the producer epoch of the marker answered", "MR_EPOCH", tag="e"),
        field("commit", "the marker answered: 1 COMMIT, 0 ABORT", "MR_COMMIT", show="commit"),
        field("error", "the error code", "MR_ERROR", show="error"),
    ),
    ("partition", "transactional_id", "error", "commit", "epoch", "coordinator_epoch"),
)

#: A leader failover while the leader holds a Produce for its verification does not stop the
#: round trip (the coordinator may still add the partition); the old leader refuses the held
#: Produce once the answer comes (ReplicaManager's postVerificationCallback, appendRecords,
#: Partition.appendRecordsToLeader on a broker that no longer leads).
_DEPOSED_DOC = (
    "0: its leader leads; 1 (DEPOSED): the leader lost its leadership since it asked "
    "(LeaderFailover) and holds the Produce still: a NONE answer is refused "
    "NOT_LEADER_OR_FOLLOWER; 2 (RESTARTED, a request only): the leader's broker restarted "
    "since, the Produce failed then and no answer is awaited"
)

VERIFY = _message(
    "VerifyPartition",
    "M_VERIFY",
    6,
    "a leader's AddPartitionsToTxn to the coordinator for a held Produce (KIP-890: verifyOnly "
    "under transaction version 1, an add under version 2); it carries the Produce it holds",
    (
        field("process", "the producer process of the held Produce", "VQ_PROCESS", show="process"),
        field("partition", "the partition whose leader asks", "VQ_PARTITION", show="partition"),
        field("pid", "the producer id", "VQ_PID", show="hidden"),
        field("epoch", "the producer epoch of the held Produce", "VQ_EPOCH", tag="e"),
        field("sequence", "the held Produce's first sequence number", "VQ_SEQUENCE", tag="s"),
        field("record", "the held Produce's process-local record index", "VQ_RECORD", tag="r"),
        field("connection", "the held Produce's connection", "VQ_CONNECTION", tag="c"),
        field(
            "guard",
            "the leader's VerificationGuard the answer is checked against (its number)",
            "VQ_GUARD",
            tag="g",
        ),
        field("add", "1: add the partition (transaction version 2), 0: verifyOnly", "VQ_ADD"),
        field("deposed", _DEPOSED_DOC, "VQ_DEPOSED", show="deposed"),
    ),
    ("process", "partition", "record", "epoch", "sequence", "connection", "guard", "deposed"),
)

VERIFY_RESPONSE = _message(
    "VerifyPartitionResponse",
    "M_VERIFY_RESPONSE",
    7,
    "the coordinator's answer to a leader's AddPartitionsToTxn, with the Produce it holds",
    (
        field("process", "the producer process of the held Produce", "VR_PROCESS", show="process"),
        field("partition", "the partition whose leader asked", "VR_PARTITION", show="partition"),
        field("pid", "the producer id", "VR_PID", show="hidden"),
        field("epoch", "the producer epoch of the held Produce", "VR_EPOCH", tag="e"),
        field("sequence", "the held Produce's first sequence number", "VR_SEQUENCE", tag="s"),
        field("record", "the held Produce's process-local record index", "VR_RECORD", tag="r"),
        field("connection", "the held Produce's connection", "VR_CONNECTION", tag="c"),
        field("guard", "the VerificationGuard of the request answered", "VR_GUARD", tag="g"),
        field(
            "error",
            "the coordinator's answer (NONE, INVALID_TXN_STATE...)",
            "VR_ERROR",
            show="error",
        ),
        field("deposed", _DEPOSED_DOC, "VR_DEPOSED", show="deposed"),
    ),
    (
        "process", "partition", "record", "epoch", "sequence", "connection", "guard", "error",
        "deposed",
    ),
)
