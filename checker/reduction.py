"""Partial-order reduction for invariant checking: ample sets from footprints a model declares.

In a state, many enabled steps are often independent (they touch different parts of the
state), and exploring every order of them reaches the same states again and again. The
reduced search expands, in each state, an *ample* subset of the enabled steps chosen so that
every invariant and action property violation reachable in the full graph is still reachable.

What the model declares (``partial_order()``, see :class:`PartialOrder`): a finite universe of
*step classes*, each with a :class:`Footprint` over *locations* (any hashable naming a part of
the state), the class of each label, and which locations each property reads. A class groups
steps (e.g. every delivery of a request to one partition leader); its footprint covers every
step of the class in every state: what their guards and effects read, write, add to a bag or
take from one. Optionally the model narrows, per state, which classes can enable a class's
steps that are not enabled yet (``enablers``); without it this is read off the footprints.

The ample set of a state is the enabled part of a stubborn set (Godefroid, "Partial-Order
Methods for the Verification of Concurrent Systems", LNCS 1032, 1996, ch. 4: persistent sets
computed from necessary enabling sets), grown from one enabled class by adding every class
dependent on a class in the set that is enabled, and every class that may enable a step not
enabled yet of any class in the set. The conditions (Clarke, Grumberg, Peled, "Model
Checking", ch. 10):

- C0: the ample set is empty only when nothing is enabled (it grows from an enabled class);
- C1: no step outside it that depends on it can happen first (the closure above);
- C2: unless it is every enabled step, no step in it is *visible*: may change a location a
  checked invariant or action property reads (so a violating step is never deferred);
- C3 (the cycle proviso, for breadth-first search): the ample set is used only if every
  successor it gives is a state not stored yet; otherwise the state is fully expanded. Then
  every cycle of the reduced graph has a fully expanded state: of the states on a cycle, the
  one expanded last has a cycle successor that was stored before it was expanded, so it was
  fully expanded. (A stricter form of the BFS proviso of Bošnački, Leue, Lluch-Lafuente,
  "Partial-order reduction for general state exploring algorithms", STTT 11(1), 2009.)

C0-C3 preserve every stutter-invariant property over the visible locations, so each invariant
and action property keeps its verdict. The reduced search is sound only if the footprints are
right: a missing location can turn a violation into "ok". A class listed with
:data:`EVERYTHING` depends on every class and is visible, so a step without a declared
footprint is never reduced away. Counterexamples are real traces, but they may be longer than
the shortest one: ``check(..., reduce="por")`` says so, and re-running unreduced to the depth
found gives a shortest one.

Dependency of two footprints (on a shared location): a write conflicts with any access; a
read conflicts with a write, an add or a take; two takes conflict (the same item); two adds,
and an add with a take, commute (a multiset: adding never disables a take, and the results are
equal in both orders).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka_eos.errors import InputError

from .interface import model_error, short_repr

#: The values of ``check(..., reduce=...)``.
REDUCTIONS = ("none", "por")

Location = Hashable
ClassKey = Hashable
Steps = Callable[[Any], Iterable[tuple[Any, Any]]]
#: Whether a state is stored already (the search's visited set).
Seen = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Footprint:
    """Where the steps of a class may look and what they may change."""

    reads: frozenset[Location] = frozenset()
    writes: frozenset[Location] = frozenset()
    #: multisets the steps add items to (adds commute with each other and with takes)
    adds: frozenset[Location] = frozenset()
    #: multisets the steps take one given item from (enabled while the item is there)
    takes: frozenset[Location] = frozenset()
    #: the steps may touch anything: dependent on every class, and visible
    everything: bool = False

    def observed(self) -> frozenset[Location]:
        """What a step's guard may look at."""
        return self.reads | self.writes | self.takes

    def changed(self) -> frozenset[Location]:
        """What a step may change."""
        return self.writes | self.adds | self.takes

    def depends_on(self, other: Footprint) -> bool:
        """Whether a step of this footprint and one of ``other`` may fail to commute or
        disable one another."""
        if self.everything or other.everything:
            return True
        return bool(
            self.writes & (other.reads | other.writes | other.adds | other.takes)
            or other.writes & (self.reads | self.adds | self.takes)
            or self.reads & (other.adds | other.takes)
            or other.reads & (self.adds | self.takes)
            or self.takes & other.takes
        )

    def may_enable(self, other: Footprint) -> bool:
        """Whether a step of this footprint may make a step of ``other`` enabled."""
        if self.everything or other.everything:
            return True
        return bool(self.changed() & other.observed())


#: The footprint of a step the model says nothing about.
EVERYTHING = Footprint(everything=True)


@dataclass(frozen=True, slots=True)
class PartialOrder:
    """What a model declares for partial-order reduction (returned by its
    ``partial_order()``).

    ``classes`` is every step class there is, with its footprint; ``class_of(label)`` the
    class of a step (a key of ``classes``). ``property_reads`` maps each invariant and action
    property name to the locations it reads: a property not listed reads everything, so every
    step is visible and nothing is reduced (an action property must hold on every step that
    leaves its locations unchanged). ``enablers(state, key)``, if given, returns classes
    one of which must take a step before any step of class ``key`` that is not enabled in
    ``state`` can become enabled (Godefroid's necessary enabling set; an empty one says none
    ever will); it must depend on ``state`` only through ``context(state)``, a hashable the
    ample sets are cached by.
    """

    classes: Mapping[ClassKey, Footprint]
    class_of: Callable[[Any], ClassKey]
    property_reads: Mapping[str, Iterable[Location]]
    enablers: Callable[[Any, ClassKey], Iterable[ClassKey]] | None = None
    context: Callable[[Any], Hashable] | None = None


def declared(model: object, properties: Iterable[str]) -> AmpleSets:
    """The model's ``partial_order()`` checked and prepared for ``properties``."""
    name = type(model).__name__
    getter = getattr(model, "partial_order", None)
    if not callable(getter):
        raise InputError(f"{name} declares no partial_order(): it cannot be checked with "
                         "partial-order reduction")
    try:
        spec = getter()
    except Exception as exc:
        raise model_error(f"{name}.partial_order() raised", exc) from exc
    if not isinstance(spec, PartialOrder):
        raise InputError(f"{name}.partial_order() must return a checker.reduction.PartialOrder, "
                         f"got {short_repr(spec)}")
    for key, footprint in spec.classes.items():
        if not isinstance(footprint, Footprint):
            raise InputError(f"{name}.partial_order(): class {key!r} has no Footprint "
                             f"(got {short_repr(footprint)})")
    if spec.enablers is not None and spec.context is None:
        raise InputError(f"{name}.partial_order(): enablers need a context (what of a state "
                         "they depend on), so that ample sets can be cached")
    return AmpleSets(spec, tuple(properties), model_name=name)


class AmpleSets:
    """Chooses, per state, the steps the reduced search expands."""

    __slots__ = ("_cache", "_classes", "_context", "_dependents", "_enablers", "_model_name",
                 "_spec", "_visible", "class_count", "reduced_states", "visible_count")

    def __init__(self, spec: PartialOrder, properties: tuple[str, ...], *, model_name: str
                 ) -> None:
        self._spec = spec
        self._model_name = model_name
        self._classes = dict(spec.classes)
        keys = list(self._classes)
        footprints = [self._classes[k] for k in keys]
        self._dependents = {
            key: frozenset(other for other, theirs in zip(keys, footprints, strict=True)
                           if mine.depends_on(theirs))
            for key, mine in zip(keys, footprints, strict=True)
        }
        self._enablers = {
            key: frozenset(other for other, theirs in zip(keys, footprints, strict=True)
                           if theirs.may_enable(mine))
            for key, mine in zip(keys, footprints, strict=True)
        }
        self._visible = self._visible_classes(properties)
        self._context = spec.context
        # (context, enabled classes, seed class) -> the stubborn set grown from the seed
        self._cache: dict[tuple[Hashable, frozenset[ClassKey], ClassKey],
                          frozenset[ClassKey]] = {}
        #: how many states were expanded with fewer steps than were enabled
        self.reduced_states = 0
        self.class_count, self.visible_count = len(self._classes), len(self._visible)

    def _visible_classes(self, properties: tuple[str, ...]) -> frozenset[ClassKey]:
        reads = self._spec.property_reads
        if any(name not in reads for name in properties):
            return frozenset(self._classes)  # a property reading everything sees every step
        watched = frozenset(loc for name in properties for loc in reads[name])
        return frozenset(key for key, footprint in self._classes.items()
                         if footprint.everything or footprint.changed() & watched)

    def reducing(self, successors_of: Steps, seen: Seen) -> Callable[[Any], list[Any]]:
        """``successors_of`` cut down to an ample set (C0-C3); ``seen`` is the visited set,
        as the search stores states (after any symmetry reduction)."""
        class_of = self._spec.class_of
        classes = self._classes

        def ample(state: Any) -> list[Any]:
            steps = list(successors_of(state))
            if len(steps) < 2:
                return steps
            enabled: dict[ClassKey, list[Any]] = {}
            for step in steps:
                key = class_of(step[0])
                if key not in classes:
                    return steps  # a step of no declared class: never reduced
                enabled.setdefault(key, []).append(step)
            if len(enabled) < 2:
                return steps
            chosen = self._choose(state, enabled, seen)
            if chosen is None:
                return steps
            self.reduced_states += 1
            return chosen

        return ample

    def _choose(self, state: Any, enabled: dict[ClassKey, list[Any]], seen: Seen
                ) -> list[Any] | None:
        """The smallest ample set among those grown from each enabled class, or None."""
        context = None if self._context is None else self._context(state)
        visible = self._visible
        best: list[Any] | None = None
        tried: set[frozenset[ClassKey]] = set()
        keys = frozenset(enabled)
        for seed in enabled:
            if seed in visible:
                continue
            stubborn = self._stubborn(state, context, keys, seed)
            part = frozenset(key for key in enabled if key in stubborn)
            if len(part) == len(enabled) or part in tried or part & visible:
                continue  # C2: a reduced set must not hold a visible step
            tried.add(part)
            steps = [step for key in part for step in enabled[key]]
            if best is not None and len(steps) >= len(best):
                continue
            if any(seen(target) for _, target in steps):
                continue  # C3: an ample step back to a stored state: not this set
            best = steps
        return best

    def _stubborn(self, state: Any, context: Hashable, enabled: frozenset[ClassKey],
                  seed: ClassKey) -> frozenset[ClassKey]:
        """The stubborn set grown from ``seed``: with each class enabled here, every class
        depending on it; with each class, what could enable its steps not enabled yet."""
        cached = self._cache.get((context, enabled, seed))
        if cached is not None:
            return cached
        stubborn = {seed}
        work = [seed]
        enablers = self._spec.enablers
        while work:
            key = work.pop()
            grown = self._dependents[key] if key in enabled else ()
            more = self._enablers[key] if enablers is None else self._narrowed(state, key)
            for other in (*grown, *more):
                if other not in stubborn:
                    stubborn.add(other)
                    work.append(other)
        result = self._cache[(context, enabled, seed)] = frozenset(stubborn)
        return result

    def _narrowed(self, state: Any, key: ClassKey) -> frozenset[ClassKey]:
        assert self._spec.enablers is not None
        named = frozenset(self._spec.enablers(state, key))
        unknown = named - self._classes.keys()
        if unknown:
            listed = short_repr(sorted(map(repr, unknown)))
            raise InputError(f"{self._model_name}.partial_order(): enablers of {key!r} name "
                             f"classes it does not declare: {listed}")
        return named
