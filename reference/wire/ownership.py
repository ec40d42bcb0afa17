"""What a broker of ``serve --brokers N`` answers to a request it does not own.

A request for a partition goes to the partition's leader; a transactional request to the
transaction coordinator, the leader of ``__transaction_state``'s partition for the id; a group
request to the group coordinator, the leader of ``__consumer_offsets``'s partition for the
group. The reference answers a Produce, Fetch or ListOffsets that arrived at a broker not
leading its partition with NOT_LEADER_OR_FOLLOWER (``BrokerNode.receive(..., at=broker)``,
``ReplicaManager.getPartitionOrError``); the coordinators' requests at another broker are
answered here, without the core, as Kafka's broker does:

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
from kafka_eos.reference.wire.cluster import Cluster

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


def refusal(message: Any, *, broker: int, cluster: Cluster) -> Any | None:
    """The answer ``broker`` gives to the core request ``message`` when it does not own it;
    None when it does (the core answers)."""
    kind = type(message)
    if kind in _TXN_RESPONSES:
        if kind is m.InitProducerIdRequest and message.transactional_id is None:
            return None
        if cluster.coordinator_of(message.transactional_id) == broker:
            return None
        return _TXN_RESPONSES[kind](message.correlation_id, ErrorCode.NOT_COORDINATOR)
    if kind in _GROUP_RESPONSES:
        if cluster.coordinator_of(message.group_id) == broker:
            return None
        return _GROUP_RESPONSES[kind](message)
    return None
