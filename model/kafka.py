"""The Kafka exactly-once state machine: producers, partition leaders, the transaction
coordinator, the group offsets, a consumer, and a network that delays, reorders and loses.

:class:`KafkaEosModel` satisfies the checker's model interface (contract A). Its actions are
declared in :mod:`.actions` (one module per role: :mod:`.clients`, :mod:`.sender`,
:mod:`.request_retries`, :mod:`.client_responses`, :mod:`.leaders`, :mod:`.verification`,
:mod:`.retriable_errors`, :mod:`.replication`,
:mod:`.coordinator`, :mod:`.transaction_log`, :mod:`.markers`, :mod:`.groups`,
:mod:`.network`, :mod:`.consumer`), each one Kafka step with its guard and
its effect; the state layout is :mod:`.layout`; the properties are :mod:`.properties`;
spec/SPEC.md describes every action and property in prose.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from kafka_eos.checker.reduction import PartialOrder
from kafka_eos.checker.tuples import interned

from . import footprints, properties
from .actions import ACTION_NAMES, ACTIONS
from .client_view import anomaly_finder
from .codes import FATAL_ERROR, READY, UNINITIALIZED
from .concurrent_answers import with_concurrent_answers_read
from .consumer import fetch_records
from .footprints import inbox_of
from .layout import (
    B_UNSENT,
    BUDGET_NAMES,
    C_STATE,
    D_RECORD,
    F_BATCH_TIMEOUTS,
    F_FAILOVERS,
    F_LOSSES,
    F_REQUEST_TIMEOUTS,
    F_RETRIES,
    MESSAGE_KEYS,
    NO_METADATA_ENTRY,
    O_UNDECIDED,
    P_LOG,
    P_REPLICATION,
    S_BUDGET,
    S_CLIENTS,
    S_CONSUMER,
    S_NETWORK,
    S_PARTITIONS,
    STATE_VARIABLES,
    Tup,
    connections_opened,
    dispatch_key,
    replace,
)
from .messages import describe
from .network import deliverable
from .params import CTP, Faults, Knobs, ModelParams, Workload
from .producer_ids import ProducerEpochs, rotation_generations
from .registry import Action, ClientView, Need, Step
from .replication import initial_replication
from .schema import BATCH, CLIENT, CONSUMER_PARTITION, COORDINATOR, PARTITION, STATE
from .stable_fetches import stable_fetch
from .tables import REC_GROUP_OFFSET, WorkloadTables
from .unreadable import without_unreadable
from .views import VISIBLE, fates

__all__ = ["ACTION_NAMES", "KafkaEosModel"]

#: The successors of a state: (step, next state).
Out = list[tuple[Step, Tup]]
#: A guard and an effect (see registry for their signatures per trigger).
_Pair = tuple[Any, Callable[..., tuple[Step, Tup]]]
#: A cached local step of a client: its effect and the arguments its guard gave.
_LocalStep = tuple[Callable[..., tuple[Step, Tup]], Any]
#: A client action: its precondition on the client, its guard and its effect.
_Candidate = tuple[Any, Any, Callable[..., tuple[Step, Tup]]]
#: The enabled actions of a fault budget: by message key, local, per client, global.
_Tables = tuple[dict[int, list[_Pair]], list[_Pair], list[_Candidate], list[_Pair]]


#: Entries a per-component cache of actions() keeps before it starts again: enough for the
#: values that repeat within a few depths, and a bound on memory in a long run.
CACHE_ENTRIES: Final = 1 << 17

_Value = Any


def _bounded(cache: dict[Any, Any], value: _Value) -> _Value:
    """``value``, after emptying ``cache`` if it is full (it is about to be stored there)."""
    if len(cache) >= CACHE_ENTRIES:
        cache.clear()
    return value


class KafkaEosModel(WorkloadTables):
    """Kafka's exactly-once protocol as a finite state machine (contract A).

    Keyword-only construction from the three parameter values of :mod:`.params`; ``checked``
    restricts the properties to a subset (names as in :data:`properties.ALL_PROPERTIES`).
    """

    deadlock_is_error = False

    def __init__(
        self,
        *,
        knobs: Knobs | None = None,
        faults: Faults | None = None,
        workload: Workload | None = None,
        checked: Iterable[str] | None = None,
    ) -> None:
        self.params = ModelParams(
            knobs=knobs or Knobs(), faults=faults or Faults(), workload=workload or Workload()
        )
        self.knobs = self.params.knobs
        self.faults = self.params.faults
        self.workload = self.params.workload
        self.checked = tuple(checked) if checked is not None else properties.ALL_PROPERTIES
        if not 1 <= self.workload.replicas <= 3:
            raise ValueError(f"replicas must be 1, 2 or 3, got {self.workload.replicas}")
        if self.knobs.min_insync_replicas > self.workload.replicas:
            # Kafka would refuse every acks=all write: nothing to explore
            raise ValueError(
                f"min_insync_replicas {self.knobs.min_insync_replicas} exceeds replicas "
                f"{self.workload.replicas}"
            )
        #: the configured fault budgets, in the state's budget order: each fault's budget
        #: starts at its Faults value (the budget's fields are named so)
        self.budget_limits: Tup = tuple(getattr(self.faults, name) for name in BUDGET_NAMES)
        self._build_static()
        self._add_rotated_producer_ids()
        # Built once: the predicates cache per-partition work, and the fast paths the
        # checker calls instead of each predicate (see checker/interface.py) call them.
        anomalies = anomaly_finder(self)
        self._invariants = properties.invariants(self, anomalies)
        self._action_properties = properties.action_properties(self)
        self.invariants_hold_after = properties.invariants_hold_after(self._invariants, anomalies)
        self.action_properties_hold = properties.action_properties_hold(self._action_properties)
        self.active: tuple[Action, ...] = tuple(a for a in ACTIONS if self._present(a))
        #: whether a Fetch of stable data goes first (see .stable_fetches)
        self.fetches_first = self.workload.consumer is not None
        # what stable_fetch and the Fetch's guard found (see by_partitions_and_consumer)
        self._stable_fetches: dict[int, tuple[Tup, Tup, Any]] = {}
        self.fetchables_found: dict[int, tuple[Tup, Tup, Any]] = {}
        self._tables: dict[Tup, _Tables] = {}
        self._local_steps: dict[Tup, tuple[tuple[_LocalStep, ...], tuple[_Pair, ...]]] = {}
        # what actions() finds per network and per clients value (see _bounded)
        self._deliveries: dict[Tup, tuple[tuple[Tup, int, Tup], ...]] = {}
        self._client_steps: dict[
            Tup, tuple[tuple[int, tuple[_LocalStep, ...], tuple[_Pair, ...]], ...]
        ] = {}
        self._message_names: dict[Tup, str] = {}
        self._newest_connections: dict[Tup, int] = {}
        # the budget newest_connection was last asked about (its object) and its answer
        self._last_newest: tuple[Tup, int] = ((), 0)
        #: a message's name -> the inbox it is delivered from (None: names of two inboxes)
        self.message_inboxes: dict[str, Any] = {}
        #: per state component, its first object of each value (see _canonical)
        self._canonical_parts: tuple[dict[Tup, Tup], ...] = tuple(
            {} for _ in STATE_VARIABLES
        )

    def _add_rotated_producer_ids(self) -> None:
        """The epoch arithmetic, and one producer-state slot per transactional.id for each
        producer id it may rotate to (none at Kafka's own epoch bound)."""
        max_epoch = self.workload.max_producer_epoch
        rotation = self.knobs.producer_id_rotation
        generations = rotation_generations(
            self.workload, self.faults, max_epoch, rotation=rotation
        )
        tid_count = len(self.transactional_ids)
        self.epochs = ProducerEpochs(
            max_epoch=max_epoch,
            rotation=rotation,
            tid_count=tid_count,
            first_rotated_slot=self.pid_count,
            generations=generations,
        )
        rotated = tuple(tid for _ in range(generations) for tid in range(tid_count))
        self.pid_tid = (*self.pid_tid, *rotated)
        self.pid_count = len(self.pid_tid)

    def _present(self, action: Action) -> bool:
        """Whether the configuration has what ``action`` needs (see registry.Need)."""
        if action.budget is not None and not getattr(self.faults, action.budget):
            return False
        has: dict[Need, bool] = {
            "transactions": bool(self.transactional_ids),
            "ctp": self.offsets_partition >= 0,
            "consumer": self.workload.consumer is not None,
            "unanswered": bool(self.faults.losses or self.faults.failovers),
            "replicas": self.workload.replicas > 1,
            "group": len(self.ctp_members) >= 2,
            # KIP-890: partition verification, or transaction version 2's leader-side add
            "verification": self.knobs.partition_verification or self.tv2,
            # transaction version 1: the clients send AddPartitionsToTxn and AddOffsetsToTxn
            # (under version 2 the leaders and the group coordinator add the partitions)
            "client_adds": not self.tv2,
        }
        return all(has[need] for need in action.needs)

    # ------------------------------------------------------------------ contract A
    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Pickled (for a Ray actor, checker/ray_search.py) as its parameters, and rebuilt
        # there: its tables and caches hold closures, and cost less to rebuild than to send.
        return functools.partial(type(self), knobs=self.knobs, faults=self.faults,
                                 workload=self.workload, checked=self.checked), ()

    def init_states(self) -> list[Tup]:
        clients = []
        for proc, kind in enumerate(self.kinds):
            transactional = self.transactional[proc]
            batch = BATCH.make(status=B_UNSENT, epoch=-1, sequence=-1, extra=-1)
            clients.append(
                CLIENT.make(
                    state=UNINITIALIZED if transactional else READY,
                    epoch=-1 if transactional or self.pid_of[proc] < 0 else 0,
                    current=-1 if kind == CTP else 0,
                    batches=(batch,) * len(self.record_partition[proc]),
                    next_sequence=(0,) * self.partition_count,
                    added=0,
                    awaiting=(),
                    generation=-1,
                )
            )
        unreplicated = PARTITION.make(
            log=(),
            producer_state=((),) * self.pid_count,
            aborted_index=(),
            replication=(),
            verification=((),) * self.pid_count,
        )
        data = unreplicated
        if self.workload.replicas > 1:
            data = replace(
                unreplicated, P_REPLICATION, initial_replication(self.workload.replicas)
            )
        coordinator = COORDINATOR.make(
            coordinator_epoch=0,
            transactions=(NO_METADATA_ENTRY,) * len(self.transactional_ids),
            transaction_state_log=((),) * len(self.transactional_ids),
        )
        position = CONSUMER_PARTITION.make(position=0, delivered=())
        state = STATE.make(
            producers=tuple(clients),
            # __consumer_offsets has one replica: only data partitions replicate
            partitions=(data,) * self.data_partitions
            + (unreplicated,) * (self.partition_count - self.data_partitions),
            coordinator=coordinator,
            network=(),
            consumer=(position,) * self.data_partitions if self.workload.consumer else (),
            outcomes=(O_UNDECIDED,) * len(self.transactions),
            budget=self.budget_limits,
        )
        return [self._canonical((), state)]

    def intern(self, state: Tup) -> Tup:
        """``state`` made of this model's own component objects (checker/interface.py): a
        state decoded from bytes, by a worker that did not reach it itself or from a spilled
        queue, would otherwise miss every cache keyed by a component, and so would the states
        reached from it that keep those components."""
        return self._canonical((), state)

    def action_names(self) -> tuple[str, ...]:
        """The actions this configuration can take: one whose fault has no budget, or that
        needs a part of the workload that is absent, is left out."""
        return tuple(action.name for action in self.active)

    def action_outcomes(self) -> dict[str, tuple[str, ...]]:
        """Every branch each action can take (the argument its labels name it by), for
        coverage per outcome."""
        return {a.name: a.outcomes for a in self.active if a.outcomes}

    def invariants(self) -> Mapping[str, Any]:
        return self._invariants

    def action_properties(self) -> Mapping[str, Any]:
        return self._action_properties

    def partial_order(self) -> PartialOrder:
        """Step classes and footprints for partial-order reduction (see :mod:`.footprints`).
        With replicated partitions nothing is reduced (no property's reads are declared, so
        every step is visible): a leader's append there can release waiting answers to any
        inbox, which the actions' declared footprints do not say."""
        order = footprints.partial_order(self)
        if self.workload.replicas > 1:
            return dataclasses.replace(order, property_reads={})
        return order

    def variables(self, state: Tup) -> dict[str, Any]:
        from .variables import state_variables

        return state_variables(self, state)

    def actions(self, state: Tup) -> Out:
        """Every successor: a message delivered (or lost), then each client's own steps,
        then the coordinator's, the leaders' and the consumer's; only a Fetch where the
        consumer can read stable data (see .stable_fetches)."""
        if self.fetches_first:
            first = self.by_partitions_and_consumer(self._stable_fetches, state, stable_fetch)
            if first is not None:
                step, following = fetch_records(self, state, first)
                return [(step, self._canonical(state, following))]
        out: Out = []
        budget = state[S_BUDGET]
        tables = self._tables.get(budget)
        if tables is None:
            tables = self._tables[budget] = self._within(budget)
        on_message, local_actions, per_client, global_actions = tables
        network = state[S_NETWORK]
        deliveries = self._deliveries.get(network)
        if deliveries is None:
            deliveries = self._deliveries[network] = _bounded(self._deliveries, tuple(
                (message, dispatch_key(message), rest) for message, rest in deliverable(network)
            ))
        for message, key, rest in deliveries:
            for guard, effect in on_message[key]:
                if guard is None or guard(self, state, message):
                    out.append(effect(self, state, message, rest))
        clients = state[S_CLIENTS]
        views = (clients, budget[F_RETRIES], budget[F_BATCH_TIMEOUTS], budget[F_REQUEST_TIMEOUTS])
        steps = self._client_steps.get(views)
        if steps is None:
            steps = self._client_steps[views] = _bounded(
                self._client_steps, self._for_clients(local_actions, per_client, views)
            )
        for proc, local, candidates in steps:
            for effect, args in local:
                out.append(effect(self, state, proc, args))
            for guard, effect in candidates:
                for args in guard(self, state, proc):
                    out.append(effect(self, state, proc, args))
        for guard, effect in global_actions:
            for args in guard(self, state):
                out.append(effect(self, state, args))
        # an answer that a step left no client able to read is dropped (see .unreadable), a
        # CONCURRENT_TRANSACTIONS answer read at once (see .concurrent_answers). One pass over
        # every successor rather than a call in each action: an answer becomes unreadable by
        # steps that do not make it too (a retry or timeout opening a connection, a batch
        # acknowledged or failed, a client gone fatal), so the call would be repeated in about
        # ten actions, and a new one that forgot it would keep dead answers in the state
        return [
            (step, self._canonical(
                state, with_concurrent_answers_read(self, without_unreadable(self, following))
            ))
            for step, following in out
        ]

    def _canonical(self, state: Tup, following: Tup) -> Tup:
        """``following`` made of one object per value of each component: a component it does
        not share with ``state`` (which is canonical already) is swapped for the first object
        seen with its value. Values repeat far more than states (on the default check 90,247
        networks and 5,906 clients values across 542,300 states), and equal components that
        are one object compare by identity: the search's look-up of a successor it stored
        before, the caches keyed by a component and the properties' "left untouched" tests
        stop at the first level. A component an action rebuilt with an equal value becomes the
        one it had, which is what the properties' identity tests ask about. Each first object
        is made a hashed tuple (checker/tuples.py's ``interned``, in C where compiled, as the
        whole loop is: about 4% of the check), which keeps its hash: a state's hash, which
        the search takes of every successor, is then its seven components' kept hashes combined
        instead of a walk of every nested tuple (0.86 us). (Correctness never rests on any of
        it: a table that starts again only costs deeper comparisons and hashes.)"""
        return interned(self._canonical_parts, state, following, CACHE_ENTRIES)

    def _within(self, budget: Tup) -> _Tables:
        """The actions enabled as far as the fault budget goes (a fault is possible while its
        budget lasts), as (guard, effect) pairs: by message key, local, per client, global."""
        spent = {name for name, left in zip(BUDGET_NAMES, budget, strict=True) if not left}
        enabled = [a for a in self.active if a.budget not in spent]
        on_message: dict[int, list[_Pair]] = {key: [] for key in MESSAGE_KEYS}
        for action in enabled:
            for key in action.consumes:
                on_message[key].append((action.guard, action.effect))

        def pairs(trigger: str) -> list[_Pair]:
            return [(a.guard, a.effect) for a in enabled if a.trigger == trigger]

        per_client = [(a.precondition, a.guard, a.effect) for a in enabled if a.trigger == "client"]
        return on_message, pairs("local"), per_client, pairs("state")

    def _for_clients(
        self, local_actions: list[_Pair], per_client: list[_Candidate], views: Tup
    ) -> tuple[tuple[int, tuple[_LocalStep, ...], tuple[_Pair, ...]], ...]:
        """What the clients' views decide, per process, evaluated once per value of the
        clients and the budgets their actions spend (``views``): those values repeat across
        states that differ in the network, the partitions or the coordinator."""
        clients, retries, batch_timeouts, request_timeouts = views
        steps = []
        for proc, client in enumerate(clients):
            if client[C_STATE] == FATAL_ERROR:
                continue  # KafkaProducer throws on every call: only closing is left
            previous = self.previous_incarnation[proc]
            started = previous < 0 or clients[previous][C_STATE] != UNINITIALIZED
            key = (proc, client, retries, batch_timeouts, started, request_timeouts)
            cached = self._local_steps.get(key)
            if cached is None:
                cached = self._local_steps[key] = _bounded(
                    self._local_steps, self._for_view(local_actions, per_client, key)
                )
            steps.append((proc, *cached))
        return tuple(steps)

    def _for_view(
        self, local_actions: list[_Pair], per_client: list[_Candidate], key: Tup
    ) -> tuple[tuple[_LocalStep, ...], tuple[_Pair, ...]]:
        """What a client's view decides, evaluated once per view (client values repeat across
        many states): its enabled local steps, and the client actions whose precondition on
        the client holds (their guards then look at the state)."""
        view = ClientView(*key)
        local = tuple(
            (effect, args) for guard, effect in local_actions for args in guard(self, view)
        )
        candidates = tuple(
            (guard, effect)
            for precondition, guard, effect in per_client
            if precondition is None or precondition(self, view)
        )
        return local, candidates

    # ------------------------------------------------------------------ helpers of the actions
    def describe_message(self, message: Tup) -> str:
        """A short readable name of a network message (cached: messages repeat)."""
        name = self._message_names.get(message)
        if name is None:
            name = self._message_names[message] = _bounded(
                self._message_names, describe(self, message)
            )
            inbox = inbox_of(message)
            if self.message_inboxes.setdefault(name, inbox) != inbox:
                self.message_inboxes[name] = None
        return name

    def by_partitions_and_consumer(
        self,
        cache: dict[int, tuple[Tup, Tup, Any]],
        state: Tup,
        compute: Callable[[KafkaEosModel, Tup], Any],
    ) -> Any:
        """What ``compute``, which reads only the partitions and the consumer, gives on
        ``state``: asked for every state, and remembered per the objects of those two
        components, which are canonical (the default check's 542,300 states have 1,261 such
        pairs). Keyed by a mix of the objects' ids (one int: a pair that mixes to another's
        key replaces its entry); an entry keeps the objects, so no id is another object's
        while it lasts, and answers only when they are the state's own (a state a worker
        rebuilt from parts is computed)."""
        partitions, consumer = state[S_PARTITIONS], state[S_CONSUMER]
        key = id(partitions) >> 4 ^ (id(consumer) >> 4) << 1
        known = cache.get(key)
        if known is not None and known[0] is partitions and known[1] is consumer:
            return known[2]
        found = compute(self, state)
        cache[key] = _bounded(cache, (partitions, consumer, found))
        return found

    def something_was_lost(self, state: Tup) -> bool:
        """Whether a message may have gone missing: only a loss, or a failover that dropped a
        pending write's answer, can leave a request without an answer. (A cheap test that
        spares the resend guards' scans of the network in every other state.)"""
        budget = state[S_BUDGET]
        faults = self.faults
        return bool(budget[F_LOSSES] != faults.losses or budget[F_FAILOVERS] != faults.failovers)

    def newest_connection(self, state: Tup) -> int:
        """The number of the newest connection any client opened (layout.connections_opened):
        a request that is not a retry travels on it."""
        budget = state[S_BUDGET]
        last, newest = self._last_newest
        if budget is last:  # a budget changes on few steps: mostly the last one asked about
            return newest
        known = self._newest_connections.get(budget)
        if known is None:  # one per value of the budget: few, and asked for every successor
            known = self._newest_connections[budget] = connections_opened(
                self.budget_limits, budget
            )
        self._last_newest = (budget, known)
        return known

    def committed_group_offset(self, partition: Tup) -> int:
        """The group's committed input offset as read_committed readers of
        __consumer_offsets see it (0 before any commit)."""
        committed = 0
        kinds = fates(partition)
        for offset, entry in enumerate(partition[P_LOG]):
            if kinds[offset] == VISIBLE:
                committed = self.records[entry[D_RECORD]][REC_GROUP_OFFSET]
        return committed
