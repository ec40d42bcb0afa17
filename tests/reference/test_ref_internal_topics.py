"""The broker's own topics and Kafka's topic-name rule, in the core: clients cannot append to
``__consumer_offsets`` or ``__transaction_state`` (Kafka's ReplicaManager.appendToLocalLog:
"Cannot append to internal topic"), and no path creates a topic whose name breaks
org.apache.kafka.common.internals.Topic.validate (the name becomes a file name in a data dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from refdriver import Direct

from kafka_eos.errors import InputError
from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.messages import (
    CreatableTopic,
    CreateTopicsRequest,
    MetadataRequest,
    TopicPartition,
)
from kafka_eos.reference.node import BrokerConfig
from kafka_eos.reference.storage import FileStorage

TV1 = BrokerConfig(num_partitions=1, knobs=Knobs(transaction_version=1))
INTERNAL = ["__consumer_offsets", "__transaction_state"]
ILLEGAL = ["../../escaped", "a/b", "sp ace", "x" * 250, ".", "..", "\u00e9t\u00e9", ""]


@pytest.mark.parametrize("topic", INTERNAL)
def test_a_client_cannot_append_to_an_internal_topic(tmp_path: Path, topic: str) -> None:
    d = Direct(TV1, storage=FileStorage(tmp_path, fsync=False))
    pid = d.init().producer_id
    before = d.node.partitions[TopicPartition(topic, 0)].log_end_offset
    answer = d.produce(topic, 0, pid, 0, 0, ("not a transit",))
    assert answer.error_code is ErrorCode.INVALID_TOPIC_EXCEPTION
    assert d.node.partitions[TopicPartition(topic, 0)].log_end_offset == before
    d.storage.close()  # type: ignore[attr-defined]
    d.storage = FileStorage(tmp_path, fsync=False)
    d.restart()  # the data dir still loads: nothing foreign was written into it
    assert d.init("tx").error_code is ErrorCode.NONE


@pytest.mark.parametrize("topic", INTERNAL)
def test_create_topics_cannot_create_or_clobber_an_internal_topic(topic: str) -> None:
    d = Direct(TV1)
    answer = d.one(CreateTopicsRequest(d.cid(), (CreatableTopic(topic, 5),)))
    assert answer.topics[0].error_code is not ErrorCode.NONE
    assert topic not in d.node.topics
    assert TopicPartition(topic, 1) not in d.node.partitions


def test_illegal_names_are_refused_on_every_path_that_creates_a_topic(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    d = Direct(TV1, storage=FileStorage(data_dir, fsync=False))
    pid = d.init().producer_id
    for name in ILLEGAL:
        created = d.one(CreateTopicsRequest(d.cid(), (CreatableTopic(name, 1),)))
        assert created.topics[0].error_code is ErrorCode.INVALID_TOPIC_EXCEPTION, name
        metadata = d.one(MetadataRequest(d.cid(), (name,), allow_auto_topic_creation=True))
        assert metadata.topics[0].error_code is ErrorCode.INVALID_TOPIC_EXCEPTION, name
        produced = d.produce(name, 0, pid, 0, 0)
        assert produced.error_code is ErrorCode.INVALID_TOPIC_EXCEPTION, name
    assert d.node.topics == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing escaped


def test_a_legal_name_of_249_characters_is_a_topic() -> None:
    d = Direct(TV1)
    name = "a.B_9-" * 41 + "xyz"
    assert len(name) == 249
    assert d.one(CreateTopicsRequest(d.cid(), (CreatableTopic(name, 1),))).topics[0].error_code is (
        ErrorCode.NONE
    )


def test_a_path_escaping_name_in_the_topic_log_refuses_to_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    d = Direct(TV1, storage=FileStorage(data_dir, fsync=False))
    d.produce("t", 0, d.init().producer_id, 0, 0)
    d.storage.close()  # type: ignore[attr-defined]
    forged = {"name": "../../escaped", "partitions": 1}
    _append_record(data_dir, "__topics", forged)
    with pytest.raises(InputError, match=r"__topics.*escaped"):
        Direct(TV1, storage=FileStorage(data_dir, fsync=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def _append_record(data_dir: Path, stream: str, record: dict[str, object]) -> None:
    """Append one well-formed record to a stream file, as the storage itself would."""
    storage = FileStorage(data_dir, fsync=False)
    storage.stream(stream).append(record)
    storage.close()
