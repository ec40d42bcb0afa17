"""Answers no client will read are dropped (model/unreadable.py), and that hides nothing.

The claim is checked on the model as it was before the drop: over every reachable state of
the named checks with a connection-changing fault, an answer judged unreadable is never read
afterwards (its delivery changes nothing but the network, a loss nothing but the network and
the loss budget) and stays unreadable for as long as it is in flight.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kafka_eos.model import kafka
from kafka_eos.model import layout as L
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.unreadable import readable

CHECKS = ["ctp-request-timeouts", "tv1-request-timeouts", "idempotent", "small-batch-cache",
          "tv1", "retriable-errors"]


def _unreadable(model: Any, state: Any) -> list[Any]:
    newest = model.newest_connection(state)
    return [m for m in set(state[L.S_NETWORK]) if not readable(state, m, newest)]


def _names_no_request(model: Any, message: Any) -> bool:
    """A marker answer the coordinator stopped waiting for (the other copy's, after
    TimeoutTxnMarker) carries the marker's epoch and result, not its request: under
    transaction version 1 a later transaction of the same epoch and result waits for one like
    it. Kafka's completion handler belongs to the request, so the answer is dropped by
    Kafka's rule there, not because the model could not read it."""
    return bool(message[L.M_KIND] == L.M_MARKER_RESPONSE and not model.tv2)


@pytest.mark.parametrize("name", CHECKS)
def test_an_unreadable_answer_is_never_read(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka, "without_unreadable", lambda m, state: state)  # keep them all
    model = load_check_config(name).model
    seen = set(model.init_states())
    frontier, found = list(seen), 0
    while frontier:
        following = []
        for state in frontier:
            dead = _unreadable(model, state)
            found += bool(dead)
            for label, target in model.actions(state):
                left = Counter(target[L.S_NETWORK])
                newest = model.newest_connection(target)
                for message in dead:
                    if left[message] < state[L.S_NETWORK].count(message):
                        # taken: delivered without effect, or lost
                        assert target[: L.S_NETWORK] == state[: L.S_NETWORK], (label, message)
                        assert target[L.S_CONSUMER : L.S_BUDGET] == state[
                            L.S_CONSUMER : L.S_BUDGET
                        ], (label, message)
                    else:
                        again = readable(target, message, newest)
                        assert not again or _names_no_request(model, message), (label, message)
                if target not in seen:
                    seen.add(target)
                    following.append(target)
        frontier = following
    assert found, "no unreadable answer arose: the check tests nothing here"


def test_a_timed_out_produce_is_still_appended_without_an_answer() -> None:
    """The first copy of a timed-out Produce is still delivered and appended; only its answer
    is gone (Kafka's broker drops an answer on a closed connection)."""
    model = load_check_config("ctp-request-timeouts").model
    state = model.init_states()[0]
    path = []
    # walk to a state where a Produce's first copy is handled after its client timed it out
    frontier = [(state, ())]
    seen = {state}
    while frontier:
        state, path = frontier.pop(0)
        for label, target in model.actions(state):
            # (a transactional Produce's first copy is appended once its KIP-890 verification
            # comes back: AppendVerified, the held Produce's connection in the answer)
            appends = {"HandleProduce": (L.M_PRODUCE, L.PR_CONNECTION),
                       "AppendVerified": (L.M_VERIFY_RESPONSE, L.VR_CONNECTION)}
            if (label.name in appends and path and "TimeoutProduce" in
                    {p.name for p in path} and label.arg("result") == "NONE"):
                kind, at = appends[label.name]
                old = [m for m in state[L.S_NETWORK] if m[L.M_KIND] == kind]
                delivered = [m for m in old if m not in target[L.S_NETWORK]]
                if delivered and delivered[0][at] == 0:
                    grew = [len(p[L.P_LOG]) for p in target[L.S_PARTITIONS]]
                    assert grew != [len(p[L.P_LOG]) for p in state[L.S_PARTITIONS]]
                    answers = [m for m in target[L.S_NETWORK]
                               if m[L.M_KIND] == L.M_PRODUCE_RESPONSE
                               and m[L.PRR_CONNECTION] == 0]
                    assert answers == []
                    return
            if target not in seen and len(path) < 14:
                seen.add(target)
                frontier.append((target, (*path, label)))
    pytest.fail("no timed-out Produce's first copy was handled")
