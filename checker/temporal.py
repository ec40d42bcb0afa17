"""Temporal properties and fairness, as a model declares them.

A model may have ``temporal_properties()``, a mapping name -> property made with
:func:`eventually`, :func:`always_eventually` or :func:`leads_to`, and ``fairness()``, an
iterable of :func:`weakly_fair` / :func:`strongly_fair` constraints on its actions::

    def temporal_properties(self):
        return {"Terminates": eventually(lambda s: s.done),
                "Served": leads_to(lambda s: s.waiting, lambda s: s.served)}

    def fairness(self):
        return [weakly_fair("Deliver"), strongly_fair("Grant", per_label=True)]

The meaning is TLA+'s. A behaviour is an infinite sequence of states: a path of the state
graph, where any state may also repeat for ever (stutter), so a state without successors ends
a finite run by stuttering for ever, as TLC does when deadlock checking is off. An action is
*taken* by a step it makes that changes the state and *enabled* in a state where it has such a
step (``<<A>>_vars``: a step back to the same state is stuttering). Weak fairness of A
(``WF_vars(A)``) excludes the behaviours in which, from some point on, A is enabled in every
state and never taken; strong fairness (``SF_vars(A)``) those in which A is enabled infinitely
often and taken only finitely often. A constraint covers every label of the action name
(``WF_vars(\\E p : A(p))``), or, with ``per_label=True``, each label on its own
(``\\A p : WF_vars(A(p))``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

StatePredicate = Callable[[Any], object]
TemporalKind = Literal["eventually", "always_eventually", "leads_to"]
FairnessKind = Literal["weak", "strong"]


@dataclass(frozen=True, slots=True)
class TemporalProperty:
    """``<>goal``, ``[]<>goal`` or ``trigger ~> goal`` over state predicates."""

    kind: TemporalKind
    goal: StatePredicate
    trigger: StatePredicate | None = None

    def describe(self) -> str:
        return {"eventually": "<>P", "always_eventually": "[]<>P", "leads_to": "P ~> Q"}[
            self.kind
        ]


@dataclass(frozen=True, slots=True)
class Fairness:
    """A fairness constraint on one action name (or on each of its labels)."""

    kind: FairnessKind
    action: str
    per_label: bool = False

    def describe(self) -> str:
        prefix = "WF" if self.kind == "weak" else "SF"
        return f"{prefix}({self.action}{'(each)' if self.per_label else ''})"


def eventually(goal: StatePredicate) -> TemporalProperty:
    """``<>goal``: every fair behaviour reaches a state where ``goal`` holds."""
    return TemporalProperty("eventually", goal)


def always_eventually(goal: StatePredicate) -> TemporalProperty:
    """``[]<>goal``: in every fair behaviour ``goal`` holds infinitely often."""
    return TemporalProperty("always_eventually", goal)


def leads_to(trigger: StatePredicate, goal: StatePredicate) -> TemporalProperty:
    """``trigger ~> goal``: whenever ``trigger`` holds, ``goal`` holds then or later."""
    return TemporalProperty("leads_to", goal, trigger)


def weakly_fair(action: str, *, per_label: bool = False) -> Fairness:
    """``WF_vars(action)``: it cannot stay enabled for ever without being taken."""
    return Fairness("weak", action, per_label)


def strongly_fair(action: str, *, per_label: bool = False) -> Fairness:
    """``SF_vars(action)``: enabled infinitely often means taken infinitely often."""
    return Fairness("strong", action, per_label)
