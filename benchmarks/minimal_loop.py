"""The baseline the checker is measured against: the least a BFS can do.

A set, a deque, every invariant called on every new state; no parents, traces, coverage,
depth, bounds or progress. The full checker must stay within 1.25x of its time and 1.5x of
its memory (see bench_checker.py).
"""

from __future__ import annotations

from collections import deque
from typing import Any


def minimal_bfs(model: Any) -> tuple[int, int]:
    """Explore ``model``; return (distinct states, transitions)."""
    invariants = list(model.invariants().values())
    seen = set(model.init_states())
    queue = deque(seen)
    transitions = 0
    while queue:
        state = queue.popleft()
        for _label, target in model.actions(state):
            transitions += 1
            if target not in seen:
                seen.add(target)
                queue.append(target)
                for holds in invariants:
                    if not holds(target):
                        raise AssertionError("invariant violated")
    return len(seen), transitions
