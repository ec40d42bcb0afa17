"""Breadth-first search in N worker processes (``check(..., workers=N)``).

Level-synchronous: every state is owned by worker ``(fingerprint >> 32) % N``, which alone stores it
(fingerprints and parent fingerprints, as in store.py) and expands it. Each depth, every worker
expands the states it owns; a successor it owns is looked up at once, one another worker owns
goes into that worker's outbox as its fingerprint and the marshal bytes the fingerprint was
computed from (so encoding costs nothing extra, and a state already seen is never decoded).
The main process only relays the outboxes, pickled once by their sender, as bytes.

Results equal the sequential search's, because every state carries its *discovery key*: the
successor positions along the path that first reaches it in the sequential order (initial
state i has key (i,), the j-th successor of a state with key K has key K + (j,)). Sorted by
key, a depth's states are in exactly the order the sequential search stores them, so:

- a state found twice in one depth keeps its smaller key and that discoverer as its parent:
  the parent links, hence the counterexamples, are the sequential ones;
- the first violation is the one with the smallest event key (an action property broken by
  a step of K is the event K + (-1,), a new state's invariant its key, a deadlock of K the
  event K + (MAX,)), and the states the sequential search would have stored by then are
  those of earlier depths plus those of this depth with smaller keys: the distinct-state
  count of a violation is the sequential one.

Transitions and coverage of a violated run count every step of the depth where it stopped
(the sequential search stops in the middle of it). ``max_states`` and ``time_budget`` stop at
a depth boundary, so an incomplete run's counts differ from the sequential ones.
"""

from __future__ import annotations

import contextlib
import marshal
import multiprocessing
import pickle
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from kafka_eos.errors import InputError

from . import bfs
from .fingerprint import fingerprint, fingerprint_of_marshalled, marshal_bytes
from .interface import BoundModel, ModelError, explain_failure
from .result import CheckResult
from .store import FingerprintStore, rebuild_path

LAST = 1 << 62  # a key position after every successor: the deadlock event of a state
NO_PARENT_FINGERPRINT = 0  # no fingerprint is 0 (see fingerprint.py)
_ONLY_BYTES = object()  # stands for a state another worker sent as bytes

Event = tuple[tuple[int, ...], str, str, bytes, Any]  # key, kind, name, state, (label, target)


def encoded(state: Any) -> tuple[int, bytes]:
    """The state's fingerprint and bytes it can be rebuilt from (marshal, else pickle)."""
    data = marshal_bytes(state)
    if data is None:
        return fingerprint(state), pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    return fingerprint_of_marshalled(data), data


def decoded(data: bytes) -> Any:
    # A pickle starts with its PROTO byte 0x80; marshal format 2 never sets that bit.
    return pickle.loads(data) if data[0] == 0x80 else marshal.loads(data)


class _Owner:
    """One worker's share of the search: the states it owns, stored and expanded."""

    def __init__(self, bound: BoundModel, me: int, workers: int, *, deadlock: bool) -> None:
        self.bound, self.me, self.workers, self.deadlock = bound, me, workers, deadlock
        self.store = FingerprintStore(parent_code="Q")
        self.frontier: list[tuple[tuple[int, ...], Any, int]] = []  # key, state, fingerprint
        # fingerprint -> [key, parent fp, state or None, its bytes]: this depth's new states
        self.new: dict[int, list[Any]] = {}
        self.counts: dict[Any, int] = {}
        self.transfer_seconds = 0.0
        self.successors_of: Callable[[Any], Any] = bfs._successors(bound)

    def offer(self, fp: int, key: tuple[int, ...], parent: int, state: Any,
              data: bytes) -> None:
        """A successor this worker owns: the state itself, or (from another worker) ``data``."""
        entry = self.new.get(fp)
        if entry is not None:
            if key < entry[0]:
                entry[0], entry[1] = key, parent
        elif not self.store.has(fp):
            self.new[fp] = [key, parent, state, data]

    def expand(self) -> tuple[list[bytes], Event | None]:
        """Expand the frontier; the outboxes (pickled) and the first event of this worker."""
        me, workers, counts, count_of = self.me, self.workers, self.counts, self.counts.get
        outboxes: list[list[tuple[int, bytes, tuple[int, ...], int]]] = [[] for _ in range(workers)]
        first: Event | None = None
        for key, state, parent in self.frontier:
            try:
                steps = self.successors_of(state)
            except bfs._PropertyBroken as broken:
                name, _, label, target = broken.args
                first = _earlier(first, ((*key, -1), "action_property", name,
                                         encoded(state)[1], (label, target)))
                continue
            except Exception as exc:
                raise _explained(self.bound, state, exc) from exc
            position = -1
            for position, (label, target) in enumerate(steps):
                counts[label] = count_of(label, 0) + 1
                fp, data = encoded(target)
                owner = (fp >> 32) % workers  # the high bits: the low ones pick table slots
                if owner == me:
                    self.offer(fp, (*key, position), parent, target, data)
                else:
                    outboxes[owner].append((fp, data, (*key, position), parent))
            if position < 0 and self.deadlock:
                first = _earlier(first, ((*key, LAST), "deadlock", "deadlock",
                                         encoded(state)[1], None))
        started = time.process_time()  # CPU: the machine may be shared
        blobs = [pickle.dumps(box, protocol=pickle.HIGHEST_PROTOCOL) for box in outboxes]
        self.transfer_seconds += time.process_time() - started
        return blobs, first

    def receive(self, blobs: list[bytes], *, check: bool) -> tuple[int, Event | None,
                                                                   tuple[int, ...] | None]:
        """Take the other workers' successors; store this depth's new states and check them."""
        for blob in blobs:
            started = time.process_time()
            items = pickle.loads(blob)
            self.transfer_seconds += time.process_time() - started
            for fp, data, key, parent in items:
                self.offer(fp, key, parent, _ONLY_BYTES, data)
        first: Event | None = None
        first_new: tuple[int, ...] | None = None
        frontier = []
        for fp, (key, parent, state, data) in self.new.items():
            if state is _ONLY_BYTES:  # sent by another worker: decoded now that it is new
                state = decoded(data)
            self.store.add(fp, parent)
            frontier.append((key, state, fp))
            if first_new is None or key < first_new:
                first_new = key
            if check:
                for name, holds in self.bound.invariants:
                    if not holds(state):
                        first = _earlier(first, (key, "invariant", name, data, None))
                        break
        self.frontier = frontier
        return len(frontier), first, first_new

    def count_before(self, key: tuple[int, ...], inclusive: bool) -> int:
        return sum(1 for k, _, _ in self.frontier if k < key or (inclusive and k == key))

    def parent_of(self, fp: int) -> int:
        return self.store.parents[self.store.fingerprints.index(fp)]


def _earlier(first: Event | None, event: Event) -> Event:
    return event if first is None or event[0] < first[0] else first


def _explained(bound: BoundModel, state: Any, exc: Exception) -> Exception:
    return explain_failure(bound, state, exc) or exc


def _serve(owner: _Owner, connection: Connection) -> None:
    """A worker's loop: run each command of the main process, answer, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    while True:
        command, argument = connection.recv()
        try:
            if command == "stop":
                return
            answer: Any
            if command == "initial":
                for key, data, fp in argument:
                    owner.store.add(fp, NO_PARENT_FINGERPRINT)
                    owner.frontier.append((key, decoded(data), fp))
                answer = None
            elif command == "expand":
                owner.new = {}
                answer = owner.expand()
            elif command == "receive":
                blobs, check = argument
                answer = owner.receive(blobs, check=check)
            elif command == "count_before":
                answer = owner.count_before(*argument)
            elif command == "parent_of":
                answer = owner.parent_of(argument)
            else:  # "figures"
                answer = (owner.counts, owner.store.nbytes(), owner.transfer_seconds,
                          time.process_time())
            connection.send(("ok", answer))
        except Exception as exc:
            message = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            connection.send(("error", message))


def owner_of(fp: int, workers: int) -> int:
    return (fp >> 32) % workers


class _Workers:
    """The worker processes, and the distributed store as the sequential search sees it."""

    def __init__(self, bound: BoundModel, count: int, *, deadlock: bool) -> None:
        # fork: a worker inherits the model as it is, nothing of it is pickled.
        context = multiprocessing.get_context("fork")
        self.connections: list[Connection] = []
        self.processes = []
        for me in range(count):
            mine, theirs = context.Pipe()
            owner = _Owner(bound, me, count, deadlock=deadlock)
            process = context.Process(target=_serve, args=(owner, theirs), daemon=True)
            process.start()
            theirs.close()
            self.connections.append(mine)
            self.processes.append(process)
        self.distinct = 0
        self.bytes = 0
        self.in_step = False

    def ask(self, commands: list[tuple[str, Any]]) -> list[Any]:
        """Send each worker its command, then collect every answer."""
        for connection, command in zip(self.connections, commands, strict=True):
            connection.send(command)
        answers = []
        for connection in self.connections:
            status, answer = connection.recv()
            if status == "error":
                raise ModelError(answer)
            answers.append(answer)
        return answers

    def ask_all(self, command: str, argument: Any = None) -> list[Any]:
        return self.ask([(command, argument)] * len(self.connections))

    def ask_one(self, worker: int, command: str, argument: Any) -> Any:
        self.connections[worker].send((command, argument))
        status, answer = self.connections[worker].recv()
        if status == "error":
            raise ModelError(answer)
        return answer

    def stop(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.send(("stop", None))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()

    # The store interface the sequential search's result code uses.
    def __len__(self) -> int:
        return self.distinct

    def nbytes(self) -> int:
        return self.bytes

    def path_to(self, bound: BoundModel, state: Any) -> list[Any]:
        fps = [fingerprint(state)]
        while (parent := self.ask_one(owner_of(fps[-1], len(self.connections)), "parent_of",
                                      fps[-1])) != NO_PARENT_FINGERPRINT:
            fps.append(parent)
        fps.reverse()
        return rebuild_path(bound, fps)


class ParallelSearch(bfs._Search):
    """The sequential search with its exploration done by worker processes."""

    def __init__(self, bound: BoundModel, *, workers: int, **options: Any) -> None:
        super().__init__(bound, store="fingerprints", **options)
        if self.graph is not None:
            raise InputError("temporal properties are not checked with several workers yet")
        self.worker_count = workers
        self.transfer_seconds = 0.0
        self.worker_cpu: list[float] = []

    def run(self) -> CheckResult:
        try:
            return super().run()
        finally:
            if isinstance(self.parent, _Workers):
                self.parent.stop()

    def _explore(self, frontier: list[Any]) -> None:
        store: FingerprintStore = self.parent
        workers = _Workers(self.bound, self.worker_count, deadlock=self.deadlock)
        workers.distinct = len(store)
        shares: list[list[Any]] = [[] for _ in range(self.worker_count)]
        for index, state in enumerate(frontier):
            fp, data = encoded(state)
            shares[owner_of(fp, self.worker_count)].append(((index,), data, fp))
        self.parent = workers
        workers.ask([("initial", share) for share in shares])
        state_cap = self.max_states
        depth_cap = self.max_depth
        deadline = None if self.time_budget is None else self.start + self.time_budget
        depth = 0
        try:
            while True:
                self.depth = depth
                expanded = workers.ask_all("expand")
                at_depth_cap = depth_cap is not None and depth >= depth_cap
                inboxes = [[blobs[me] for blobs, _ in expanded if blobs is not None]
                           for me in range(self.worker_count)]
                for me, inbox in enumerate(inboxes):
                    del inbox[me]  # a worker's own outbox is empty
                received = workers.ask([("receive", (inbox, not at_depth_cap))
                                        for inbox in inboxes])
                events = [e for _, e in expanded if e] + [e for _, e, _ in received if e]
                new = sum(n for n, _, _ in received)
                first = min(events, key=lambda event: event[0]) if events else None
                first_new = min((k for _, _, k in received if k is not None), default=None)
                # The sequential search stops at the first state past the depth bound.
                if at_depth_cap and new and (
                        first is None or (first_new is not None and first_new < first[0])):
                    self.stopped_by = "max_depth"
                    return
                if first is not None:
                    self._found_first(workers, first)
                    return
                workers.distinct += new
                self.queue_peak = max(self.queue_peak, new)
                if not new:
                    return
                depth += 1
                self._report(time.perf_counter(), depth, new)
                if state_cap is not None and workers.distinct >= state_cap:
                    self.stopped_by = "max_states"
                    return
                if deadline is not None and time.perf_counter() >= deadline:
                    self.stopped_by = "time_budget"
                    return
                if self.stop_request.requested:
                    self.stopped_by = "interrupted"
                    return
        except BaseException:
            workers.in_step = True  # a command may be unanswered: ask nothing more
            raise
        finally:
            self.depth = depth
            if not workers.in_step:
                self._gather(workers)

    def _report(self, now: float, depth: int, queue: int) -> None:
        if self.progress is not None:
            super()._report(now, depth, queue)

    def _found_first(self, workers: _Workers, event: Event) -> None:
        key, kind, name, data, step = event
        counted = workers.ask_all("count_before", (key, kind == "invariant"))
        workers.distinct += sum(counted)
        label, target = step if step is not None else (None, None)
        self.found = bfs._Found(kind, name, decoded(data), label, target)  # type: ignore[arg-type]

    def _gather(self, workers: _Workers) -> None:
        counts: dict[Any, int] = {}
        for worker_counts, nbytes, seconds, cpu in workers.ask_all("figures"):
            self.worker_cpu.append(cpu)
            for label, count in worker_counts.items():
                counts[label] = counts.get(label, 0) + count
            workers.bytes += nbytes
            self.transfer_seconds += seconds
        self.label_counts = counts

    def _store_figures(self) -> dict[str, Any]:
        return {**super()._store_figures(), "workers": self.worker_count,
                "transfer_seconds": self.transfer_seconds,
                "worker_cpu_seconds": tuple(self.worker_cpu)}
