"""The Kafka exactly-once model and its named checks.

- :mod:`.kafka` — :class:`~kafka_eos.model.kafka.KafkaEosModel`, the state machine (contract A).
- :mod:`.schema` — the state declared once: every component's named fields, in tuple order
  (:mod:`.fields` its vocabulary, :mod:`.message_schema` the messages, :mod:`.schema_texts`
  the texts generated from it).
- :mod:`.layout` — the position constants generated from the schema, codes, typed aliases.
- :mod:`.params` — knobs, fault budgets and the workload a model is built from.
- :mod:`.properties` — the invariants and action properties, by name.
- :mod:`.views` — high watermark, last stable offset and what read_committed readers see.
- :mod:`.variables` — readable named variables for traces and ITF.
- :mod:`.configs` — spec/configs/*.yaml loaded into ready models (contract C).
- :mod:`.history` — model traces as histories (contract D).
- :mod:`.verdicts` — measures and stores spec/verdicts.yaml.

spec/SPEC.md describes every action and property in prose.
"""

from .kafka import ACTION_NAMES, KafkaEosModel
from .params import Faults, Knobs, ProducerSpec, TransactionSpec, Workload

__all__ = [
    "ACTION_NAMES",
    "Faults",
    "KafkaEosModel",
    "Knobs",
    "ProducerSpec",
    "TransactionSpec",
    "Workload",
]
