"""Kafka's exactly-once protocol rules shared by the model and the reference.

Everything here is written once and imported by both sides, so the model and the reference
cannot disagree on arithmetic, error codes or legal state transitions. This package imports
nothing from the rest of kafka_eos.
"""
