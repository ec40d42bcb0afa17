"""A shortest counterexample after a reduced search.

Partial-order reduction explores only some orders of independent steps, so the first
violation its breadth-first search meets may be deeper than the shallowest one. Every trace
it returns is a real behaviour of ``d`` steps, so the plain search bounded to depth ``d``
finds a violation too, at the smallest depth there is: that is the shortest counterexample.
(It may break another property first: a shallower violation of any property is reported.)
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .bfs import check
from .result import CheckResult


def shortest_counterexample(model: object, reduced: CheckResult, **options: Any) -> CheckResult:
    """``reduced``'s violation, or a shallower one, by an unreduced search to its depth.

    The figures (states, transitions, time) become those of both searches together, the
    reduction figures stay those of the reduced one. A result without a trace is returned
    as it is.
    """
    if reduced.trace is None or reduced.verdict != "violated" or reduced.reduction == "none":
        return reduced
    plain = check(model, max_depth=reduced.trace.steps, **options)
    if plain.verdict != "violated" or plain.trace is None:
        return reduced  # cannot happen for a deterministic model; keep what was found
    return dataclasses.replace(
        plain,
        distinct_states=reduced.distinct_states + plain.distinct_states,
        transitions=reduced.transitions + plain.transitions,
        seconds=reduced.seconds + plain.seconds,
        reduction="none",
        reduced_states=reduced.reduced_states,
        temporal_skipped=reduced.temporal_skipped,
    )
