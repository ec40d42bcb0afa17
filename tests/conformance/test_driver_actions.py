"""The conformance driver has a way to do every action of the model, and nothing else."""

from __future__ import annotations

from kafka_eos.model.kafka import ACTION_NAMES
from kafka_eos.reference.conformance.world import ConformanceWorld

#: Handle* and Receive* actions, and the leader's KIP-890 round trip (VerifyPartition takes the
#: Produce, AppendVerified the coordinator's answer), are deliveries of a message
#: (ConformanceWorld.perform).
_DELIVERIES = ("Handle", "Receive", "VerifyPartition", "AppendVerified")


def _handlers() -> set[str]:
    return {name.removeprefix("_do_") for name in dir(ConformanceWorld) if name.startswith("_do_")}


def test_every_handler_is_an_action_of_the_model() -> None:
    stale = _handlers() - set(ACTION_NAMES)
    assert not stale, f"the driver handles actions the model no longer has: {sorted(stale)}"


#: Actions the reference cannot do yet: it has one replica per partition (issue 12, reference
#: part). Listed here so that a new action without a handler still fails.
NOT_IN_REFERENCE: frozenset[str] = frozenset()


def test_every_action_of_the_model_has_a_handler() -> None:
    missing = set(ACTION_NAMES) - _handlers()
    missing = {name for name in missing if not name.startswith(_DELIVERIES)}
    assert missing == NOT_IN_REFERENCE, f"the driver cannot do {sorted(missing)}"
