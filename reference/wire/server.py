"""The reference broker on Kafka's wire protocol: asyncio sockets around the sans-I/O core.

One process, one :class:`~kafka_eos.reference.node.BrokerNode`: leader of every partition and
coordinator of every transactional.id and group, behind one listener, or behind the N
listeners of ``serve --brokers N``, each a broker that answers only for the partitions it leads
and the coordinators it hosts (:mod:`cluster`, :mod:`ownership`). This module only moves bytes
and translates:

    socket -> FrameDecoder -> codec.decode_request -> handler -> core messages
    node.receive(connection address, message) -> Outbounds
        - addressed to the node itself (WriteTxnMarkers...): fed straight back to the node
        - addressed to a connection: the response a handler awaits
    handler -> response dict -> codec.encode_response (the version asked) -> socket

Every Kafka rule (sequence checks, epochs, transaction states, LSO, fencing, group
membership) is the core's; a handler splits a multi-partition request into the core's
one-partition messages and merges the answers, and that is all it decides.

Requests on one connection are handled one at a time and answered in order, as Kafka does
(clients match responses to requests in order). Time-driven work (transaction timeouts,
producer-state expiry, marker retries) runs from ``node.tick()`` on a real-time clock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import functools
import itertools
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.history import ProduceAck, TxnEnd
from kafka_eos.protocol.topics import legal_topic_name, topic_name_problem
from kafka_eos.reference import messages as m
from kafka_eos.reference.wire import codec
from kafka_eos.reference.wire.cluster import Cluster, broker_name
from kafka_eos.reference.wire.faults import Faults
from kafka_eos.reference.wire.framing import FrameDecoder, FrameError
from kafka_eos.reference.wire.history_log import HistoryLog, RequestLog
from kafka_eos.reference.wire.limits import ConnectionLimits, RequestMemoryPool
from kafka_eos.reference.wire.ownership import refusal
from kafka_eos.reference.wire.records import (
    BatchError,
    encode_batch,
    encode_control_batch,
    history_values,
    read_batches,
    rewrite_base_offset,
)

log = logging.getLogger("kafka_eos.wire")

#: the fields of a core request message other than its correlation id (:meth:`WireBroker._ask`)
Fields = ParamSpec("Fields")

#: The wire node id of the first broker (the core names its node by string, clients name
#: brokers by int32); ``serve --brokers N`` numbers its brokers 0..N-1.
WIRE_NODE_ID = 0
CLUSTER_ID = "kafka-eos"
TICK_INTERVAL_S = 0.02
#: the most a connection reads from its socket at once
READ_CHUNK = 65536
MAX_PARTITIONS_PER_TOPIC = 1000
#: exit status of the crash-after fault (128 + SIGKILL, what a shell reports for kill -9)
CRASH_EXIT_CODE = 137


class ConnectionClosed(Exception):
    """A fault or a bad frame ends this connection."""


class FrameTimeout(Exception):
    """A frame did not arrive within --frame-read-timeout-ms; the connection is closed."""


@dataclass
class Connection:
    number: int
    address: str
    writer: asyncio.StreamWriter
    decoder: FrameDecoder
    client_id: str | None = None
    #: the wire broker (listener) the client connected to
    broker_id: int = WIRE_NODE_ID
    #: closed by the broker (a fault, a killed broker): a request still being handled is
    #: answered to no one, and what its answer would have told is not in the history
    closed: bool = False
    #: history events about the response being prepared (ProduceAck, TxnEnd): they happened
    #: only if the response is sent, so they are written just before it leaves (never after:
    #: a client must not learn what a crash could keep out of the history)
    unsent_events: list[Any] = field(default_factory=list)

    @property
    def client(self) -> str:
        """The name the history uses: the client.id the client sent, or the connection."""
        return self.client_id or self.address


@dataclass
class WireBroker:
    """The adapter: owns the node, the connections, the history and the faults."""

    node: Any
    node_id: str
    clock: Any
    host: str = "127.0.0.1"
    port: int = 9092
    history: HistoryLog = field(default_factory=lambda: HistoryLog(None))
    request_log: RequestLog = field(default_factory=lambda: RequestLog(None))
    faults: Faults = field(default_factory=Faults)
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)

    def __post_init__(self) -> None:
        #: the wire brokers and who leads what (``serve --brokers N``)
        self.cluster = Cluster(self.node)
        #: each broker's port; a killed broker keeps its port for its restart
        self.ports: dict[int, int] = {WIRE_NODE_ID: self.port}
        self._servers: dict[int, asyncio.Server] = {}
        self.memory = RequestMemoryPool(limit=self.limits.queued_max_request_bytes)
        self._correlation = itertools.count(1)
        self._connection_numbers = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._connections: dict[str, Connection] = {}
        self._changed = asyncio.Event()
        self._handlers: dict[int, Callable[[Connection, codec.Request], Awaitable[Any]]] = {
            codec.API_VERSIONS: self._api_versions,
            codec.METADATA: self._metadata,
            codec.CREATE_TOPICS: self._create_topics,
            codec.FIND_COORDINATOR: self._find_coordinator,
            codec.INIT_PRODUCER_ID: self._init_producer_id,
            codec.ADD_PARTITIONS_TO_TXN: self._add_partitions_to_txn,
            codec.ADD_OFFSETS_TO_TXN: self._add_offsets_to_txn,
            codec.TXN_OFFSET_COMMIT: self._txn_offset_commit,
            codec.END_TXN: self._end_txn,
            codec.PRODUCE: self._produce,
            codec.FETCH: self._fetch,
            codec.LIST_OFFSETS: self._list_offsets,
            codec.OFFSET_COMMIT: self._offset_commit,
            codec.OFFSET_FETCH: self._offset_fetch,
            codec.JOIN_GROUP: self._join_group,
            codec.SYNC_GROUP: self._sync_group,
            codec.HEARTBEAT: self._heartbeat,
            codec.LEAVE_GROUP: self._leave_group,
        }
        assert set(self._handlers) == set(codec.SUPPORTED_VERSIONS), "one handler per API"

    # -- the core ----------------------------------------------------------------------------

    def _next_id(self) -> int:
        return next(self._correlation)

    def deliver(self, outbounds: list[Any]) -> None:
        """Route the core's Outbounds: self-addressed ones back into the node, responses to
        the handler awaiting them. Then record what the logs gained."""
        queue = list(outbounds)
        while queue:
            outbound = queue.pop(0)
            if outbound.destination in self.node.broker_ids:  # markers, verification
                queue.extend(self.node.receive(self.node_id, outbound.message))
                continue
            future = self._pending.pop(outbound.message.correlation_id, None)
            if future is not None and not future.done():
                future.set_result(outbound.message)
        self._record_log_events()
        if outbounds:  # something happened: wake long-polling fetches to look again
            self._changed.set()
            self._changed = asyncio.Event()

    async def call(self, connection: Connection, message: Any) -> Any:
        """Send one request to the core as ``connection``; the core's response to it."""
        refused = refusal(message, broker=connection.broker_id, cluster=self.cluster)
        if refused is not None:
            return refused
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[message.correlation_id] = future
        at = broker_name(connection.broker_id) if len(self.cluster.broker_ids) > 1 else None
        self.deliver(self.node.receive(connection.address, message, at=at))
        try:
            return await future
        finally:
            self._pending.pop(message.correlation_id, None)

    async def _ask(
        self,
        connection: Connection,
        request: Callable[Concatenate[int, Fields], Any],
        /,
        *args: Fields.args,
        **fields: Fields.kwargs,
    ) -> Any:
        """Build a core request with the next correlation id (the first field of every request
        message) and :meth:`call` the core with it; the core's response."""
        return await self.call(connection, request(self._next_id(), *args, **fields))

    def tick(self) -> None:
        self.deliver(self.node.tick())

    def _record_log_events(self) -> None:
        """The core's own history events (appends, markers, visible offset commits)."""
        events = self.node.drain_events()
        if events:
            self.history.write(events)

    # -- connections -------------------------------------------------------------------------

    async def handle_connection(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        broker_id: int = WIRE_NODE_ID,
    ) -> None:
        number = next(self._connection_numbers)
        decoder = FrameDecoder(max_frame_size=self.limits.max_frame_size)
        connection = Connection(
            number=number,
            address=f"wire-{number}",
            writer=writer,
            decoder=decoder,
            broker_id=broker_id,
        )
        self._connections[connection.address] = connection
        try:
            while (payload := await self._next_frame(connection, reader)) is not None:
                try:
                    request = await self._decode(connection, payload)
                finally:
                    # Kafka releases a request's pool memory once the API has handled it
                    # locally (RequestChannel.Request.releaseBuffer), not while it waits in
                    # a purgatory: here, once decoded, before a long poll or a join waits.
                    self.memory.release(len(payload))
                del payload
                if request is not None:
                    await self._serve_request(connection, request)
        except (FrameError, FrameTimeout) as exc:
            log.warning("%s: %s; closing the connection", connection.address, exc)
        except ConnectionClosed:
            pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # the broker is shutting down: this connection task is its last user
        except Exception:  # a bug must cost one connection, never the broker
            log.exception("%s: request failed; closing the connection", connection.address)
        finally:
            self._connections.pop(connection.address, None)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _next_frame(
        self, connection: Connection, reader: asyncio.StreamReader
    ) -> bytes | None:
        """The connection's next frame, its size reserved from the memory pool (the caller
        releases it); None when the client closed the connection or stayed idle longer
        than connections.max.idle.ms. Never reads past the frame, so what a connection
        buffers is at most the frame it is reading."""
        decoder = connection.decoder
        try:
            async with asyncio.timeout(self.limits.connections_max_idle_ms / 1000):
                first = await reader.read(decoder.wanted())
        except TimeoutError:
            log.info(
                "%s: idle for %d ms (connections.max.idle.ms); closing the connection",
                connection.address,
                self.limits.connections_max_idle_ms,
            )
            return None
        if not first:
            return None
        frames = decoder.feed(first)
        loop = asyncio.get_running_loop()
        timeout_s = self.limits.frame_read_timeout_ms / 1000
        deadline = loop.time() + timeout_s
        while (size := decoder.frame_size) is None:
            frames = decoder.feed(await self._read_before(reader, decoder, deadline))
        await self.memory.reserve(size)
        try:
            deadline = loop.time() + timeout_s  # the deadline runs while memory is held
            while not frames:
                frames = decoder.feed(await self._read_before(reader, decoder, deadline))
        except BaseException:
            self.memory.release(size)
            raise
        return frames[0]

    async def _read_before(
        self, reader: asyncio.StreamReader, decoder: FrameDecoder, deadline: float
    ) -> bytes:
        """More of the frame being read, by ``deadline`` (FrameTimeout) or ConnectionClosed
        when the client goes away mid-frame."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(remaining, 0)):
                data = await reader.read(min(decoder.wanted(), READ_CHUNK))
        except TimeoutError:
            size = decoder.frame_size
            total = "?" if size is None else size + 4
            raise FrameTimeout(
                f"frame not complete within {self.limits.frame_read_timeout_ms} ms "
                f"({decoder.pending} of {total} bytes received)"
            ) from None
        if not data:
            raise ConnectionClosed
        return data

    async def _decode(self, connection: Connection, payload: bytes) -> codec.Request | None:
        """The request in ``payload``; None when the codec answered it with an error
        response; ConnectionClosed when it cannot be answered at all."""
        try:
            return codec.decode_request(payload)
        except codec.RequestError as exc:
            log.warning("%s: %s (frame starts %s)", connection.address, exc, payload[:48].hex())
            if exc.reply is None:
                raise ConnectionClosed from None
            connection.writer.write(exc.reply)
            await connection.writer.drain()
            return None

    async def _serve_request(self, connection: Connection, request: codec.Request) -> None:
        if request.client_id:
            connection.client_id = request.client_id
        delay_ms = self.faults.take_delay_ms(request.api_key)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        connection.unsent_events = []
        self._log_request("request", connection, request, request.body)
        body = await self._handlers[request.api_key](connection, request)
        self._log_request("response", connection, request, body)
        if self.faults.take_crash(request.api_key):
            log.warning("fault: crashing after %s, before answering it", request.api_name)
            os._exit(CRASH_EXIT_CODE)  # no cleanup at all, as with kill -9
        if self.faults.take_close(request.api_key):
            log.info("fault: closing %s after %s", connection.address, request.api_name)
            raise ConnectionClosed
        if connection.closed:  # its broker went down while the request was handled
            raise ConnectionClosed
        if body is None:  # Produce with acks=0: no response
            return
        if self.faults.take_drop(request.api_key):
            log.info("fault: dropping the %s response to %s", request.api_name, connection.address)
            return
        self.history.write(connection.unsent_events)
        connection.writer.write(
            codec.encode_response(
                request.api_key, request.api_version, request.correlation_id, body
            )
        )
        await connection.writer.drain()

    def describe_connections(self) -> str:
        """For the admin port: open connections and the memory their frames hold."""
        buffered = sum(c.decoder.pending for c in self._connections.values())
        return (
            f"{len(self._connections)} connections, {self.memory.describe()}, "
            f"{buffered} bytes buffered in partial frames"
        )

    def _log_request(
        self, direction: str, connection: Connection, request: codec.Request, body: Any
    ) -> None:
        if self.request_log.enabled:
            self.request_log.write(
                direction=direction,
                connection=connection.address,
                client=connection.client,
                api=request.api_name,
                version=request.api_version,
                correlation_id=request.correlation_id,
                body=body,
            )

    def close_connections(self, broker_id: int | None = None) -> int:
        """Close every client connection (of ``broker_id`` only, when given); how many."""
        count = 0
        for connection in list(self._connections.values()):
            if broker_id is None or connection.broker_id == broker_id:
                connection.closed = True
                connection.writer.close()
                count += 1
        return count

    # -- the brokers of the cluster ----------------------------------------------------------

    async def listen(self, broker_id: int, port: int) -> int:
        """Open ``broker_id``'s listener on ``port`` (0: any free port); the port it got.
        OSError when the port cannot be listened on."""
        handler = functools.partial(self.handle_connection, broker_id=broker_id)
        server = await asyncio.start_server(handler, self.host, port)
        self._servers[broker_id] = server
        bound: int = server.sockets[0].getsockname()[1]
        self.ports[broker_id] = bound
        if broker_id == WIRE_NODE_ID:
            self.port = bound
        return bound

    def close_listeners(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()

    def kill_broker(self, broker_id: int) -> str:
        """A broker goes down (InputError if it cannot): its listener closes, its
        connections are cut, its partitions get new leaders and, when it was a
        coordinator, the coordinator moves (and reloads its state from its log)."""
        led = self._led_by(broker_id)
        # the reference's controller elects new leaders and, when the coordinators lived
        # there, fails them over (TransactionStateManager.loadTransactionsForTxnTopicPartition
        # on the new host: a new coordinator epoch, state reloaded, pending markers re-sent)
        outbounds = self.cluster.kill(broker_id)  # InputError before anything is closed
        server = self._servers.pop(broker_id, None)
        if server is not None:
            server.close()
        closed = self.close_connections(broker_id)
        self.deliver(outbounds)
        moved = len(led - self._led_by(broker_id))
        log.warning(
            "broker %d down: %d connections closed, %d partitions have a new leader",
            broker_id,
            closed,
            moved,
        )
        return f"ok broker {broker_id} down; {moved} partitions moved"

    def _led_by(self, broker_id: int) -> set[Any]:
        """The partitions (the coordinators' internal ones included) ``broker_id`` leads."""
        return {tp for tp in self.node.partitions if self.cluster.leader_of(tp) == broker_id}

    async def restart_broker(self, broker_id: int) -> str:
        """A killed broker comes back on its port, a follower of every partition."""
        if broker_id in self.cluster.live_brokers() or broker_id not in self.cluster.broker_ids:
            self.cluster.restart(broker_id)  # InputError: nothing to restart
        try:
            await self.listen(broker_id, self.ports[broker_id])
        except OSError as exc:
            port = self.ports[broker_id]
            return f"error broker {broker_id}: cannot listen on port {port}: {exc.strerror}"
        self.deliver(self.cluster.restart(broker_id))
        log.warning("broker %d up on port %d", broker_id, self.ports[broker_id])
        return f"ok broker {broker_id} up"

    # -- handlers: local ---------------------------------------------------------------------

    async def _api_versions(self, connection: Connection, request: codec.Request) -> Any:
        return codec.api_versions_body()

    def _broker_entry(self, broker_id: int) -> dict[str, Any]:
        return {
            "node_id": broker_id,
            "host": self.host,
            "port": self.ports[broker_id],
            "rack": None,
        }

    def _partition_entry(self, topic: str, partition: int) -> dict[str, Any]:
        tp = m.TopicPartition(topic, partition)
        leadership = self.cluster.leadership(tp)
        return {
            "error_code": ErrorCode.NONE,
            "partition_index": partition,
            "leader_id": leadership.leader,
            "leader_epoch": leadership.leader_epoch,
            "replica_nodes": list(leadership.replicas),
            "isr_nodes": list(self.cluster.in_sync_replicas(tp)),
            "offline_replicas": list(self.cluster.offline_replicas(tp)),
        }

    # -- handlers: metadata, topics, coordinators --------------------------------------------

    async def _metadata(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        requested = body.get("topics")
        if request.api_version == 0 and requested == []:
            requested = None  # v0: an empty list meant "every topic"
        names = None if requested is None else [t["name"] for t in requested if t["name"]]
        illegal = [] if names is None else [n for n in names if not legal_topic_name(n)]
        response = await self._ask(
            connection,
            m.MetadataRequest,
            topics=None if names is None else tuple(n for n in names if n not in illegal),
            allow_auto_topic_creation=body.get("allow_auto_topic_creation", True),
        )
        refused = [m.TopicMetadata(name, ErrorCode.INVALID_TOPIC_EXCEPTION) for name in illegal]
        return {
            "throttle_time": 0,
            # MetadataCache: the live brokers; KRaft names any live broker as controller
            "brokers": [self._broker_entry(b) for b in self.cluster.live_brokers()],
            "cluster_id": CLUSTER_ID,
            "controller_id": self.cluster.live_brokers()[0],
            "topics": [
                {
                    "error_code": topic.error_code,
                    "name": topic.name,
                    "topic_id": _topic_id(topic.name),
                    "is_internal": False,
                    "partitions": [
                        self._partition_entry(topic.name, p.partition) for p in topic.partitions
                    ],
                    "topic_authorized_operations": -2147483648,
                }
                for topic in (*response.topics, *refused)
            ],
            "cluster_authorized_operations": -2147483648,
        }

    async def _create_topics(self, connection: Connection, request: codec.Request) -> Any:
        topics = request.body["topics"]
        # A resource guard of this process, not a Kafka rule: one request must not make the
        # broker allocate millions of partitions.
        too_many = [t for t in topics if t["num_partitions"] > MAX_PARTITIONS_PER_TOPIC]
        illegal = [t for t in topics if not legal_topic_name(t["name"])]
        allowed = [t for t in topics if t not in too_many and t not in illegal]
        response = await self._ask(
            connection,
            m.CreateTopicsRequest,
            topics=tuple(
                m.CreatableTopic(name=t["name"], num_partitions=t["num_partitions"])
                for t in allowed
            ),
        )
        results = (
            [
                {
                    "name": r.name,
                    "error_code": r.error_code,
                    "error_message": None,
                    "num_partitions": r.num_partitions,
                }
                for r in response.topics
            ]
            + [
                {
                    "name": t["name"],
                    "error_code": ErrorCode.INVALID_PARTITIONS,
                    "error_message": f"kafka-eos serve allows at most {MAX_PARTITIONS_PER_TOPIC} "
                    "partitions per topic",
                    "num_partitions": -1,
                }
                for t in too_many
            ]
            + [
                {
                    "name": t["name"],
                    "error_code": ErrorCode.INVALID_TOPIC_EXCEPTION,
                    "error_message": topic_name_problem(t["name"]),
                    "num_partitions": -1,
                }
                for t in illegal
            ]
        )
        return {
            "throttle_time": 0,
            "topics": [
                {
                    **result,
                    "topic_id": _topic_id(result["name"]),
                    "replication_factor": 1,
                    "configs": [],
                }
                for result in results
            ],
        }

    async def _find_coordinator(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        key_type = body.get("key_type", m.GROUP_KEY)
        keys = body.get("coordinator_keys") or [body.get("key", "")]
        answers = [
            await self._ask(connection, m.FindCoordinatorRequest, key=key, key_type=key_type)
            for key in keys
        ]
        entries = []
        for key, answer in zip(keys, answers, strict=True):
            found = answer.error_code == ErrorCode.NONE
            # KafkaApis.getCoordinator: the leader of the key's internal partition
            coordinator = self.cluster.coordinator_of(key)
            entries.append(
                {
                    "key": key,
                    "node_id": coordinator if found else -1,
                    "host": self.host if found else "",
                    "port": self.ports[coordinator] if found else -1,
                    "error_code": answer.error_code,
                    "error_message": None,
                }
            )
        return {"throttle_time": 0, **entries[0], "coordinators": entries}

    # -- handlers: transactions --------------------------------------------------------------

    async def _init_producer_id(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.InitProducerIdRequest,
            transactional_id=body.get("transactional_id"),
            transaction_timeout_ms=body.get("transaction_timeout", 60_000),
            producer_id=body.get("producer_id", m.NO_PRODUCER_ID),
            producer_epoch=body.get("producer_epoch", m.NO_PRODUCER_EPOCH),
        )
        return {
            "throttle_time": 0,
            "error_code": request.error_it_knows(response.error_code),
            "producer_id": response.producer_id,
            "producer_epoch": response.producer_epoch,
        }

    async def _add_partitions_to_txn(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        topics = body["v3_and_below_topics"]
        partitions = tuple(m.TopicPartition(t["name"], p) for t in topics for p in t["partitions"])
        response = await self._ask(
            connection,
            m.AddPartitionsToTxnRequest,
            transactional_id=body["v3_and_below_transactional_id"],
            producer_id=body["v3_and_below_producer_id"],
            producer_epoch=body["v3_and_below_producer_epoch"],
            partitions=partitions,
        )
        errors = {
            (r.topic, r.partition): request.error_it_knows(r.error_code) for r in response.results
        }
        top_level = request.error_it_knows(response.error_code)
        return {
            "throttle_time": 0,
            "results_by_topic_v3_and_below": [
                {
                    "name": t["name"],
                    "results_by_partition": [
                        {
                            "partition_index": p,
                            "partition_error_code": top_level
                            if top_level != ErrorCode.NONE
                            else errors.get((t["name"], p), ErrorCode.NONE),
                        }
                        for p in t["partitions"]
                    ],
                }
                for t in topics
            ],
        }

    async def _add_offsets_to_txn(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.AddOffsetsToTxnRequest,
            transactional_id=body["transactional_id"],
            producer_id=body["producer_id"],
            producer_epoch=body["producer_epoch"],
            group_id=body["group_id"],
        )
        return {"throttle_time": 0, "error_code": request.error_it_knows(response.error_code)}

    async def _txn_offset_commit(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.TxnOffsetCommitRequest,
            transactional_id=body["transactional_id"],
            group_id=body["group_id"],
            producer_id=body["producer_id"],
            producer_epoch=body["producer_epoch"],
            offsets=_committed_offsets(body),
            generation_id=body.get("generation_id", -1),
            member_id=body.get("member_id", ""),
            group_instance_id=body.get("group_instance_id"),
        )
        return {"throttle_time": 0, "topics": _results_by_topic(response.results)}

    async def _end_txn(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.EndTxnRequest,
            transactional_id=body["transactional_id"],
            producer_id=body["producer_id"],
            producer_epoch=body["producer_epoch"],
            committed=body["committed"],
        )
        error = request.error_it_knows(response.error_code)
        connection.unsent_events.append(
            TxnEnd(
                client=connection.client,
                transactional_id=body["transactional_id"],
                producer_id=body["producer_id"],
                producer_epoch=body["producer_epoch"],
                commit=body["committed"],
                error=ErrorCode(error).name,  # what the client was told
            )
        )
        return {"throttle_time": 0, "error_code": error}

    # -- handlers: data ----------------------------------------------------------------------

    async def _produce(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        transactional_id = body.get("transactional_id")
        acks = body.get("acks", -1)
        calls = []
        for topic in body["topic_data"]:
            for data in topic["partition_data"]:
                calls.append(
                    self._produce_partition(
                        connection,
                        topic["name"],
                        data["index"],
                        data["records"] or b"",
                        transactional_id,
                        acks,
                    )
                )
        results = await asyncio.gather(*calls)
        if acks == 0:
            return None
        return {
            "throttle_time": 0,
            "responses": _by_topic(results, partitions_key="partition_responses"),
        }

    async def _produce_partition(
        self,
        connection: Connection,
        topic: str,
        partition: int,
        records: bytes,
        transactional_id: str | None,
        acks: int,
    ) -> tuple[str, dict[str, Any]]:
        def answer(
            error: ErrorCode,
            base_offset: int = -1,
            message: str | None = None,
            log_start_offset: int = -1,
        ) -> tuple[str, dict[str, Any]]:
            return topic, {
                "index": partition,
                "error_code": error,
                "base_offset": base_offset,
                "log_append_time": -1,
                "log_start_offset": log_start_offset,
                "record_errors": [],
                "error_message": message,
            }

        if not legal_topic_name(topic):
            return answer(ErrorCode.INVALID_TOPIC_EXCEPTION, message="illegal topic name")
        try:
            batches = read_batches(records)
            if len(batches) != 1:
                raise BatchError(
                    f"a produce request must carry exactly one record batch per partition, "
                    f"not {len(batches)}",
                    error=ErrorCode.INVALID_RECORD,
                )
        except BatchError as exc:
            log.warning(
                "%s: produce to %s-%d refused: %s", connection.address, topic, partition, exc
            )
            return answer(exc.error, message=str(exc))
        batch = batches[0]
        values = history_values(batch)
        response = await self._ask(
            connection,
            m.ProduceRequest,
            topic=topic,
            partition=partition,
            producer_id=batch.producer_id,
            producer_epoch=batch.producer_epoch,
            base_sequence=batch.base_sequence,
            record_count=batch.record_count,
            transactional=batch.is_transactional,
            transactional_id=transactional_id,
            payload=batch.raw,
            records=values,
            acks=acks,
        )
        connection.unsent_events.append(
            ProduceAck(
                client=connection.client,
                partition=f"{topic}-{partition}",
                producer_id=batch.producer_id,
                producer_epoch=batch.producer_epoch,
                base_sequence=batch.base_sequence,
                records=values,
                error=ErrorCode(response.error_code).name,
                base_offset=response.base_offset,
            )
        )
        return answer(
            response.error_code,
            response.base_offset,
            response.error_message,
            response.log_start_offset,
        )

    async def _fetch(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        isolation = body.get("isolation_level", m.READ_UNCOMMITTED)
        max_wait_s = max(body.get("max_wait", 0), 0) / 1000
        deadline = asyncio.get_running_loop().time() + max_wait_s
        wanted = [
            (t["topic"], p["partition"], p["fetch_offset"], p.get("partition_max_bytes", 1 << 20))
            for t in body["topics"]
            for p in t["partitions"]
        ]
        while True:
            changed = self._changed
            responses = [
                await self._ask(
                    connection,
                    m.FetchRequest,
                    topic=topic,
                    partition=partition,
                    fetch_offset=offset,
                    isolation_level=isolation,
                )
                for topic, partition, offset, _ in wanted
            ]
            has_data = any(r.batches or r.error_code != ErrorCode.NONE for r in responses)
            remaining = deadline - asyncio.get_running_loop().time()
            if has_data or remaining <= 0 or not wanted:
                break
            # Long poll: Kafka holds an empty fetch until data arrives or max_wait passes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=remaining)
        served = [
            (
                topic,
                {
                    "partition_index": partition,
                    "error_code": response.error_code,
                    "high_watermark": response.high_watermark,
                    "last_stable_offset": response.last_stable_offset,
                    "log_start_offset": response.log_start_offset,
                    "aborted_transactions": (
                        [
                            {"producer_id": a.producer_id, "first_offset": a.first_offset}
                            for a in response.aborted_transactions
                        ]
                        if isolation == m.READ_COMMITTED
                        else None
                    ),
                    "preferred_read_replica": -1,
                    "records": _served_bytes(response.batches, max_bytes),
                },
            )
            for (topic, partition, _, max_bytes), response in zip(wanted, responses, strict=True)
        ]
        return {
            "throttle_time": 0,
            "error_code": ErrorCode.NONE,
            "session_id": 0,  # no fetch sessions: every fetch is a full fetch
            "responses": _by_topic(served, name_key="topic"),
        }

    async def _list_offsets(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        isolation = body.get("isolation_level", m.READ_UNCOMMITTED)
        topics = []
        for topic in body["topics"]:
            partitions = []
            for p in topic["partitions"]:
                response = await self._ask(
                    connection,
                    m.ListOffsetsRequest,
                    topic=topic["name"],
                    partition=p["partition_index"],
                    timestamp=p["timestamp"],
                    isolation_level=isolation,
                )
                partitions.append(
                    {
                        "partition_index": p["partition_index"],
                        "error_code": response.error_code,
                        "timestamp": response.timestamp,
                        "offset": response.offset,
                        "leader_epoch": 0,
                    }
                )
            topics.append({"name": topic["name"], "partitions": partitions})
        return {"throttle_time": 0, "topics": topics}

    # -- handlers: group offsets -------------------------------------------------------------

    async def _offset_commit(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.OffsetCommitRequest,
            group_id=body["group_id"],
            offsets=_committed_offsets(body),
            generation_id=body.get("generation_id_or_member_epoch", -1),
            member_id=body.get("member_id", ""),
        )
        return {"throttle_time": 0, "topics": _results_by_topic(response.results)}

    async def _offset_fetch(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        topics = body.get("topics")
        partitions = (
            None
            if topics is None
            else tuple(
                m.TopicPartition(t["name"], p) for t in topics for p in t["partition_indexes"]
            )
        )
        response = await self._ask(
            connection,
            m.OffsetFetchRequest,
            group_id=body["group_id"],
            partitions=partitions,
            require_stable=body.get("require_stable", False),
        )
        fetched = [
            (
                offset.topic,
                {
                    "partition_index": offset.partition,
                    "committed_offset": offset.committed_offset,
                    "committed_leader_epoch": -1,
                    "metadata": offset.metadata,
                    "error_code": offset.error_code,
                },
            )
            for offset in response.offsets
        ]
        return {
            "throttle_time": 0,
            "error_code": response.error_code,
            "topics": _by_topic(fetched),
        }

    # -- handlers: group membership ----------------------------------------------------------

    async def _join_group(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        session_timeout = body.get("session_timeout", 45_000)
        join = m.JoinGroupRequest(
            correlation_id=self._next_id(),
            group_id=body["group_id"],
            member_id=body.get("member_id", ""),
            session_timeout_ms=session_timeout,
            rebalance_timeout_ms=body.get("rebalance_timeout", session_timeout),
            protocol_type=body.get("protocol_type", "consumer"),
            protocols=tuple(
                m.JoinGroupProtocol(name=p["name"], metadata=_opaque_in(p["metadata"]))
                for p in body["protocols"]
            ),
            group_instance_id=body.get("group_instance_id"),
        )
        response = await self.call(connection, join)
        if response.error_code == ErrorCode.MEMBER_ID_REQUIRED and request.api_version < 4:
            # JoinGroup v0-v3 clients do not know MEMBER_ID_REQUIRED (KIP-394 is v4+): Kafka
            # admits them with the id it generates at once. The core always asks for the
            # two-step join, so the adapter takes the second step on the client's behalf.
            response = await self.call(
                connection,
                dataclasses.replace(
                    join, correlation_id=self._next_id(), member_id=response.member_id
                ),
            )
        return {
            "throttle_time": 0,
            "error_code": response.error_code,
            "generation_id": response.generation_id,
            "protocol_type": response.protocol_type,
            "protocol_name": response.protocol_name,
            "leader": response.leader,
            "skip_assignment": False,
            "member_id": response.member_id,
            "members": [
                {
                    "member_id": member.member_id,
                    "group_instance_id": member.group_instance_id,
                    "metadata": _opaque_out(member.metadata),
                }
                for member in response.members
            ],
        }

    async def _sync_group(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.SyncGroupRequest,
            group_id=body["group_id"],
            generation_id=body["generation_id"],
            member_id=body["member_id"],
            assignments=tuple(
                m.SyncGroupAssignment(
                    member_id=a["member_id"], assignment=_opaque_in(a["assignment"])
                )
                for a in body["assignments"]
            ),
            protocol_type=body.get("protocol_type"),
            protocol_name=body.get("protocol_name"),
        )
        return {
            "throttle_time": 0,
            "error_code": response.error_code,
            "protocol_type": response.protocol_type,
            "protocol_name": response.protocol_name,
            "assignment": _opaque_out(response.assignment),
        }

    async def _heartbeat(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        response = await self._ask(
            connection,
            m.HeartbeatRequest,
            group_id=body["group_id"],
            generation_id=body["generation_id"],
            member_id=body["member_id"],
        )
        return {"throttle_time": 0, "error_code": response.error_code}

    async def _leave_group(self, connection: Connection, request: codec.Request) -> Any:
        body = request.body
        members = body.get("members")
        member_ids = [x["member_id"] for x in members] if members else [body.get("member_id", "")]
        answers = [
            await self._ask(
                connection, m.LeaveGroupRequest, group_id=body["group_id"], member_id=member
            )
            for member in member_ids
        ]
        return {
            "throttle_time": 0,
            "error_code": answers[0].error_code if answers else ErrorCode.NONE,
            "members": [
                {"member_id": member, "group_instance_id": None, "error_code": answer.error_code}
                for member, answer in zip(member_ids, answers, strict=True)
            ],
        }

    # -- running -----------------------------------------------------------------------------

    async def tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL_S)
            try:
                self.tick()
            except Exception:  # a failing tick must not silently stop time
                log.exception("node.tick() failed")
                raise

    def fail_over_coordinator(self) -> str:
        """Coordinator failover, done by the core (a new coordinator epoch, state reloaded
        from the transaction log, markers of Prepare* transactions re-sent)."""
        self.deliver(self.node.fail_over_coordinator())
        return "ok coordinator failed over"

    def expire_producers(self) -> int:
        """Ask the core to expire every producer's state on every partition now (it keeps
        the ones with an open transaction, as expiry does)."""
        expired = 0
        for tp, partition in list(self.node.partitions.items()):
            for producer_id in list(partition.producers.entries):
                expired += bool(self.node.expire_producer(tp, producer_id))
        return expired


def _opaque_in(data: bytes | None) -> str | None:
    """Group metadata and assignments (client-defined bytes) as the core receives them: the
    core keeps them opaque but writes them into __consumer_offsets as JSON, so they cross
    the boundary as base64 text and come back as the same bytes (:func:`_opaque_out`)."""
    return None if data is None else base64.b64encode(data).decode("ascii")


def _opaque_out(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(value)


def _committed_offsets(body: dict[str, Any]) -> tuple[m.CommittedOffset, ...]:
    """The offsets an OffsetCommit or a TxnOffsetCommit asks to commit: both requests carry
    them in the same topics -> partitions layout (OffsetCommitRequest.json and
    TxnOffsetCommitRequest.json: partition_index, committed_offset, committed_metadata)."""
    return tuple(
        m.CommittedOffset(
            topic=t["name"],
            partition=p["partition_index"],
            committed_offset=p["committed_offset"],
            committed_metadata=p.get("committed_metadata") or "",
        )
        for t in body["topics"]
        for p in t["partitions"]
    )


def _results_by_topic(results: tuple[m.PartitionResult, ...]) -> list[dict[str, Any]]:
    """The core's per-partition outcomes as a response's topics (OffsetCommit, TxnOffsetCommit)."""
    return _by_topic(
        (result.topic, {"partition_index": result.partition, "error_code": result.error_code})
        for result in results
    )


def _by_topic(
    entries: Iterable[tuple[str, dict[str, Any]]],
    *,
    name_key: str = "name",
    partitions_key: str = "partitions",
) -> list[dict[str, Any]]:
    """Per-partition response entries nested under their topic, topics in the order first
    met: how Kafka's multi-partition responses carry them (the key names are each schema's)."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, entry in entries:
        by_topic.setdefault(topic, []).append(entry)
    return [{name_key: topic, partitions_key: parts} for topic, parts in by_topic.items()]


def _topic_id(name: str) -> uuid.UUID:
    """A stable topic id per name (Metadata v10+ carries one; clients here fetch by name)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"kafka-eos:{name}")


def _served_bytes(batches: tuple[Any, ...], max_bytes: int) -> bytes:
    """The fetched batches as wire bytes: stored bytes with the base offset rewritten, markers
    and core-written batches encoded; at least one batch, then up to ``max_bytes``."""
    out = bytearray()
    for batch in batches:
        if batch.is_control:
            raw = encode_control_batch(
                producer_id=batch.producer_id,
                producer_epoch=batch.producer_epoch,
                commit=batch.is_commit,
                coordinator_epoch=batch.coordinator_epoch,
                base_offset=batch.base_offset,
            )
        elif isinstance(batch.payload, bytes | bytearray):
            raw = rewrite_base_offset(bytes(batch.payload), batch.base_offset)
        else:  # written by an in-process client of the core: no wire bytes were ever stored
            raw = encode_batch(
                [(None, value.encode("utf-8")) for value in batch.records],
                base_offset=batch.base_offset,
                producer_id=batch.producer_id,
                producer_epoch=batch.producer_epoch,
                base_sequence=batch.base_sequence,
                attributes=0x10 if batch.is_transactional else 0,
            )
        if out and len(out) + len(raw) > max_bytes:
            break
        out += raw
    return bytes(out)
