"""The partitioned search on Ray actors (``check(..., ray=ADDRESS)``, ``kafka-eos check --ray``).

The same search as parallel.py: every state is owned by one worker (see ownership.py), which
stores and expands it; here each worker is a Ray actor holding one
:class:`parallel._Owner`, on whatever machine of the cluster Ray places it. The main process
(Ray's driver) drives the depths exactly as with processes; an actor's outboxes are returned
as separate objects (one per other worker) that stay in Ray's object store and are handed by
reference to the owner's next call, so successors travel from actor to actor (across machines
when the actors are on different ones) without passing through the driver. Counts, verdicts and
shortest counterexamples are those of one process (tests/checker/test_ray.py).

The model reaches each actor pickled (Ray uses cloudpickle): a model class from a file that
is not an installed module is pickled by value. Ray itself is an optional dependency,
imported only here.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

from kafka_eos.errors import InputError

from .discovery import Event, Received
from .graph_shares import PackedShare
from .interface import BoundModel, ModelError, bind
from .kept_owner import KeptOwner
from .ownership import Ownership
from .parallel import Cluster, Share, _Owner, quiet_collector, share_of, stored_parent

LOCAL = "local"


def ray_module() -> Any:
    """Ray, or a one-line error saying how to get it."""
    try:
        import ray
    except ImportError as exc:
        raise InputError("--ray needs Ray: pip install 'ray>=2.9' (or the test extra)") from exc
    return ray


def connect(address: str, *, cpus: int) -> None:
    """Join the Ray cluster at ``address``, or start one on this machine for ``"local"``."""
    ray = ray_module()
    if address != LOCAL:
        _reachable(address)
    if ray.is_initialized():
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                               "configure_logging": False}
    try:
        if address == LOCAL:
            ray.init(num_cpus=max(cpus, os.cpu_count() or 1), **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


def _reachable(address: str) -> None:
    """Refuse at once a HOST:PORT nothing listens on (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # "auto", a ray:// client address: Ray's own checks
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(f"--ray {address}: cannot connect to a Ray cluster: "
                         f"{exc.strerror or exc}") from exc


def ray_workers(address: str, workers: int) -> int:
    """Connect to ``address``; how many actors to run (``workers``, else the cluster's CPUs)."""
    connect(address, cpus=workers)
    if workers > 1:
        return workers
    return max(1, int(ray_module().cluster_resources().get("CPU", 1)))


def shipped_by_value(model: object) -> None:
    """Pickle the modules of the model's classes by value where an actor could not import
    them by name (a model file the loader read, a test's module): all but kafka_eos's own."""
    by_value = ray_module().cloudpickle.register_pickle_by_value
    for kind in type(model).__mro__:
        name = kind.__module__
        if name.split(".")[0] not in ("kafka_eos", "builtins") and name in sys.modules:
            by_value(sys.modules[name])


class _OwnerActor:
    """One worker's share on a Ray actor: the _Owner's calls, outboxes as separate returns."""

    def __init__(self, model: object, me: int, workers: int, deadlock: bool,
                 record: bool, store: str) -> None:
        quiet_collector()
        # The model travels, not its bound methods: a model may pickle as its parameters.
        self.owner: Share = share_of(bind(model), me, workers, deadlock=deadlock, record=record,
                                   store=store)

    def begin(self, initial: list[tuple[int, bytes, int]], owning_parts: tuple[int, ...]) -> None:
        self.owner.begin(initial, owning_parts)

    def expand(self, sorted_keys: list[bytes]) -> tuple[Any, ...]:
        """The outboxes, one per worker, then the event (Ray returns each as its own object)."""
        try:
            blobs, event = self.owner.expand(sorted_keys)
        except Exception as exc:
            raise _one_line(exc) from None
        return (*blobs, event)

    def receive(self, check: bool, *inboxes: bytes) -> Received:
        try:
            return self.owner.receive(list(inboxes), check=check)
        except Exception as exc:
            raise _one_line(exc) from None

    def count_before(self, key: int, inclusive: bool) -> int:
        return self.owner.count_before(key, inclusive)

    def parent_of(self, fp: int) -> int | None:
        assert isinstance(self.owner, _Owner)
        return self.owner.parent_of(fp)

    def depth_keys(self) -> list[bytes]:
        assert isinstance(self.owner, KeptOwner)
        return self.owner.depth_keys

    def figures(self) -> tuple[dict[Any, int], int, float, float]:
        return self.owner.figures()

    def graph(self) -> PackedShare:
        assert isinstance(self.owner, _Owner)
        return self.owner.graph_share()


def _one_line(exc: Exception) -> ModelError:
    """The actor's error as the one line the process workers give (no Ray traceback)."""
    return ModelError(str(exc) if isinstance(exc, InputError)
                      else f"{type(exc).__name__}: {exc}")


class RayWorkers:
    """The workers as Ray actors, driven as parallel.py drives processes."""

    def __init__(self, bound: BoundModel, count: int, deadlock: bool, record: bool,
                 store: str) -> None:
        self.ray = ray_module()
        shipped_by_value(bound.model)
        actor = self.ray.remote(num_cpus=1)(_OwnerActor)
        self.actors = [actor.remote(bound.model, me, count, deadlock, record, store)
                       for me in range(count)]
        self.count = count
        self.outboxes: list[list[Any]] = []

    def _get(self, refs: Any) -> Any:
        """``ray.get``, an actor's model error re-raised as the one-line error it is."""
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause()
            if isinstance(cause, ModelError):
                raise ModelError(str(cause).splitlines()[-1].strip()) from None
            raise

    def start(self, shares: list[list[tuple[int, bytes, int]]],
              ownership: Ownership) -> None:
        self._get([actor.begin.remote(share, ownership.parts)
                   for actor, share in zip(self.actors, shares, strict=True)])

    def expand(self, sorted_keys: list[bytes]) -> list[Event | None]:
        keys = self.ray.put(sorted_keys)
        self.outboxes = [actor.expand.options(num_returns=self.count + 1).remote(keys)
                         for actor in self.actors]
        events: list[Event | None] = self._get([refs[-1] for refs in self.outboxes])
        return events

    def receive(self, *, check: bool) -> list[Received]:
        calls = [actor.receive.remote(check, *[self.outboxes[sender][me]
                                               for sender in range(self.count) if sender != me])
                 for me, actor in enumerate(self.actors)]
        self.outboxes = []
        received: list[Received] = self._get(calls)
        return received

    def count_before(self, key: int, inclusive: bool) -> int:
        return sum(self._get([actor.count_before.remote(key, inclusive)
                              for actor in self.actors]))

    def parent_of(self, fp: int) -> int:
        return stored_parent(fp, self._get([actor.parent_of.remote(fp)
                                            for actor in self.actors]))

    def depth_keys(self) -> list[list[bytes]]:
        """Each depth's keys, every worker's (workers that keep their states)."""
        shares = self._get([actor.depth_keys.remote() for actor in self.actors])
        return [list(level) for level in zip(*shares, strict=True)]

    def figures(self) -> list[tuple[dict[Any, int], int, float, float]]:
        figures: list[tuple[dict[Any, int], int, float, float]] = self._get(
            [actor.figures.remote() for actor in self.actors])
        return figures

    def graph(self) -> list[PackedShare]:
        shares: list[PackedShare] = self._get([actor.graph.remote() for actor in self.actors])
        return shares

    def stop(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)


def ray_cluster(bound: BoundModel, count: int, deadlock: bool, record: bool,
                store: str) -> Cluster:
    return RayWorkers(bound, count, deadlock, record, store)
