"""The randomized, deterministic simulation of the reference: one broker (or a cluster of
``BrokerConfig.brokers``, whose brokers crash and come back, moving partition leadership and
the coordinators), idempotent and transactional producers, a consume-transform-produce app,
read_committed and read_uncommitted consumers, and faults (delays and reordering across
connections, broken connections, delayed duplicates, producer crashes with a restart under the
same transactional.id and zombies, coordinator failover, broker restart from its logs,
producer-state expiry).

    result = run_simulation(seed=7, steps=10_000, config="default")
    result.violations   # [] when every property held
    result.events       # the history (protocol/history.py events), same seed -> same history

Each step is one action chosen by the seeded generator: deliver the next message, let an app
call its client API, let time pass (every component's tick), replicate, or inject a fault.
Internal invariants are checked after every step; the history checks (this module's own and
``kafka_eos.protocol.history_checks.check_history``) at the end, after the run
settles (no new work, time passes until every transaction has ended).
"""

from __future__ import annotations

import heapq
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kafka_eos.errors import InputError
from kafka_eos.protocol.errors import LEADER_RETRIABLE_ERRORS
from kafka_eos.protocol.history import Append, Event, Marker, event_to_json
from kafka_eos.protocol.history_checks import check_history
from kafka_eos.protocol.knobs import Knobs
from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.consumer import KafkaConsumer
from kafka_eos.reference.invariants import (
    NodeInvariants,
    Violation,
    exactly_once_copy,
    history_violations,
    settled_violations,
)
from kafka_eos.reference.messages import (
    AddOffsetsToTxnRequest,
    AddPartitionsToTxnRequest,
    EndTxnRequest,
    InitProducerIdRequest,
    ProduceRequest,
    TopicPartition,
    TxnOffsetCommitRequest,
    WriteTxnMarkersRequest,
)
from kafka_eos.reference.network import Envelope, Faults, SimNetwork
from kafka_eos.reference.node import BROKER_ID, BrokerConfig, BrokerNode, Outbound, batch_event
from kafka_eos.reference.producer import KafkaProducer
from kafka_eos.reference.storage import FileStorage, MemoryStorage
from kafka_eos.reference.workload import (
    CopyApp,
    IdempotentWriter,
    Reader,
    TransactionalWriter,
)

PARTITIONS = 2
#: the Produce errors the retriable_errors fault answers with, in a fixed order (same seed,
#: same run)
_RETRIABLE = sorted(LEADER_RETRIABLE_ERRORS)
#: a producer's requests: the ones it re-sends after a timeout or a broken connection, so
#: the ones of which a first copy may still be handled after the re-sent one (the
#: request_timeouts fault holds them; the delayed-duplicate fault copies them)
_RESENT_REQUESTS = (
    ProduceRequest,
    InitProducerIdRequest,
    AddPartitionsToTxnRequest,
    AddOffsetsToTxnRequest,
    EndTxnRequest,
    TxnOffsetCommitRequest,
)
#: the requests that act on a transaction at its producer's epoch, which their sender re-sends
#: after a timeout or a broken connection (a producer's; the coordinator's WriteTxnMarkers:
#: TransactionMarkerRequestCompletionHandler.onComplete): under transaction version 1 every
#: transaction of a producer has the same epoch, so the first copy of one, handled after the
#: re-sent one, can act on the producer's next transaction (see tv1-late-requests)
_TRANSACTION_REQUESTS = (*_RESENT_REQUESTS, WriteTxnMarkersRequest)
#: how far past the producer's request.timeout.ms a held request is delivered
HELD_PAST_TIMEOUT_MS = 500
#: how often (in steps) a run with a time budget looks at the clock
TIME_CHECK_STEPS = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    name: str
    description: str
    broker: BrokerConfig = field(
        default_factory=lambda: BrokerConfig(
            num_partitions=PARTITIONS,
            deferred_replication=True,
            marker_retry_backoff_ms=150,
            transaction_max_timeout_ms=60_000,
        )
    )
    faults: Faults = field(
        default_factory=lambda: Faults(loss=0.01, duplicate=0.003, min_delay_ms=1, max_delay_ms=20)
    )
    duplicate_delay_ms: int = 400
    transactional_writers: int = 2
    copy_apps: int = 1
    idempotent_writers: int = 1
    crash_rate: float = 0.0005  # per step: a transactional app restarts
    zombie_ratio: float = 0.5  # of crashes, the old incarnation keeps running
    failover_rate: float = 0.0003
    broker_restart_rate: float = 0.0002
    expiry_rate: float = 0.0  # per step: the leader forgets an idle producer
    #: per step, with broker.brokers above 1: a live broker crashes (its partitions' leadership
    #: moves; at least one broker stays up), or a crashed one comes back and catches up
    broker_crash_rate: float = 0.0
    #: per step: the leader answers the next Produce NOT_ENOUGH_REPLICAS or
    #: NOT_LEADER_OR_FOLLOWER without appending it (the model's retriable_errors fault)
    retriable_error_rate: float = 0.0005
    #: per step: a producer's request is held (in the broker's queue) past its
    #: request.timeout.ms: the producer gives up on it and sends it again, and the first copy
    #: is handled later, its answer ignored (the model's request_timeouts fault)
    request_timeout_rate: float = 0.0005
    #: the delayed-duplicate fault copies the requests that act on a transaction too (the
    #: first copy of a re-sent request, handled after the re-sent one); off where Kafka itself
    #: is not exactly-once under that (transaction version 1: see tv1-late-requests)
    late_request_copies: bool = True
    transaction_timeout_ms: int = 3_000
    subscribe: bool = False  # copy apps join a consumer group (KIP-447) instead of assign()
    session_timeout_ms: int = 2_000
    request_timeout_ms: int = 1_000
    #: a weakened protocol, or an outcome of Kafka's own that the properties flag: finding a
    #: violation is the point
    expect_violation: bool = False


def _weaken(base: SimulationConfig, name: str, description: str, **knobs: Any) -> SimulationConfig:
    return replace(
        base,
        name=name,
        description=description,
        broker=replace(base.broker, knobs=replace(base.broker.knobs, **knobs)),
        expect_violation=True,
    )


_DEFAULT = SimulationConfig(
    name="default", description="Kafka 4.x (transaction version 2, verification on), all faults"
)
_ZOMBIES = replace(
    _DEFAULT,
    name="zombies",
    description="Kafka 4.x; frequent producer crashes whose old incarnation keeps running, and "
    "many late duplicates (stale markers, produce and offset commits)",
    crash_rate=0.004,
    zombie_ratio=1.0,
    faults=replace(_DEFAULT.faults, duplicate=0.05),
)
_TV1 = replace(
    _DEFAULT,
    name="tv1",
    description="transaction version 1 with KIP-890 part 1 verification (Kafka 3.6-3.9), "
    "all faults but late copies of a producer's requests (see tv1-late-requests)",
    broker=replace(_DEFAULT.broker, knobs=Knobs(transaction_version=1)),
    request_timeout_rate=0.0,
    late_request_copies=False,
)
# Kafka's own anomaly under transaction version 1 (KIP-890's motivation, the model's
# tv1-request-timeouts): every transaction of a producer has the same epoch, so the first copy
# of a re-sent request of one transaction, handled after the re-sent copy and once the next
# transaction has started, acts on that one: an EndTxn(commit) commits it unasked
# (TransactionCoordinator.endTransactionWithTV1: an Ongoing transaction at the request's epoch
# goes to PrepareCommit), a WriteTxnMarkers ends its writes on the partition
# (ProducerAppendInfo.appendEndTxnMarker takes a marker at the producer's current epoch).
_TV1_LATE_REQUESTS = replace(
    _TV1,
    name="tv1-late-requests",
    description="transaction version 1 with KIP-890 part 1 verification and late copies of the "
    "requests that act on a transaction (held past request.timeout.ms, or delayed "
    "duplicates): a late EndTxn or WriteTxnMarkers of one transaction ends the next one, at "
    "the same epoch (KIP-890's motivation; the model's tv1-request-timeouts)",
    request_timeout_rate=_DEFAULT.request_timeout_rate,
    late_request_copies=True,
    expect_violation=True,
)
SIMULATION_CONFIGS: dict[str, SimulationConfig] = {
    "default": _DEFAULT,
    "no-faults": replace(
        _DEFAULT,
        name="no-faults",
        description="Kafka 4.x, no faults at all",
        faults=Faults(min_delay_ms=1, max_delay_ms=20),
        crash_rate=0.0,
        failover_rate=0.0,
        broker_restart_rate=0.0,
    ),
    "tv1": _TV1,
    "tv1-late-requests": _TV1_LATE_REQUESTS,
    "zombies": _ZOMBIES,
    "restarts": replace(
        _DEFAULT,
        name="restarts",
        description="Kafka 4.x; the broker is killed and restarted from its logs every ~100 steps",
        broker_restart_rate=0.01,
    ),
    "groups": replace(
        _DEFAULT,
        name="groups",
        description="Kafka 4.x; two copy apps share the input through a consumer group "
        "(subscribe, rebalances, KIP-447 generation fencing of offset commits)",
        copy_apps=2,
        subscribe=True,
    ),
    "no-producer-epoch-check": _weaken(
        _ZOMBIES,
        "no-producer-epoch-check",
        "leaders do not check producer epochs: zombies write",
        producer_epoch_check=False,
    ),
    "tv1-no-verification": _weaken(
        _ZOMBIES,
        "tv1-no-verification",
        "transaction version 1 without verification (before KIP-890): hanging transactions",
        transaction_version=1,
        partition_verification=False,
    ),
    "producer-state-expiry": replace(
        _DEFAULT,
        name="producer-state-expiry",
        description="leaders forget idle producers (producer.id.expiration.ms) often: a late "
        "retry after expiry is appended again",
        expiry_rate=0.01,
        expect_violation=True,
    ),
    "no-idempotence": _weaken(
        _DEFAULT,
        "no-idempotence",
        "enable.idempotence=false: idempotent writers send no producer id, and leaders "
        "neither deduplicate nor sequence-check: retries duplicate",
        idempotence=False,
    ),
}


_REPLICATED = replace(
    _DEFAULT,
    name="replicated",
    description="Kafka 4.x on a 3-broker cluster (acks=all, min.insync.replicas 1, clean "
    "elections): brokers crash and come back often, moving partition leadership and the "
    "coordinators; clients follow the leaders through metadata",
    broker=replace(_DEFAULT.broker, brokers=3),
    broker_crash_rate=0.01,
)
SIMULATION_CONFIGS["replicated"] = _REPLICATED
SIMULATION_CONFIGS["replicated-idempotent-duplicates"] = replace(
    _REPLICATED,
    name="replicated-idempotent-duplicates",
    description="Kafka 4.x on the crashing 3-broker cluster with frequent retriable errors and "
    "requests held past their timeout: a leader with no state for an idempotent writer takes "
    "a later batch first, the writer bumps its epoch (KIP-360) and re-sequences its batches "
    "in flight, one of them already appended with its answer timed out, which is written "
    "again: a duplicate, Kafka's own (the model's idempotent-timeout-duplicate check)",
    retriable_error_rate=0.01,
    request_timeout_rate=0.01,
    expect_violation=True,
)
SIMULATION_CONFIGS["replicated-acks-1"] = _weaken(
    _REPLICATED,
    "replicated-acks-1",
    "acks=1 on a 3-broker cluster with crashes: a leader acknowledges what its followers may "
    "not have, and a crash loses it",
    acks=1,
)


def load_simulation_config(name: str | None) -> SimulationConfig:
    if name is None:
        return _DEFAULT
    if name not in SIMULATION_CONFIGS:
        known = ", ".join(sorted(SIMULATION_CONFIGS))
        raise InputError(f"unknown reference simulation config {name!r} (known: {known})")
    return SIMULATION_CONFIGS[name]


@dataclass(slots=True)
class SimulationResult:
    seed: int
    steps: int
    config: str
    violations: list[Violation]
    events: list[Event]
    seconds: float
    stats: dict[str, int]
    #: "MessageType" or "ResponseType:ERROR" -> deliveries: which protocol paths the run took
    coverage: dict[str, int] = field(default_factory=dict)
    #: "time_budget" when the run stopped before its steps were done (then settled and
    #: checked as usual), else None
    stopped_by: str | None = None

    @property
    def ok(self) -> bool:
        return not self.violations

    def history_jsonl(self) -> str:
        return "".join(event_to_json(event) + "\n" for event in self.events)


class Simulation:
    def __init__(
        self,
        *,
        seed: int,
        config: SimulationConfig | str | None = None,
        data_dir: Path | str | None = None,
    ) -> None:
        """``data_dir``: keep the broker's logs in files there (a broker restart then reopens
        them, as a new process would); by default they are in memory."""
        self.config = (
            config if isinstance(config, SimulationConfig) else load_simulation_config(config)
        )
        self.seed = seed
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.network = SimNetwork(
            clock=self.clock, seed=self.rng.getrandbits(32), faults=self._no_dup_faults()
        )
        self.data_dir = data_dir
        self.storage: MemoryStorage | FileStorage = (
            MemoryStorage() if data_dir is None else FileStorage(data_dir, fsync=False)
        )
        self.events: list[Event] = []
        self.broker = self._new_broker()
        self.violations: list[Violation] = []
        self.invariants = NodeInvariants()
        self.stats: dict[str, int] = {
            "crashes": 0,
            "zombies": 0,
            "failovers": 0,
            "broker_restarts": 0,
            "expiries": 0,
            "broker_crashes": 0,
            "broker_recoveries": 0,
            "retriable_errors": 0,
            "request_timeouts": 0,
        }
        self.coverage: dict[str, int] = {}
        self.network.on_deliver = self._cover
        self.apps: list[Any] = []
        self.zombies: list[Any] = []
        self.copy_apps: list[CopyApp] = []
        self._build_workload()

    # -- construction ----------------------------------------------------------------------------

    def _no_dup_faults(self) -> Faults:
        # Duplicates are injected by this module (late, outside connection order), not by
        # the network's in-order copies.
        return replace(self.config.faults, duplicate=0.0)

    def _new_broker(self) -> BrokerNode:
        if isinstance(self.storage, FileStorage) and getattr(self, "broker", None) is not None:
            self.storage.close()  # the old process is gone; the new one opens the files
            self.storage = FileStorage(self.storage.data_dir, fsync=False)
        node = BrokerNode(
            node_id=BROKER_ID, config=self.config.broker, clock=self.clock, storage=self.storage
        )
        if len(node.broker_ids) == 1:
            self.network.register(BROKER_ID, node)
        else:
            for broker_id in node.broker_ids:
                self.network.register(broker_id, _BrokerAddress(node, broker_id))
        self.network.send(BROKER_ID, node.startup())
        if len(node.broker_ids) > 1:
            self.events.extend(self._missed_by_history(node))
        return node

    def _missed_by_history(self, node: BrokerNode) -> list[Event]:
        """A replicated partition's batch enters the history once replicated: the batches
        the killed process stored without replicating them, which the restarted cluster
        now has below its high watermark (see BrokerNode._record_append)."""
        recorded = {
            (event.partition, getattr(event, "base_offset", getattr(event, "offset", -1)))
            for event in self.events
            if isinstance(event, Append | Marker)
        }
        missed: list[Event] = []
        for tp in node.replica_sets:
            log = node.partitions[tp].log
            for batch in log.batches[: log.count_below(log.high_watermark)]:
                if (str(tp), batch.base_offset) not in recorded:
                    missed.append(batch_event(tp, batch))
        return missed

    def _producer(self, client_id: str, transactional_id: str | None) -> KafkaProducer:
        # The client-side knobs (protocol/knobs.py) reach the producers; transactions need
        # idempotence whatever the knob says (Kafka refuses a transactional.id without it).
        knobs = self.config.broker.knobs
        producer = KafkaProducer(
            client_id=client_id,
            clock=self.clock,
            bootstrap=BROKER_ID,
            acks=knobs.acks,
            transactional_id=transactional_id,
            enable_idempotence=transactional_id is not None or knobs.idempotence,
            max_in_flight=knobs.max_in_flight,
            batch_max_records=3,
            transaction_timeout_ms=self.config.transaction_timeout_ms,
            request_timeout_ms=self.config.request_timeout_ms,
            retry_backoff_ms=20,
            transaction_version=knobs.transaction_version,
            delivery_timeout_ms=10_000,
        )
        self.network.register(client_id, producer)
        return producer

    def _consumer(self, client_id: str, group_id: str | None, isolation: str) -> KafkaConsumer:
        consumer = KafkaConsumer(
            client_id=client_id,
            clock=self.clock,
            bootstrap=BROKER_ID,
            group_id=group_id,
            isolation_level=isolation,
            request_timeout_ms=self.config.request_timeout_ms,
            retry_backoff_ms=100,
            fetch_max_wait_ms=100,
            max_poll_records=5,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=self.config.session_timeout_ms // 5,
        )
        self.network.register(client_id, consumer)
        return consumer

    def _build_workload(self) -> None:
        cfg = self.config
        for index in range(cfg.idempotent_writers):
            self.apps.append(IdempotentWriter(f"idem{index}", "idem", PARTITIONS, self._producer))
        for index in range(cfg.transactional_writers):
            self.apps.append(
                TransactionalWriter(f"tx{index}", f"tx-{index}", "out", PARTITIONS, self._producer)
            )
        if cfg.copy_apps:
            self.apps.append(IdempotentWriter("input", "in", PARTITIONS, self._producer))
            source = [TopicPartition("in", p) for p in range(PARTITIONS)]
            for index in range(cfg.copy_apps):
                app = CopyApp(
                    f"copy{index}",
                    f"copy-{index}",
                    "copy-group",
                    source,
                    "copied",
                    PARTITIONS,
                    self._producer,
                    self._consumer,
                    subscribe=cfg.subscribe,
                )
                self.copy_apps.append(app)
                self.apps.append(app)
        topics = ["out", "idem"] + (["copied"] if cfg.copy_apps else [])
        for topic in [*topics, "in"]:
            self.broker.create_topic(topic, PARTITIONS)  # as an operator would, up front
        everything = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        for isolation in ("read_committed", "read_uncommitted"):
            name = f"reader-{isolation}"
            self.apps.append(Reader(name, self._consumer(name, None, isolation), everything))

    # -- running ---------------------------------------------------------------------------------

    def step(self) -> None:
        roll = self.rng.random()
        net = self.network
        if roll < 0.62 and net.in_flight:
            self._deliver()
        elif roll < 0.82:
            self._app_step()
        elif roll < 0.87:
            net.advance(self.rng.randint(1, 20))
        elif roll < 0.97:
            net.send(BROKER_ID, self.broker.replicate())
            net.flush_outbound()
        else:
            self._maybe_fault()
        self._collect()
        found = self.invariants.check(self.broker)
        if found:
            self.violations.extend(found)

    def _cover(self, envelope: Envelope) -> None:
        message = envelope.message
        key = type(message).__name__
        error = getattr(message, "error_code", None)
        if error is None:
            results = getattr(message, "results", None) or [
                r for m in getattr(message, "markers", ()) for r in getattr(m, "results", ())
            ]
            errors = {r.error_code for r in results if hasattr(r, "error_code")}
            error = max(errors) if errors else None
        if error is not None:
            key += f":{error.name}"
        self.coverage[key] = self.coverage.get(key, 0) + 1

    def _deliver(self) -> None:
        envelope = self.network.deliver_next()
        if envelope is None or not self.config.faults.duplicate:
            return
        if not self.config.late_request_copies and isinstance(
            envelope.message, _TRANSACTION_REQUESTS
        ):
            return
        if self.rng.random() < self.config.faults.duplicate:
            # A late copy of this message, outside its connection's order: what a client
            # retry on a new connection races with when the old one is still delivering.
            late = self.rng.randint(1, self.config.duplicate_delay_ms)
            self.network.duplicated += 1
            copy = Envelope(
                self.clock.now_ms() + late,
                -envelope.sequence,
                envelope.source,
                envelope.destination,
                envelope.message,
            )
            heapq.heappush(self.network.in_flight, copy)

    def _app_step(self) -> None:
        actors = self.apps + self.zombies
        actor = actors[self.rng.randrange(len(actors))]
        actor.step(self.rng)
        if getattr(actor, "fenced", False):
            self._retire(actor)
            self.network.flush_outbound()
        else:
            for name, _ in actor.clients():
                self.network.flush_one(name)

    def _retire(self, app: Any) -> None:
        """A fenced incarnation: a real application closes it and starts a new one."""
        if app in self.zombies:
            self.zombies.remove(app)
            for name, _ in app.clients():
                self.network.unregister(name)
            return
        self._restart(app, keep_zombie=False)

    def _restart(self, app: Any, *, keep_zombie: bool) -> None:
        index = self.apps.index(app)
        successor = app.restart()
        self.apps[index] = successor
        if isinstance(app, CopyApp):
            self.copy_apps[self.copy_apps.index(app)] = successor
        if keep_zombie:
            self.zombies.append(app)
            self.stats["zombies"] += 1
        else:
            for name, _ in app.clients():
                self.network.unregister(name)

    def _maybe_fault(self) -> None:
        cfg = self.config
        roll = self.rng.random() * 0.03  # this branch is taken with probability 0.03
        faults = (
            (cfg.crash_rate, self._crash_an_app),
            (cfg.failover_rate, self._fail_over_the_coordinator),
            (cfg.broker_restart_rate, self._restart_the_broker),
            (cfg.expiry_rate, self._expire_one),
            (cfg.broker_crash_rate, self._crash_or_recover_a_broker),
            (cfg.retriable_error_rate, self._refuse_a_produce),
            (cfg.request_timeout_rate, self._hold_a_request),
        )
        threshold = 0.0
        for rate, inject in faults:  # each fault takes its own slice of the roll
            threshold += rate
            if roll < threshold:
                inject()
                break
        self.network.flush_outbound()

    def _crash_an_app(self) -> None:
        restartable = [a for a in self.apps if hasattr(a, "restart")]
        if restartable:
            app = restartable[self.rng.randrange(len(restartable))]
            keep = self.rng.random() < self.config.zombie_ratio and len(self.zombies) < 3
            self.stats["crashes"] += 1
            self._restart(app, keep_zombie=keep)

    def _fail_over_the_coordinator(self) -> None:
        self.stats["failovers"] += 1
        self.network.send(BROKER_ID, self.broker.fail_over_coordinator())

    def _restart_the_broker(self) -> None:
        self.stats["broker_restarts"] += 1
        self.broker = self._new_broker()

    def _refuse_a_produce(self) -> None:
        """The leader answers the next Produce with a retriable error without appending it
        (Partition.appendRecordsToLeader, ReplicaManager): the producer retries the batch."""
        self.stats["retriable_errors"] += 1
        self.broker.refuse_next_produce(self.rng.choice(_RETRIABLE))

    def _hold_a_request(self) -> None:
        """A producer's request in flight to a broker is delivered past the producer's
        request.timeout.ms (NetworkClient.handleTimedOutRequests: the producer re-sends it, a
        Produce by the Sender, a coordinator request by its TxnRequestHandler)."""
        brokers = {BROKER_ID, *self.broker.broker_ids}
        requests = [
            envelope
            for envelope in self.network.in_flight
            if envelope.destination in brokers and isinstance(envelope.message, _RESENT_REQUESTS)
        ]
        if requests:
            envelope = requests[self.rng.randrange(len(requests))]
            self.network.hold(envelope, self.config.request_timeout_ms + HELD_PAST_TIMEOUT_MS)
            self.stats["request_timeouts"] += 1

    def _crash_or_recover_a_broker(self) -> None:
        """A live broker crashes (its connections break, the controller moves leadership
        and the coordinators off it), or, half the time when one is down, one comes back."""
        broker = self.broker
        down = sorted(broker.offline_brokers)
        live = broker.live_brokers()
        if down and (len(live) == 1 or self.rng.random() < 0.5):
            back = down[self.rng.randrange(len(down))]
            self.stats["broker_recoveries"] += 1
            self.network.send(back, broker.restart_broker(back))
            return
        if len(live) < 2:
            return
        victim = live[self.rng.randrange(len(live))]
        self.stats["broker_crashes"] += 1
        self.network.send(live[0] if live[0] != victim else live[1], broker.crash_broker(victim))
        for name in list(self.network.endpoints):
            if name not in broker.broker_ids:
                self.network.break_connection(name, victim)

    def _expire_one(self) -> None:
        candidates = [
            (tp, pid)
            for tp, partition in self.broker.partitions.items()
            if not tp.topic.startswith("__")
            for pid in partition.producers.entries
        ]
        if candidates:
            tp, pid = candidates[self.rng.randrange(len(candidates))]
            if self.broker.expire_producer(tp, pid):
                self.stats["expiries"] += 1

    def _collect(self) -> None:
        self.events.extend(self.broker.drain_events())
        for actor in self.apps + self.zombies:
            for _, client in actor.clients():
                self.events.extend(client.drain_events())

    def settle(self, *, max_rounds: int = 400) -> None:
        """Stop new work and let time pass until nothing is in flight and every transaction
        has ended (timeouts abort what was left open). Crashed brokers come back first: a
        transaction whose partition's only electable replica is down cannot be marked, and
        the faults have stopped."""
        net = self.network
        for back in sorted(self.broker.offline_brokers):
            net.send(back, self.broker.restart_broker(back))
        for _ in range(max_rounds):
            while net.in_flight:
                net.deliver_next()
            net.send(BROKER_ID, self.broker.replicate())
            net.advance(100)
            self._finish_app_transactions()
            self._collect()
            if not net.in_flight and self._all_transactions_ended():
                break
        self._collect()

    def _finish_app_transactions(self) -> None:
        from kafka_eos.protocol.client_states import ClientState

        for app in self.apps:
            producer = getattr(app, "producer", None)
            if producer is None or producer.transactional_id is None:
                continue
            if producer.txn_state is ClientState.ABORTABLE_ERROR:
                app._abort() if isinstance(app, CopyApp) else producer.abort_transaction()
        self.network.flush_outbound()

    def _all_transactions_ended(self) -> bool:
        from kafka_eos.protocol.coordinator_states import TxnState

        ended = {TxnState.EMPTY, TxnState.COMPLETE_COMMIT, TxnState.COMPLETE_ABORT}
        coordinator = self.broker.txn_coordinator
        return (
            all(
                m.state in ended and m.pending_state is None
                for m in coordinator.transactions.values()
            )
            and not self.broker.pending_verifications
        )

    def final_checks(self) -> list[Violation]:
        readers = frozenset(a.name for a in self.apps if isinstance(a, Reader))
        found = history_violations(self.events, self.broker, in_order_clients=readers)
        found += settled_violations(self.broker)
        if self.copy_apps:
            found += exactly_once_copy(self.broker, "copy-group", "in", "copied")
        found += _history_checks(self.events)
        return found


class _BrokerAddress:
    """One broker of a simulated cluster on the network: the requests that arrive at it go to
    the cluster node as arriving there (``BrokerNode.receive(at=...)``: a partition it does
    not lead answers NOT_LEADER_OR_FOLLOWER, a crashed broker nothing). The cluster's
    time-driven work runs once, through the first broker's address."""

    def __init__(self, node: BrokerNode, broker_id: str) -> None:
        self.node = node
        self.broker_id = broker_id

    def receive(self, source: str, message: Any) -> list[Outbound]:
        return self.node.receive(source, message, at=self.broker_id)

    def tick(self) -> list[Outbound]:
        return self.node.tick() if self.broker_id == self.node.broker_ids[0] else []

    def disconnected(self, peer: str) -> list[Outbound]:
        return self.node.disconnected(peer, at=self.broker_id)


def _history_checks(events: list[Event]) -> list[Violation]:
    """The EOS properties of protocol/history_checks.py, on the whole history."""
    return [Violation(v.property, v.message, tuple(v.events)) for v in check_history(events)]


def run_simulation(
    *,
    seed: int,
    steps: int,
    config: SimulationConfig | str | None = None,
    settle: bool = True,
    data_dir: Path | str | None = None,
    time_budget_s: float | None = None,
) -> SimulationResult:
    """Run ``steps`` steps from ``seed``; stop at the first violated internal invariant, or
    once ``time_budget_s`` seconds have passed (``stopped_by``; the steps done are the
    same as a run of that many steps, so the seed and step count still reproduce it)."""
    started = time.perf_counter()
    deadline = None if time_budget_s is None else started + time_budget_s
    simulation = Simulation(seed=seed, config=config, data_dir=data_dir)
    done = 0
    stopped_by = None
    while done < steps:
        simulation.step()
        done += 1
        if simulation.violations:
            break
        if deadline is not None and done % TIME_CHECK_STEPS == 0 and time.perf_counter() > deadline:
            stopped_by = "time_budget"
            break
    if not simulation.violations and settle:
        simulation.settle()
        simulation.violations += simulation.invariants.check(simulation.broker)
        simulation.violations += simulation.final_checks()
    net = simulation.network
    stats = dict(simulation.stats)
    stats.update(
        messages_sent=net.sent,
        messages_delivered=net.delivered,
        messages_lost=net.lost,
        messages_duplicated=net.duplicated,
        events=len(simulation.events),
        virtual_ms=simulation.clock.now_ms(),
    )
    return SimulationResult(
        seed,
        done,
        simulation.config.name,
        simulation.violations,
        simulation.events,
        time.perf_counter() - started,
        stats,
        dict(sorted(simulation.coverage.items())),
        stopped_by,
    )
