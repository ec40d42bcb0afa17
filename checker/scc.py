"""Strongly connected components of a subgraph of a CSR graph (Tarjan, iterative).

The subgraph is the set of states ``v`` with ``member[v] == stamp``: fairness refinement asks
for the components of ever smaller subsets of the same graph, and a stamp per subset marks
one without copying the graph or clearing an array. Index and low-link live in dicts sized by
the subset, so a small subset costs little however large the graph is. No recursion: a
component may hold hundreds of thousands of states.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable


def strongly_connected(
    nodes: Iterable[int],
    offsets: array[int],
    targets: array[int],
    member: array[int],
    stamp: int,
) -> list[list[int]]:
    """The components of the subgraph of ``nodes`` (each having ``member[v] == stamp``)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    components: list[list[int]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, offsets[root])]
        while work:
            v, edge = work[-1]
            end = offsets[v + 1]
            while edge < end:
                w = targets[edge]
                edge += 1
                if member[w] != stamp:
                    continue
                if w not in index:
                    work[-1] = (v, edge)
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, offsets[w]))
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    if low[v] < low[u]:
                        low[u] = low[v]
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    components.append(component)
    return components
