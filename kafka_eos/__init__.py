"""kafka-eos: a model-checked specification of Kafka's exactly-once semantics.

The package is split into layers, one top-level folder each (see README "Architecture"):
``kafka_eos.checker`` (generic model checker), ``kafka_eos.protocol`` (Kafka rules shared by
the model and the reference), ``kafka_eos.model``, ``kafka_eos.reference`` and this package's
``cli``.
"""

__version__ = "0.1.0"
