"""The model's declaration for partial-order reduction (``KafkaEosModel.partial_order()``).

Each action declares, next to its registration, the parts of the state its steps may touch
(:class:`.registry.Touches`, in names such as ``own`` or ``inbox:partitions``). Here those
names become locations for each *step class*: an action together with whose step it is (a
client process, a partition leader or the consumer's position on a partition, the
coordinator, or for a lost message the inbox it was in). Locations::

    ("client", process)  ("partition", p)  ("coordinator",)  ("outcomes",)  ("consumer", p)
    ("budget", name)     ("inbox", "client", process)  ("inbox", "partition", p)
    ("inbox", "coordinator")  ("started", process)

``("started", process)`` is whether a client has left UNINITIALIZED: all that a later
incarnation of its transactional.id looks at (it waits for the previous one to start).

The network is one multiset, but each message goes to one destination (its inbox): a step
that delivers (or loses) a message takes it from that inbox, and the messages it sends are
added to theirs. A client's Produce requests are declared as *written* to the partitions'
inboxes, not added: a partition delivers only the oldest request of a connection, so a new
one is not assumed to commute with a delivery. An action without ``touches`` touches
everything, and is never reduced away.

Each property declares what it reads (:data:`PROPERTY_READS`); one not listed reads
everything, so that every step is visible and nothing is reduced while it is checked.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any

from kafka_eos.checker.reduction import EVERYTHING, Footprint, PartialOrder

from . import layout
from .layout import BUDGET_NAMES, S_BUDGET, Tup
from .registry import Action, Touches

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

Location = tuple[Any, ...]
ClassKey = tuple[str, Any]

COORDINATOR: Location = ("coordinator",)
OUTCOMES: Location = ("outcomes",)
COORDINATOR_INBOX: Location = ("inbox", "coordinator")

#: What a client view is built from (model/client_view.py).
_CLIENT_VIEW = ("clients", "consumer", "outcomes", "partitions")
#: What each property reads, as location kinds: ``clients``, ``partitions``, ``consumer``
#: (every position), ``coordinator``, ``outcomes``.
PROPERTY_READS: dict[str, tuple[str, ...]] = {
    "no_fenced_writes": ("partitions",),
    "no_duplicates": ("partitions",),
    "no_lost_acks": ("clients", "partitions"),
    "per_producer_order": ("partitions",),
    "open_txns_known": ("coordinator", "partitions"),
    "atomic_transactions": ("coordinator", "outcomes", "partitions"),
    "read_committed_no_aborted": ("consumer", "outcomes", "partitions"),
    "read_committed_in_order": ("consumer", "outcomes", "partitions"),
    "exactly_once_ctp": ("clients", "coordinator", "outcomes", "partitions"),
    "consumer_within_high_watermark": ("consumer", "partitions"),
    "replica_logs_match": ("partitions",),
    # action properties: each holds on a step that leaves what it reads unchanged
    "offsets_immutable": ("partitions",),
    "lso_bounds": ("partitions",),
    "coordinator_transitions_legal": ("coordinator",),
    "client_transitions_legal": ("clients",),
    # the client-view properties (model/client_view.py): Elle's anomalies, and the decisions
    "duplicate": _CLIENT_VIEW,
    "lost-write": _CLIENT_VIEW,
    "G1a": _CLIENT_VIEW,
    "torn-transaction": _CLIENT_VIEW,
    "nonmonotonic-send": _CLIENT_VIEW,
    "poll-skip": _CLIENT_VIEW,
    "nonmonotonic-poll": _CLIENT_VIEW,
    "decisions_asked": ("clients", "coordinator", "outcomes"),
}


def inbox_of(message: Tup) -> Location:
    """The inbox a network message is delivered from: its destination."""
    kind = message[layout.M_KIND]
    if kind == layout.M_PRODUCE_RESPONSE:
        return ("inbox", "client", message[layout.PRR_PROCESS])
    if kind == layout.M_COORDINATOR_RESPONSE:
        return ("inbox", "client", message[layout.CR_PROCESS])
    if kind == layout.M_PRODUCE:
        return ("inbox", "partition", message[layout.PR_PARTITION])
    if kind == layout.M_MARKER:
        return ("inbox", "partition", message[layout.MK_PARTITION])
    if kind == layout.M_VERIFY_RESPONSE:
        return ("inbox", "partition", message[layout.VR_PARTITION])
    if kind in (layout.M_COORDINATOR_REQUEST, layout.M_MARKER_RESPONSE, layout.M_VERIFY):
        return COORDINATOR_INBOX
    raise ValueError(f"no inbox for message kind {kind}")


def partial_order(m: KafkaEosModel) -> PartialOrder:
    """Step classes, their footprints and the properties' reads for the model ``m``."""
    names = _Names(m)
    classes: dict[Hashable, Footprint] = {}
    budget_of: dict[Hashable, int] = {}
    for action in m.active:
        for agent in names.agents(action):
            key = (action.name, agent)
            classes[key] = names.footprint(action, agent)
            if action.budget is not None:
                budget_of[key] = BUDGET_NAMES.index(action.budget)
    statics = {key: frozenset(other for other, theirs in classes.items()
                              if theirs.may_enable(mine))
               for key, mine in classes.items()}

    def enablers(state: Tup, key: Hashable) -> Iterable[Hashable]:
        # A fault whose budget is spent never happens again (budgets only go down).
        at = budget_of.get(key)
        if at is not None and not state[S_BUDGET][at]:
            return ()
        return statics[key]

    return PartialOrder(
        classes=classes,
        class_of=names.class_of,
        property_reads={name: names.locations(kinds) for name, kinds in PROPERTY_READS.items()},
        enablers=enablers,
        context=lambda state: state[S_BUDGET],
    )


class _Names:
    """Resolves the names of :class:`.registry.Touches` for one model."""

    def __init__(self, m: KafkaEosModel) -> None:
        self.m = m
        self.process_index = {name: i for i, name in enumerate(m.process_names)}
        self.partition_index = {name: i for i, name in enumerate(m.partition_names)}
        self.inboxes: tuple[Location, ...] = (
            *(("inbox", "client", c) for c in range(m.process_count)),
            *(("inbox", "partition", p) for p in range(m.partition_count)),
            COORDINATOR_INBOX,
        )
        # an action without a declaration is one class, touching everything
        self.role_of = {action.name: action.role if action.touches is not None else "undeclared"
                        for action in m.active}

    def agents(self, action: Action) -> tuple[Any, ...]:
        """Whose steps an action's steps are: its step classes."""
        if action.touches is None:
            return (None,)
        if action.role == "client":
            return tuple(range(self.m.process_count))
        if action.role in ("leader", "consumer"):
            return tuple(range(self.m.partition_count))
        if action.role == "network":
            return (*self.inboxes, None)  # None: a message whose inbox is not known
        return (None,)

    def class_of(self, label: Any) -> ClassKey:
        name: str = label[0]
        role = self.role_of.get(name)
        if role == "client":
            return name, self.process_index[label.arg("process")]
        if role in ("leader", "consumer"):
            return name, self.partition_index[label.arg("partition")]
        if role == "network":
            return name, self.m.message_inboxes.get(label[1][0])
        return name, None

    def footprint(self, action: Action, agent: Any) -> Footprint:
        touches = action.touches
        if touches is None:
            return EVERYTHING
        own_inbox: tuple[Location, ...]
        if action.role == "network":
            own_inbox = self.inboxes if agent is None else (agent,)
        else:
            own_inbox = (self._inbox(action.role, agent),)
        resolve = self._resolver(action.role, agent, own_inbox)
        return Footprint(
            reads=resolve(touches.reads), writes=resolve(touches.writes),
            adds=resolve(touches.adds), takes=resolve(touches.takes),
        )

    def _inbox(self, role: str, agent: Any) -> Location:
        if role == "client":
            return ("inbox", "client", agent)
        if role == "leader":
            return ("inbox", "partition", agent)
        return COORDINATOR_INBOX

    def _resolver(self, role: str, agent: Any, own_inbox: tuple[Location, ...]) -> Any:
        m = self.m
        own = {
            "client": ("client", agent), "leader": ("partition", agent),
            "consumer": ("consumer", agent), "coordinator": COORDINATOR,
        }.get(role)
        previous = m.previous_incarnation[agent] if role == "client" else -1

        def one(name: str) -> tuple[Location, ...]:
            if name == "own":
                return () if own is None else (own,)
            if name == "previous":  # all a later incarnation asks: has the previous started?
                return (("started", previous),) if previous >= 0 else ()
            if name == "started":
                return (("started", agent),)
            if name == "partition":
                return (("partition", agent),)
            if name == "offsets":
                return (("partition", m.offsets_partition),) if m.offsets_partition >= 0 else ()
            if name == "inbox":
                return own_inbox
            if name.startswith("budget:"):
                return (("budget", name.split(":", 1)[1]),)
            if name.startswith("inbox:"):
                return self._inboxes(name.split(":", 1)[1])
            return self.locations((name,))

        def resolve(names: tuple[str, ...]) -> frozenset[Location]:
            return frozenset(loc for name in names for loc in one(name))

        return resolve

    def _inboxes(self, which: str) -> tuple[Location, ...]:
        if which == "all":
            return self.inboxes
        if which == "coordinator":
            return (COORDINATOR_INBOX,)
        kind = {"clients": "client", "partitions": "partition"}[which]
        return tuple(inbox for inbox in self.inboxes if inbox[1] == kind)

    def locations(self, kinds: Iterable[str]) -> tuple[Location, ...]:
        """The locations of the state parts ``kinds`` (as in :data:`PROPERTY_READS`)."""
        m = self.m
        found: list[Location] = []
        for kind in kinds:
            if kind == "clients":
                found += [("client", c) for c in range(m.process_count)]
            elif kind == "partitions":
                found += [("partition", p) for p in range(m.partition_count)]
            elif kind == "consumer":
                found += [("consumer", p) for p in range(m.partition_count)]
            elif kind == "coordinator":
                found.append(COORDINATOR)
            elif kind == "outcomes":
                found.append(OUTCOMES)
            else:
                raise ValueError(f"unknown state part {kind!r} in a footprint")
        return tuple(found)


__all__ = ["PROPERTY_READS", "Touches", "inbox_of", "partial_order"]
