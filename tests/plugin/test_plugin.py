"""The pytest plugin, run on test files of its own (pytester): a broker whose history breaks a
property fails the test (in its call phase, not at teardown) with the property, the events that
show it and the path of the HTML view; the same client on Kafka's rules passes; and
kafka_eos_check fails a test whose model configuration does not give the expected verdict."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ("pytester",)
pytestmark = pytest.mark.timeout(300)

TESTS = '''
import pytest
from confluent_kafka import KafkaException, Producer

from kafka_eos.protocol.history import Read

# Kafka 3.x without KIP-890's partition verification, and the leaders' epoch check off
WEAKENED = {"transaction_version": 1, "partition_verification": False,
            "producer_epoch_check": False}
HOLD_FIRST_PRODUCE = ["delay Produce 2500 1"]


def zombie_writes_late(bootstrap):
    """The fenced incarnation's Produce, sent before the fencing, arrives after it."""
    def incarnation(name):
        producer = Producer({"bootstrap.servers": bootstrap, "client.id": name,
                             "transactional.id": "app", "linger.ms": 0})
        producer.init_transactions(20)
        return producer

    zombie = incarnation("zombie")
    zombie.begin_transaction()
    zombie.produce("out", value=b"zombie")  # the broker holds this Produce for 2.5 s
    zombie.poll(0.5)
    successor = incarnation("successor")  # fences the zombie
    successor.begin_transaction()
    successor.produce("out", value=b"successor")
    successor.commit_transaction(20)
    with pytest.raises(KafkaException):
        zombie.flush(10)
        zombie.commit_transaction(10)


@pytest.mark.kafka_eos_broker(knobs=WEAKENED, faults=HOLD_FIRST_PRODUCE)
def test_zombie_on_a_weakened_broker(kafka_eos_broker):
    zombie_writes_late(kafka_eos_broker.bootstrap)


@pytest.mark.kafka_eos_broker(faults=HOLD_FIRST_PRODUCE)
def test_zombie_on_kafkas_rules(kafka_eos_broker):
    zombie_writes_late(kafka_eos_broker.bootstrap)


@pytest.mark.kafka_eos_broker(faults=["close-after Produce 1"])
def test_a_producer_without_idempotence_retries(kafka_eos_broker):
    producer = Producer({"bootstrap.servers": kafka_eos_broker.bootstrap,
                         "enable.idempotence": False})
    producer.produce("plain", value=b"once")
    assert producer.flush(10) == 0


@pytest.mark.kafka_eos_broker(data_dir=True, partitions=2)
def test_a_durable_broker(kafka_eos_broker):
    producer = Producer({"bootstrap.servers": kafka_eos_broker.bootstrap})
    producer.produce("kept", value=b"on disk", partition=1)
    assert producer.flush(10) == 0
    assert any((kafka_eos_broker.workdir / "data").iterdir())


def test_a_recorded_read_of_a_record_never_written(kafka_eos_broker):
    producer = Producer({"bootstrap.servers": kafka_eos_broker.bootstrap})
    producer.produce("real", value=b"written")
    assert producer.flush(10) == 0
    kafka_eos_broker.record(Read("reader", "read_committed", "real-0", 0, "invented"))


def test_a_weakened_model_expected_ok(kafka_eos_check):
    kafka_eos_check("idempotence-off")


def test_a_weakened_model_expected_violated(kafka_eos_check):
    found = kafka_eos_check("read-uncommitted", expect="violated")
    assert found.result.violated == "read_committed_no_aborted" and found.view.exists()
'''


def test_the_plugin_gates_clients_and_models(pytester: pytest.Pytester) -> None:
    """One inner run (each inner test starts a broker or runs the checker); then each
    behaviour is checked on its test's report."""
    pytester.makepyfile(test_gated=TESTS)
    recorder = pytester.inline_run("-p", "no:cacheprovider")
    reports = {
        report.nodeid.split("::")[-1]: report
        for report in recorder.getreports("pytest_runtest_logreport")
        if report.when == "call" or report.failed
    }
    assert_a_zombie_write_fails_the_test_with_the_property_and_the_view(reports)
    assert reports["test_zombie_on_kafkas_rules"].passed  # the same client on Kafka's rules
    assert reports["test_a_durable_broker"].passed
    assert_a_lost_response_retried_without_idempotence_is_a_duplicate(reports)
    assert_what_the_test_records_is_validated_too(reports)
    assert_a_model_check_fails_with_the_property_and_its_counterexample(reports)
    assert reports["test_a_weakened_model_expected_violated"].passed


Reports = dict[str, pytest.TestReport]


def _failure(reports: Reports, name: str) -> str:
    report = reports[name]
    assert report.failed and report.when == "call", (name, report.when, report.outcome)
    return report.longreprtext


def assert_a_zombie_write_fails_the_test_with_the_property_and_the_view(reports: Reports) -> None:
    text = _failure(reports, "test_zombie_on_a_weakened_broker")
    assert text.startswith("kafka-eos: the broker's history violates no_fenced_writes")
    assert "zombie write: " in text and "has an older epoch than" in text
    assert "the property: no batch of an older (fenced) producer epoch" in text
    view = Path(re.search(r"view: (\S+)", text).group(1))  # type: ignore[union-attr]
    page = view.read_text(encoding="utf-8")
    assert "no_fenced_writes violated" in page and "producer:zombie" in page


def assert_a_lost_response_retried_without_idempotence_is_a_duplicate(reports: Reports) -> None:
    text = _failure(reports, "test_a_producer_without_idempotence_retries")
    assert "violates no_duplicates" in text and "duplicate: 'once'" in text


def assert_what_the_test_records_is_validated_too(reports: Reports) -> None:
    text = _failure(reports, "test_a_recorded_read_of_a_record_never_written")
    assert "'invented'" in text and "view: " in text


def assert_a_model_check_fails_with_the_property_and_its_counterexample(reports: Reports) -> None:
    text = _failure(reports, "test_a_weakened_model_expected_ok")
    assert text.startswith("kafka-eos: idempotence-off: expected ok, the checker says violated")
    assert "violated: no_duplicates (shortest counterexample: 4 steps)" in text
    assert Path(re.search(r"view: (\S+)", text).group(1)).exists()  # type: ignore[union-attr]


def test_the_readme_shows_the_example_the_suite_runs() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    example = (Path(__file__).parent / "test_example_ctp.py").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in readme
