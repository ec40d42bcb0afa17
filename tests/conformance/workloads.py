"""Model configurations the conformance tests drive the reference with."""

from __future__ import annotations

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import (
    IDEMPOTENT,
    READ_COMMITTED,
    TRANSACTIONAL,
    Faults,
    Knobs,
    ProducerSpec,
    TransactionSpec,
    Workload,
)

#: Every fault the model has, each possible (producer-state expiry only where its knob is on).
ALL_FAULTS = Faults(losses=2, retries=2, batch_timeouts=1, txn_timeouts=1, failovers=1, expiries=1)

#: Two incarnations of one transactional.id (the first may become a zombie), a transaction
#: across two partitions then an aborted one, a read_committed consumer.
TRANSACTIONS = Workload(
    partitions=2,
    producers=(
        ProducerSpec(
            TRANSACTIONAL,
            transactional_id="tx",
            transactions=(TransactionSpec((0, 1)), TransactionSpec((1,), commit=False)),
        ),
        ProducerSpec(TRANSACTIONAL, transactional_id="tx", transactions=(TransactionSpec((0,)),)),
    ),
    consumer=READ_COMMITTED,
)

#: One idempotent producer writing three batches to one partition, read back.
IDEMPOTENT_WRITES = Workload(
    partitions=1, producers=(ProducerSpec(IDEMPOTENT, batches=(0, 0, 0)),), consumer=READ_COMMITTED
)


def model(
    workload: Workload, *, knobs: Knobs | None = None, faults: Faults = ALL_FAULTS
) -> KafkaEosModel:
    return KafkaEosModel(knobs=knobs or Knobs(), faults=faults, workload=workload)
