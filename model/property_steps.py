"""Which properties a step must check again: the checker's fast paths over the properties.

Each property reads a few of the state's seven components (:data:`READS`, from
``footprints.PROPERTY_READS``). A step leaves most components untouched (the same tuple
objects), so an invariant that held before holds after unless a component it reads changed,
and an action property allows every step that leaves its components alone. And the invariants
give the same answers on every state whose components they read are the same objects: the
model's components are canonical (one object per value), and those combinations repeat
(the default check's 542,300 states have 110,916 of them), so what held is remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from .client_view import CLIENT_VIEW_PROPERTIES
from .footprints import PROPERTY_READS
from .layout import (
    S_CLIENTS,
    S_CONSUMER,
    S_COORDINATOR,
    S_OUTCOMES,
    S_PARTITIONS,
    STATE_VARIABLES,
    Tup,
)

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
#: Combinations of components the invariants remember having held on, and changes the
#: action properties remember allowing, before they start again (a bound on memory).
REMEMBERED_ENTRIES: Final = 1 << 17
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
    reads = tuple(sorted({at for name in predicates for at in READS[name]}))
    # The components the invariants held on, under a mix of their objects' ids (see
    # _mixed_ids). An entry keeps the objects (so no id is another object's while it lasts)
    # and is used only when they are the new state's own (a state rebuilt from parts, as
    # workers receive them, has objects of its own: it is evaluated). A breach ends the
    # search, so only what held is kept.
    held: dict[int, Tup] = {}

    def hold_after(state: Tup, label: object, target: Tup) -> bool:
        key = _mixed_ids(target, reads)
        known = held.get(key)
        if known is not None and _same_objects(known, target, reads):
            return True
        # a loop, not all() over a generator: this runs on every new state
        for holds in to_call(state, target):
            if not holds(target):
                return False
        if len(held) >= REMEMBERED_ENTRIES:
            held.clear()
        held[key] = tuple([target[at] for at in reads])
        return True

    return hold_after


def _mixed_ids(state: Tup, reads: tuple[int, ...]) -> int:
    """One int from the ids of ``state``'s components at ``reads``: a dict key that costs one
    int, where a tuple of the ids costs an int per id and a tuple. Two combinations may mix
    to one key (an entry then answers for one of them, and the other is evaluated); it stays
    a machine int (ids are 16-byte aligned addresses under 2**48), which compiled (mypyc)
    arithmetic keeps unboxed."""
    key = 0
    for shift in range(len(reads)):
        key ^= (id(state[reads[shift]]) >> 4) << shift
    return key


def _same_objects(known: Tup, state: Tup, reads: tuple[int, ...]) -> bool:
    """Whether ``known`` holds ``state``'s components at ``reads``, the same objects."""
    for at in range(len(reads)):  # noqa: SIM110 (by index: see transition_properties)
        if known[at] is not state[reads[at]]:
            return False
    return True


def action_properties_hold(checked: Mapping[str, Predicate]) -> StepCheck:
    """Whether every action property of ``checked`` holds on a step: only those reading a
    component the step changed are called. (Grouped by component rather than selected like
    the invariants: this runs on every transition, where one pass over three components
    costs less than a selection.) A property that reads one component only is a function of
    that component's value before and after the step, so the changes it allowed are
    remembered per pair of objects (canonical components: the same changes recur on many
    steps); one that reads several is called on each step."""
    groups = tuple(
        (
            at,
            tuple(allows for name, allows in checked.items() if READS[name] == (at,)),
            tuple(allows for name, allows in checked.items()
                  if at in READS[name] and READS[name] != (at,)),
        )
        for at in sorted({at for name in checked for at in READS[name]})
    )
    # Per component, the two objects of an allowed change under a mix of their ids (see
    # _mixed_ids): an entry keeps them (so no id is another object's while it lasts) and is
    # used only when they are the step's own. Only an allowed change is kept: a breach ends
    # the search.
    allowed: tuple[dict[int, tuple[Tup, Tup]], ...] = tuple({} for _ in STATE_VARIABLES)

    def hold(state: Tup, label: object, target: Tup) -> bool:
        for at, alone, shared in groups:
            before, after = state[at], target[at]
            if before is after:
                continue
            if alone:
                changes = allowed[at]
                key = id(before) >> 4 ^ (id(after) >> 4) << 8
                known = changes.get(key)
                if known is None or known[0] is not before or known[1] is not after:
                    for allows in alone:
                        if not allows(state, label, target):
                            return False
                    if len(changes) >= REMEMBERED_ENTRIES:
                        changes.clear()
                    changes[key] = (before, after)
            for allows in shared:
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
