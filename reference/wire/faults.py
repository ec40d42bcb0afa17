"""Fault injection for ``kafka-eos serve``: what to break, set from the command line or at run
time through the admin port.

The admin port speaks one command per line on loopback and answers ``ok ...`` or
``error ...``::

    drop-response API [COUNT]   the next COUNT responses to API (e.g. Produce) are not sent
                                 (the request IS processed: the client sees a lost response)
    delay API|* MS [COUNT]       hold the next COUNT requests (default: all) to API for MS ms
    request-timeout API MS [COUNT]
                                 the model's request_timeouts fault: hold the next COUNT
                                 requests (default 1) to API for MS ms before handling them.
                                 With MS above the client's request.timeout.ms the client
                                 gives up, closes the connection and re-sends on a new one;
                                 the re-sent copy is handled at once, the first copy after MS
                                 (a broker cannot time a client out: it makes the client's own
                                 timer fire), and that copy's answer is lost with its
                                 connection
    close-connections            close every client connection now
    close-after API [COUNT]      process the next COUNT requests to API, then close the
                                 connection instead of answering
    crash-after API              process the next request to API, then exit at once (like
                                 kill -9: no response, no shutdown code); restart the broker
                                 with the same --data-dir to see what survived
    kill-broker ID               with --brokers N: broker ID goes down as kill -9 takes a
                                 broker down: its listener closes (new connections are
                                 refused), its connections are cut (answers not yet sent are
                                 lost), the reference's controller elects a new leader from
                                 the ISR for each partition it led and, if it hosted the
                                 coordinators, they move (new coordinator epoch, state
                                 reloaded from the log); clients follow through Metadata and
                                 FindCoordinator.
                                 The last broker up cannot be killed
    restart-broker ID            (admin port only) broker ID listens again on its port, a
                                 follower of every partition (it truncates and catches up)
    fence-coordinator            coordinator failover: a new coordinator epoch; the core reloads
                                 transaction state from its log and re-sends pending markers
    expire-producers             the core forgets every producer's state now (as expiry would;
                                 not while a transaction is open)
    refuse-produce ERROR [COUNT] the leader answers the next COUNT partitions' Produce with
                                 ERROR, NOT_ENOUGH_REPLICAS or NOT_LEADER_OR_FOLLOWER (name
                                 or code), appending nothing: the client retries the batch
    advance-clock MS             move the broker clock forward by MS (timeouts, expiry fire)
    status                       the faults still armed
    clear                        disarm every fault
    connections                  open connections and the request memory they hold
                                 (see :mod:`limits`)

A malformed command (an unknown API, a COUNT below 1, a negative MS) is answered
``error ...`` and arms nothing.

Faults never change a protocol rule: they only lose, delay or cut the broker's I/O, or ask
the core to do what it does on failover or on the passage of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka_eos.errors import InputError
from kafka_eos.protocol.errors import LEADER_RETRIABLE_ERRORS, ErrorCode
from kafka_eos.reference.wire.codec import API_KEYS_BY_NAME, API_NAMES

ANY_API = -1


def parse_api(name: str) -> int:
    """An API key from its Kafka name (``Produce``, ``EndTxn``...) or number; ``*`` for any."""
    if name == "*":
        return ANY_API
    if name.lstrip("-").isdigit() and int(name) in API_NAMES:
        return int(name)
    by_lower = {key.lower(): value for key, value in API_KEYS_BY_NAME.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    known = ", ".join(sorted(API_KEYS_BY_NAME))
    raise InputError(f"unknown API {name!r}; use one of {known} or *")


def parse_count(text: str) -> int:
    """A fault's COUNT: how many requests it applies to, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise InputError(f"COUNT must be a whole number of requests, at least 1, not {text!r}")
    return int(text)


def parse_retriable_error(text: str) -> ErrorCode:
    """A retriable Produce error by its Kafka name or code."""
    for error in LEADER_RETRIABLE_ERRORS:
        if text.upper() == error.name or text == str(int(error)):
            return error
    known = " or ".join(sorted(error.name for error in LEADER_RETRIABLE_ERRORS))
    raise InputError(f"ERROR must be {known}, not {text!r}")


def parse_broker_id(text: str) -> int:
    """A broker id of ``serve --brokers N``: 0 to N-1 (the cluster checks the range)."""
    if not text.isdigit():
        raise InputError(f"ID must be a broker id (0, 1, ...), not {text!r}")
    return int(text)


def parse_milliseconds(text: str) -> int:
    """A fault's MS: a delay or a clock step, 0 or more milliseconds."""
    if not text.isdigit():
        raise InputError(f"MS must be a whole number of milliseconds, 0 or more, not {text!r}")
    return int(text)


@dataclass
class _Armed:
    api_key: int
    remaining: int | None  # None: forever
    delay_ms: int = 0

    def matches(self, api_key: int) -> bool:
        return self.api_key in (ANY_API, api_key) and (self.remaining is None or self.remaining > 0)

    def use(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1


@dataclass
class Faults:
    """The armed faults; the server asks before it handles a request and before it answers."""

    drops: list[_Armed] = field(default_factory=list)
    delays: list[_Armed] = field(default_factory=list)
    closes: list[_Armed] = field(default_factory=list)
    crashes: list[_Armed] = field(default_factory=list)

    def drop_response(self, api_key: int, count: int = 1) -> None:
        self.drops.append(_Armed(api_key, count))

    def delay_requests(self, api_key: int, delay_ms: int, count: int | None = None) -> None:
        self.delays.append(_Armed(api_key, count, delay_ms))

    def close_after(self, api_key: int, count: int = 1) -> None:
        self.closes.append(_Armed(api_key, count))

    def crash_after(self, api_key: int) -> None:
        self.crashes.append(_Armed(api_key, 1))

    def take_crash(self, api_key: int) -> bool:
        return self._take(self.crashes, api_key)

    def take_delay_ms(self, api_key: int) -> int:
        for armed in self.delays:
            if armed.matches(api_key):
                armed.use()
                return armed.delay_ms
        return 0

    def take_drop(self, api_key: int) -> bool:
        return self._take(self.drops, api_key)

    def take_close(self, api_key: int) -> bool:
        return self._take(self.closes, api_key)

    @staticmethod
    def _take(armed_list: list[_Armed], api_key: int) -> bool:
        for armed in armed_list:
            if armed.matches(api_key):
                armed.use()
                return True
        return False

    def describe(self) -> str:
        parts = []
        for kind, armed_list in (
            ("drop", self.drops),
            ("delay", self.delays),
            ("close-after", self.closes),
        ):
            for armed in armed_list:
                if armed.remaining is None or armed.remaining > 0:
                    api = "*" if armed.api_key == ANY_API else API_NAMES[armed.api_key]
                    left = "always" if armed.remaining is None else f"x{armed.remaining}"
                    extra = f" {armed.delay_ms}ms" if kind == "delay" else ""
                    parts.append(f"{kind} {api}{extra} {left}")
        return "; ".join(parts) or "none"


def parse_fault_option(text: str) -> tuple[str, list[str]]:
    """``drop-response=Produce:2`` style command-line faults -> (command, arguments)."""
    command, _, rest = text.partition("=")
    arguments = [part for part in rest.split(":") if part] if rest else []
    return command.strip(), arguments
