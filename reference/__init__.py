"""The executable reference implementation of Kafka's exactly-once protocol, sans-I/O.

A broker (:class:`~kafka_eos.reference.node.BrokerNode`: partition leader, transaction
coordinator, group coordinator), clients with Kafka's Java API shape
(:mod:`~kafka_eos.reference.producer`, :mod:`~kafka_eos.reference.consumer`), a deterministic
in-process network (:mod:`~kafka_eos.reference.network`) and a randomized simulation
(:mod:`~kafka_eos.reference.simulation`). Written independently of the model (it imports only
``kafka_eos.protocol``), so that comparing the two finds real disagreements.
"""
