"""Models for the partial-order reduction tests: random ones whose footprints are right by
construction, and small ones where one condition of the reduction decides the verdict."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka_eos.checker.reduction import Footprint, PartialOrder

DOMAIN = 3
BAG = "bag"
MESSAGES = 3


@dataclass(frozen=True, slots=True)
class StepClass:
    """Steps ``(name, i)`` for each instance ``i``: the guard looks at ``reads`` (and the
    taken message), the effect sets each of ``writes`` from them, takes a message from the
    bag, adds one (at most twice: its own ``counter`` variable bounds it)."""

    name: str
    reads: tuple[int, ...]
    writes: tuple[int, ...]
    guard: int | None
    instances: int
    takes: bool
    adds: bool
    counter: int

    def message(self, i: int) -> int:
        return (len(self.name) + i) % MESSAGES


class RandomModel:
    """Variables ``0..n-1`` over ``0..DOMAIN-1`` and a bag of small messages; random step
    classes; one property: an invariant or an action property over a few variables."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.variables = rng.randint(3, 6)
        count = rng.randint(3, 7)
        self.classes = [self._random_class(rng, k, self.variables + k) for k in range(count)]
        self.width = self.variables + count
        watched = tuple(rng.sample(range(self.variables), rng.randint(1, 2)))
        values = tuple(rng.randrange(1, DOMAIN) for _ in watched)  # not the initial 0
        self.watched = watched
        self.kind = rng.choice(["invariant", "action_property", "deadlock"])
        self.deadlock_is_error = self.kind == "deadlock"

        def bad(vector: tuple[int, ...]) -> bool:
            return all(vector[v] == x for v, x in zip(watched, values, strict=True))

        self.bad = bad

    def _random_class(self, rng: random.Random, k: int, counter: int) -> StepClass:
        # mostly a process's own variable, sometimes another one too (a shared one)
        own = rng.randrange(self.variables)
        writes = tuple(sorted({own, *([rng.randrange(self.variables)]
                                      if rng.random() < 0.25 else [])}))
        reads = tuple(sorted({rng.randrange(self.variables)} - set(writes)
                             if rng.random() < 0.3 else ()))
        return StepClass(
            name=f"C{k}", reads=reads, writes=writes,
            guard=rng.choice([None, 0, 1, 2]), instances=rng.randint(1, 2),
            takes=rng.random() < 0.3, adds=rng.random() < 0.3, counter=counter,
        )

    def init_states(self) -> list[Any]:
        return [((0,) * self.width, (0,))]

    def actions(self, state: Any) -> list[tuple[Any, Any]]:
        vector, bag = state
        out = []
        for cls in self.classes:
            for i in range(cls.instances):
                seen = sum(vector[v] for v in (*cls.reads, *cls.writes)) + i
                if cls.guard is not None and seen % DOMAIN != cls.guard:
                    continue
                new_bag = list(bag)
                if cls.takes:
                    if cls.message(i) not in new_bag:
                        continue
                    new_bag.remove(cls.message(i))
                new = list(vector)
                for w in cls.writes:
                    new[w] = (seen + w + 1) % DOMAIN
                if cls.adds:
                    if vector[cls.counter] == 2:
                        continue  # the class's adds are used up
                    new[cls.counter] = vector[cls.counter] + 1
                    new_bag.append((i + 1) % MESSAGES)
                out.append(((cls.name, i), (tuple(new), tuple(sorted(new_bag)))))
        return out

    def invariants(self) -> Mapping[str, Callable[[Any], bool]]:
        if self.kind != "invariant":
            return {}
        bad = self.bad
        return {"Good": lambda state: not bad(state[0])}

    def action_properties(self) -> Mapping[str, Callable[[Any, Any, Any], bool]]:
        if self.kind != "action_property":
            return {}
        bad = self.bad
        # holds on every step that leaves the watched variables as they were
        return {"NeverBecomesBad": lambda before, label, after:
                bad(before[0]) or not bad(after[0])}

    def partial_order(self) -> PartialOrder:
        classes = {cls.name: _footprint(cls) for cls in self.classes}
        return PartialOrder(
            classes=classes,
            class_of=lambda label: label[0],
            property_reads={"Good": self.watched, "NeverBecomesBad": self.watched},
        )


def _footprint(cls: StepClass) -> Footprint:
    counter = {cls.counter} if cls.adds else set()
    return Footprint(
        reads=frozenset(cls.reads), writes=frozenset(cls.writes) | counter,
        adds=frozenset({BAG}) if cls.adds else frozenset(),
        takes=frozenset({BAG}) if cls.takes else frozenset(),
    )


class Counters:
    """``n`` counters counting up to ``top`` independently: (top+1)^n states in full; the
    reduced search counts them one after the other. ``forbid`` is an invariant on the last
    counter."""

    def __init__(self, n: int = 3, top: int = 3, *, forbid: int | None = None,
                 declare: bool = True) -> None:
        self.n, self.top, self.forbid = n, top, forbid
        if declare:
            self.partial_order = self._partial_order

    def init_states(self) -> list[tuple[int, ...]]:
        return [(0,) * self.n]

    def actions(self, state: tuple[int, ...]) -> list[tuple[Any, Any]]:
        return [((f"Inc{i}", ()), (*state[:i], v + 1, *state[i + 1:]))
                for i, v in enumerate(state) if v < self.top]

    def invariants(self) -> Mapping[str, Callable[[Any], bool]]:
        forbid, last = self.forbid, self.n - 1
        return {} if forbid is None else {"LastNotForbidden": lambda s: s[last] != forbid}

    def _partial_order(self) -> PartialOrder:
        return PartialOrder(
            classes={f"Inc{i}": Footprint(writes=frozenset({i})) for i in range(self.n)},
            class_of=lambda label: label[0],
            property_reads={"LastNotForbidden": {self.n - 1}},
        )


class Ignoring:
    """A process spinning for ever between two states, and another with one step that breaks
    the invariant. The spinning steps are invisible and independent of the other's: without
    the cycle proviso (C3) the reduced search would only ever spin and answer "ok"."""

    def init_states(self) -> list[tuple[int, int]]:
        return [(0, 0)]

    def actions(self, state: tuple[int, int]) -> list[tuple[Any, Any]]:
        spin, broken = state
        return [(("Spin", ()), (1 - spin, broken)), (("Break", ()), (spin, 1))]

    def invariants(self) -> Mapping[str, Callable[[Any], bool]]:
        return {"NotBroken": lambda state: state[1] == 0}

    def partial_order(self) -> PartialOrder:
        return PartialOrder(
            classes={"Spin": Footprint(writes=frozenset({"spin"})),
                     "Break": Footprint(writes=frozenset({"broken"}))},
            class_of=lambda label: label[0],
            property_reads={"NotBroken": {"broken"}},
        )
