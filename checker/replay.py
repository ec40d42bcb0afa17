"""Turning the search's parent links back into a concrete, labelled trace.

The search stores neither labels nor, under symmetry reduction, the concrete states: only
each stored state's parent. A trace is rebuilt by replaying the model: start from an initial
state whose representative is the first one on the path, and at each step pick a successor of
the current concrete state whose representative is the next one on the path. Without symmetry
the representative of a state is the state itself, and the replay just recovers the labels.
The replay always succeeds when ``canonical`` really is a symmetry of the model (a permutation
of a state's successors is a successor of the permuted state); when it fails, the model's
``canonical`` is wrong, and we say so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kafka_eos.errors import InputError

from .interface import BoundModel, short_repr
from .result import Trace


class ParentLinks(Protocol):
    """Each stored state's parent (``None`` for an initial state): a dict, or a graph's."""

    def __getitem__(self, state: Any, /) -> Any: ...


def path_to(parent: ParentLinks, state: Any) -> list[Any]:
    """The stored states from an initial state to ``state``, following parent links."""
    path = [state]
    while (state := parent[state]) is not None:
        path.append(state)
    path.reverse()
    return path


def replay(bound: BoundModel, path: list[Any]) -> Trace:
    """A concrete trace whose i-th state has the i-th representative of ``path``."""
    canon: Callable[[Any], Any] = bound.canonical or _identity
    current = next((s for s in bound.init_states() if canon(s) == path[0]), None)
    if current is None:
        raise _not_a_symmetry(bound, "no initial state has the representative", path[0])
    states, labels = [current], []
    for wanted in path[1:]:
        step = next(((lbl, t) for lbl, t in bound.actions(current) if canon(t) == wanted), None)
        if step is None:
            raise _not_a_symmetry(bound, f"no successor of {short_repr(current)} has", wanted)
        labels.append(step[0])
        current = step[1]
        states.append(current)
    return Trace(states=states, labels=labels)


def extend_with_transition(
    bound: BoundModel,
    trace: Trace,
    label: Any,
    target: Any,
    holds: Callable[[Any, Any, Any], object],
) -> Trace:
    """``trace`` plus the step ``label -> target`` that broke an action property.

    The search found the step from the representative of the trace's last state; under
    symmetry the concrete last state may be a permutation of it, so we look for the permuted
    step: a successor with the same representative on which the property fails too.
    """
    last = trace.states[-1]
    if bound.canonical is None:
        return Trace(states=[*trace.states, target], labels=[*trace.labels, label])
    canon = bound.canonical
    wanted = canon(target)
    for lbl, t in bound.actions(last):
        if canon(t) == wanted and not holds(last, lbl, t):
            return Trace(states=[*trace.states, t], labels=[*trace.labels, lbl])
    raise _not_a_symmetry(bound, f"no successor of {short_repr(last)} breaking the property has",
                          wanted)


def _identity(state: Any) -> Any:
    return state


def _not_a_symmetry(bound: BoundModel, what: str, representative: Any) -> InputError:
    if bound.canonical is None:
        return InputError(
            f"{bound.name} is not deterministic: {what} the state {short_repr(representative)} "
            "on a second call; init_states() and actions() must return the same values each time"
        )
    return InputError(
        f"{bound.name}.canonical() is not a symmetry of the model: {what} the representative "
        f"{short_repr(representative)}; canonical(s) must map every state of an orbit to the "
        "same state and commute with actions()"
    )
