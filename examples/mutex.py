"""Mutex.tla (tests/checker/tla/): a lock, processes idle -> waiting -> critical -> idle.

The liveness example of weak against strong fairness. ``Starvation`` (each waiting process
eventually enters, one leads-to per process) is violated under weak fairness on ``Enter``: the
lock is free again and again, but never for ever, while the other process keeps taking it.
Under strong fairness it holds. ``Unlocks`` (``[]<>~lock``) holds under weak fairness on
``Leave`` and is violated without fairness, by a process that stays critical for ever (a
stuttering lasso). ``Try`` is a process's own choice and never fair.

    kafka-eos check --model examples/mutex.py:Mutex --param fairness=weak
    kafka-eos check --model examples/mutex.py:Mutex --param fairness=strong
    kafka-eos check --model examples/mutex.py:Mutex --param fairness=none --param check=Unlocks
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from kafka_eos.checker.temporal import (
    Fairness,
    TemporalProperty,
    always_eventually,
    leads_to,
    strongly_fair,
    weakly_fair,
)

FAIRNESS = ("none", "weak", "strong")


class Locked(NamedTuple):
    pc: tuple[str, ...]
    lock: bool


class Mutex:
    """``Mutex.tla`` with ``Proc = {p1, ..., pN}``."""

    def __init__(self, procs: int = 2, fairness: str = "weak", check: str = "Starvation") -> None:
        if fairness not in FAIRNESS:
            raise ValueError(f"fairness must be one of {', '.join(FAIRNESS)}, got {fairness!r}")
        if check not in ("Starvation", "Unlocks"):
            raise ValueError(f"check must be Starvation or Unlocks, got {check!r}")
        self.procs = tuple(f"p{i}" for i in range(1, procs + 1))
        self.fairness_kind = fairness
        self.check = check

    # Init == pc = [p \in Proc |-> "idle"] /\ lock = FALSE
    def init_states(self) -> list[Locked]:
        return [Locked(("idle",) * len(self.procs), False)]

    def actions(self, state: Locked) -> Iterator[tuple[str, Locked]]:
        pc, lock = state
        for i, p in enumerate(self.procs):
            if pc[i] == "idle":  # Try(p)
                yield f"Try({p})", Locked(_set(pc, i, "waiting"), lock)
            elif pc[i] == "waiting" and not lock:  # Enter(p)
                yield f"Enter({p})", Locked(_set(pc, i, "critical"), True)
            elif pc[i] == "critical":  # Leave(p)
                yield f"Leave({p})", Locked(_set(pc, i, "idle"), False)

    # MutualExclusion == \A p, q \in Proc : pc[p] = "critical" /\ pc[q] = "critical" => p = q
    def invariants(self) -> Mapping[str, Callable[[Locked], bool]]:
        return {"MutualExclusion": lambda s: s.pc.count("critical") <= 1}

    def temporal_properties(self) -> dict[str, TemporalProperty]:
        if self.check == "Unlocks":  # Unlocks == []<>(~lock)
            return {"Unlocks": always_eventually(lambda s: not s.lock)}
        # Starvation == \A p \in Proc : pc[p] = "waiting" ~> pc[p] = "critical"
        return {
            f"Starvation({p})": leads_to(
                lambda s, i=i: s.pc[i] == "waiting", lambda s, i=i: s.pc[i] == "critical"
            )
            for i, p in enumerate(self.procs)
        }

    # SpecWF == Spec /\ \A p \in Proc : WF_vars(Enter(p)) /\ WF_vars(Leave(p))
    # SpecSF == Spec /\ \A p \in Proc : SF_vars(Enter(p)) /\ WF_vars(Leave(p))
    def fairness(self) -> list[Fairness]:
        if self.fairness_kind == "none":
            return []
        enter = strongly_fair if self.fairness_kind == "strong" else weakly_fair
        return [enter("Enter", per_label=True), weakly_fair("Leave", per_label=True)]

    def action_names(self) -> list[str]:
        return ["Try", "Enter", "Leave"]


def _set(pc: tuple[str, ...], i: int, value: str) -> tuple[str, ...]:
    return (*pc[:i], value, *pc[i + 1 :])
