"""Over the wire, a client cannot write into the broker's own topics: Produce to
``__consumer_offsets`` or ``__transaction_state`` is INVALID_TOPIC_EXCEPTION (17), as in
Kafka, and the data directory still loads afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from wire_raw import RawClient

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.topics import INTERNAL_TOPICS
from kafka_eos.reference.wire import records

pytestmark = [pytest.mark.clients, pytest.mark.timeout(60)]


def test_produce_into_an_internal_topic_is_refused_and_the_data_dir_still_loads(
    serve_factory: Any,
) -> None:
    broker = serve_factory(data_dir=True)
    client = RawClient(broker.port)
    garbage = records.encode_batch([(None, b"not a transaction state record")])
    for topic in sorted(INTERNAL_TOPICS):
        answer = client.produce(topic, garbage)
        assert answer["error_code"] == ErrorCode.INVALID_TOPIC_EXCEPTION, topic
    assert client.produce("user-topic", garbage)["error_code"] == ErrorCode.NONE
    client.close()
    broker.restart()  # before the fix: every later start died reading the foreign record
    again = RawClient(broker.port)
    assert again.fetch("user-topic")["error_code"] == ErrorCode.NONE
    again.close()
