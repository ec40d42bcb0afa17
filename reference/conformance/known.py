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

from kafka_eos.model.registry import Step

from .world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class Disagreement:
    name: str
    explanation: str
    applies: Callable[[ConformanceWorld, tuple, Step, tuple], bool]  # type: ignore[type-arg]


#: None today. The earlier ones were resolved by making the reference (coordinator failover,
#: verify-only, a batch expiry beside a re-enqueued batch) or the model (the TV2 leader-side
#: add and its CONCURRENT_TRANSACTIONS, the coordinator before the duplicate check, the TV2
#: leader-side add as the coordinator's transition and the empty abort) or both (a leader
#: failover during the verification round trip) do what Kafka does; their programs are
#: regressions in AGREED there.
KNOWN: tuple[Disagreement, ...] = ()


def known_disagreement(
    world: ConformanceWorld, state: tuple[Any, ...], label: Step, target: tuple[Any, ...]
) -> Disagreement | None:
    for disagreement in KNOWN:
        if disagreement.applies(world, state, label, target):
            return disagreement
    return None
