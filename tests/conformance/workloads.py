"""Model configurations the conformance tests drive the reference with: fixed ones, and
:func:`drawn_checks`, which draws the knobs, the fault budgets and the workload's shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from kafka_eos.model.configs import build_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.params import (
    CTP,
    IDEMPOTENT,
    READ_COMMITTED,
    READ_UNCOMMITTED,
    TRANSACTIONAL,
    Faults,
    Knobs,
    ProducerSpec,
    TransactionSpec,
    Workload,
)
from kafka_eos.protocol.knobs import KNOBS, KnobValue

#: Every fault the model has, each possible (producer-state expiry only where its knob is on).
ALL_FAULTS = Faults(
    losses=2,
    retries=2,
    batch_timeouts=1,
    txn_timeouts=1,
    failovers=1,
    expiries=1,
    request_timeouts=2,
)

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


@dataclass(frozen=True, slots=True)
class DrawnCheck:
    """A configuration drawn by :func:`drawn_checks`, as a spec/configs/ file would hold it
    (its repr is what a failing program reports), and the model built from it."""

    configuration: dict[str, Any]
    model: KafkaEosModel = field(repr=False, compare=False)

    @property
    def correct(self) -> bool:
        """Kafka 4.x's protocol read read_committed, where the model holds every property, but
        for what Kafka's own rules allow (spec/SPEC.md §7): an idempotent producer whose
        batch a leader refuses with a retriable error may see a later batch land first
        (idempotent-retriable-reorder) or its batch twice (idempotent-timeout-duplicate)."""
        idempotent_retriable = self.model.faults.retriable_errors > 0 and any(
            producer.kind == IDEMPOTENT for producer in self.model.workload.producers
        )
        return (
            self.model.knobs == Knobs()
            and self.model.workload.consumer != READ_UNCOMMITTED
            and not idempotent_retriable
        )


#: Knobs of replicated partitions: these programs run one replica (the reference has no
#: replication yet), where they mean nothing or (min_insync_replicas > 1) refuse the model.
_REPLICATION_KNOBS = ("acks", "min_insync_replicas", "unclean_leader_election")


def _knob_values() -> st.SearchStrategy[dict[str, KnobValue]]:
    """Every knob of the declaration, each over its values (sizes up to Kafka's 5)."""
    values: dict[str, st.SearchStrategy[KnobValue]] = {}
    for knob in KNOBS.values():
        if knob.name in _REPLICATION_KNOBS:
            values[knob.name] = st.just(knob.default)
        elif knob.allowed is not None:
            values[knob.name] = st.sampled_from(knob.allowed)
        else:
            values[knob.name] = st.integers(knob.minimum, 5)
    return st.fixed_dictionaries(values)


_DEFAULTS: dict[str, KnobValue] = {name: knob.default for name, knob in KNOBS.items()}

#: Fault budgets drawn per program: every fault the model has, each possible.
_FAULTS = st.fixed_dictionaries(
    {
        "losses": st.integers(0, 2),
        "retries": st.integers(0, 2),
        "batch_timeouts": st.integers(0, 1),
        "txn_timeouts": st.integers(0, 1),
        "failovers": st.integers(0, 1),
        "expiries": st.integers(0, 1),
        "retriable_errors": st.integers(0, 1),
        "request_timeouts": st.integers(0, 2),
    }
)


@st.composite
def _producers(draw: st.DrawFn, partitions: int, transactional: bool) -> list[dict[str, Any]]:
    """One or two producer processes: transactional ones (two with the same transactional.id
    are incarnations, the first a zombie once fenced) or idempotent ones."""
    partition = st.integers(0, partitions - 1)
    kinds = st.sampled_from([TRANSACTIONAL, IDEMPOTENT] if transactional else [IDEMPOTENT])
    producers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 2))):
        if draw(kinds) == IDEMPOTENT:
            batches = draw(st.lists(partition, min_size=1, max_size=2))
            producers.append({"kind": IDEMPOTENT, "batches": batches})
            continue
        transaction = st.fixed_dictionaries(
            {
                "partitions": st.lists(partition, min_size=1, max_size=2, unique=True),
                "commit": st.booleans(),
            }
        )
        producers.append(
            {
                "kind": TRANSACTIONAL,
                "transactional_id": draw(st.sampled_from(["app", "other"])),
                "transactions": draw(st.lists(transaction, min_size=1, max_size=2)),
            }
        )
    return producers


@st.composite
def _workload(draw: st.DrawFn, idempotence: bool) -> dict[str, Any]:
    consumer = draw(st.sampled_from([READ_COMMITTED, None, READ_UNCOMMITTED]))
    if idempotence and draw(st.booleans()):
        # consume-transform-produce: one application, or two incarnations of it
        incarnations = draw(st.integers(1, 2))
        return {
            "partitions": 1,
            "consumer": consumer,
            "ctp": {"input": 1, "output": 0},
            "producers": [{"kind": CTP, "transactional_id": "app"}] * incarnations,
        }
    partitions = draw(st.integers(1, 2))
    return {
        "partitions": partitions,
        "consumer": consumer,
        "producers": draw(_producers(partitions, idempotence)),
    }


@st.composite
def drawn_checks(draw: st.DrawFn) -> DrawnCheck:
    """A configuration with every knob, every fault budget and the workload's shape drawn,
    loaded through the configuration loader like a spec/configs/ file."""
    # Half the programs run Kafka 4.x's knobs, where every property is asserted too.
    knobs = draw(_knob_values()) if draw(st.booleans()) else dict(_DEFAULTS)
    workload = draw(_workload(bool(knobs["idempotence"])))
    if draw(st.booleans()):
        # a small epoch bound (Short.MAX_VALUE's stand-in): the epoch runs out and the
        # producer id rotates, at InitProducerId and under transaction version 2 at EndTxn
        # too (KIP-890's nextProducerId), or wraps around with producer_id_rotation off
        # (KAFKA-5283)
        workload["max_producer_epoch"] = draw(st.integers(1, 2))
    configuration = {"knobs": knobs, "faults": draw(_FAULTS), "workload": workload}
    model = build_check_config(configuration, name="drawn", where="drawn configuration").model
    return DrawnCheck(configuration, model)
