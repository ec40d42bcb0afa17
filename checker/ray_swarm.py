"""``simulate`` as a swarm of seeded walkers (``kafka-eos simulate --ray ADDRESS``).

Member i of a swarm of M runs the walks of :func:`simulation.simulate` with seed ``seed + i``
and its share of the walks (``walks // M``, one more for the first ``walks % M`` members),
each member a Ray task where Ray places it; on its own, without Ray, the same members run one
after the other in this process. The swarm's result does not depend on where or in which
order the members ran:

- a violation is the one of the lowest-numbered member that found one (its walk, its trace);
- transitions, walks and coverage are summed over the members, the depth is the deepest;
- distinct states are those of the union of every member's visited states (each member sends
  their 64-bit fingerprints).
"""

from __future__ import annotations

import random
import time
from array import array
from dataclasses import dataclass
from typing import Any

from .bounds import positive_int
from .fingerprint import fingerprint
from .interface import bind
from .result import CheckResult, StopReason
from .simulation import _Walker, walk_options


@dataclass(frozen=True, slots=True)
class Member:
    """What one walker of the swarm found."""

    label_counts: dict[Any, int]
    transitions: int
    deepest: int
    walks_done: int
    violation: Any  # (kind, property, trace) or None
    seen: bytes  # the fingerprints of the visited states, as array("Q") bytes
    stopped_by: StopReason | None


def walk_member(model: object, seed: int, *, max_depth: int, walks: int | None,
                time_budget: float | None, deadlock: bool | None) -> Member:
    """Member ``seed``'s walks (what a Ray task of the swarm runs)."""
    bound = bind(model)
    walker = _Walker(bound, rng=random.Random(seed),
                     deadlock=bound.deadlock_is_error if deadlock is None else bool(deadlock))
    result = walker.run(max_depth=max_depth, walks=walks, time_budget=time_budget,
                        progress=None)
    return Member(walker.label_counts, walker.transitions, walker.deepest, walker.walks_done,
                  walker.violation, array("Q", map(fingerprint, walker.seen)).tobytes(),
                  result.stopped_by)


def swarm(model: object, *, members: int, seed: int = 0, max_depth: int = 100,
          walks: int | None = None, time_budget: float | None = None,
          deadlock: bool | None = None, ray: str | None = None) -> CheckResult:
    """Run ``members`` seeded walkers, on the Ray cluster ``ray`` (or here, one by one)."""
    depth, walks, budget = walk_options(seed, max_depth, walks, time_budget)
    count = positive_int("workers", members) or 1
    options: dict[str, Any] = {"max_depth": depth, "time_budget": budget, "deadlock": deadlock}
    shares = [None if walks is None else walks // count + (member < walks % count)
              for member in range(count)]
    bound = bind(model)  # the model's shape is checked before any member starts
    start = time.perf_counter()
    if ray is None:
        found = [walk_member(model, seed + member, walks=share, **options)
                 for member, share in enumerate(shares) if share != 0]
    else:
        found = _on_ray(model, ray, seed, shares, options)
    return merged(bound, found, time.perf_counter() - start)


def _on_ray(model: object, address: str, seed: int, shares: list[int | None],
            options: dict[str, Any]) -> list[Member]:
    from .ray_search import connect, ray_module, shipped_by_value

    connect(address, cpus=len(shares))
    ray = ray_module()
    shipped_by_value(model)
    task = ray.remote(num_cpus=1)(walk_member)
    calls = [task.remote(model, seed + member, walks=share, **options)
             for member, share in enumerate(shares) if share != 0]
    members: list[Member] = ray.get(calls)
    return members


def merged(bound: Any, members: list[Member], seconds: float) -> CheckResult:
    """The swarm's result from its members' (see the module's docstring)."""
    walker = _Walker(bound, rng=random.Random(0), deadlock=False)
    seen: set[int] = set()
    stopped_by: StopReason = "walks"
    for member in members:
        for label, count in member.label_counts.items():
            walker.label_counts[label] = walker.label_counts.get(label, 0) + count
        walker.transitions += member.transitions
        walker.deepest = max(walker.deepest, member.deepest)
        walker.walks_done += member.walks_done
        seen.update(array("Q", member.seen))
        if walker.violation is None:
            walker.violation = member.violation
        if member.stopped_by not in (None, "walks"):
            stopped_by = member.stopped_by
    walker.seen = seen
    return walker._result(seconds, stopped_by)
