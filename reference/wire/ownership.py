"""What a broker of ``serve --brokers N`` answers to a request it does not own.

A request for a partition goes to the partition's leader; a transactional request to the
transaction coordinator, the leader of ``__transaction_state``'s partition for the id; a group
request to the group coordinator, the leader of ``__consumer_offsets``'s partition for the
group. Any other broker answers without touching the core, as Kafka's broker does:

- Produce, Fetch, ListOffsets: NOT_LEADER_OR_FOLLOWER for a partition it knows
  (``ReplicaManager.getPartitionOrError``: a partition not hosted here but in the metadata),
  UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist (the core would create it on a
  Produce; only its leader may);
- InitProducerId with a transactional.id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn:
  NOT_COORDINATOR (``TransactionStateManager.getTransactionState``: the partition is not
  owned here); an idempotent producer's InitProducerId is answered by any broker
  (``KafkaApis.handleInitProducerIdRequest``);
- TxnOffsetCommit, OffsetCommit, OffsetFetch and the group membership requests:
  NOT_COORDINATOR (``GroupCoordinator``: ``isCoordinatorForGroup`` is false).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference import messages as m
from kafka_eos.reference.node import TXN_STATE_PARTITION
from kafka_eos.reference.wire.cluster import Cluster

#: FindCoordinator's key type of a transactional.id (CoordinatorType.TRANSACTION)
TRANSACTION_KEY = 1

_PARTITION_RESPONSES: dict[type, type] = {
    m.ProduceRequest: m.ProduceResponse,
    m.FetchRequest: m.FetchResponse,
    m.ListOffsetsRequest: m.ListOffsetsResponse,
}
_TXN_RESPONSES: dict[type, type] = {
    m.InitProducerIdRequest: m.InitProducerIdResponse,
    m.AddPartitionsToTxnRequest: m.AddPartitionsToTxnResponse,
    m.AddOffsetsToTxnRequest: m.AddOffsetsToTxnResponse,
    m.EndTxnRequest: m.EndTxnResponse,
}
_GROUP_RESPONSES: dict[type, Callable[[Any], Any]] = {
    m.TxnOffsetCommitRequest: lambda request: m.TxnOffsetCommitResponse(
        request.correlation_id, _per_offset(request, ErrorCode.NOT_COORDINATOR)
    ),
    m.OffsetCommitRequest: lambda request: m.OffsetCommitResponse(
        request.correlation_id, _per_offset(request, ErrorCode.NOT_COORDINATOR)
    ),
    m.OffsetFetchRequest: lambda request: m.OffsetFetchResponse(
        request.correlation_id, ErrorCode.NOT_COORDINATOR
    ),
    m.JoinGroupRequest: lambda request: m.JoinGroupResponse(
        request.correlation_id, ErrorCode.NOT_COORDINATOR
    ),
    m.SyncGroupRequest: lambda request: m.SyncGroupResponse(
        request.correlation_id, ErrorCode.NOT_COORDINATOR
    ),
    m.HeartbeatRequest: lambda request: m.HeartbeatResponse(
        request.correlation_id, ErrorCode.NOT_COORDINATOR
    ),
    m.LeaveGroupRequest: lambda request: m.LeaveGroupResponse(
        request.correlation_id, ErrorCode.NOT_COORDINATOR
    ),
}


def _per_offset(request: Any, error: ErrorCode) -> tuple[m.PartitionResult, ...]:
    return tuple(m.PartitionResult(o.topic, o.partition, error) for o in request.offsets)


def refusal(message: Any, *, broker: int, cluster: Cluster, node: Any) -> Any | None:
    """The answer ``broker`` gives to the core request ``message`` when it does not own it;
    None when it does (the core answers)."""
    kind = type(message)
    if kind in _PARTITION_RESPONSES:
        tp = m.TopicPartition(message.topic, message.partition)
        if cluster.leader_of(tp) == broker:
            return None
        known = tp.topic in node.topics
        error = ErrorCode.NOT_LEADER_OR_FOLLOWER if known else ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
        return _PARTITION_RESPONSES[kind](message.correlation_id, tp.topic, tp.partition, error)
    if kind in _TXN_RESPONSES:
        if kind is m.InitProducerIdRequest and message.transactional_id is None:
            return None
        if cluster.leader_of(TXN_STATE_PARTITION) == broker:
            return None
        return _TXN_RESPONSES[kind](message.correlation_id, ErrorCode.NOT_COORDINATOR)
    if kind in _GROUP_RESPONSES:
        if cluster.leader_of(node.offsets_partition_for(message.group_id)) == broker:
            return None
        return _GROUP_RESPONSES[kind](message)
    return None


def coordinator_partition(key: str, key_type: int, node: Any) -> m.TopicPartition:
    """The internal partition whose leader coordinates ``key`` (``KafkaApis.getCoordinator``:
    the transaction or offsets topic's partition for the key)."""
    if key_type == TRANSACTION_KEY:
        return TXN_STATE_PARTITION
    return node.offsets_partition_for(key)  # type: ignore[no-any-return]
