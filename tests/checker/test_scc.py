"""Strongly connected components (checker/scc.py) against mutual reachability, on random
graphs, with one Components searching many subsets in turn as the fair-cycle search does."""

from __future__ import annotations

import random
from array import array

from kafka_eos.checker.scc import Components


def _reachable(start: int, edges: list[list[int]], inside: set[int]) -> set[int]:
    seen, queue = {start}, [start]
    for v in queue:
        for w in edges[v]:
            if w in inside and w not in seen:
                seen.add(w)
                queue.append(w)
    return seen


def _mutually_reachable(edges: list[list[int]], inside: set[int]) -> set[frozenset[int]]:
    reach = {v: _reachable(v, edges, inside) for v in inside}
    return {frozenset(w for w in reach[v] if v in reach[w]) for v in inside}


def test_components_of_successive_subsets_are_the_mutually_reachable_sets() -> None:
    rng = random.Random(7)
    for _ in range(40):
        size = rng.randint(1, 30)
        edges = [[rng.randrange(size) for _ in range(rng.randint(0, 3))] for _ in range(size)]
        offsets = array("I", [0])
        targets = array("I")
        for out in edges:
            targets.extend(out)
            offsets.append(len(targets))
        components = Components(size, offsets, targets)
        member = array("i", [0]) * size
        # later searches on the same lists must not take earlier ones' visits for their own
        for stamp in range(1, 6):
            inside = {v for v in range(size) if rng.random() < 0.7}
            for v in inside:
                member[v] = stamp
            found = components.of(sorted(inside), member, stamp)
            assert sorted(v for c in found for v in c) == sorted(inside)
            assert {frozenset(c) for c in found} == _mutually_reachable(edges, inside)
