"""The coordinator's error answer to a leader's verification reaches the leader in the step
that makes it (HandleVerifyPartition answers the held Produce with it, model/verification.py),
and that hides nothing: on the named checks, every state the model reaches with the answer in
flight to the leader (then relayed by AppendVerified, as before), seen without the network and
the VerificationGuards' numbers, is reached with the answer read at once, and the other way
round."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kafka_eos.model import layout as L
from kafka_eos.model.codes import ERROR_NAMES, NONE
from kafka_eos.model.concurrent_answers import with_concurrent_answers_read
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.network import deliverable
from kafka_eos.model.registry import Step
from kafka_eos.model.stable_fetches import stable_fetch
from kafka_eos.model.unreadable import without_unreadable
from kafka_eos.model.verification import coordinator_answer

CHECKS = ["zombie-fencing", "txn-timeout", "ctp-request-timeouts", "tv1-request-timeouts",
          "tv1-no-verification-guard", "retriable-errors", "fencing-losses"]


class _AnswerInFlight:
    """The model as it was: an error answer travels to the leader like NONE does, and the
    leader's AppendVerified hands it to the producer when it is delivered."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def init_states(self) -> Any:
        return self.model.init_states()

    def actions(self, state: Any) -> list[tuple[Step, Any]]:
        out = []
        for label, target in self.model.actions(state):
            taken = Counter(state[L.S_NETWORK]) - Counter(target[L.S_NETWORK])
            if label.name == "HandleVerifyPartition" and label.outcome not in ("NONE", "WRITE"):
                target = self._answer_in_flight(state, next(iter(taken)))
            elif label.name == "AppendVerified" and _refusals(taken):
                continue  # the model would append on an error answer: relayed below instead
            out.append((label, target))
        if self.model.fetches_first and stable_fetch(self.model, state) is not None:
            return out  # the Fetch of stable data goes first in both (model/stable_fetches.py)
        for message, rest in deliverable(state[L.S_NETWORK]):
            if _refusals([message]):
                out.append(self._relay(state, message, rest))
        return out

    def _answer_in_flight(self, state: Any, request: Any) -> Any:
        _, proc, part, pid, epoch, seq, rec, connection, guard, _, deposed = request
        metadata = state[L.S_COORDINATOR][L.K_METADATA][self.model.pid_tid[pid]]
        _, error = coordinator_answer(self.model, metadata, request)
        answer = (
            L.M_VERIFY_RESPONSE, proc, part, pid, epoch, seq, rec, connection, guard, error, deposed
        )
        network = L.add_messages(L.remove_message(state[L.S_NETWORK], request), answer)
        return L.replace(state, L.S_NETWORK, network)

    def _relay(self, state: Any, message: Any, rest: Any) -> tuple[Step, Any]:
        _, proc, part, _, epoch, seq, rec, connection, _, error, _ = message
        answer = (L.M_PRODUCE_RESPONSE, proc, part, epoch, seq, rec, error, -1, connection)
        target = L.replace(state, L.S_NETWORK, L.add_messages(rest, answer))
        names = (self.model.partition_names[part], self.model.process_names[proc])
        args = (*names, rec, epoch, seq, ERROR_NAMES[error], -1, connection)
        step = Step(("AppendVerified", args))
        kept = without_unreadable(self.model, target)
        return step, with_concurrent_answers_read(self.model, kept)


def _refusals(messages: Any) -> list[Any]:
    return [m for m in messages if m[L.M_KIND] == L.M_VERIFY_RESPONSE and m[L.VR_ERROR] != NONE]


def _seen(states: set[Any]) -> Iterator[Any]:
    """Each state without the network and the guards' numbers (a fresh guard takes the
    smallest number not held, so an answer in flight longer shifts later guards' numbers)."""
    for s in states:
        partitions = tuple(
            L.replace(p, L.P_VERIFICATION, tuple(e and e[L.VE_EPOCH] for e in p[L.P_VERIFICATION]))
            for p in s[L.S_PARTITIONS]
        )
        yield (s[0], partitions, *s[2 : L.S_NETWORK], *s[L.S_NETWORK + 1 :])


@pytest.mark.parametrize("name", CHECKS)
def test_reading_an_error_answer_at_once_reaches_the_same_states(
    name: str, reachable: Callable[[Any], set[Any]]
) -> None:
    model = load_check_config(name).model
    read_at_once = reachable(model)
    in_flight = reachable(_AnswerInFlight(model))
    assert set(_seen(read_at_once)) == set(_seen(in_flight))
    assert len(read_at_once) < len(in_flight)  # the check has such answers: not empty
