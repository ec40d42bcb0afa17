"""Replaying a model trace on the reference: where do the two first disagree?

:func:`replay_labels` rebuilds the trace's model states from its labels (the model's own
``actions``), sets the reference up with the same configuration and knobs
(:class:`.world.ConformanceWorld`), and at each step does on the reference what the label
says. After each step the reference's abstract state must be the trace's next state, or a state
the trace reaches a few steps later, or one reachable from it in a few model steps (the
reference did several model steps at once, e.g. a transaction-log write completes with the
request that caused it). Otherwise the replay stops: the reference disagrees at that step, and
the report names the label and the variables that differ.

Independently, the report says whether the reference shows the violation the trace ends in:
the property the model broke, evaluated on the reference's abstract states (invariants) and on
its steps (action properties).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka_eos.errors import InputError
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.registry import Step

from .abstraction import abstract_state
from .known import known_disagreement
from .refinement import (
    broken_action_properties,
    broken_invariants,
    differing_variables,
    find_path,
)
from .world import ConformanceWorld, NotEnabled, Unsupported

#: How many model steps one reference step may be ahead of the trace.
AHEAD = 4


@dataclass(slots=True)
class ReplayReport:
    steps: int  # the trace's steps
    agreed: bool  # the reference followed the trace to its end
    disagreement_step: int | None = None  # 1-based step where it did not
    label: str | None = None
    reason: str = ""
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # var -> (ref, model)
    violated: str | None = None  # the property the trace violates (from the model)
    reference_violates: list[str] = field(default_factory=list)  # properties the reference broke
    reproduced: bool = False  # the reference broke ``violated`` too

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "agreed": self.agreed,
            "disagreement_step": self.disagreement_step,
            "label": self.label,
            "reason": self.reason,
            "differences": {
                k: {"reference": r, "model": m} for k, (r, m) in self.differences.items()
            },
            "violated": self.violated,
            "reference_violates": self.reference_violates,
            "violation_reproduced": self.reproduced,
        }


def model_states(model: KafkaEosModel, labels: Sequence[object]) -> tuple[list[tuple], list[Step]]:  # type: ignore[type-arg]
    """The model states along ``labels`` from the initial state, and the model's steps. A
    label is a :class:`Step`, or its text as a trace file shows it (the model's step that
    displays as that text). A label may name several successors (two copies of a request on
    different connections): the first choice that lets the rest of the trace replay wins
    (depth-first, with backtracking)."""
    path = [model.init_states()[0]]
    steps: list[Step] = []
    choices: list[list[tuple[Step, tuple]]] = []  # type: ignore[type-arg]
    deepest = 0
    while len(path) <= len(labels):
        index = len(path) - 1
        if len(choices) == index:
            label = labels[index]
            choices.append(
                [(s, t) for s, t in model.actions(path[-1]) if s == label or str(s) == label]
            )
        if choices[index]:
            chosen, target = choices[index].pop(0)
            path.append(target)
            steps.append(chosen)
            deepest = max(deepest, len(path) - 1)
            continue
        choices.pop()
        path.pop()
        if steps:
            steps.pop()
        if not path:
            raise InputError(
                f"step {deepest + 1} of the trace, {labels[deepest]}, is not an action of the "
                "model in that state: the trace was written for another configuration"
            )
    return path, steps


def replay_labels(
    model: KafkaEosModel,
    labels: Sequence[object],
    *,
    violated: str | None = None,
    reference: KafkaEosModel | None = None,
) -> ReplayReport:
    """Replay ``labels`` (a trace of ``model``) on the reference. ``reference``, when given, is
    the configuration the reference runs with instead (same workload and faults, other knobs:
    e.g. the correct protocol, to see the reference refuse the step a weakness allowed)."""
    states, steps = model_states(model, labels)
    report = ReplayReport(steps=len(labels), agreed=False, violated=violated)
    world = ConformanceWorld(reference or model)
    current = abstract_state(world)
    broken: set[str] = set(broken_invariants(model, current))
    position = 0  # the trace state the reference is known to be at or ahead of
    for index, label in enumerate(steps):
        if index < position:
            continue  # the reference did this step as part of an earlier one
        before, after = states[index], states[index + 1]
        if current == after:
            position = index + 1
            continue
        known = known_disagreement(world, before, label, after)
        try:
            world.perform(before, label, after)
        except (Unsupported, NotEnabled) as exc:
            return _stop(report, broken, index, label, str(exc), {})
        reached = abstract_state(world)
        broken.update(broken_invariants(model, reached))
        broken.update(broken_action_properties(model, current, label, reached))
        later = [
            j for j in range(index + 1, min(index + 2 + AHEAD, len(states))) if states[j] == reached
        ]
        if reached == after or later:
            position = later[0] if later else index + 1
        else:
            path, _ = find_path(model, after, reached, max_depth=AHEAD, max_expansions=2_000)
            if path is None:
                reason = "the reference's state after this step is not the model's"
                if known is not None:
                    reason += f" (known disagreement {known.name}: {known.explanation})"
                return _stop(
                    report, broken, index, label, reason, differing_variables(model, reached, after)
                )
            position = index + 1
        current = reached
    report.agreed = True
    _violations(report, broken)
    return report


def _stop(
    report: ReplayReport,
    broken: set[str],
    index: int,
    label: Step,
    reason: str,
    differences: dict[str, tuple[Any, Any]],
) -> ReplayReport:
    report.disagreement_step = index + 1
    report.label = str(label)
    report.reason = reason
    report.differences = differences
    _violations(report, broken)
    return report


def _violations(report: ReplayReport, broken: set[str]) -> None:
    report.reference_violates = sorted(broken)
    report.reproduced = report.violated is not None and report.violated in broken
