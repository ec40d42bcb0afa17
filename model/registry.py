"""The model's actions, declared once: what each one is called, whose step it is, what Kafka
code it stands for, its parameters, the branches (outcomes) it can take, and the functions
that say when it is enabled (the guard) and what it does (the effect).

:data:`ACTIONS` (assembled in :mod:`.actions`) drives everything that lists actions: the
successor function (:meth:`.kafka.KafkaEosModel.actions`), coverage (``action_names`` and
``action_outcomes``), SPEC.md's action tables (a test checks them against the registry) and
the conformance driver, which dispatches on a label's action name and reads its arguments by
parameter name.

A transition's label is a :class:`Step`: the action's name and its arguments, as readable
values (process, partition and transactional.id names, record indexes, epochs, error names).
Text is made only when a label is displayed (``str(step)``), never to build or match one.

How an action's instances are enumerated depends on its ``trigger``:

- ``"message"``: one instance per deliverable message of a kind in ``consumes``;
  ``guard(model, state, message) -> bool`` (None: always),
  ``effect(model, state, message, rest) -> (Step, next state)`` (``rest``: the network
  without the message);
- ``"local"``: a client's own step whose guard depends only on the client and the fault
  budgets (:class:`ClientView`): ``guard(model, view) -> iterable of args`` is cached per
  view, ``effect(model, state, proc, args) -> (Step, next state)``;
- ``"client"``: a client's step whose guard looks at the rest of the state:
  ``precondition(model, view) -> bool`` (optional, cached per view),
  ``guard(model, state, proc) -> iterable of args``,
  ``effect(model, state, proc, args) -> (Step, next state)``;
- ``"state"``: any other step: ``guard(model, state) -> iterable of args``,
  ``effect(model, state, args) -> (Step, next state)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

#: Whose step an action is (SPEC.md groups its action tables by role; liveness needs the role
#: to decide which steps are fair).
Role = Literal["client", "leader", "coordinator", "network", "consumer"]
Trigger = Literal["message", "local", "client", "state"]
#: What an action needs in the configuration: a transactional.id, a consume-transform-produce
#: application, a consumer, a fault that can leave a request unanswered (a loss or a
#: failover), replicated data partitions, a consumer group of two CTP members, or KIP-890
#: verification (partition_verification or transaction version 2's leader-side add). An action
#: whose needs are missing, or whose fault budget is 0, is switched off: it is not enumerated
#: and not listed for coverage, so that an action the checker reports as never taken is a real
#: surprise (usually a guard that never holds).
Need = Literal[
    "transactions",
    "ctp",
    "consumer",
    "unanswered",
    "replicas",
    "group",
    "verification",
    "client_adds",
]


class ClientView(NamedTuple):
    """What a client's local steps depend on, and nothing else (so their guards can be
    cached): the process, its client value, the remaining retry and batch-timeout budgets,
    whether its previous incarnation started (a later incarnation waits for it), and the
    remaining request-timeout budget. (Every budget a client action spends is here: a cached
    view must not outlive its budget.)"""

    proc: int
    client: tuple[Any, ...]
    retries: int
    batch_timeouts: int
    previous_started: bool
    request_timeouts: int


class Step(tuple[str, tuple[Any, ...]]):
    """A transition's label: ``Step((name, args))``, an action name and its arguments
    (readable values). Equal steps are the same transition everywhere: in the model, in a
    regression program (:func:`step` builds one), in replay. (A tuple built with tuple's own
    constructor: labels are made on every transition, so they must be cheap.)"""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self[0]

    @property
    def args(self) -> tuple[Any, ...]:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}({_SHOWN[self[0]](self[1])})"

    def __repr__(self) -> str:
        return f"step({', '.join(repr(x) for x in (self[0], *self[1]))})"

    def arg(self, param: str) -> Any:
        """The argument called ``param`` (as declared in the action's ``params``)."""
        return self[1][_PARAMS[self[0]].index(param)]

    @property
    def outcome(self) -> str | None:
        """The branch the step took (e.g. the error a leader answered with), or None for an
        action with one branch."""
        at = _OUTCOME_AT[self[0]]
        return None if at is None else str(self[1][at])


def step(name: str, *args: Any) -> Step:
    """The label of action ``name`` with ``args``, e.g. ``step("InitProducerId", "tx#0")``."""
    if name not in _PARAMS:
        raise ValueError(f"no action {name!r}")
    if len(args) != len(_PARAMS[name]):
        raise ValueError(f"{name} takes {_PARAMS[name]}, got {args!r}")
    return Step((name, args))


@dataclass(frozen=True, slots=True)
class Touches:
    """What every step of an action may look at and change, for partial-order reduction (see
    :mod:`.footprints`, which resolves these names for each process, partition or inbox the
    action belongs to). ``reads``/``writes``: parts of the state; ``adds``: inboxes a message
    is added to; ``takes``: the inbox the delivered (or lost) message is taken from.

    Names: ``own`` (the action's own client, partition leader, coordinator or consumer
    position), ``previous`` (whether a client's previous incarnation has started),
    ``started`` (whether the client itself has), ``partition`` (the consumer's
    partition), ``offsets`` (__consumer_offsets), ``coordinator``, ``outcomes``, ``clients``,
    ``partitions``, ``budget:NAME``; inboxes ``inbox`` (the action's own), ``inbox:clients``,
    ``inbox:partitions``, ``inbox:coordinator``, ``inbox:all``. An action without one
    touches everything: it is never reduced away.
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    adds: tuple[str, ...] = ()
    takes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in (self.reads, self.writes, self.adds, self.takes):
            if not isinstance(field, tuple):  # ("own") is a string, not a tuple of names
                raise ValueError(f"Touches takes tuples of names, got {field!r}")


@dataclass(frozen=True, slots=True)
class Action:
    """One action of the model (see the module docstring for the guard and effect
    signatures of each ``trigger``)."""

    name: str
    role: Role
    #: the Kafka class and method the action stands for
    kafka: str
    #: the names of the label's arguments, in order
    params: tuple[str, ...]
    trigger: Trigger
    effect: Callable[..., tuple[Step, Any]]
    guard: Callable[..., Any] | None = None
    #: a ``"client"`` action's condition on the client alone, ``(model, view) -> bool``
    #: (cached per view, so the guard runs only for the clients it may hold for)
    precondition: Callable[..., bool] | None = None
    #: message kinds a ``"message"`` action consumes
    consumes: tuple[int, ...] = ()
    #: the parameter naming the branch taken, and every branch there is
    outcome: str | None = None
    outcomes: tuple[str, ...] = ()
    #: the fault budget the action spends (a fault: never required to happen), or None
    budget: str | None = None
    #: what the configuration must have for the action to exist at all (see :data:`NEEDS`)
    needs: tuple[Need, ...] = ()
    #: how the arguments are displayed (default: joined with commas)
    show: Callable[[tuple[Any, ...]], str] | None = None
    #: what its steps may read and change (partial-order reduction); None: everything
    touches: Touches | None = None

    def __post_init__(self) -> None:
        if self.outcome is not None and self.outcome not in self.params:
            raise ValueError(f"{self.name}: outcome {self.outcome!r} is not a parameter")
        if (self.trigger == "message") != bool(self.consumes):
            raise ValueError(f"{self.name}: a message action names the kinds it consumes")
        if self.trigger != "message" and self.guard is None:
            raise ValueError(f"{self.name}: a {self.trigger} action needs a guard")


_SHOWN: dict[str, Callable[[tuple[Any, ...]], str]] = {}
_PARAMS: dict[str, tuple[str, ...]] = {}
_OUTCOME_AT: dict[str, int | None] = {}


def joined(args: tuple[Any, ...]) -> str:
    return ",".join(str(a) for a in args)


def declare(actions: Iterable[Action]) -> tuple[Action, ...]:
    """Register ``actions`` so their steps can display themselves; returns them in order."""
    declared = tuple(actions)
    names = [a.name for a in declared]
    if len(set(names)) != len(names):
        raise ValueError(f"action names repeat: {names}")
    for action in declared:
        _SHOWN[action.name] = action.show or joined
        _PARAMS[action.name] = action.params
        _OUTCOME_AT[action.name] = (
            None if action.outcome is None else action.params.index(action.outcome)
        )
    return declared
