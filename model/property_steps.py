"""Which properties a step must check again: the checker's fast paths over the properties.

Each property reads a few of the state's seven components (:data:`READS`, from
``footprints.PROPERTY_READS``). A step leaves most components untouched (the same tuple
objects), so an invariant that held before holds after unless a component it reads changed,
and an action property allows every step that leaves its components alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .client_view import CLIENT_VIEW_PROPERTIES
from .footprints import PROPERTY_READS
from .layout import S_CLIENTS, S_CONSUMER, S_COORDINATOR, S_OUTCOMES, S_PARTITIONS, Tup

__all__ = [
    "READS",
    "Anomalies",
    "Predicate",
    "StepCheck",
    "action_properties_hold",
    "invariants_hold_after",
]

Predicate = Callable[..., bool]
#: ``invariants_hold_after`` and ``action_properties_hold`` (the checker's fast paths):
#: (state, label, next state) -> whether every property holds.
StepCheck = Callable[[Tup, object, Tup], bool]
#: What a state's client view shows: the names of its anomalies (client_view.anomaly_finder).
Anomalies = Callable[[Tup], frozenset[str]]
#: The state component of each kind of location footprints.PROPERTY_READS names.
_COMPONENTS = {"clients": S_CLIENTS, "partitions": S_PARTITIONS, "consumer": S_CONSUMER,
               "coordinator": S_COORDINATOR, "outcomes": S_OUTCOMES}

#: The state components each property reads (footprints.PROPERTY_READS, declared once for
#: partial-order reduction; a test holds each property to it). An invariant whose components
#: a step leaves untouched (the same objects) gives on the next state what it gave on the
#: state before; an action property allows every step that leaves its components untouched
#: (it constrains how they change).
READS: dict[str, tuple[int, ...]] = {
    name: tuple(sorted(_COMPONENTS[kind] for kind in kinds))
    for name, kinds in PROPERTY_READS.items()
}


def invariants_hold_after(
    checked: Mapping[str, Predicate], anomalies: Anomalies | None = None
) -> StepCheck:
    """Whether every invariant of ``checked`` holds on a new state, given that they all hold
    on the state it was reached from: only those reading a component the step changed are
    called (most steps change one or two of the seven). With ``anomalies`` (what the
    client-view invariants of ``checked`` ask), those are one call: a state's anomalies are
    found once, and the six invariants are one test of them."""
    predicates = dict(checked)
    viewed = frozenset(name for name in CLIENT_VIEW_PROPERTIES if name in predicates)
    if anomalies is not None and viewed:
        found = anomalies
        # the first client-view invariant stands for all (they read the same components)
        group = next(name for name in predicates if name in viewed)
        predicates = {
            name: (lambda state: viewed.isdisjoint(found(state))) if name == group else holds
            for name, holds in predicates.items() if name == group or name not in viewed
        }
    to_call = _by_changed_components(predicates)

    def hold_after(state: Tup, label: object, target: Tup) -> bool:
        # a loop, not all() over a generator: this runs on every new state
        for holds in to_call(state, target):  # noqa: SIM110
            if not holds(target):
                return False
        return True

    return hold_after


def action_properties_hold(checked: Mapping[str, Predicate]) -> StepCheck:
    """Whether every action property of ``checked`` holds on a step: only those reading a
    component the step changed are called. (Grouped by component rather than selected like
    the invariants: this runs on every transition, where one pass over three components
    costs less than a selection.)"""
    groups = tuple(
        (at, tuple(allows for name, allows in checked.items() if at in READS[name]))
        for at in sorted({at for name in checked for at in READS[name]})
    )

    def hold(state: Tup, label: object, target: Tup) -> bool:
        for at, properties in groups:
            if state[at] is not target[at]:
                for allows in properties:
                    if not allows(state, label, target):
                        return False
        return True

    return hold


def _by_changed_components(
    checked: Mapping[str, Predicate],
) -> Callable[[Tup, Tup], tuple[Predicate, ...]]:
    """The predicates of ``checked`` (in order) that read a component changed between two
    states, as a function of the two states; the selection is cached per set of changes."""
    components = tuple(sorted({at for name in checked for at in READS[name]}))
    selections: dict[int, tuple[Predicate, ...]] = {0: ()}

    def to_call(state: Tup, target: Tup) -> tuple[Predicate, ...]:
        changed = 0
        for at in components:
            if state[at] is not target[at]:
                changed |= 1 << at
        selection = selections.get(changed)
        if selection is None:
            selection = selections[changed] = tuple(
                predicate for name, predicate in checked.items()
                if any(changed >> at & 1 for at in READS[name])
            )
        return selection

    return to_call
