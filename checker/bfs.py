"""Exhaustive breadth-first search: :func:`check`.

The search keeps one dict, ``parent``, mapping every stored state to the state it was first
reached from (None for an initial state). That dict is at once the visited set and the trace
store: its values point to states that are already stored, so a state costs one dict entry
and nothing else. Labels are not stored; a counterexample's labels are recovered by replaying
the model along the parent path (see replay.py), which costs a few actions() calls once per
run instead of a label per state. A search that records a graph of the states for temporal
properties keeps no dict of its own: the graph numbers each state and holds its parent's
number (graph.py, ``GraphParents``).

The frontier is explored level by level with two plain lists, so the depth of every state is
known without storing it, and the first violation found is at the smallest depth: the trace is
a shortest one. Everything per transition is kept to the bare minimum; clock reads, bounds and
progress happen once every so many expanded states, adapted so that the clock is read about
every ``HOUSEKEEPING_SECONDS`` whether the model is fast or slow.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from kafka_eos.errors import InputError

from . import coverage as coverage_
from . import liveness as liveness_
from . import reduction as reduction_
from .bounds import positive_int, positive_seconds
from .checkpoint import Checkpointer, Identity, Snapshot, StopRequest
from .checkpoint import identity as search_identity
from .collector import Collector
from .graph import KNOWN, GraphParents, StateGraph
from .graph_shares import GraphShare, NumberedGraph, assembled
from .interface import (
    BoundModel,
    bind,
    fast_path_disagrees,
    first_broken_action_property,
    first_broken_invariant,
    invariant_failure,
    model_error,
    mutability_problem,
    require_valid_state,
    reraise_explained,
    short_repr,
)
from .memory import auto_memory_budget, resident_bytes
from .queue import SpillingQueue, spilled
from .reduction import REDUCTIONS, AmpleSets
from .replay import extend_with_transition, path_to, replay
from .result import (
    CheckResult,
    Progress,
    ProgressCallback,
    StopReason,
    StoreKind,
    Trace,
    Verdict,
    ViolationKind,
)
from .store import (
    AUTO_FINGERPRINTS_AFTER,
    AUTO_FINGERPRINTS_WITH_GRAPH_AFTER,
    FingerprintStore,
    store_kind,
)

# Seconds between two looks at the clock (time budget, progress), and the bounds on how many
# expanded states that may be.
HOUSEKEEPING_SECONDS = 0.05
HOUSEKEEPING_MIN, HOUSEKEEPING_MAX = 8, 8192
PROGRESS_EVERY_SECONDS = 0.2
# The stops after which a checkpoint can go on: each leaves the search at a state boundary.
RESUMABLE_STOPS = ("max_states", "time_budget", "interrupted")
# A depth's states: a list, or one that spills to disk past --queue-limit (compiled code checks
# the type of what a variable holds, so both are named).
StateQueue = list[Any] | SpillingQueue
# How many states' successors are checked for immutability before the fast loop starts.
VALIDATED_EXPANSIONS = 64


def check(
    model: object,
    *,
    max_states: int | None = None,
    max_depth: int | None = None,
    time_budget: float | None = None,
    deadlock: bool | None = None,
    progress: ProgressCallback | None = None,
    store: str = "auto",
    checkpoint: str | None = None,
    checkpoint_every: float | None = None,
    checkpoint_of: str = "",
    queue_limit: int | None = None,
    workers: int = 1,
    reduce: str = "none",
    ray: str | None = None,
    temporal: bool = True,
) -> CheckResult:
    """Explore every reachable state of ``model`` breadth-first.

    Invariants are checked on every new state, action properties on every transition, and,
    when ``deadlock`` is true (default: the model's ``deadlock_is_error``), a state without
    successors is a violation. A violation comes with a shortest trace to it. Bounds stop the
    run early with verdict ``"incomplete"``: ``max_states`` distinct states, ``max_depth``
    steps from an initial state, ``time_budget`` seconds.

    When the model declares ``temporal_properties()`` (see temporal.py), the graph is
    recorded and, once every state is explored, each property is checked under the model's
    ``fairness()``; a violation's trace is then a lasso (see liveness.py).

    ``store`` is how visited states are kept: ``"states"`` (a dict of the states themselves),
    ``"fingerprints"`` (64-bit fingerprints and parent numbers, about 30 bytes a state; see
    store.py) or ``"auto"``: states until ``AUTO_FINGERPRINTS_AFTER`` states are stored and
    the process holds more than a quarter of the machine's memory (memory.py), then
    fingerprints from the next depth on. Verdicts, counts and trace lengths are the same.

    ``checkpoint`` is a directory: the search (with fingerprints) is written there every
    ``checkpoint_every`` seconds and when a bound or the first Ctrl-C stops it, and a search
    started with a directory holding a checkpoint of the same model goes on from it to the
    figures of a run never stopped (see checkpoint.py). A checkpoint is resumed only by a
    search of the same model class, initial states, deadlock and symmetry settings and
    ``checkpoint_of`` (say which configuration of the model this is: its parameters).

    ``queue_limit`` bounds the states of the next depth kept in memory; past it they go to a
    temporary file in chunks of that many (see queue.py). Results are the same.

    ``workers`` > 1 explores in that many processes, each owning a share of the states (see
    parallel.py): the same verdicts, distinct-state counts and shortest counterexamples; bounds
    other than ``max_depth`` then stop at a depth boundary. The workers keep their states
    (``"states"``; ``"auto"`` until they hold their share of memory, then fingerprints, as one
    process does) or fingerprints (``"fingerprints"``, and ``"auto"`` with temporal
    properties: the workers record their graph by fingerprint).
    ``ray`` (a Ray cluster's address, or ``"local"`` to start one) runs those workers as Ray
    actors (see ray_search.py); ``workers`` then defaults to the cluster's CPUs.

    ``reduce="por"`` explores only ample sets of steps, from the footprints the model declares
    in ``partial_order()`` (see reduction.py): the same invariant and action-property verdicts
    with fewer states, but a counterexample may be longer than the shortest one. Temporal
    properties are not checked under it (``temporal_skipped`` names them).

    ``temporal=False`` checks the invariants and action properties only, as if the model
    declared no temporal properties (``temporal_skipped`` names them): no graph is recorded.
    With them, the graph keeps the states (``"states"``, and ``"auto"`` up to
    ``AUTO_FINGERPRINTS_WITH_GRAPH_AFTER`` states); with fingerprints, a checkpoint, a queue
    limit or workers it is recorded by number with each temporal predicate's value
    (graph_shares.py), and a checkpoint keeps it.
    """
    options: dict[str, Any] = {
        "max_states": positive_int("max_states", max_states),
        "max_depth": positive_int("max_depth", max_depth, allow_zero=True),
        "time_budget": positive_seconds("time_budget", time_budget),
        "deadlock": deadlock,
        "progress": progress,
        "temporal": bool(temporal),
    }
    workers = positive_int("workers", workers) or 1
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    spread = workers > 1 or ray is not None
    if reduce != "none" and (spread or checkpoint is not None):
        raise InputError("partial-order reduction runs in one process without checkpoints: "
                         "it cannot be combined with workers or a checkpoint")
    if spread:
        if checkpoint is not None or queue_limit is not None:
            raise InputError("several workers keep their states in memory: they cannot be "
                             "combined with a checkpoint or a queue limit")
        from .parallel import ParallelSearch  # parallel.py builds on this module

        bound, cluster = bind(model), None
        if ray is not None:
            from .ray_search import ray_cluster, ray_workers  # Ray is optional: imported on use

            workers, cluster = ray_workers(ray, workers), ray_cluster
        return ParallelSearch(bound, workers=workers, cluster=cluster,
                              worker_store=store_kind(store), **options).run()
    search = _Search(
        bind(model),
        **options,
        store=store_kind(store),
        checkpointer=None if checkpoint is None else Checkpointer(
            checkpoint, every=positive_seconds("checkpoint_every", checkpoint_every),
            of=checkpoint_of),
        queue_limit=positive_int("queue_limit", queue_limit),
        reduce=reduce,
    )
    return search.run()


@dataclass(slots=True)
class _Found:
    """The first violation: a stored state, or a transition out of one."""

    kind: ViolationKind
    name: str
    state: Any
    label: Any = None
    target: Any = None
    lasso: liveness_.Lasso | None = None


class _Search:
    # Whether this process records the graph when temporal properties are checked; the
    # workers' search has its workers record it (parallel.py).
    records_graph_here = True

    def __init__(
        self,
        bound: BoundModel,
        *,
        max_states: int | None,
        max_depth: int | None,
        time_budget: float | None,
        deadlock: bool | None,
        progress: ProgressCallback | None,
        store: str,
        checkpointer: Checkpointer | None = None,
        queue_limit: int | None = None,
        reduce: str = "none",
        temporal: bool = True,
    ) -> None:
        self.bound = bound
        self.max_states = max_states
        self.max_depth = max_depth
        self.time_budget = time_budget
        self.deadlock = bound.deadlock_is_error if deadlock is None else bool(deadlock)
        self.progress = progress
        self.auto_store = store == "auto"
        self.auto_memory_budget = auto_memory_budget() if self.auto_store else 0
        self.label_counts: dict[Any, int] = {}
        self.graph_labels_counted = False
        # The steps of the state the search stopped in after the step that stopped it
        # (recorded in the graph, never taken).
        self.untaken: Sequence[Any] = ()
        self.depth = 0
        self.collector = Collector()
        self.queue_peak = 0
        self.found: _Found | None = None
        self.stopped_by: StopReason | None = None
        self.start = 0.0
        # Temporal properties need the graph, so it is recorded only when there are some.
        self.temporal = liveness_.declared(bound)
        self.ample: AmpleSets | None = None
        self.temporal_skipped: tuple[str, ...] = ()
        if reduce == "por":
            names = [name for name, _ in (*bound.invariants, *bound.action_properties)]
            self.ample = reduction_.declared(bound.model, names)
        # ample sets keep safety verdicts only; temporal=False asks for those alone
        if self.temporal is not None and (reduce == "por" or not temporal):
            self.temporal_skipped = tuple(name for name, _ in self.temporal.properties)
            self.temporal = None
        # The graph for temporal properties: with the states (StateGraph, which numbers the
        # states itself), or, with fingerprints, by number with each temporal predicate's
        # value (a GraphShare, joined at the end); workers record their own (parallel.py).
        self.graph: StateGraph | None = None
        self.share: GraphShare | None = None
        self.numbered: NumberedGraph | None = None
        self.initial_count = 0  # the initial states (numbered first in the graph)
        # The visited set and parent links: a dict, or fingerprints (which behave alike); a
        # checkpoint keeps fingerprints.
        if checkpointer is not None and store == "states":
            raise InputError("a checkpoint keeps fingerprints: it cannot be used with "
                             "store='states'")
        fingerprints = store == "fingerprints" or checkpointer is not None
        if self.temporal is not None and self.records_graph_here:
            # A queue on disk gives its states back as copies, which a graph of the states
            # cannot number (and a queue limit asks to save memory): the graph by number.
            if queue_limit is not None and store == "states":
                raise InputError("a queue limit with temporal properties keeps the graph by "
                                 "number, with fingerprints: it cannot be used with "
                                 "store='states'")
            fingerprints = fingerprints or queue_limit is not None
            if fingerprints:
                self.share = GraphShare(self.temporal, by_number=True)
            else:
                self.graph = StateGraph()
        self.parent: Any = (FingerprintStore(numbered=self.share is not None) if fingerprints
                            else {} if self.graph is None else GraphParents(self.graph))
        self.liveness_seconds = 0.0
        self.checkpointer = checkpointer
        self.stop_request = StopRequest()
        # A resumed search's next-depth states found before it stopped; where a stop left off.
        self.carried: list[Any] = []
        self.left_off: tuple[StateQueue, StateQueue] = ([], [])
        self.earlier_seconds = 0.0
        self.queue_limit = queue_limit
        self.queue_spilled = 0
        self.identity: Identity | None = None

    def run(self) -> CheckResult:
        self.start = time.perf_counter()
        with self.collector.off():
            self._search()
        return self._result(self._seconds(time.perf_counter()))

    def _search(self) -> None:
        frontier = self._initial_level()
        if self.found is None and self.checkpointer is not None:
            frontier = self._resume(frontier)
        if self.found is None:
            self._validate_successors(frontier[:VALIDATED_EXPANSIONS])
            try:
                with self.stop_request.on_interrupt():
                    self._explore(frontier)
                self._check_temporal()
            except KeyboardInterrupt:
                self.stopped_by = "interrupted"
            else:
                if self.stopped_by in RESUMABLE_STOPS and self.checkpointer is not None:
                    self.checkpointer.write(self._snapshot(*self.left_off))

    def _resume(self, frontier: list[Any]) -> list[Any]:
        """The frontier to start from: the checkpoint's if there is one, else ``frontier``."""
        assert self.checkpointer is not None
        self.identity = search_identity(
            self.bound, self.checkpointer.of, deadlock=self.deadlock,
            temporal=tuple(name for name, _ in self.temporal.properties) if self.temporal else (),
        )
        snapshot = self.checkpointer.read(self.identity)
        if snapshot is None:
            return frontier
        if self.temporal is not None and snapshot.graph is not None:
            self.share = GraphShare.resumed(self.temporal, snapshot.graph)
        resumed, self.carried = snapshot.frontier, snapshot.successors
        if (intern := self.bound.intern) is not None:  # unpickled: the parts are new objects
            resumed, self.carried = [intern(s) for s in resumed], [intern(s) for s in self.carried]
        self.parent = snapshot.store
        self.depth, self.queue_peak = snapshot.depth, snapshot.queue_peak
        self.label_counts = dict(snapshot.label_counts)
        self.earlier_seconds = snapshot.seconds
        if not resumed and self.carried:
            # stopped after the last state of its depth: it goes on with the next depth (an
            # empty frontier would end the search at once, its next depth never expanded)
            self.depth += 1
            frontier, self.carried = self.carried, []
            return frontier
        return resumed

    def _snapshot(self, frontier: StateQueue, successors: StateQueue) -> Snapshot:
        """The search now: ``frontier`` is the current depth's states, the expanded included."""
        store: FingerprintStore = self.parent
        assert self.identity is not None
        first = len(store) - len(successors) - len(frontier)  # the number of frontier[0]
        return Snapshot(
            identity=self.identity, store=store,
            frontier=list(islice(frontier, store.expanded + 1 - first, None)),
            successors=list(successors),
            depth=self.depth, label_counts=dict(self.label_counts),
            graph=None if self.share is None else self.share.packed(),
            queue_peak=self.queue_peak, seconds=self._seconds(time.perf_counter()),
        )

    def _seconds(self, now: float) -> float:
        """Seconds of search, those before the checkpoint it resumed from included."""
        return now - self.start + self.earlier_seconds

    def _initial_level(self) -> list[Any]:
        bound, parent, canon = self.bound, self.parent, self.bound.canonical
        try:
            initial = list(bound.init_states())
        except Exception as exc:
            raise model_error(f"{bound.name}.init_states() raised", exc) from exc
        frontier: list[Any] = []
        for state in initial:
            require_valid_state(bound, state, "init_states()")
            try:
                stored = state if canon is None else canon(state)
            except Exception as exc:
                raise model_error(
                    f"{bound.name}.canonical() raised", exc, f"on state {short_repr(state)}"
                ) from exc
            if stored in parent:
                continue
            parent[stored] = None
            frontier.append(stored)
            if (error := invariant_failure(bound, stored)) is not None:
                raise error
            if (name := first_broken_invariant(bound, stored)) is not None:
                self.found = _Found("invariant", name, stored)
                break
        if not parent:
            raise InputError(f"{bound.name}.init_states() produced no states")
        self.queue_peak = self.initial_count = len(frontier)
        return frontier

    def _validate_successors(self, states: list[Any]) -> None:
        """Check a sample of successors for immutability before the unchecked fast loop."""
        bound = self.bound
        for state in states:
            try:
                successors = list(bound.actions(state))
                representatives = [
                    bound.canonical(target) for _, target in successors
                ] if bound.canonical is not None else []
            except Exception as exc:
                reraise_explained(bound, state, exc)
            for step in successors:
                if not isinstance(step, tuple) or len(step) != 2:
                    raise InputError(
                        f"{bound.name}.actions() must yield (label, next_state) pairs, got "
                        f"{short_repr(step)} from state {short_repr(state)}"
                    )
                require_valid_state(bound, step[1], f"actions() step {step[0]}")
            for representative in representatives:
                if (problem := mutability_problem(representative)) is not None:
                    raise InputError(
                        f"{bound.name}.canonical() returned a state that is not immutable: "
                        f"{problem}; state: {short_repr(representative)}"
                    )

    def _explore(self, frontier: StateQueue) -> None:
        # Everything the loop touches is a local variable: attribute and global look-ups
        # would cost more than the work itself at millions of transitions. Action
        # properties and symmetry live in wrappers around actions() (see _successors), so
        # the loop has no branch for them.
        parent = self.parent
        counts = self.label_counts
        count_of = counts.get
        successors_of = plain_successors = _successors(self.bound, self.ample, self._seen)
        if self.graph is not None:
            self.graph.add_initial(frontier)
            successors_of = self.graph.recording(successors_of)
        if isinstance(parent, FingerprintStore):
            successors_of = parent.expanding(successors_of)
            if self.share is not None:
                successors_of = self.share.recording(parent, successors_of)
        # a recorded graph numbers every successor: it says which are new (see graph.py)
        unnumbered = self.graph is None
        invariants = self.bound.invariants
        # the model's fast path: all invariants at once, from what the step changed
        invariants_hold_after = self.bound.invariants_hold_after
        deadlock = self.deadlock
        state_cap = self.max_states if self.max_states is not None else sys.maxsize
        depth_cap = self.max_depth if self.max_depth is not None else sys.maxsize
        deadline = (
            self.start + self.time_budget if self.time_budget is not None else float("inf")
        )
        next_report = self.start + PROGRESS_EVERY_SECONDS
        interval = countdown = HOUSEKEEPING_MIN
        last_look = self.start
        depth = self.depth
        state: Any = None
        successors: StateQueue = []
        stop_request, checkpointer = self.stop_request, self.checkpointer
        try:
            while frontier:
                self.depth = depth
                at_depth_cap = depth >= depth_cap
                successors = self._next_queue()
                append = successors.append
                # stored if new, in one look-up (one hash of the state, not two); a recorded
                # graph stores its states itself
                remember = parent.setdefault if unnumbered else None
                for state in frontier:
                    label = None
                    steps = successors_of(state)
                    for label, target in steps:
                        if unnumbered:  # a graph of the states counts its edges' labels
                            counts[label] = count_of(label, 0) + 1  # twice as fast as try/+=
                        if target is KNOWN:
                            continue
                        if at_depth_cap:
                            if unnumbered and target in parent:
                                continue
                            # A state beyond the bound exists: the run cannot say "ok".
                            self.stopped_by = "max_depth"
                            self.untaken = _after(steps, target)
                            return
                        if remember is not None:
                            stored = len(parent)
                            remember(target, state)
                            if len(parent) == stored:
                                continue
                        if invariants_hold_after is None:
                            for name, holds in invariants:
                                if not holds(target):
                                    self.found = _Found("invariant", name, target)
                                    self.untaken = _after(steps, target)
                                    return
                        elif not invariants_hold_after(state, label, target):
                            self.found = _Found("invariant", self._named(target), target)
                            self.untaken = _after(steps, target)
                            return
                        append(target)
                    if label is None and deadlock:
                        self.found = _Found("deadlock", "deadlock", state)
                        return
                    if len(parent) >= state_cap:
                        self.stopped_by = "max_states"
                        return
                    countdown -= 1
                    if not countdown:
                        now = time.perf_counter()
                        interval = _next_interval(interval, now - last_look)
                        countdown, last_look = interval, now
                        if now >= deadline:
                            self.stopped_by = "time_budget"
                            return
                        if self.progress is not None and now >= next_report:
                            next_report = now + PROGRESS_EVERY_SECONDS
                            self._report(now, depth, len(frontier) + len(successors))
                        if checkpointer is not None and checkpointer.due(now):
                            checkpointer.write(self._snapshot(frontier, successors))
                        if stop_request.requested:
                            self.stopped_by = "interrupted"
                            return
                if len(successors) > self.queue_peak:
                    self.queue_peak = len(successors)
                if successors:
                    depth += 1
                self.queue_spilled += spilled(successors)
                frontier = successors
                # What is alive now (the stored states, the model's caches) lives for the whole
                # search: frozen, the collector's probes need not walk it again.
                self.collector.depth_done(depth)
                if self._time_for_fingerprints():
                    graph = self.graph
                    parent = self.parent = FingerprintStore.from_dict(
                        parent, expanded=len(parent) - len(frontier),
                        numbered=graph is not None)
                    if graph is None:
                        successors_of = parent.expanding(successors_of)
                    else:  # the graph goes on by number (graph_shares.py)
                        assert self.temporal is not None
                        self._count_recorded_labels(graph, ())
                        self.share = GraphShare.from_graph(graph, self.temporal, parent)
                        self.graph = None
                        successors_of = self.share.recording(
                            parent, parent.expanding(plain_successors))
                        unnumbered = True
        except _PropertyBroken as broken:
            self.found = _Found("action_property", *broken.args)
        except Exception as exc:
            reraise_explained(self.bound, state, exc)
        finally:
            self.depth = depth
            self.left_off = (frontier, successors)
            self.queue_spilled += spilled(successors)
            if self.graph is not None:
                self._count_recorded_labels(self.graph, self.untaken)

    def _count_recorded_labels(self, graph: StateGraph, untaken: Sequence[Any]) -> None:
        """Add the labels of the transitions taken while ``graph`` recorded them to the
        coverage counts: every recorded edge (one pass in C over the labels array at the end,
        instead of a look-up by label per transition), less the ``untaken`` steps of the
        state whose expansion the search stopped in."""
        if self.graph_labels_counted:
            return
        self.graph_labels_counted = True
        counts, names = self.label_counts, graph.label_list()
        for label_id, count in Counter(graph.labels[: graph.offsets[-1]]).items():
            label = names[label_id]
            counts[label] = counts.get(label, 0) + count
        for label, _ in untaken:
            counts[label] -= 1
            if not counts[label]:  # a label the search never took has no count
                del counts[label]

    def _seen(self, target: Any) -> bool:
        """Whether ``target`` (a concrete successor) is stored already."""
        canon = self.bound.canonical
        return (target if canon is None else canon(target)) in self.parent

    def _named(self, state: Any) -> str:
        """The first invariant ``state`` breaks, once the model's fast path said one does."""
        name = first_broken_invariant(self.bound, state)
        if name is None:
            raise fast_path_disagrees(self.bound, "invariants_hold_after", state)
        return name

    def _next_queue(self) -> StateQueue:
        """The queue of the next depth's states: a list, or one that spills past the limit."""
        carried, self.carried = self.carried, []
        if self.queue_limit is None:
            return carried
        queue = SpillingQueue(self.queue_limit, intern=self.bound.intern)
        queue.extend(carried)
        return queue

    def _time_for_fingerprints(self) -> bool:
        """Whether the "auto" store switches from states to fingerprints now: past its
        threshold of states, once the process holds more than its share of memory
        (memory.py)."""
        after = (AUTO_FINGERPRINTS_AFTER if self.graph is None
                 else AUTO_FINGERPRINTS_WITH_GRAPH_AFTER)
        return (self.auto_store and self._keeps_states()
                and len(self.parent) >= after
                and resident_bytes() > self.auto_memory_budget)

    def _keeps_states(self) -> bool:
        """Whether the visited states are kept themselves (not fingerprints, in one store or
        in workers)."""
        return isinstance(self.parent, dict | GraphParents)

    def _path(self, state: Any) -> list[Any]:
        if not self._keeps_states():
            path: list[Any] = self.parent.path_to(self.bound, state)
            return path
        return path_to(self.parent, state)

    def _join_graph(self) -> None:
        """The graph recorded by number made whole: here, the one share as it stands."""
        if self.share is not None:
            self.numbered = assembled([self.share.packed()], self.initial_count)
            self.share = None

    def _recorded_graph(self) -> liveness_.Graph | None:
        """The graph the temporal properties are checked on, once the search recorded it."""
        return self.graph if self.graph is not None else self.numbered

    def _check_temporal(self) -> None:
        if self.temporal is None or self.found is not None or self.stopped_by is not None:
            return
        self._report_temporal()
        started = time.perf_counter()
        self._join_graph()  # counted as the temporal properties' time
        self.liveness_seconds += time.perf_counter() - started
        graph = self._recorded_graph()
        assert graph is not None
        outcome = liveness_.checked(graph, self.temporal)
        self.liveness_seconds += outcome.seconds
        if outcome.lasso is not None:
            self.found = _Found("temporal", outcome.lasso.property_name, None,
                                lasso=outcome.lasso)

    def _report(self, now: float, depth: int, queue: int, *, phase: str = "search") -> None:
        assert self.progress is not None
        counted = sum(self.label_counts.values())
        if self.graph is not None and not self.graph_labels_counted:
            counted += len(self.graph.targets)  # counted at the end (_count_recorded_labels)
        self.progress(
            Progress(
                distinct_states=len(self.parent),
                transitions=counted,
                depth=depth,
                queue=queue,
                seconds=self._seconds(now),
                phase=phase,
            )
        )

    def _report_temporal(self) -> None:
        """Say the temporal properties are being checked: the search has nothing left."""
        if self.progress is not None:
            self._report(time.perf_counter(), self.depth, 0, phase="temporal")

    def _result(self, seconds: float) -> CheckResult:
        found = self.found
        coverage = coverage_.fold(self.label_counts, self.bound.action_names)
        outcomes = coverage_.fold_outcomes(self.label_counts, self.bound.action_outcomes)
        verdict: Verdict
        if found is not None:
            verdict = "violated"
        elif self.stopped_by is not None:
            verdict = "incomplete"
        else:
            verdict = "ok"
        return CheckResult(
            verdict=verdict,
            violated=None if found is None else found.name,
            violation_kind=None if found is None else found.kind,
            trace=None if found is None else self._trace(found),
            distinct_states=len(self.parent),
            transitions=sum(self.label_counts.values()),
            max_depth=self._deepest(found),
            seconds=seconds,
            coverage=coverage,
            never_taken=coverage_.never_taken(coverage),
            outcome_coverage=outcomes,
            outcomes_never_taken=coverage_.outcomes_never_taken(outcomes),
            queue_peak=self.queue_peak,
            stopped_by=self.stopped_by,
            mode="check",
            symmetry=self.bound.canonical is not None,
            reduction="none" if self.ample is None else "por",
            reduced_states=0 if self.ample is None else self.ample.reduced_states,
            step_classes=0 if self.ample is None else self.ample.class_count,
            visible_classes=0 if self.ample is None else self.ample.visible_count,
            temporal_skipped=self.temporal_skipped,
            temporal_properties=tuple(
                name for name, _ in (self.temporal.properties if self.temporal else ())
            ),
            liveness_seconds=self.liveness_seconds,
            graph_bytes=graph.nbytes() if (graph := self._recorded_graph()) is not None else 0,
            **self._store_figures(),
        )

    def _store_figures(self) -> dict[str, Any]:
        kind: StoreKind = "states"
        if not self._keeps_states():
            kind = "fingerprints"
        nbytes = self.parent.nbytes() if kind == "fingerprints" else 0
        return {"store": kind, "store_bytes": nbytes, "queue_spilled": self.queue_spilled}

    def _deepest(self, found: _Found | None) -> int:
        if found is not None and found.kind == "invariant":
            return len(self._path(found.state)) - 1
        return self.depth

    def _trace(self, found: _Found) -> Trace:
        if found.lasso is not None:
            graph = self._recorded_graph()
            assert graph is not None
            return liveness_.lasso_trace(self.bound, graph, found.lasso)
        trace = replay(self.bound, self._path(found.state))
        if found.kind != "action_property":
            return trace
        holds = dict(self.bound.action_properties)[found.name]
        assert found.label is not None
        return extend_with_transition(self.bound, trace, found.label, found.target, holds)


def _next_interval(interval: int, elapsed: float) -> int:
    """How many states to expand before the next look at the clock."""
    if elapsed <= 0:
        return HOUSEKEEPING_MAX
    wanted = int(interval * HOUSEKEEPING_SECONDS / elapsed)
    return max(HOUSEKEEPING_MIN, min(HOUSEKEEPING_MAX, wanted, interval * 2))


class _PropertyBroken(Exception):
    """Raised out of the successor function: (property name, state, label, next state)."""


def _successors(
    bound: BoundModel, ample: AmpleSets | None = None, seen: Callable[[Any], bool] | None = None
) -> Callable[[Any], Iterable[tuple[Any, Any]]]:
    """actions(), wrapped to check action properties, to keep an ample set of the steps
    (partial-order reduction) and to map states to representatives.

    The steps are checked on concrete states (every enabled step, also those the ample set
    leaves out); the search then stores only representatives. A model without any of these
    gets its own actions() back, with no wrapper cost.
    """
    successors_of: Callable[[Any], Iterable[tuple[Any, Any]]] = bound.actions
    if bound.action_properties and bound.action_properties_hold is not None:
        successors_of = _checking_properties_at_once(successors_of, bound)
    elif bound.action_properties:
        successors_of = _checking_properties(successors_of, bound.action_properties)
    if ample is not None:
        assert seen is not None
        successors_of = ample.reducing(successors_of, seen)
    if bound.canonical is not None:
        successors_of = _to_representatives(successors_of, bound.canonical)
    return successors_of


def _checking_properties(
    actions: Callable[[Any], Iterable[tuple[Any, Any]]],
    properties: tuple[tuple[str, Callable[[Any, Any, Any], object]], ...],
) -> Callable[[Any], list[tuple[Any, Any]]]:
    def checked(state: Any) -> list[tuple[Any, Any]]:
        steps = list(actions(state))
        for label, target in steps:
            for name, allows in properties:
                if not allows(state, label, target):
                    raise _PropertyBroken(name, state, label, target)
        return steps

    return checked


def _checking_properties_at_once(
    actions: Callable[[Any], Iterable[tuple[Any, Any]]], bound: BoundModel
) -> Callable[[Any], list[tuple[Any, Any]]]:
    """Like _checking_properties, with the model's one call per step (its fast path)."""
    all_hold = bound.action_properties_hold
    assert all_hold is not None

    def checked(state: Any) -> list[tuple[Any, Any]]:
        steps = list(actions(state))
        for label, target in steps:
            if not all_hold(state, label, target):
                name = first_broken_action_property(bound, state, label, target)
                if name is None:
                    raise fast_path_disagrees(bound, "action_properties_hold", state)
                raise _PropertyBroken(name, state, label, target)
        return steps

    return checked


def _to_representatives(
    actions: Callable[[Any], Iterable[tuple[Any, Any]]], canonical: Callable[[Any], Any]
) -> Callable[[Any], list[tuple[Any, Any]]]:
    def represented(state: Any) -> list[tuple[Any, Any]]:
        return [(label, canonical(target)) for label, target in actions(state)]

    return represented


def _after(steps: Iterable[tuple[Any, Any]], target: Any) -> Sequence[Any]:
    """The steps after the one whose target is ``target`` (a new state: its own object, or
    the last step's), none if no step has it. Only a search recording a graph needs them,
    and its steps are a list (the recorder's); a model's own actions() may be a generator,
    already consumed up to ``target``."""
    if not isinstance(steps, list | tuple):
        return ()
    for index in range(len(steps) - 1, -1, -1):
        if steps[index][1] is target:
            return steps[index + 1:]
    return ()
