"""What a run of the checker returns: the verdict, the statistics and a counterexample."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .fingerprint import collision_probability, tlc_optimistic_probability

Verdict = Literal["ok", "violated", "incomplete"]

# What a violated property was: an invariant of a state, a property of a transition, a
# reachable state without successors, or a temporal property (the trace is then a lasso).
ViolationKind = Literal["invariant", "action_property", "deadlock", "temporal"]

# The label of the last step of a lasso that stays in its last state for ever.
STUTTERING = "(stuttering)"

# How the visited states were kept (see store.py).
StoreKind = Literal["states", "fingerprints"]

# Why a run stopped before it could answer.
StopReason = Literal["max_states", "max_depth", "time_budget", "walks", "interrupted"]


@dataclass(frozen=True, slots=True)
class Trace:
    """A behaviour: ``states[0]`` is initial; ``labels[i]`` leads to ``states[i + 1]``. A
    label is the model's own: a string, or a structured label displayed with ``str()``.

    A lasso (an infinite behaviour) has ``loop``: its last step returns to ``states[loop]``
    (so the last state repeats that one) and the steps from there on repeat for ever.
    """

    states: list[Any]
    labels: list[Any]
    loop: int | None = None

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.states) - 1:
            raise ValueError("a trace has exactly one label fewer than states")
        if self.loop is not None and not 0 <= self.loop < len(self.states) - 1:
            raise ValueError("a lasso loops back to a state before its last")

    @property
    def steps(self) -> int:
        return len(self.labels)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot handed to the ``progress`` callback while a run is going on."""

    distinct_states: int
    transitions: int
    depth: int
    queue: int
    seconds: float
    # "search", then "temporal" while the temporal properties are checked on the graph (a
    # minute on millions of states, after the last state is explored)
    phase: str = "search"


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of :func:`check` (exhaustive) or :func:`simulate` (random walks).

    ``verdict`` is ``"ok"`` only when every reachable state was explored without a violation.
    A run cut short by a bound, and every simulation that found nothing, is ``"incomplete"``:
    "no violation up to depth N" is not a proof.
    """

    verdict: Verdict
    violated: str | None
    violation_kind: ViolationKind | None
    trace: Trace | None
    distinct_states: int
    transitions: int
    max_depth: int
    seconds: float
    coverage: dict[str, int]
    never_taken: list[str]
    queue_peak: int = 0
    stopped_by: StopReason | None = None
    mode: Literal["check", "simulate"] = "check"
    walks: int | None = None
    symmetry: bool = False
    #: the temporal properties checked on the explored graph (when the model declares some)
    temporal_properties: tuple[str, ...] = ()
    liveness_seconds: float = 0.0
    graph_bytes: int = 0
    store: StoreKind = "states"
    #: the bytes of the fingerprint store's arrays (0 for the plain store)
    store_bytes: int = 0
    #: how many queued states went through a temporary file (``queue_limit``)
    queue_spilled: int = 0
    #: worker processes, and the CPU seconds they spent pickling and unpickling what they sent
    workers: int = 1
    transfer_seconds: float = 0.0
    #: each worker's CPU seconds: with the main process's, what an idle machine's wall takes
    worker_cpu_seconds: tuple[float, ...] = ()
    #: how the workers split the states (see ownership.py), or "" for one process
    ownership: str = ""
    #: per action, transitions per outcome (models whose labels name the branch taken)
    outcome_coverage: dict[str, dict[str, int]] = field(default_factory=dict)
    #: ``Action:OUTCOME`` for each declared outcome never taken
    outcomes_never_taken: list[str] = field(default_factory=list)
    #: "por" when only ample sets of steps were explored (see reduction.py), and in how many
    #: states fewer steps were expanded than were enabled
    reduction: str = "none"
    reduced_states: int = 0
    #: the model's step classes, and how many of them the checked properties see
    step_classes: int = 0
    visible_classes: int = 0
    #: temporal properties the model declares that a reduced search did not check
    temporal_skipped: tuple[str, ...] = ()

    @property
    def collision_probability(self) -> float | None:
        """With fingerprints, the chance two stored states shared one (None without)."""
        if self.store != "fingerprints":
            return None
        return collision_probability(self.distinct_states)

    @property
    def states_per_second(self) -> float:
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0

    @property
    def transitions_per_second(self) -> float:
        return self.transitions / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready summary (the trace itself goes to ITF with ``--trace-out``)."""
        return {
            "mode": self.mode,
            "verdict": self.verdict,
            "violated": self.violated,
            "violation_kind": self.violation_kind,
            "trace_length": None if self.trace is None else self.trace.steps,
            "trace_labels": None if self.trace is None else [str(x) for x in self.trace.labels],
            "trace_loop": None if self.trace is None else self.trace.loop,
            "distinct_states": self.distinct_states,
            "transitions": self.transitions,
            "max_depth": self.max_depth,
            "queue_peak": self.queue_peak,
            "seconds": round(self.seconds, 3),
            "states_per_second": round(self.states_per_second),
            "transitions_per_second": round(self.transitions_per_second),
            "stopped_by": self.stopped_by,
            "walks": self.walks,
            "symmetry": self.symmetry,
            "temporal_properties": list(self.temporal_properties),
            "liveness_seconds": round(self.liveness_seconds, 3),
            "graph_bytes": self.graph_bytes,
            "store": self.store,
            "store_bytes": self.store_bytes,
            "queue_spilled": self.queue_spilled,
            "workers": self.workers,
            "transfer_seconds": round(self.transfer_seconds, 3),
            "worker_cpu_seconds": [round(s, 3) for s in self.worker_cpu_seconds],
            "ownership": self.ownership,
            "collision_probability": self.collision_probability,
            "collision_probability_tlc_optimistic": None if self.store != "fingerprints"
            else tlc_optimistic_probability(self.distinct_states, self.transitions),
            "coverage": dict(self.coverage),
            "never_taken": list(self.never_taken),
            "outcome_coverage": {name: dict(o) for name, o in self.outcome_coverage.items()},
            "outcomes_never_taken": list(self.outcomes_never_taken),
            "reduction": self.reduction,
            "reduced_states": self.reduced_states,
            "step_classes": self.step_classes,
            "visible_classes": self.visible_classes,
            "temporal_skipped": list(self.temporal_skipped),
        }
