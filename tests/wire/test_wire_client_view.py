"""A real client's history judged by what its clients were told (Elle's names): the wire
broker loses one Produce answer, librdkafka without idempotence re-sends the batch, and the
history names the duplicate the reader saw."""

from __future__ import annotations

from typing import Any

import pytest
from wire_clients import produce_values, rd_consume, rd_producer, values_of

from kafka_eos.protocol.history_checks import check_history

pytestmark = [pytest.mark.clients, pytest.mark.timeout(120)]


def test_a_resent_batch_without_idempotence_is_a_duplicate_the_reader_saw(serve: Any) -> None:
    serve.admin("drop-response Produce 1")
    producer = rd_producer(
        serve.bootstrap, "plain", **{"enable.idempotence": False, "message.timeout.ms": 20000}
    )
    [(_, offset, _)] = produce_values(producer, "plain", ["once"])
    assert serve.admin("status") == "ok none", "the fault never fired"
    reads = rd_consume(
        serve.bootstrap, "plain", isolation="read_committed", client_id="rc", expect=2
    )
    assert values_of(reads) == ["once", "once"]
    found = check_history(serve.history() + reads)
    duplicates = [v for v in found if v.property == "duplicate"]
    assert len(duplicates) == 1, [str(v) for v in found]
    assert "'once'" in duplicates[0].message and f"{offset}" in duplicates[0].message
