"""An independent check that a lasso really is a fair behaviour violating its property.

Written from TLA+'s definitions, not from the checker's algorithm: it asks the model for each
state's steps again and judges the cycle as an infinite repetition.
"""

from __future__ import annotations

from typing import Any

from kafka_eos.checker.interface import action_name
from kafka_eos.checker.result import STUTTERING, Trace
from kafka_eos.checker.temporal import Fairness, TemporalProperty


def lasso_problems(model: Any, trace: Trace, prop: TemporalProperty) -> list[str]:
    """Why ``trace`` is not a fair behaviour of ``model`` violating ``prop`` (empty: it is)."""
    problems: list[str] = []
    states, labels, loop = trace.states, trace.labels, trace.loop
    if loop is None:
        return ["not a lasso"]
    if states[0] not in list(model.init_states()):
        problems.append("does not start in an initial state")
    for i, (label, after) in enumerate(zip(labels, states[1:], strict=True)):
        stutters = label == STUTTERING and after == states[i]
        if not stutters and (label, after) not in list(model.actions(states[i])):
            problems.append(f"step {i + 1} ({label}) is not a step of the model")
    if states[-1] != states[loop]:
        problems.append("the last state does not repeat the loop state")
    cycle_states = states[loop:-1]
    cycle_steps = [(states[i], labels[i], states[i + 1]) for i in range(loop, len(labels))]
    problems += _violation_problems(prop, states[:-1], loop)
    for constraint in model.fairness():
        problems += _fairness_problems(model, constraint, cycle_states, cycle_steps)
    return problems


def _violation_problems(prop: TemporalProperty, states: list[Any], loop: int) -> list[str]:
    goal = [bool(prop.goal(s)) for s in states]
    if prop.kind == "eventually":
        return ["the goal is reached"] if any(goal) else []
    if prop.kind == "always_eventually":
        return ["the goal holds on the loop"] if any(goal[loop:]) else []
    assert prop.trigger is not None
    trigger = [bool(prop.trigger(s)) for s in states]
    # Some trigger state after which (the loop included) the goal never holds.
    for i in range(len(states)):
        if trigger[i] and not any(goal[i:]) and not any(goal[loop:]):
            return []
    return ["no trigger state is followed by a goal-free future"]


def _fairness_problems(
    model: Any, constraint: Fairness, cycle_states: list[Any], cycle_steps: list[Any]
) -> list[str]:
    groups: list[set[str] | None]
    if constraint.per_label:
        labels = {label for s in cycle_states for label, t in model.actions(s)
                  if action_name(label) == constraint.action}
        groups = [{label} for label in labels]
    else:
        groups = [None]
    problems = []
    for group in groups:
        def covers(label: str, group: set[str] | None = group) -> bool:
            return action_name(label) == constraint.action and (group is None or label in group)

        enabled = [any(covers(lbl) and t != s for lbl, t in model.actions(s)) for s in cycle_states]
        taken = any(covers(lbl) and t != s for s, lbl, t in cycle_steps)
        unfair = all(enabled) if constraint.kind == "weak" else any(enabled)
        if unfair and not taken:
            which = sorted(group or [])
            problems.append(f"{constraint.describe()} {which} is violated on the loop")
    return problems
