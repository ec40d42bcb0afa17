"""Gate a consume-transform-produce application on the kafka-eos broker (the README's example)."""

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition


def shout(bootstrap: str, *, source: str, sink: str, group: str, count: int) -> None:
    """The application under test: each record of `source` upper-cased into `sink`, with the
    consumer offsets committed in the same transaction (exactly once)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "isolation.level": "read_committed", "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(source, 0)])
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": group})
    producer.init_transactions()
    done = 0
    for _ in range(60):
        batch = [message for message in consumer.consume(10, timeout=0.5) if not message.error()]
        if batch:
            producer.begin_transaction()
            for message in batch:
                producer.produce(sink, value=message.value().upper())
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata()
            )
            producer.commit_transaction()
            done += len(batch)
        if done == count:
            break
    consumer.close()


# The broker closes the connection after the first Produce, before answering it: the feeder's
# retry must be deduplicated. After the test body the plugin validates the broker's history
# and the reads recorded below; a violation fails the test and names the HTML view.
@pytest.mark.kafka_eos_broker(faults=["close-after Produce 1"])
def test_every_word_is_shouted_exactly_once(kafka_eos_broker):
    words = [f"word-{i}" for i in range(20)]
    feeder = Producer({"bootstrap.servers": kafka_eos_broker.bootstrap,
                       "enable.idempotence": True})
    for word in words:
        feeder.produce("words", value=word)
    assert feeder.flush(10) == 0

    shout(kafka_eos_broker.bootstrap, source="words", sink="shouts", group="shouter",
          count=len(words))

    reader = Consumer({"bootstrap.servers": kafka_eos_broker.bootstrap, "group.id": "reader",
                       "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    reader.assign([TopicPartition("shouts", 0)])
    shouted = []
    for _ in range(60):
        for message in reader.consume(20, timeout=0.5):
            if not message.error():
                shouted.append(message.value().decode())
                kafka_eos_broker.record_read(message, client="reader", isolation="read_committed")
        if len(shouted) >= len(words):
            break
    reader.close()
    assert sorted(shouted) == sorted(word.upper() for word in words)
