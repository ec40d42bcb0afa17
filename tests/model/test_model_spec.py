"""spec/SPEC.md documents every action, property, knob and fault budget of the model."""

from __future__ import annotations

import dataclasses
import re
from importlib import resources

import pytest

from kafka_eos.model.kafka import ACTION_NAMES, KafkaEosModel
from kafka_eos.model.params import Faults, Knobs
from kafka_eos.model.properties import ALL_PROPERTIES, DESCRIPTIONS

SPEC = (resources.files("kafka_eos.spec") / "SPEC.md").read_text(encoding="utf-8")


def _documented(name: str) -> bool:
    return re.search(rf"`{re.escape(name)}`", SPEC) is not None


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_every_action_is_specified(name: str) -> None:
    assert _documented(name), f"spec/SPEC.md does not describe action {name}"


@pytest.mark.parametrize("name", ALL_PROPERTIES)
def test_every_property_is_specified(name: str) -> None:
    assert _documented(name), f"spec/SPEC.md does not define property {name}"
    assert name in DESCRIPTIONS


@pytest.mark.parametrize(
    "name",
    [f.name for f in dataclasses.fields(Knobs)] + [f.name for f in dataclasses.fields(Faults)],
)
def test_every_knob_and_fault_is_specified(name: str) -> None:
    assert _documented(name), f"spec/SPEC.md does not explain {name}"


def test_the_model_lists_exactly_the_actions_it_takes() -> None:
    # Every label the model produces starts with a listed action name, and every listed
    # action is taken by some small configuration.
    from kafka_eos.checker import check
    from kafka_eos.model.configs import load_check_config

    models = [
        load_check_config(name).model
        for name in (
            "ctp",
            "txn-timeout",
            "coordinator-failover",
            "producer-state-expiry",
            "ctp-request-timeouts",
        )
    ]
    models += [
        load_check_config(name).model
        for name in (
            "idempotent",
            "read-uncommitted",
            "idempotent-retriable-reorder",
            "replicated-transactions",
            "ctp-rebalance",
        )
    ]
    tv1 = load_check_config("tv1").model  # with a lost marker: ResendTxnMarker
    models.append(
        KafkaEosModel(
            knobs=tv1.knobs,
            faults=dataclasses.replace(tv1.faults, losses=1),
            workload=tv1.workload,
        )
    )
    # consume-transform-produce under transaction version 1: AddOffsetsToTxn (version 2's
    # TxnOffsetCommit has the group coordinator add the offsets partition)
    ctp = load_check_config("ctp").model
    models.append(KafkaEosModel(knobs=tv1.knobs, faults=ctp.faults, workload=ctp.workload))
    seen: set[str] = set()
    for model in models:
        result = check(model)
        seen |= {action for action, count in result.coverage.items() if count}
    assert seen == set(ACTION_NAMES), f"listed, never taken: {set(ACTION_NAMES) - seen}"


_SECTIONS = {
    "Clients": ("client",),
    "Partition leaders": ("leader",),
    "Transaction coordinator": ("coordinator",),
    "Network and consumer": ("network", "consumer"),
}


def _spec_tables() -> dict[str, list[str]]:
    """The actions each role's table in SPEC.md §2 lists, in order."""
    actions_part = SPEC.split("## 2. Actions", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, list[str]] = {}
    for section in actions_part.split("\n### ")[1:]:
        title = section.split(" (", 1)[0].split("\n", 1)[0].strip()
        tables[title] = re.findall(r"^\| `(\w+)` \|", section, re.M)
    return tables


def test_spec_action_tables_list_the_registry_by_role() -> None:
    from kafka_eos.model.actions import ACTIONS

    tables = _spec_tables()
    assert set(tables) == set(_SECTIONS)
    for title, roles in _SECTIONS.items():
        registered = [action.name for action in ACTIONS if action.role in roles]
        assert tables[title] == registered, f"SPEC.md §2 {title} vs model/actions.py"
