"""Server.tla (tests/checker/tla/): fairness on an action as a whole or per argument.

Clients ask, a server serves one pending request at a time, a served client may ask again.
``Answered`` (each client's request is eventually served, one leads-to per client) is
violated under weak fairness on ``Serve`` as a whole (``WF_vars(\\E c : Serve(c))``: serving
the same client again and again is fair) and holds under weak fairness on serving each client
(``\\A c : WF_vars(Serve(c))``, ``per_label=True``). Each client's count of answers, modulo
3, keeps the state space from being trivial.

    kafka-eos check --model examples/fair_server.py:Server --param fairness=whole
    kafka-eos check --model examples/fair_server.py:Server --param fairness=each
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from kafka_eos.checker.temporal import Fairness, TemporalProperty, leads_to, weakly_fair

FAIRNESS = ("whole", "each")


class Queue(NamedTuple):
    pending: frozenset[str]
    served: tuple[int, ...]


class Server:
    """``Server.tla`` with ``Clients = {c1, ..., cN}``."""

    def __init__(self, clients: int = 3, fairness: str = "each") -> None:
        if fairness not in FAIRNESS:
            raise ValueError(f"fairness must be one of {', '.join(FAIRNESS)}, got {fairness!r}")
        self.clients = tuple(f"c{i}" for i in range(1, clients + 1))
        self.fairness_kind = fairness

    def init_states(self) -> list[Queue]:
        return [Queue(frozenset(), (0,) * len(self.clients))]

    def actions(self, state: Queue) -> Iterator[tuple[str, Queue]]:
        pending, served = state
        for i, c in enumerate(self.clients):
            if c not in pending:  # Request(c)
                yield f"Request({c})", Queue(pending | {c}, served)
            else:  # Serve(c): served' = [served EXCEPT ![c] = (@ + 1) % 3]
                counts = (*served[:i], (served[i] + 1) % 3, *served[i + 1 :])
                yield f"Serve({c})", Queue(pending - {c}, counts)

    def invariants(self) -> Mapping[str, Callable[[Queue], bool]]:
        return {}

    # Answered == \A c \in Clients : c \in pending ~> c \notin pending
    def temporal_properties(self) -> dict[str, TemporalProperty]:
        return {
            f"Answered({c})": leads_to(lambda s, c=c: c in s.pending,
                                       lambda s, c=c: c not in s.pending)
            for c in self.clients
        }

    # SpecWF == Spec /\ WF_vars(\E c \in Clients : Serve(c))
    # SpecWFEach == Spec /\ \A c \in Clients : WF_vars(Serve(c))
    def fairness(self) -> list[Fairness]:
        return [weakly_fair("Serve", per_label=self.fairness_kind == "each")]

    def action_names(self) -> list[str]:
        return ["Request", "Serve"]
