"""Channel.tla (tests/checker/tla/): stop-and-wait over a channel that loses messages.

The sender (re)sends message ``acked + 1`` whenever the one-slot channel is empty; the
receiver takes it and answers with an ack; the sender takes the ack. Losing a message or an
ack is a fault and never fair. ``Delivered`` (``<>(acked = N)``) is violated without fairness
(the sender may never send: stuttering), violated under weak fairness on delivery (a message
lost every time is never continuously deliverable) and holds under strong fairness. Once all
N messages are acknowledged nothing is enabled: the run ends by stuttering for ever, which is
not a deadlock error here, as with TLC's ``CHECK_DEADLOCK FALSE``.

    kafka-eos check --model examples/lossy_channel.py:LossyChannel --param fairness=weak
    kafka-eos check --model examples/lossy_channel.py:LossyChannel --param fairness=strong
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from kafka_eos.checker.temporal import (
    Fairness,
    TemporalProperty,
    eventually,
    strongly_fair,
    weakly_fair,
)

FAIRNESS = ("none", "weak", "strong")


class Wire(NamedTuple):
    acked: int
    chan: int  # 0: empty, else the number of the message in flight
    ack: int  # 0: no ack in flight
    received: int


class LossyChannel:
    """``Channel.tla`` with ``N = messages``."""

    def __init__(self, messages: int = 3, fairness: str = "weak") -> None:
        if fairness not in FAIRNESS:
            raise ValueError(f"fairness must be one of {', '.join(FAIRNESS)}, got {fairness!r}")
        self.messages = messages
        self.fairness_kind = fairness

    def init_states(self) -> list[Wire]:
        return [Wire(0, 0, 0, 0)]

    def actions(self, state: Wire) -> Iterator[tuple[str, Wire]]:
        acked, chan, ack, _ = state
        if acked < self.messages and chan == 0:
            yield "Send", state._replace(chan=acked + 1)
        if chan != 0:
            yield "Receive", state._replace(received=chan, ack=chan, chan=0)
            yield "LoseMsg", state._replace(chan=0)
        if ack != 0:
            yield "GetAck", state._replace(acked=ack, ack=0)
            yield "LoseAck", state._replace(ack=0)

    def invariants(self) -> Mapping[str, Callable[[Wire], bool]]:
        return {}

    # Delivered == <>(acked = N)
    def temporal_properties(self) -> dict[str, TemporalProperty]:
        messages = self.messages
        return {"Delivered": eventually(lambda s: s.acked == messages)}

    # SpecWF == Spec /\ WF_vars(Send) /\ WF_vars(Receive) /\ WF_vars(GetAck)
    # SpecSF == Spec /\ WF_vars(Send) /\ SF_vars(Receive) /\ SF_vars(GetAck)
    def fairness(self) -> list[Fairness]:
        if self.fairness_kind == "none":
            return []
        deliver = strongly_fair if self.fairness_kind == "strong" else weakly_fair
        return [weakly_fair("Send"), deliver("Receive"), deliver("GetAck")]

    def action_names(self) -> list[str]:
        return ["Send", "Receive", "GetAck", "LoseMsg", "LoseAck"]
