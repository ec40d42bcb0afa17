"""Conformance of the reference to the model: abstraction function, refinement, replay.

The only part of reference/ allowed to import kafka_eos.model."""
