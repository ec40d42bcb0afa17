"""The default check has one request timeout instead of one message loss (issue 11), and that
hides no state the loss showed: a lost request, answer or marker is, for everything but the
network, a first copy that is never delivered, and the timeout's re-send on a new connection
stands for the re-send after the loss (ResendCoordinatorRequest, ResendTxnMarker, the Produce
retry).

Checked here by exploring a named check with ``losses: 1`` and the same check with
``request_timeouts: 1`` instead: every state of the first, seen without the network, the fault
budgets and the connection numbers (which only say which copy an answer belongs to), is a
state of the second. The other way round does not hold: a timeout's first copy may still be
handled after the re-sent one (spec/SPEC.md §5), which no loss can do.
"""

from __future__ import annotations

from collections import deque
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from kafka_eos.model import layout as L
from kafka_eos.model.configs import load_check_config

Tup = tuple[Any, ...]


def without_copies(state: Tup) -> Tup:
    """``state`` without what tells two copies of one request apart: the network, the fault
    budgets and every connection number (an outstanding coordinator request's, an in-flight
    batch's, the one a pending coordinator answer will travel on)."""
    clients = tuple(_client(client) for client in state[L.S_CLIENTS])
    partitions = tuple(partition[:L.P_VERIFICATION] for partition in state[L.S_PARTITIONS])
    coordinator = state[L.S_COORDINATOR]
    metadata = tuple(_metadata(entry) for entry in coordinator[L.K_METADATA])
    return (clients, partitions, (coordinator[L.K_EPOCH], metadata, coordinator[L.K_LOG]),
            state[L.S_CONSUMER], state[L.S_OUTCOMES])


def _client(client: Tup) -> Tup:
    awaiting = client[L.C_AWAITING]
    batches = tuple(batch[:L.BT_EXTRA] for batch in client[L.C_BATCHES])
    changed = list(client)
    changed[L.C_AWAITING] = awaiting[:L.CQ_CONNECTION]
    changed[L.C_BATCHES] = batches
    return tuple(changed)


def _metadata(entry: Tup) -> Tup:
    pending = entry[L.T_PENDING]
    if not pending or not pending[L.PT_REPLY]:
        return entry
    reply = pending[L.PT_REPLY]
    if reply[L.M_KIND] == L.M_COORDINATOR_RESPONSE:
        reply = reply[: L.CR_CONNECTION]
    else:  # a leader's add: its answer to the leader, with the held Produce's connection
        reply = L.replace(reply, L.VR_CONNECTION, -1)
    return L.replace(entry, L.T_PENDING, L.replace(pending, L.PT_REPLY, reply))


def reached(config_path: Path) -> set[Tup]:
    """Every reachable state of the check in ``config_path``, seen :func:`without_copies`."""
    model = load_check_config(str(config_path)).model
    seen = set(model.init_states())
    queue = deque(seen)
    views = set()
    while queue:
        state = queue.popleft()
        views.add(without_copies(state))
        for _, target in model.actions(state):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return views


def _variant(tmp_path: Path, base: dict[str, Any], name: str, **faults: int) -> Path:
    config = dict(base, faults={**base.get("faults", {}), **faults})
    config.pop("temporal_properties", None)  # the states, not the verdicts, are compared
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _named(name: str) -> dict[str, Any]:
    text = (resources.files("kafka_eos.spec") / "configs" / f"{name}.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@pytest.mark.parametrize(
    "name",
    ["zombie-fencing", "idempotent", "tv2-strict-marker-retry", "ctp-request-timeouts",
     pytest.param("fencing-losses", marks=pytest.mark.slow)],
)
def test_a_request_timeout_reaches_every_state_a_loss_does(tmp_path: Path, name: str) -> None:
    base = _named(name)
    losses = _variant(tmp_path, base, "losses", losses=1, request_timeouts=0)
    timeouts = _variant(tmp_path, base, "timeouts", losses=0, request_timeouts=1)
    with_loss, with_timeout = reached(losses), reached(timeouts)
    assert with_loss - with_timeout == set()
    if load_check_config(name).model.transactional_ids:
        # and more: a coordinator request's late first copy (an idempotent producer's Produce
        # already has it with retries, the Produce-only timeout)
        assert with_timeout - with_loss
