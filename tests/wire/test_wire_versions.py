"""Every API at every advertised version, through the running broker: the request is
understood and the response comes back encoded for the version asked (an old client and a new
one get the same answers in their own formats)."""

from __future__ import annotations

from typing import Any

import pytest
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.reference.wire import codec, records

pytestmark = [pytest.mark.clients, pytest.mark.timeout(120)]


@pytest.fixture
def serve(shared_serve: Any) -> Any:
    """This module's tests share one broker (each uses its own topics and ids)."""
    return shared_serve


def versions(api_key: int) -> range:
    low, high = codec.SUPPORTED_VERSIONS[api_key]
    return range(low, high + 1)


def _produce_body(topic: str, batch: bytes, transactional_id: str | None = None) -> dict[str, Any]:
    return {
        "transactional_id": transactional_id,
        "acks": -1,
        "timeout": 5000,
        "topic_data": [{"name": topic, "partition_data": [{"index": 0, "records": batch}]}],
    }


def _fetch_body(topic: str, offset: int, isolation: int = 0) -> dict[str, Any]:
    return {
        "replica_id": -1,
        "max_wait": 0,
        "min_bytes": 1,
        "max_bytes": 1 << 20,
        "isolation_level": isolation,
        "session_epoch": -1,
        "topics": [
            {
                "topic": topic,
                "partitions": [
                    {"partition": 0, "fetch_offset": offset, "partition_max_bytes": 1 << 20}
                ],
            }
        ],
    }


def test_metadata_create_topics_and_find_coordinator(serve: Any) -> None:
    client = RawClient(serve.port)
    for version in versions(codec.METADATA):
        body = client.request(codec.METADATA, version, {"topics": [{"name": "meta"}]})
        assert body["brokers"][0]["port"] == serve.port
        (topic,) = body["topics"]
        assert (topic["name"], topic["error_code"]) == ("meta", ErrorCode.NONE)
        assert [p["leader_id"] for p in topic["partitions"]] == [0]
    for version in versions(codec.CREATE_TOPICS):
        name = f"created-{version}"
        body = client.request(
            codec.CREATE_TOPICS,
            version,
            {
                "topics": [{"name": name, "num_partitions": 3, "replication_factor": 1}],
                "timeout": 5000,
            },
        )
        assert body["topics"][0]["error_code"] == ErrorCode.NONE
        meta = client.request(codec.METADATA, 1, {"topics": [{"name": name}]})
        assert len(meta["topics"][0]["partitions"]) == 3
    for version in versions(codec.FIND_COORDINATOR):
        body = client.request(
            codec.FIND_COORDINATOR,
            version,
            {"key": "group-x", "key_type": 0, "coordinator_keys": ["group-x"]},
        )
        entry = body["coordinators"][0] if version >= 4 else body
        assert (entry["error_code"], entry["node_id"], entry["port"]) == (
            ErrorCode.NONE, 0, serve.port,
        )  # fmt: skip


def test_produce_fetch_and_list_offsets_at_every_version(serve: Any) -> None:
    client = RawClient(serve.port)
    expected: list[str] = []
    for version in versions(codec.PRODUCE):
        value = f"v{version}"
        batch = records.encode_batch([(None, value.encode())])
        body = client.request(codec.PRODUCE, version, _produce_body("sweep", batch))
        partition = body["responses"][0]["partition_responses"][0]
        assert partition["error_code"] == ErrorCode.NONE
        assert partition["base_offset"] == len(expected)
        expected.append(value)
    for version in versions(codec.FETCH):
        body = client.request(codec.FETCH, version, _fetch_body("sweep", 0))
        partition = body["responses"][0]["partitions"][0]
        assert partition["error_code"] == ErrorCode.NONE
        assert partition["high_watermark"] == len(expected)
        served = records.read_batches(partition["records"])
        assert [records.history_values(b)[0] for b in served] == expected
        assert [b.base_offset for b in served] == list(range(len(expected)))
    for version in versions(codec.LIST_OFFSETS):
        body = client.request(
            codec.LIST_OFFSETS,
            version,
            {
                "replica_id": -1,
                "topics": [
                    {"name": "sweep", "partitions": [{"partition_index": 0, "timestamp": -1}]}
                ],
            },
        )
        partition = body["topics"][0]["partitions"][0]
        assert (partition["error_code"], partition["offset"]) == (ErrorCode.NONE, len(expected))


def test_transaction_apis_at_every_version(serve: Any) -> None:
    client = RawClient(serve.port)
    txn_apis = (
        codec.INIT_PRODUCER_ID,
        codec.ADD_PARTITIONS_TO_TXN,
        codec.ADD_OFFSETS_TO_TXN,
        codec.TXN_OFFSET_COMMIT,
        codec.END_TXN,
    )
    top = max(codec.SUPPORTED_VERSIONS[api][1] for api in txn_apis)
    committed_values = []
    for step in range(top + 1):
        version = {api: min(step, codec.SUPPORTED_VERSIONS[api][1]) for api in txn_apis}
        txn_id = f"sweep-tx-{step}"
        init = client.request(
            codec.INIT_PRODUCER_ID,
            version[codec.INIT_PRODUCER_ID],
            {
                "transactional_id": txn_id,
                "transaction_timeout": 60000,
                "producer_id": -1,
                "producer_epoch": -1,
            },
        )
        assert init["error_code"] == ErrorCode.NONE
        pid, epoch = init["producer_id"], init["producer_epoch"]
        ids = {"producer_id": pid, "producer_epoch": epoch}
        added = client.request(
            codec.ADD_PARTITIONS_TO_TXN,
            version[codec.ADD_PARTITIONS_TO_TXN],
            {
                "v3_and_below_transactional_id": txn_id,
                "v3_and_below_producer_id": pid,
                "v3_and_below_producer_epoch": epoch,
                "v3_and_below_topics": [{"name": "txn-sweep", "partitions": [0]}],
            },
        )
        result = added["results_by_topic_v3_and_below"][0]["results_by_partition"][0]
        assert result["partition_error_code"] == ErrorCode.NONE
        value = f"txn-{step}"
        batch = records.encode_batch(
            [(None, value.encode())],
            producer_id=pid,
            producer_epoch=epoch,
            base_sequence=0,
            attributes=0x10,
        )
        produced = client.request(codec.PRODUCE, 8, _produce_body("txn-sweep", batch, txn_id))
        assert produced["responses"][0]["partition_responses"][0]["error_code"] == ErrorCode.NONE
        offsets = client.request(
            codec.ADD_OFFSETS_TO_TXN,
            version[codec.ADD_OFFSETS_TO_TXN],
            {"transactional_id": txn_id, **ids, "group_id": f"sweep-group-{step}"},
        )
        assert offsets["error_code"] == ErrorCode.NONE
        commit = client.request(
            codec.TXN_OFFSET_COMMIT,
            version[codec.TXN_OFFSET_COMMIT],
            {
                "transactional_id": txn_id,
                "group_id": f"sweep-group-{step}",
                **ids,
                "generation_id": -1,
                "member_id": "",
                "topics": [
                    {
                        "name": "txn-sweep",
                        "partitions": [{"partition_index": 0, "committed_offset": 7}],
                    }
                ],
            },
        )
        assert commit["topics"][0]["partitions"][0]["error_code"] == ErrorCode.NONE
        ended = client.request(
            codec.END_TXN,
            version[codec.END_TXN],
            {"transactional_id": txn_id, **ids, "committed": True},
        )
        assert ended["error_code"] == ErrorCode.NONE
        committed_values.append(value)
        fetched = client.request(
            codec.OFFSET_FETCH,
            7,
            {
                "group_id": f"sweep-group-{step}",
                "require_stable": True,
                "topics": [{"name": "txn-sweep", "partition_indexes": [0]}],
            },
        )
        assert fetched["topics"][0]["partitions"][0]["committed_offset"] == 7
    body = client.request(codec.FETCH, 11, _fetch_body("txn-sweep", 0, isolation=1))
    partition = body["responses"][0]["partitions"][0]
    data = [b for b in records.read_batches(partition["records"]) if not b.is_control]
    assert [records.history_values(b)[0] for b in data] == committed_values
    assert partition["last_stable_offset"] == partition["high_watermark"]


def test_group_apis_at_every_version(serve: Any) -> None:
    client = RawClient(serve.port)
    for join_version in versions(codec.JOIN_GROUP):
        sync_version = min(join_version, codec.SUPPORTED_VERSIONS[codec.SYNC_GROUP][1])
        beat_version = min(join_version, codec.SUPPORTED_VERSIONS[codec.HEARTBEAT][1])
        leave_version = min(join_version, codec.SUPPORTED_VERSIONS[codec.LEAVE_GROUP][1])
        commit_version = max(min(join_version, 9), codec.SUPPORTED_VERSIONS[codec.OFFSET_COMMIT][0])
        fetch_version = max(min(join_version, 7), codec.SUPPORTED_VERSIONS[codec.OFFSET_FETCH][0])
        group = f"sweep-group-v{join_version}"
        join_body = {
            "group_id": group,
            "session_timeout": 10000,
            "rebalance_timeout": 10000,
            "member_id": "",
            "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b"\x00\x01"}],
        }
        joined = client.request(codec.JOIN_GROUP, join_version, join_body)
        if join_version >= 4:  # KIP-394: a new member first learns its id, then joins with it
            assert joined["error_code"] == ErrorCode.MEMBER_ID_REQUIRED
            assert joined["member_id"]
            joined = client.request(
                codec.JOIN_GROUP, join_version, {**join_body, "member_id": joined["member_id"]}
            )
        assert joined["error_code"] == ErrorCode.NONE, join_version
        member, generation = joined["member_id"], joined["generation_id"]
        assert joined["leader"] == member
        assert [m["metadata"] for m in joined["members"]] == [b"\x00\x01"]
        synced = client.request(
            codec.SYNC_GROUP,
            sync_version,
            {
                "group_id": group,
                "generation_id": generation,
                "member_id": member,
                "protocol_type": "consumer",
                "protocol_name": "range",
                "assignments": [{"member_id": member, "assignment": b"plan"}],
            },
        )
        assert (synced["error_code"], synced["assignment"]) == (ErrorCode.NONE, b"plan")
        beat = client.request(
            codec.HEARTBEAT,
            beat_version,
            {"group_id": group, "generation_id": generation, "member_id": member},
        )
        assert beat["error_code"] == ErrorCode.NONE
        committed = client.request(
            codec.OFFSET_COMMIT,
            commit_version,
            {
                "group_id": group,
                "generation_id_or_member_epoch": generation,
                "member_id": member,
                "topics": [
                    {
                        "name": "grp",
                        "partitions": [{"partition_index": 0, "committed_offset": join_version}],
                    }
                ],
            },
        )
        assert committed["topics"][0]["partitions"][0]["error_code"] == ErrorCode.NONE
        fetched = client.request(
            codec.OFFSET_FETCH,
            fetch_version,
            {"group_id": group, "topics": [{"name": "grp", "partition_indexes": [0]}]},
        )
        assert fetched["topics"][0]["partitions"][0]["committed_offset"] == join_version
        left = client.request(
            codec.LEAVE_GROUP,
            leave_version,
            {"group_id": group, "member_id": member, "members": [{"member_id": member}]},
        )
        assert left["error_code"] == ErrorCode.NONE


def test_a_fenced_producer_is_told_in_an_error_its_version_knows(serve: Any) -> None:
    """PRODUCER_FENCED (KIP-588) exists from InitProducerId v4, AddPartitionsToTxn v2,
    AddOffsetsToTxn v2 and EndTxn v2; an older request is answered INVALID_PRODUCER_EPOCH, as
    Kafka's KafkaApis handlers do (aiokafka, which sends v0, knows no other)."""
    client = RawClient(serve.port)
    fenced_since = {
        codec.INIT_PRODUCER_ID: 4,
        codec.ADD_PARTITIONS_TO_TXN: 2,
        codec.ADD_OFFSETS_TO_TXN: 2,
        codec.END_TXN: 2,
    }
    txn_id = "fenced-versions"
    init_body = {"transactional_id": txn_id, "transaction_timeout": 60000}
    new_producer = {**init_body, "producer_id": -1, "producer_epoch": -1}
    first = client.request(codec.INIT_PRODUCER_ID, 1, new_producer)
    client.request(codec.INIT_PRODUCER_ID, 1, new_producer)  # a successor bumps the epoch
    stale = {"producer_id": first["producer_id"], "producer_epoch": first["producer_epoch"]}
    bodies = {
        codec.INIT_PRODUCER_ID: {**init_body, **stale},
        codec.ADD_PARTITIONS_TO_TXN: {
            "v3_and_below_transactional_id": txn_id,
            "v3_and_below_producer_id": stale["producer_id"],
            "v3_and_below_producer_epoch": stale["producer_epoch"],
            "v3_and_below_topics": [{"name": "fenced-versions", "partitions": [0]}],
        },
        codec.ADD_OFFSETS_TO_TXN: {"transactional_id": txn_id, **stale, "group_id": "g"},
        codec.END_TXN: {"transactional_id": txn_id, **stale, "committed": True},
    }
    for api, since in fenced_since.items():
        # InitProducerId names the producer it bumps from v3 on; before, it cannot be fenced
        low = 3 if api == codec.INIT_PRODUCER_ID else codec.SUPPORTED_VERSIONS[api][0]
        for version in range(low, codec.SUPPORTED_VERSIONS[api][1] + 1):
            body = client.request(api, version, bodies[api])
            if api == codec.ADD_PARTITIONS_TO_TXN:
                body = body["results_by_topic_v3_and_below"][0]["results_by_partition"][0]
                error = body["partition_error_code"]
            else:
                error = body["error_code"]
            expected = (
                ErrorCode.PRODUCER_FENCED if version >= since else ErrorCode.INVALID_PRODUCER_EPOCH
            )
            assert error == expected, (codec.API_NAMES[api], version, ErrorCode(error).name)
    client.close()
