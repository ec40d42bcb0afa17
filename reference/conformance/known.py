"""Disagreements between the reference and the model that the refinement tests found.

Each entry names a model action after which the reference does something the model cannot
do (or the other way round), with the reason. The stateful tests do not choose these actions
(so that they keep exploring everything else); tests/conformance/test_known_disagreements.py
keeps each one's minimal program as a strict xfail, so fixing either side shows up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka_eos.model import layout as L
from kafka_eos.model.registry import Step
from kafka_eos.protocol.client_states import ClientState

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, Step, tuple], bool]  # type: ignore[type-arg]


def _expires_beside_a_reenqueued_batch(
    world: ConformanceWorld, state: tuple, label: Step, target: tuple  # type: ignore[type-arg]
) -> bool:
    if label.name != "ExpireBatch":
        return False
    proc = world.model.process_names.index(label.arg("process"))
    client = state[L.S_CLIENTS][proc]
    return client[L.C_STATE] == int(ClientState.IN_TRANSACTION) and any(
        batch[L.BT_STATUS] == L.B_INFLIGHT and batch[L.BT_EXTRA] == -1
        for rec, batch in enumerate(client[L.C_BATCHES])
        if rec != label.arg("record")
    )


#: The earlier ones were resolved by making the reference (coordinator failover, verify-only)
#: or the model (the TV2 leader-side add and its CONCURRENT_TRANSACTIONS, the coordinator
#: before the duplicate check) do what Kafka does; their programs are regressions in AGREED
#: there.
KNOWN: tuple[Disagreement, ...] = (
    Disagreement(
        "expiry_fails_a_reenqueued_batch",
        "a transactional batch expires (delivery.timeout.ms) while another of its producer's "
        "batches waits re-enqueued after a retriable error: the reference fails the "
        "re-enqueued one at once with the expiry's error (the abortable error fails undrained "
        "batches: Kafka's Sender, accumulator.abortUndrainedBatches), the model keeps it until "
        "the abort. Found by the refinement tests on retriable-errors once the KIP-890 round "
        "trip changed the draws; the model's client is to follow Kafka",
        _expires_beside_a_reenqueued_batch,
    ),
)


def known_disagreement(
    world: ConformanceWorld, state: tuple[Any, ...], label: Step, target: tuple[Any, ...]
) -> Disagreement | None:
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
