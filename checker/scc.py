"""Strongly connected components of a subgraph of a CSR graph (Tarjan, iterative).

The subgraph is the set of states ``v`` with ``member[v] == stamp``: fairness refinement asks
for the components of ever smaller subsets of the same graph, and a stamp per subset marks
one without copying the graph or clearing an array. No recursion: a component may hold
hundreds of thousands of states.

Index and low-link are kept in two lists of the graph's size, made once and used by every
search on that graph (a list read costs less than the dict look-up it replaced, which hashed
the state's number). Nothing is cleared between searches: each numbers its states from where
the one before stopped, so an index below its first number is a state it has not visited.

The compiled build runs the same search in C (``_scc.c``: the same components, in the same
order; the fair-cycle search's lassos follow it): compiled from this Python, every visit paid
for boxed ints (a tuple per work item, an int object per index and low-link written), about
2.8% of the default check with its temporal properties.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable


class Components:
    """Tarjan's search on subgraphs of one CSR graph of ``size`` states."""

    __slots__ = ("index", "low", "next_index", "offsets", "on_stack", "targets")

    def __init__(self, size: int, offsets: array[int], targets: array[int]) -> None:
        self.offsets, self.targets = offsets, targets
        self.index = [-1] * size  # a search's visit number (numbers grow from search to search)
        self.low = [-1] * size
        self.on_stack = bytearray(size)  # every state is off the stack when a search ends
        self.next_index = 0

    def of(self, nodes: Iterable[int], member: array[int], stamp: int) -> list[list[int]]:
        """The components of the subgraph of ``nodes`` (each having ``member[v] == stamp``),
        in the order Tarjan's search completes them."""
        offsets, targets, index, low, on_stack = (
            self.offsets, self.targets, self.index, self.low, self.on_stack)
        first = counter = self.next_index  # an index below first: not visited by this search
        stack: list[int] = []
        components: list[list[int]] = []
        for root in nodes:
            if index[root] >= first:
                continue
            index[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack[root] = 1
            work = [(root, offsets[root])]
            while work:
                v, edge = work[-1]
                end = offsets[v + 1]
                while edge < end:
                    w = targets[edge]
                    edge += 1
                    if member[w] != stamp:
                        continue
                    if index[w] < first:
                        work[-1] = (v, edge)
                        index[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack[w] = 1
                        work.append((w, offsets[w]))
                        break
                    if on_stack[w] and index[w] < low[v]:
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
                            on_stack[w] = 0
                            component.append(w)
                            if w == v:
                                break
                        components.append(component)
        self.next_index = counter
        return components


#: The Python version, whichever runs (the tests hold the C one to it).
PYTHON_COMPONENTS = Components

#: Whether the C version runs (the compiled build holds ``_scc``).
COMPILED = False

try:  # the compiled build's version in C: the same components, in the same order
    from ._scc import Components  # type: ignore[import-not-found,no-redef,unused-ignore]

    COMPILED = True
except ImportError:  # no compiled build matches the sources: the class above runs
    pass
