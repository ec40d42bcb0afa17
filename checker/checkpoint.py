"""Checkpoints of a breadth-first search, to resume a long run where it stopped (TLC's -recover).

A checkpoint is everything the search needs to go on at a state boundary: the fingerprint
store (its three arrays), the states of the current depth still to expand, the new states of
the next depth found so far, the depth, the coverage counts, the queue peak and, when temporal
properties are checked, the graph recorded so far (graph_shares.py). Resumed, the
search ends with the same distinct states, transitions, coverage, verdict and trace as a run
never stopped. The states are stored with ``pickle``, so resume only checkpoints you wrote:
loading one runs whatever its file says, like importing a model file.

The file is written whole to a temporary name, flushed to disk and renamed over the previous
checkpoint, so a crash while writing leaves the previous one intact.
"""

from __future__ import annotations

import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka_eos.errors import InputError

from .fingerprint import fingerprint
from .graph_shares import PackedShare
from .interface import BoundModel, short_repr
from .store import FingerprintStore

FILE_NAME = "checkpoint.pickle"
FORMAT = 5  # 2: the graph of temporal properties and their names in the identity; 3: XXH3
# fingerprints (checker/fingerprint.py) instead of BLAKE2b's; 4: a tuple's by its parts'; 5:
# only a tuple with tuple parts by its parts'
CHECKPOINT_EVERY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Identity:
    """What a checkpoint must match to be resumed: the same model, searched the same way."""

    model: str
    of: str  # the caller's description of the configuration
    initial_fingerprints: tuple[int, ...]
    first_steps: tuple[int, ...]  # the initial states' successors, sorted
    deadlock: bool
    symmetry: bool
    temporal: tuple[str, ...] = ()  # the temporal properties checked (their graph is kept)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The search at a state boundary (the states numbered up to ``store.expanded`` done)."""

    identity: Identity
    store: FingerprintStore
    frontier: list[Any]  # this depth's states still to expand, in order
    successors: list[Any]  # the next depth's states found so far, in order
    depth: int
    label_counts: dict[Any, int]
    queue_peak: int
    seconds: float
    graph: PackedShare | None = None  # with temporal properties: the graph recorded so far


def identity(bound: BoundModel, of: str, *, deadlock: bool,
             temporal: tuple[str, ...] = ()) -> Identity:
    """The search's identity: the model's class, ``of``, its first states and steps, and the
    temporal properties it checks."""
    canon: Callable[[Any], Any] = bound.canonical or (lambda state: state)
    initial = [canon(state) for state in bound.init_states()]
    steps = sorted({fingerprint(canon(target)) for state in initial
                    for _, target in bound.actions(state)})
    return Identity(
        model=bound.name, of=of,
        initial_fingerprints=tuple(sorted({fingerprint(state) for state in initial})),
        first_steps=tuple(steps), deadlock=deadlock, symmetry=bound.canonical is not None,
        temporal=temporal,
    )


class Checkpointer:
    """Writes snapshots to ``directory`` every ``every`` seconds and when asked."""

    def __init__(self, directory: str, *, every: float | None, of: str = "") -> None:
        self.directory = Path(directory)
        self.of = of
        self.every = CHECKPOINT_EVERY_SECONDS if every is None else every
        self.next_due = time.perf_counter() + self.every
        self.written = 0
        self._probe()

    def _probe(self) -> None:
        """Fail now, not at the first checkpoint minutes into the search, if the directory
        cannot be made or written to."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.directory):
                pass
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: OSError) -> InputError:
        return InputError(f"cannot write a checkpoint to {self.directory}: {exc.strerror}")

    @property
    def path(self) -> Path:
        return self.directory / FILE_NAME

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def write(self, snapshot: Snapshot) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "wb") as out:
                pickle.dump((FORMAT, snapshot), out, protocol=pickle.HIGHEST_PROTOCOL)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self.written += 1
        self.next_due = time.perf_counter() + self.every

    def read(self, identity: Identity) -> Snapshot | None:
        """The checkpoint in the directory, None if there is none; an error if it is not ours."""
        try:
            with open(self.path, "rb") as source:
                stored = pickle.load(source)
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as exc:
            raise InputError(f"cannot read the checkpoint {self.path}: {exc}") from exc
        if not (isinstance(stored, tuple) and len(stored) == 2 and stored[0] == FORMAT
                and isinstance(stored[1], Snapshot)):
            raise InputError(f"{self.path} is not a checkpoint of this version of kafka-eos")
        snapshot: Snapshot = stored[1]
        if snapshot.identity != identity:
            raise InputError(
                f"the checkpoint {self.path} is of another search ({_shown(snapshot.identity)}), "
                f"not of this one ({_shown(identity)}); give another directory"
            )
        return snapshot


def _shown(identity: Identity) -> str:
    return (f"{identity.model} {short_repr(identity.of, 80)}, "
            f"{len(identity.initial_fingerprints)} initial states, "
            f"deadlock {identity.deadlock}, symmetry {identity.symmetry}")


class StopRequest:
    """Set by the first Ctrl-C while a checkpointed search runs; the second one interrupts."""

    __slots__ = ("requested",)

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def on_interrupt(self) -> Iterator[StopRequest]:
        """While inside, SIGINT asks the search to stop at the next state boundary."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def request(signum: int, frame: object) -> None:
            self.requested = True
            signal.signal(signal.SIGINT, previous)  # a second Ctrl-C stops at once

        signal.signal(signal.SIGINT, request)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)
