"""Fixtures of the model's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def _reachable(model: Any) -> set[Any]:
    """Every state ``model`` reaches (breadth first, no property checked)."""
    seen = set(model.init_states())
    frontier = list(seen)
    while frontier:
        following = []
        for state in frontier:
            for _label, target in model.actions(state):
                if target not in seen:
                    seen.add(target)
                    following.append(target)
        frontier = following
    return seen


@pytest.fixture
def reachable() -> Callable[[Any], set[Any]]:
    """The reachable states of a model: a test compares them with and without a reduction."""
    return _reachable
