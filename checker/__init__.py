"""A generic explicit-state model checker. It knows nothing of Kafka.

A model is a plain object with ``init_states()``, ``actions(state)`` (pairs of label and next
state) and ``invariants()`` (name -> predicate), optionally ``action_properties()``,
``canonical(state)`` (symmetry), ``variables(state)``, ``action_names()``,
``deadlock_is_error``, and ``temporal_properties()`` with ``fairness()`` (see temporal.py).
:func:`check` explores every reachable state breadth-first and returns a shortest
counterexample (for a temporal property, a lasso: see liveness.py); :func:`simulate` runs
seeded random walks.

    from kafka_eos.checker import check
    result = check(MyModel(), max_states=1_000_000)
    result.verdict, result.violated, result.trace
"""

from .bfs import check
from .interface import ModelError
from .result import CheckResult, Progress, Trace
from .simulation import simulate

__all__ = ["CheckResult", "ModelError", "Progress", "Trace", "check", "simulate"]
