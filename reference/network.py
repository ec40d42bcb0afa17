"""A deterministic in-process network with a virtual clock and seeded faults.

Endpoints are registered by name: a broker (``receive(source, message) -> list[Outbound]``,
``tick()``, ``disconnected(peer) -> list[Outbound]``) or a client (``receive(source, message)
-> None``, ``poll_outbound()``, ``tick()``, ``disconnected(peer)``).

Every message is put in flight with a delay drawn from the seeded generator. Between two
endpoints messages stay in order, as on Kafka's TCP connections (a broker handles one
connection's requests in order, which idempotent producers rely on); messages on different
connections are reordered relative to each other. A *loss* breaks the connection: the message
and everything else in flight between the two endpoints is dropped and both ends are told
(``disconnected``), as a client's NetworkClient fails every in-flight request of a broken
connection at once. ``duplicate`` delivers a message twice (not something TCP does; off by
default, for exploring at-least-once transports). A driver
moves the network one message at a time (:meth:`SimNetwork.deliver_next`, or
:meth:`SimNetwork.deliver` for one specific message), and time with :meth:`advance`. Messages
to a name that is not registered (a crashed client) are dropped, as a closed connection would.

Same seed, same calls -> the same deliveries in the same order.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka_eos.reference.clock import VirtualClock
from kafka_eos.reference.node import Outbound


@dataclass(frozen=True, slots=True, kw_only=True)
class Faults:
    """Fault rates (probability per message) and the delay range (ms) of every message."""

    loss: float = 0.0
    duplicate: float = 0.0
    min_delay_ms: int = 1
    max_delay_ms: int = 1

    @classmethod
    def none(cls) -> Faults:
        return cls()


@dataclass(order=True, slots=True)
class Envelope:
    deliver_at_ms: int
    sequence: int
    source: str = field(compare=False)
    destination: str = field(compare=False)
    message: Any = field(compare=False)


class SimNetwork:
    def __init__(self, *, clock: VirtualClock, seed: int = 0, faults: Faults | None = None) -> None:
        self.clock = clock
        self.rng = random.Random(seed)
        self.faults = faults or Faults()
        self.endpoints: dict[str, Any] = {}
        self.in_flight: list[Envelope] = []  # a heap ordered by (deliver_at_ms, sequence)
        self.sent = 0
        self.delivered = 0
        self.lost = 0
        self.duplicated = 0
        self.dropped = 0  # addressed to an endpoint that is not registered
        self._sequence = 0
        self._last_arrival: dict[tuple[str, str], int] = {}
        self.on_deliver: Callable[[Envelope], None] | None = None

    # -- endpoints -------------------------------------------------------------------------------

    def register(self, name: str, endpoint: Any) -> None:
        self.endpoints[name] = endpoint

    def unregister(self, name: str) -> None:
        self.endpoints.pop(name, None)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, source: str, outbounds: list[Outbound] | None) -> None:
        broken: set[str] = set()
        for outbound in outbounds or ():
            self.sent += 1
            if outbound.destination in broken:
                self.lost += 1  # written to the connection that just broke
                continue
            if self.faults.loss and self.rng.random() < self.faults.loss:
                self.break_connection(source, outbound.destination)
                broken.add(outbound.destination)
                continue
            copies = 1
            if self.faults.duplicate and self.rng.random() < self.faults.duplicate:
                copies, self.duplicated = 2, self.duplicated + 1
            for _ in range(copies):
                delay = self.rng.randint(self.faults.min_delay_ms, self.faults.max_delay_ms)
                pair = (source, outbound.destination)
                arrival = max(self.clock.now_ms() + delay, self._last_arrival.get(pair, 0))
                self._last_arrival[pair] = arrival
                self._sequence += 1
                heapq.heappush(
                    self.in_flight,
                    Envelope(
                        arrival,
                        self._sequence,
                        source,
                        outbound.destination,
                        outbound.message,
                    ),
                )

    def hold(self, envelope: Envelope, delay_ms: int) -> None:
        """Fault: ``envelope`` (in flight) is delivered ``delay_ms`` later than planned; what
        is sent after it on its connection is not held back."""
        self.in_flight.remove(envelope)
        envelope.deliver_at_ms += delay_ms
        self.in_flight.append(envelope)
        heapq.heapify(self.in_flight)

    def break_connection(self, a: str, b: str) -> None:
        """Fault: the connection between ``a`` and ``b`` breaks; what is in flight on it is lost."""
        self.lost += 1
        pairs = {(a, b), (b, a)}
        kept = [e for e in self.in_flight if (e.source, e.destination) not in pairs]
        self.lost += len(self.in_flight) - len(kept)
        self.in_flight = kept
        heapq.heapify(self.in_flight)
        for name, peer in ((a, b), (b, a)):
            endpoint = self.endpoints.get(name)
            notify = getattr(endpoint, "disconnected", None)
            if notify is not None:
                self.send(name, notify(peer))  # a broker answers what it held on it

    def flush_one(self, name: str) -> None:
        endpoint = self.endpoints.get(name)
        poll = getattr(endpoint, "poll_outbound", None)
        if poll is not None:
            self.send(name, poll())

    def flush_outbound(self) -> None:
        """Collect what every client wants to send now."""
        for name, endpoint in list(self.endpoints.items()):
            poll = getattr(endpoint, "poll_outbound", None)
            if poll is not None:
                self.send(name, poll())

    # -- delivering ------------------------------------------------------------------------------

    def deliver_next(self) -> Envelope | None:
        """Deliver the earliest message in flight, moving the clock to its arrival."""
        if not self.in_flight:
            return None
        envelope = heapq.heappop(self.in_flight)
        self._deliver(envelope)
        return envelope

    def deliver(self, index: int) -> Envelope:
        """Deliver one specific in-flight message (``index`` into :meth:`pending`)."""
        envelope = self.pending()[index]
        self.in_flight.remove(envelope)
        heapq.heapify(self.in_flight)
        self._deliver(envelope)
        return envelope

    def pending(self) -> list[Envelope]:
        return sorted(self.in_flight)

    def _deliver(self, envelope: Envelope) -> None:
        if envelope.deliver_at_ms > self.clock.now_ms():
            self.clock.set(envelope.deliver_at_ms)
        endpoint = self.endpoints.get(envelope.destination)
        if endpoint is None:
            self.dropped += 1
            return
        self.delivered += 1
        if self.on_deliver is not None:
            self.on_deliver(envelope)
        self.send(envelope.destination, endpoint.receive(envelope.source, envelope.message))
        self.flush_one(envelope.destination)  # only the receiver's state changed

    def advance(self, ms: int) -> None:
        """Move time on and let every endpoint do its time-driven work."""
        self.clock.advance(ms)
        self.tick_all()

    def tick_all(self) -> None:
        for name, endpoint in list(self.endpoints.items()):
            tick = getattr(endpoint, "tick", None)
            if tick is not None:
                self.send(name, tick())
        self.flush_outbound()

    # -- convenience -----------------------------------------------------------------------------

    def run_until(
        self, done: Callable[[], bool], *, max_steps: int = 100_000, idle_advance_ms: int = 10
    ) -> bool:
        """Deliver messages (advancing time when nothing is in flight) until ``done()``; the
        blocking-looking wrappers of tests and examples use it. False when ``max_steps`` ran out."""
        self.flush_outbound()
        for _ in range(max_steps):
            if done():
                return True
            if self.in_flight:
                self.deliver_next()
            else:
                self.advance(idle_advance_ms)
        return done()
