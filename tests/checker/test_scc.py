"""Strongly connected components (checker/scc.py) against mutual reachability, on random
graphs, with one Components searching many subsets in turn as the fair-cycle search does;
the compiled build's C version (``_scc``) gives the Python version's components in its order."""

from __future__ import annotations

import random
from array import array
from types import ModuleType
from typing import Any

import pytest
from c_modules import built_alone

from kafka_eos.checker import scc

C_MODULE = "kafka_eos.checker._scc"


@pytest.fixture(scope="module")
def c_scc(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return built_alone(C_MODULE, tmp_path_factory)


@pytest.fixture(scope="module", params=["python", "c"])
def components_type(request: pytest.FixtureRequest) -> Any:
    """Each implementation of Components (scc.py's class, which the C module replaces)."""
    if request.param == "python":
        return scc.PYTHON_COMPONENTS
    return request.getfixturevalue("c_scc").Components


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


def _csr(edges: list[list[int]]) -> tuple[array[int], array[int]]:
    offsets, targets = array("I", [0]), array("I")
    for out in edges:
        targets.extend(out)
        offsets.append(len(targets))
    return offsets, targets


def _random_searches(seed: int, components_type: Any) -> list[list[list[int]]]:
    """Components of successive random subsets of random graphs, as found, checked against
    mutual reachability."""
    rng = random.Random(seed)
    found_all = []
    for _ in range(40):
        size = rng.randint(1, 30)
        edges = [[rng.randrange(size) for _ in range(rng.randint(0, 3))] for _ in range(size)]
        offsets, targets = _csr(edges)
        components = components_type(size, offsets, targets)
        member = array("i", [0]) * size
        # later searches on the same lists must not take earlier ones' visits for their own
        for stamp in range(1, 6):
            inside = {v for v in range(size) if rng.random() < 0.7}
            for v in inside:
                member[v] = stamp
            found = components.of(sorted(inside), member, stamp)
            assert sorted(v for c in found for v in c) == sorted(inside)
            assert {frozenset(c) for c in found} == _mutually_reachable(edges, inside)
            found_all.append(found)
    return found_all


def test_components_of_successive_subsets_are_the_mutually_reachable_sets(
    components_type: Any,
) -> None:
    _random_searches(7, components_type)


def test_the_c_search_gives_the_python_components_in_their_order(c_scc: ModuleType) -> None:
    python = scc.PYTHON_COMPONENTS
    for seed in range(5):
        assert _random_searches(seed, c_scc.Components) == _random_searches(seed, python)


def test_a_long_path_and_a_large_cycle_need_no_recursion(components_type: Any) -> None:
    size = 200_000
    path = [[v + 1] for v in range(size - 1)] + [[]]
    offsets, targets = _csr(path)
    member = array("i", [1]) * size
    found = components_type(size, offsets, targets).of(range(size), member, 1)
    assert len(found) == size and found[0] == [size - 1]
    cycle = [[(v + 1) % size] for v in range(size)]
    offsets, targets = _csr(cycle)
    found = components_type(size, offsets, targets).of([0], member, 1)
    assert [sorted(c) for c in found] == [list(range(size))]


def test_the_c_search_refuses_arrays_it_cannot_read(c_scc: ModuleType) -> None:
    offsets, targets = _csr([[1], [0]])
    with pytest.raises(TypeError, match="member must be an array"):
        c_scc.Components(2, offsets, targets).of([0], array("q", [1, 1]), 1)
    with pytest.raises(ValueError, match="an edge to state 5"):
        c_scc.Components(2, offsets, array("I", [5, 0])).of([0], array("i", [1, 1]), 1)
    with pytest.raises(IndexError, match="state 2 is not in a graph of 2"):
        c_scc.Components(2, offsets, targets).of([2], array("i", [1, 1]), 1)
