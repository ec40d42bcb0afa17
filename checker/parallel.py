"""Breadth-first search in N worker processes (``check(..., workers=N)``).

Level-synchronous: every state is owned by one worker, which alone stores it and expands it:
the owner is worked out from the fingerprints of a few parts of the state that steps seldom
change, chosen from a sample before the search (see ownership.py), so most successors stay with
the worker that made them. Each depth, every worker expands the states it owns; a successor it
owns is looked up at once, one another worker owns goes into that worker's outbox, at most once
a depth. The workers exchange outboxes directly, as files in a shared-memory directory; the
main process only tells them when a depth starts and ends, and collects a few figures (see
:class:`_Workers`; ray_search.py runs the same shares on Ray actors, exchanging outboxes
through Ray's object store).

A worker's share comes in two kinds:

- it keeps its states (kept_owner.py; ``store`` "states", and "auto" unless temporal
  properties are checked): a dict of the states themselves, as one process keeping its states
  has, and no parent links (a state's discovery key names its parent); a successor travels as
  its key and its parts' numbers, each part's bytes once a search (transfer.py);
- it keeps fingerprints (:class:`_Owner`; ``store`` "fingerprints", and "auto" with temporal
  properties, whose graph the workers record by fingerprint, graph_shares.py): fingerprints
  and parent fingerprints, as in store.py, about 30 bytes a state; a successor travels as its
  fingerprint, discovery key, parent fingerprint and its parts' numbers, each part's bytes
  once a search (a state already seen is never built; see :class:`Outbox`).

The default's safety search (542,300 states, compiled, two workers; benchmarks/README.md,
session 15): 11.8 s of CPU in all and 6.4 s of wall time keeping states, 14.1 s and 7.7 s
keeping fingerprints, against 8.3 s in one process keeping its states. A worker keeping states
holds about what one process would for its share of the states, and the parts both meet twice
(the default with one message loss, 3,645,164 states: 511 MB the larger worker, against 706 MB
for one process).

Results equal the sequential search's, because every state carries its *discovery key*: the
order in which the sequential search would store it (discovery.py). At a depth, the states are
ranked by key across all workers (each worker sorts its own and sends the sorted keys; a
state's rank is its position among all of them); the j-th successor of the state of rank r has
key ``r * STRIDE + j + 1`` (plus the depth's base where keys grow across depths,
kept_owner.py). Sorted by key, a depth's states are in exactly the order the sequential search
stores them, so:

- a state found twice in one depth keeps its smaller key and that discoverer as its parent:
  the parent links, hence the counterexamples, are the sequential ones;
- the first violation is the one with the smallest event key (an action property broken by
  a step of the state of rank r is the event ``r * STRIDE``, a new state's invariant its key, a
  deadlock of r the event ``r * STRIDE + STRIDE - 1``), and the states the sequential search would
  have stored by then are those of earlier depths plus those of this depth with smaller keys:
  the distinct-state count of a violation is the sequential one.

A new state is checked against the invariants by the model's fast path
(``invariants_hold_after``), which compares the step's states object by object and so holds
in the process that took the step only: a worker asks it of each step to a state it sends, and
the state travels with the answer (transfer.py's ``verdict``). Its owner calls every
invariant only on a new state no fast path vouched for.

Transitions and coverage of a violated run count every step of the depth where it stopped
(the sequential search stops in the middle of it). ``max_states`` and ``time_budget`` stop at
a depth boundary, so an incomplete run's counts differ from the sequential ones.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from array import array
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from kafka_eos.errors import InputError

from . import bfs
from . import liveness as liveness_
from .collector import Collector
from .discovery import LAST, STRIDE, Event, Received, earlier, sort_by_key
from .fingerprint import (
    by_parts,
    fingerprint,
    of_part_prints,
    part_prints,
    value_fingerprint,
)
from .graph_shares import GraphShare, PackedShare, assembled
from .interface import (
    BoundModel,
    ModelError,
    reraise_explained,
)
from .kept_owner import KeptOwner, path_by_keys
from .ownership import Ownership, chosen
from .ranks import ranks
from .result import CheckResult, ProgressCallback
from .store import FingerprintStore, _identity, rebuild_path
from .transfer import (
    NOT_A_TUPLE,
    REFUSED,
    UNCHECKED,
    VOUCHED,
    PartRuns,
    SentParts,
    decoded,
    first_broken_given,
    packed_runs,
    read_array,
    state_bytes,
    verdict,
)

NO_PARENT_FINGERPRINT = 0  # no fingerprint is 0 (see fingerprint.py)


def encoded(state: Any) -> tuple[int, bytes]:
    """The state's fingerprint and bytes it can be rebuilt from."""
    return fingerprint(state), state_bytes(state)


class Outbox:
    """Successors for one other worker, sent part by part.

    A state fingerprinted by parts (fingerprint.by_parts) travels as its parts' numbers, and
    each part's bytes travel once, numbered by its fingerprint the first time a state sent to
    that worker has it (``book``, kept for the whole search; see transfer.py): successors
    share most parts with each other, so an outbox holds far fewer new parts than successors,
    and the receiver decodes each part once and builds its new states from the shared parts.
    Any other state is one part, itself. Packed, an outbox is flat arrays and the new parts'
    bytes joined (one bytes object, nothing pickled per successor; see :class:`Inbox`)."""

    __slots__ = ("book", "chunks", "counts", "first", "keys", "parents", "places", "states",
                 "verdicts")

    def __init__(self, book: SentParts) -> None:
        self.states: list[int] = []  # fingerprints
        self.keys: list[int] = []
        self.verdicts = bytearray()  # what the fast path said of each (transfer.verdict)
        self.parents: list[int] = []  # parent fingerprints
        self.counts: list[int] = []  # each state's parts, or NOT_A_TUPLE
        self.places: list[int] = []  # the states' parts' numbers, one state after another
        self.book = book  # part fingerprint -> its number
        self.first = book.first_new()
        self.chunks: list[bytes] = []  # the new parts' bytes, numbered from ``first`` on

    def add(self, fp: int, key: int, parent: int, state: Any, prints: list[int] | None,
            said: int) -> None:
        self.states.append(fp)
        self.keys.append(key)
        self.verdicts.append(said)
        self.parents.append(parent)
        if prints is None:
            self.counts.append(NOT_A_TUPLE)
            self.places.append(self._number(fp, state))
            return
        self.counts.append(len(prints))
        places = self.places
        for print_, part in zip(prints, state, strict=True):
            places.append(self._number(print_, part))

    def _number(self, print_: int, part: Any) -> int:
        numbers = self.book.numbers
        number = numbers.get(print_)
        if number is None:
            number = numbers[print_] = self.first + len(self.chunks)
            self.chunks.append(state_bytes(part))
        return number

    def packed(self) -> bytes:
        if not self.states:
            return b""
        chunks = self.chunks
        return b"".join((
            array("Q", [len(self.states), len(self.places), len(chunks)]).tobytes(),
            array("Q", self.states).tobytes(),
            array("Q", self.keys).tobytes(),
            array("Q", self.parents).tobytes(),
            *packed_runs(self.first, self.counts, self.verdicts, self.places, chunks),
        ))


class Inbox(PartRuns):
    """A packed outbox, read: its states' fingerprints, keys and parents, and each state
    built on demand from parts decoded once (its references are the parts' numbers, ``book``
    the parts from that sender)."""

    __slots__ = ("keys", "parents", "states")

    def __init__(self, blob: bytes, book: list[Any]) -> None:
        if not blob:
            self.states = self.keys = self.parents = array("Q")
            super().__init__(blob, 0, 0, 0, 0, book)
            return
        count, places, chunks = array("Q", blob[:24])
        self.states, at = read_array(blob, "Q", 24, count)
        self.keys, at = read_array(blob, "Q", at, count)
        self.parents, at = read_array(blob, "Q", at, count)
        super().__init__(blob, at, count, places, chunks, book)


class _Owner:
    """One worker's share of the search: the states it owns, stored and expanded."""

    def __init__(self, bound: BoundModel, me: int, workers: int, *, deadlock: bool,
                 record: bool = False) -> None:
        self.bound, self.me, self.workers, self.deadlock = bound, me, workers, deadlock
        # With temporal properties: the graph of the states this worker expands.
        temporal = liveness_.declared(bound) if record else None
        self.graph = None if temporal is None else GraphShare(temporal)
        self.store = FingerprintStore(parent_code="Q")
        self.ownership = Ownership(workers)  # by fingerprint until begin() says otherwise
        # This depth's states, sorted by key: (key, state, fingerprint).
        self.frontier: list[tuple[int, Any, int]] = []
        # fingerprint -> [key, parent fp, state or None, (inbox, index) it can be built from
        # or None, (parent state, label) of a step of this worker's reaching it, or None]: the
        # next depth's states.
        self.new: dict[int, list[Any]] = {}
        self.counts: dict[Any, int] = {}
        self.transfer_seconds = 0.0
        self.sent: set[int] = set()  # fingerprints sent to other workers at the last depth
        # the parts sent to each other worker, and read from each, by number (transfer.py)
        self.sent_parts = [SentParts() for _ in range(workers)]
        self.read_parts: list[list[Any]] = [[] for _ in range(workers)]
        self.collector, self.depth = Collector(), 0
        self.successors_of: Callable[[Any], Any] = bfs._successors(bound)
        # a state decoded here made of the model's own objects (interface.py: intern)
        self.intern: Callable[[Any], Any] = bound.intern or _identity

    def begin(self, initial: list[tuple[int, bytes, int]], owning_parts: tuple[int, ...]) -> None:
        """Take this worker's initial states: (key, bytes, fingerprint), in key order, and
        the parts that say which worker owns a state (see Ownership; sent as a plain tuple:
        a compiled dataclass does not unpickle)."""
        self.ownership = Ownership(self.workers, owning_parts)
        for key, data, fp in initial:
            self.store.add(fp, NO_PARENT_FINGERPRINT)
            self.frontier.append((key, self.intern(decoded(data)), fp))

    def expand(self, sorted_keys: list[bytes]) -> tuple[list[bytes], Event | None]:
        """Expand the frontier; the packed outboxes (empty for this worker) and the first
        event. ``sorted_keys`` holds every worker's frontier keys, to rank this worker's."""
        # Methods are called on their objects, not through bound-method aliases (see
        # KeptOwner.expand: compiled, that is a direct C call).
        me, counts, ownership = self.me, self.counts, self.ownership
        outboxes = [Outbox(book) for book in self.sent_parts]
        # Fingerprints sent to another worker at this depth or the one before: stored there by
        # now or, at this depth, sent with a smaller key (the frontier is in key order).
        sent_before, sent = self.sent, set[int]()
        self.sent = sent
        self.new = {}
        fast_path = self.bound.invariants_hold_after
        graph = self.graph
        if graph is not None:
            first_number = graph.start_depth(sum(len(keys) for keys in sorted_keys) // 8)
            edge = graph.edge
        first: Event | None = None
        for rank, (_, state, parent) in zip(ranks(sorted_keys, me), self.frontier, strict=True):
            base = rank * STRIDE
            try:
                steps = self.successors_of(state)
            except bfs._PropertyBroken as broken:
                name, _, label, target = broken.args
                first = earlier(first, (base, "action_property", name, encoded(state)[1],
                                        (label, target)))
                continue
            except Exception as exc:
                reraise_explained(self.bound, state, exc)
            slot = 0
            for label, target in steps:
                slot += 1
                counts[label] = counts.get(label, 0) + 1
                prints: list[int] | None = None
                if by_parts(target):
                    prints = part_prints(target)
                    fp = of_part_prints(prints)  # fingerprint(target), the prints kept
                else:
                    fp = value_fingerprint(target)
                if graph is not None:
                    edge(fp, label)
                owner = ownership.owner(fp, prints)
                if owner == me:
                    self._offer(fp, base + slot, parent, target, state, label)
                elif fp not in sent and fp not in sent_before:
                    sent.add(fp)
                    outboxes[owner].add(fp, base + slot, parent, target, prints,
                                        verdict(fast_path, state, label, target))
            if slot >= LAST:
                raise InputError(f"{self.bound.name}.actions() gave {slot} successors of one "
                                 f"state: workers take at most {LAST - 1}")
            if not slot and self.deadlock:
                first = earlier(first, (base + LAST, "deadlock", "deadlock",
                                        encoded(state)[1], None))
            if graph is not None:
                graph.expanded(first_number + rank, parent, state, slot)
        started = time.process_time()  # CPU: the machine may be shared
        blobs = [b"" if owner == me else box.packed() for owner, box in enumerate(outboxes)]
        self.transfer_seconds += time.process_time() - started
        return blobs, first

    def _offer(self, fp: int, key: int, parent: int, state: Any, source: Any,
               label: Any) -> None:
        """A successor this worker reached itself."""
        entry = self.new.get(fp)
        if entry is not None:
            if key < entry[0]:
                entry[0], entry[1] = key, parent
            if entry[4] is None:  # reached by another worker first: keep the local step
                entry[2], entry[4] = state, (source, label)
        elif not self.store.has(fp):
            self.new[fp] = [key, parent, state, None, (source, label)]

    def receive(self, inboxes: list[bytes], *, check: bool) -> Received:
        """Take the other workers' successors; store this depth's new states and check them."""
        new, has, get = self.new, self.store.has, self.new.get
        started = time.process_time()
        senders = [other for other in range(self.workers) if other != self.me]
        read = [Inbox(blob, self.read_parts[sender])
                for sender, blob in zip(senders, inboxes, strict=True)]
        for inbox in read:
            for index, (fp, key, parent) in enumerate(zip(inbox.states, inbox.keys,
                                                          inbox.parents, strict=True)):
                entry = get(fp)
                if entry is not None:
                    if key < entry[0]:
                        entry[0], entry[1] = key, parent
                elif not has(fp):
                    new[fp] = [key, parent, None, (inbox, index), None]
        self.transfer_seconds += time.process_time() - started
        first: Event | None = None
        frontier = []
        add = self.store.add
        for fp, (key, parent, state, sent, step) in new.items():
            said = UNCHECKED
            if state is None:  # only another worker reached it: built now that it is new
                inbox, index = sent
                built = inbox.state(index)
                state = self.intern(built)
                if state is not built:  # a part was new here: the interned ones stand for it
                    inbox.adopt(index, state)
                said = inbox.verdicts[index]
            add(fp, parent)
            frontier.append((key, state, fp))
            if check and (name := self._broken_invariant(state, step, said)) is not None:
                event: Event = (key, "invariant", name, state_bytes(state), None)
                first = earlier(first, event)
        for inbox in read:
            inbox.close()
        sort_by_key(frontier)
        self.frontier = frontier
        self.new = {}
        self.depth += 1
        self.collector.depth_done(self.depth)
        keys = array("Q", [key for key, _, _ in frontier])
        return len(frontier), first, keys[0] if keys else None, keys.tobytes()

    def _broken_invariant(self, state: Any, step: tuple[Any, Any] | None,
                          said: int) -> str | None:
        """The first invariant ``state`` breaks: by the model's fast path from a step of this
        worker's when there is one (it compares the step's states object by object), else by
        what the sender's fast path ``said`` of its step."""
        hold_after = self.bound.invariants_hold_after
        if step is not None and hold_after is not None:
            said = VOUCHED if hold_after(step[0], step[1], state) else REFUSED
        return first_broken_given(self.bound, state, said)

    def count_before(self, key: int, inclusive: bool) -> int:
        return sum(1 for k, _, _ in self.frontier if k < key or (inclusive and k == key))

    def parent_of(self, fp: int) -> int | None:
        """The parent fingerprint of a state this worker stores (None: not stored here)."""
        store = self.store
        try:
            return store.parents[store.fingerprints.index(fp)]
        except ValueError:
            return None

    def figures(self) -> tuple[dict[Any, int], int, float, float]:
        return self.counts, self.store.nbytes(), self.transfer_seconds, time.process_time()

    def graph_share(self) -> PackedShare:
        if self.graph is None:
            raise AssertionError("this worker was not asked to record the graph")
        return self.graph.packed()


def quiet_collector() -> None:
    """Turn the cyclic garbage collector off in a worker (checker/collector.py says why: in a
    worker, whose states all arrive as fresh tuples, young collections were 14% of its CPU
    time); the worker's owner probes for cyclic garbage at the end of a depth as the
    one-process search does. What the worker inherited is frozen out of the probes."""
    gc.freeze()
    gc.disable()


class Cluster(Protocol):
    """The workers as the level loop drives them: in processes here, on Ray in ray_search.py."""

    def start(self, shares: list[list[tuple[int, bytes, int]]],
              ownership: Ownership) -> None: ...
    def expand(self, sorted_keys: list[bytes]) -> list[Event | None]: ...
    def receive(self, *, check: bool) -> list[Received]: ...
    def count_before(self, key: int, inclusive: bool) -> int: ...
    def parent_of(self, fp: int) -> int: ...
    def depth_keys(self) -> list[list[bytes]]: ...
    def figures(self) -> list[tuple[dict[Any, int], int, float, float]]: ...
    def graph(self) -> list[PackedShare]: ...
    def stop(self) -> None: ...


Share = _Owner | KeptOwner


def share_of(bound: BoundModel, me: int, workers: int, *, deadlock: bool, record: bool,
             store: str) -> Share:
    """Worker ``me``'s share: keeping its states (kept_owner.py; ``store`` "states", or "auto":
    until memory runs short), or fingerprints, with the graph of the states it expands if
    ``record``."""
    if store != "fingerprints":
        return KeptOwner(bound, me, workers, deadlock=deadlock, auto=store == "auto")
    return _Owner(bound, me, workers, deadlock=deadlock, record=record)


def _serve(owner: Share, connection: Connection, exchange: Path) -> None:
    """A worker's loop: run each command of the main process, answer, until told to stop.

    Outboxes go to ``exchange/<from>-<to>``: the main process waits for every worker's
    answer between two steps, so a file is read only after it is written."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    quiet_collector()
    me, workers = owner.me, owner.workers
    while True:
        try:
            command, argument = connection.recv()
        except EOFError:
            return  # the main process is gone
        except Exception as exc:
            connection.send(("error", f"worker {me} could not read its command: "
                                      f"{type(exc).__name__}: {exc}"))
            continue
        try:
            if command == "stop":
                return
            answer: Any = None
            if command == "begin":
                owner.begin(*argument)
            elif command == "expand":
                blobs, answer = owner.expand(argument)
                for other, blob in enumerate(blobs):
                    if other != me:
                        (exchange / f"{me}-{other}").write_bytes(blob)
            elif command == "receive":
                inboxes = [(exchange / f"{other}-{me}").read_bytes()
                           for other in range(workers) if other != me]
                answer = owner.receive(inboxes, check=argument)
            elif command == "count_before":
                answer = owner.count_before(*argument)
            elif command == "parent_of":
                assert isinstance(owner, _Owner)
                answer = owner.parent_of(argument)
            elif command == "depth_keys":
                assert isinstance(owner, KeptOwner)
                answer = owner.depth_keys
            elif command == "graph":
                assert isinstance(owner, _Owner)
                answer = owner.graph_share()
            else:  # "figures"
                answer = owner.figures()
            connection.send(("ok", answer))
        except Exception as exc:
            message = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            connection.send(("error", message))


class WorkerLost(InputError):
    """A worker process ended without answering the main process."""


def _exchange_directory() -> Path:
    """A fresh directory for the outboxes, in shared memory where the system has it."""
    shared = Path("/dev/shm")
    base = str(shared) if shared.is_dir() and os.access(shared, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="kafka-eos-workers-", dir=base))


class _Workers:
    """The worker processes (forked: each inherits the model as it is, nothing is pickled)."""

    def __init__(self, bound: BoundModel, count: int, *, deadlock: bool, record: bool,
                 store: str) -> None:
        context = multiprocessing.get_context("fork")
        self.exchange = _exchange_directory()
        self.connections: list[Connection] = []
        self.processes = []
        for me in range(count):
            mine, theirs = context.Pipe()
            owner = share_of(bound, me, count, deadlock=deadlock, record=record,
                             store=store)
            process = context.Process(target=_serve, args=(owner, theirs, self.exchange),
                                      daemon=True)
            process.start()
            theirs.close()
            self.connections.append(mine)
            self.processes.append(process)

    def ask(self, commands: list[tuple[str, Any]]) -> list[Any]:
        """Send each worker its command, then collect every answer."""
        for worker, command in enumerate(commands):
            self._send(worker, command)
        return [self._answer(worker) for worker in range(len(self.connections))]

    def ask_all(self, command: str, argument: Any = None) -> list[Any]:
        return self.ask([(command, argument)] * len(self.connections))

    def ask_one(self, worker: int, command: str, argument: Any) -> Any:
        self._send(worker, (command, argument))
        return self._answer(worker)

    def _send(self, worker: int, command: tuple[str, Any]) -> None:
        try:
            self.connections[worker].send(command)
        except OSError:
            raise self._lost(worker) from None

    def _answer(self, worker: int) -> Any:
        try:
            status, answer = self.connections[worker].recv()
        except (EOFError, OSError):
            raise self._lost(worker) from None
        if status == "error":
            raise ModelError(answer)
        return answer

    def _lost(self, worker: int) -> WorkerLost:
        """The error for a worker process that died (the kernel's out-of-memory killer, say)
        instead of answering: one line, not the pipe's EOFError."""
        process = self.processes[worker]
        process.join(timeout=5)
        code = process.exitcode
        if code is not None and code < 0:
            how = f"killed by signal {-code}"
            if -code == signal.SIGKILL:
                how += " (out of memory? try fewer workers)"
        else:
            how = f"exit code {code}"
        return WorkerLost(f"worker {worker} stopped before answering ({how})")

    def start(self, shares: list[list[tuple[int, bytes, int]]],
              ownership: Ownership) -> None:
        self.ask([("begin", (share, ownership.parts)) for share in shares])

    def expand(self, sorted_keys: list[bytes]) -> list[Event | None]:
        return self.ask_all("expand", sorted_keys)

    def receive(self, *, check: bool) -> list[Received]:
        return self.ask_all("receive", check)

    def count_before(self, key: int, inclusive: bool) -> int:
        return sum(self.ask_all("count_before", (key, inclusive)))

    def parent_of(self, fp: int) -> int:
        return stored_parent(fp, self.ask_all("parent_of", fp))

    def depth_keys(self) -> list[list[bytes]]:
        """Each depth's keys, every worker's (workers that keep their states)."""
        return [list(level) for level in zip(*self.ask_all("depth_keys"), strict=True)]

    def figures(self) -> list[tuple[dict[Any, int], int, float, float]]:
        return self.ask_all("figures")

    def graph(self) -> list[PackedShare]:
        return self.ask_all("graph")

    def stop(self) -> None:
        for connection in self.connections:
            with contextlib.suppress(OSError):
                connection.send(("stop", None))
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
        shutil.rmtree(self.exchange, ignore_errors=True)


class _Distributed:
    """The states spread over the workers, as the sequential search's result code sees a store.

    ``initial`` (the initial states, by key) is given when the workers keep their states: a
    counterexample is then rebuilt from the depth and key of the violation (``found_at``)."""

    def __init__(self, cluster: Cluster, distinct: int, *,
                 initial: list[Any] | None = None) -> None:
        self.cluster, self.distinct, self.bytes = cluster, distinct, 0
        self.answering = True  # False once a command may be left unanswered
        self.initial = initial
        self.found_at: tuple[int, int] | None = None

    def __len__(self) -> int:
        return self.distinct

    def nbytes(self) -> int:
        return self.bytes

    def path_to(self, bound: BoundModel, state: Any) -> list[Any]:
        if self.initial is not None:
            assert self.found_at is not None, "a path is asked for the violation only"
            depth, key = self.found_at
            return path_by_keys(bound, self.initial, self.cluster.depth_keys(), depth, key,
                                state)
        fps = [fingerprint(state)]
        while (parent := self.cluster.parent_of(fps[-1])) != NO_PARENT_FINGERPRINT:
            fps.append(parent)
        fps.reverse()
        return rebuild_path(bound, fps)


class ParallelSearch(bfs._Search):
    """The sequential search with its exploration done by workers (processes, or Ray actors).

    With temporal properties, each worker records the graph of the states it expands
    (graph_shares.py); the main process joins the shares into the one-process graph once
    every state is explored, and checks the properties on it as one process does."""

    records_graph_here = False

    def __init__(self, bound: BoundModel, *, workers: int,
                 cluster: Callable[[BoundModel, int, bool, bool, str], Cluster] | None = None,
                 max_states: int | None, max_depth: int | None, time_budget: float | None,
                 deadlock: bool | None, progress: ProgressCallback | None,
                 temporal: bool = True, worker_store: str = "fingerprints") -> None:
        # The search's options spelt out, not forwarded as **options: compiled (mypyc), a
        # forwarded keyword dict reaches the base class's keyword-only parameters whole.
        super().__init__(bound, store="fingerprints", max_states=max_states,
                         max_depth=max_depth, time_budget=time_budget, deadlock=deadlock,
                         progress=progress, temporal=temporal)
        self.worker_count = workers
        self.make_cluster = cluster or _processes
        self.transfer_seconds = 0.0
        self.worker_cpu: list[float] = []
        self.ownership = Ownership(workers)
        # With temporal properties, the workers record the graph by fingerprint.
        if worker_store == "states" and self.temporal is not None:
            raise InputError("workers record the graph that temporal properties are checked on "
                             "by fingerprint: with them use store 'auto' or 'fingerprints' "
                             "(--store), or leave them out (--safety-only, temporal=False)")
        self.share_store = "fingerprints" if self.temporal is not None else worker_store

    @property
    def keeps_states(self) -> bool:
        """Whether the workers keep their states (kept_owner.py), not fingerprints."""
        return self.share_store != "fingerprints"

    def run(self) -> CheckResult:
        try:
            return super().run()
        finally:
            if isinstance(self.parent, _Distributed):
                self.parent.cluster.stop()

    def _explore(self, frontier: bfs.StateQueue) -> None:
        store: FingerprintStore = self.parent
        # chosen before the workers fork: sampling runs the model, whose caches they inherit
        ownership = self.ownership = chosen(self.bound.actions, list(frontier),
                                            self.worker_count)
        cluster = self.make_cluster(self.bound, self.worker_count, self.deadlock,
                                    self.temporal is not None, self.share_store)
        distributed = self.parent = _Distributed(
            cluster, len(store), initial=list(frontier) if self.keeps_states else None)
        shares: list[list[tuple[int, bytes, int]]] = [[] for _ in range(self.worker_count)]
        for index, state in enumerate(frontier):
            fp, data = encoded(state)
            shares[ownership.owner_of_state(state)].append((index, data, fp))
        cluster.start(shares, ownership)
        sorted_keys = [array("Q", [key for key, _, _ in share]).tobytes() for share in shares]
        try:
            self._levels(cluster, distributed, sorted_keys)
        except BaseException:
            distributed.answering = False
            raise
        finally:
            if distributed.answering:
                self._gather(cluster, distributed)

    def _levels(self, cluster: Cluster, distributed: _Distributed,
                sorted_keys: list[bytes]) -> None:
        deadline = None if self.time_budget is None else self.start + self.time_budget
        while True:
            at_depth_cap = self.max_depth is not None and self.depth >= self.max_depth
            expanded = cluster.expand(sorted_keys)
            received = cluster.receive(check=not at_depth_cap)
            events = [e for e in expanded if e] + [e for _, e, _, _ in received if e]
            new = sum(n for n, _, _, _ in received)
            first = min(events, key=_event_key) if events else None
            first_new = min((k for _, _, k, _ in received if k is not None), default=None)
            # The sequential search stops at the first state past the depth bound.
            if at_depth_cap and new and (
                    first is None or (first_new is not None and first_new < first[0])):
                self.stopped_by = "max_depth"
                return
            if first is not None:
                self._found_first(cluster, distributed, first)
                return
            distributed.distinct += new
            self.queue_peak = max(self.queue_peak, new)
            if not new:
                return
            self.depth += 1
            sorted_keys = [keys for _, _, _, keys in received]
            self._report(time.perf_counter(), self.depth, new)
            if self.max_states is not None and distributed.distinct >= self.max_states:
                self.stopped_by = "max_states"
                return
            if deadline is not None and time.perf_counter() >= deadline:
                self.stopped_by = "time_budget"
                return
            if self.stop_request.requested:
                self.stopped_by = "interrupted"
                return

    def _report(self, now: float, depth: int, queue: int, *, phase: str = "search") -> None:
        if self.progress is not None:
            super()._report(now, depth, queue, phase=phase)

    def _found_first(self, cluster: Cluster, distributed: _Distributed, event: Event) -> None:
        key, kind, name, data, step = event
        distributed.found_at = (self.depth + 1, key)  # every event key is the next depth's
        distributed.distinct += cluster.count_before(key, kind == "invariant")
        label, target = step if step is not None else (None, None)
        self.found = bfs._Found(kind, name, decoded(data), label, target)  # type: ignore[arg-type]

    def _join_graph(self) -> None:
        """The workers' graph shares joined into the one-process graph."""
        distributed: _Distributed = self.parent
        self.numbered = assembled(distributed.cluster.graph(), self.initial_count)

    def _gather(self, cluster: Cluster, distributed: _Distributed) -> None:
        counts: dict[Any, int] = {}
        for worker_counts, nbytes, seconds, cpu in cluster.figures():
            self.worker_cpu.append(cpu)
            for label, count in worker_counts.items():
                counts[label] = counts.get(label, 0) + count
            distributed.bytes += nbytes
            self.transfer_seconds += seconds
        self.label_counts = counts

    def _store_figures(self) -> dict[str, Any]:
        # workers that keep their states hold fingerprints once ``auto`` switched them
        switched = isinstance(self.parent, _Distributed) and self.parent.bytes > 0
        store = {"store": "states", "store_bytes": 0} if self.keeps_states and not switched else {}
        return {**super()._store_figures(), **store, "workers": self.worker_count,
                "transfer_seconds": self.transfer_seconds,
                "ownership": self.ownership.describe(),
                "worker_cpu_seconds": tuple(self.worker_cpu)}


def stored_parent(fp: int, answers: list[int | None]) -> int:
    """The parent fingerprint the one worker storing ``fp`` gave (the others gave None): a
    state's owner is not known from its fingerprint alone once ownership goes by parts."""
    for parent in answers:
        if parent is not None:
            return parent
    raise AssertionError(f"no worker stores fingerprint {fp:#x}")


def _event_key(event: Event) -> int:
    return event[0]


def _processes(bound: BoundModel, count: int, deadlock: bool, record: bool,
               store: str) -> Cluster:
    return _Workers(bound, count, deadlock=deadlock, record=record, store=store)
