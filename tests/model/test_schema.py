"""The state is declared once (model/schema.py): the layout constants and SPEC.md's layout are
generated from it and cannot drift, the trace variables and ITF follow it (a field added to the
real schema shows up without another edit), and real counterexamples survive an ITF round trip
exactly."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kafka_eos.checker import CheckResult, check
from kafka_eos.checker.itf import read_itf, trace_to_itf, write_itf
from kafka_eos.checker.result import Trace
from kafka_eos.model import layout
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.schema import SCHEMA, Component, Field, Schema, named
from kafka_eos.model.schema_texts import (
    LAYOUT,
    SPEC,
    constants,
    generated_layout,
    generated_spec,
    layout_block,
    spec_section,
)
from kafka_eos.model.variables import state_variables


@cache
def _counterexample(name: str) -> CheckResult:
    config = load_check_config(name)
    result = check(config.model, **config.bounds)
    assert result.trace is not None, f"{name} found no counterexample"
    return result


def _model_and_states(name: str) -> tuple[KafkaEosModel, list[Any]]:
    result = _counterexample(name)
    assert result.trace is not None
    return load_check_config(name).model, list(result.trace.states)


def test_layout_constants_and_spec_are_generated_from_the_schema() -> None:
    for path, generate in ((LAYOUT, generated_layout), (SPEC, generated_spec)):
        text = path.read_text(encoding="utf-8")
        assert generate(text) == text, (
            f"{path.name} differs from model/schema.py: run "
            "python -m kafka_eos.model.schema_texts --write"
        )
    for name, value in constants().items():
        assert getattr(layout, name) == value, name


def test_every_stored_field_has_its_position_constant() -> None:
    for component in SCHEMA.all():
        for index, field in enumerate(component.stored):
            assert field.constant, f"{component.name}.{field.name} has no layout constant"
            assert getattr(layout, field.constant) == index


def _extend(value: Any, item: str, target: str, extra: Any) -> Any:
    """``value`` (a component or variant group ``item`` of the real schema) with ``extra``
    appended to every instance of component ``target`` inside it."""
    if not isinstance(value, tuple) or not value:
        return value
    component = SCHEMA.of(item, value)
    parts = []
    for field, part in zip(component.stored, value, strict=True):
        if field.item:
            part = tuple(_extend(p, field.item, target, extra) for p in part)
        elif field.record:
            part = _extend(part, field.record, target, extra)
        parts.append(part)
    if component.name == target:
        parts.append(extra)
    return tuple(parts)


def _records(variables: Any) -> list[Mapping[str, Any]]:
    """Every record (dict) anywhere in ``variables``."""
    found: list[Mapping[str, Any]] = []
    stack = [variables]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            found.append(value)
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
    return found


def _thawed(value: Any) -> Any:
    """A value read from ITF (frozen: records as mappings, sequences as tuples) as the
    model's variables hold it (dicts and lists)."""
    if isinstance(value, Mapping):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


def _without(value: Any, key: str) -> Any:
    """``value`` with ``key`` removed from every record inside it (and from texts)."""
    if isinstance(value, dict):
        return {k: _without(v, key) for k, v in value.items() if k not in (key, f"pending_{key}")}
    if isinstance(value, list):
        return [_without(v, key) for v in value]
    if isinstance(value, str):
        return re.sub(f",{key}=[^,]*", "", value)
    return value


class _Shown:
    """A model whose traces show the extended schema (what KafkaEosModel.variables does)."""

    def __init__(self, model: KafkaEosModel, schema: Schema) -> None:
        self.model = model
        self.schema = schema

    def variables(self, state: Any) -> dict[str, Any]:
        return state_variables(self.model, state, self.schema)


#: counterexamples whose states hold every component of the schema between them
_TRACES = (
    "ctp-no-producer-epoch-check",
    "read-uncommitted",
    "no-coordinator-epoch-check",
    "ctp-timeout-no-epoch-bump",  # an ABORT marker over an open transaction: the aborted index
    "replicated-acks-1",  # a replicated partition: the replication component
)


def _visible(schema: Schema = SCHEMA) -> set[str]:
    """The components a trace shows: reachable from the state through fields not hidden."""
    seen: set[str] = set()
    todo = ["state"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        group = schema.variants.get(name, (schema.components.get(name),))
        for component in group:
            assert component is not None
            seen.add(component.name)
            for f in component.stored:
                if f.show != "hidden" and (f.item or f.record):
                    todo.append(f.item or f.record)
    return seen


def _mentions(value: Any, name: str, shown: Any) -> bool:
    """Whether ``name`` is shown with value ``shown`` anywhere in ``value``: a record's key,
    or ``name=shown`` in a text (a network message)."""
    if isinstance(value, Mapping):
        # a field of the pending transition shows as pending_NAME
        named = (v for k, v in value.items() if k in (name, f"pending_{name}"))
        return any(v == shown for v in named) or any(
            _mentions(v, name, shown) for v in value.values()
        )
    if isinstance(value, list | tuple):
        return any(_mentions(v, name, shown) for v in value)
    return isinstance(value, str) and f",{name}={shown}" in value


def test_every_component_shows_in_traces() -> None:
    # (the pending transition's reply, hidden, is a message: shown as the response it becomes)
    everything = {c.name for c in SCHEMA.all()}
    assert everything - _visible() == set()


@pytest.mark.parametrize("component", sorted(c.name for c in SCHEMA.all() if c.name != "reply"))
def test_a_field_added_to_the_schema_shows_in_traces_itf_and_docs(
    component: str, tmp_path: Path
) -> None:
    probe = Field(name="probe_field", doc="a field a test adds", constant="PROBE_FIELD")
    schema = SCHEMA.with_field(component, probe)
    for name in _TRACES:
        model, states = _model_and_states(name)
        extended = [_extend(state, "state", component, 7) for state in states]
        if extended != states:
            break
    else:
        pytest.fail(f"no state of {_TRACES} holds a {component}")
    shown = [state_variables(model, state, schema) for state in extended]
    assert any(_mentions(variables, "probe_field", 7) for variables in shown)
    # everything else is shown as before
    for variables, state in zip(shown, states, strict=True):
        assert _without(variables, "probe_field") == state_variables(model, state)
    # ITF carries it
    labels = _counterexample(name).trace.labels  # type: ignore[union-attr]
    path = tmp_path / "probe.itf.json"
    write_itf(path, Trace(states=extended, labels=list(labels)), _Shown(model, schema))
    assert any(_mentions(_thawed(state), "probe_field", 7) for state in read_itf(path).states)
    # the docs and the constants
    assert "`probe_field`" in spec_section(schema)
    assert "PROBE_FIELD: Final = " in layout_block(schema)
    assert "`probe_field`" not in spec_section()


def test_a_field_added_to_a_message_shows_in_its_text() -> None:
    schema = SCHEMA.with_field("Produce", Field(name="probe_field", doc="", constant="PR_PROBE"))
    model, states = _model_and_states("idempotence-off")
    state = next(s for s in states if any(m[0] == layout.M_PRODUCE for m in s[layout.S_NETWORK]))
    shown = state_variables(model, _extend(state, "state", "Produce", 7), schema)
    produce = [text for text in shown["network"] if text.startswith("Produce,")]
    assert produce and all(text.endswith(",probe_field=7") for text in produce)


@pytest.mark.parametrize("name", ["idempotence-off", "ctp-no-producer-epoch-check"])
def test_itf_round_trip_of_a_counterexample_is_exact(name: str, tmp_path: Path) -> None:
    model, states = _model_and_states(name)
    result = _counterexample(name)
    assert result.trace is not None
    path = tmp_path / f"{name}.itf.json"
    write_itf(path, result.trace, model)
    read = read_itf(path)
    assert [_thawed(s) for s in read.states] == [model.variables(state) for state in states]
    # and the document is what trace_to_itf builds
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(
        json.dumps(trace_to_itf(result.trace, model))
    )


def test_named_names_every_field_of_a_raw_state() -> None:
    model, states = _model_and_states("ctp-no-producer-epoch-check")
    for state in (model.init_states()[0], states[-1]):
        view = named(state)
        assert list(view) == [f.name for f in SCHEMA.components["state"].stored]
        for client, raw in zip(view["producers"], state[layout.S_CLIENTS], strict=True):
            assert client["state"] == raw[layout.C_STATE]
            assert [b["status"] for b in client["batches"]] == [
                b[layout.BT_STATUS] for b in raw[layout.C_BATCHES]
            ]
        assert view["budget"] == dict(zip(layout.BUDGET_NAMES, state[layout.S_BUDGET], strict=True))
    last = named(states[-1])
    entries = [e for p in last["partitions"] for e in p["log"]]
    assert {"producer_id", "producer_epoch"} <= set(entries[0])
    assert any("commit" in e for e in entries) and any("base_sequence" in e for e in entries)


def test_make_refuses_a_missing_or_unknown_field() -> None:
    client: Component = SCHEMA.components["client"]
    with pytest.raises(TypeError, match="missing fields \\['awaiting'\\]"):
        client.make(
            state=0, epoch=0, current=0, batches=(), next_sequence=(), added=0, generation=-1
        )
    with pytest.raises(TypeError, match="unknown fields \\['colour'\\]"):
        client.make(
            state=0,
            epoch=0,
            current=0,
            batches=(),
            next_sequence=(),
            added=0,
            awaiting=(),
            generation=-1,
            colour=1,
        )


def test_the_budget_is_the_faults_by_name() -> None:
    config = load_check_config("default")
    state = config.model.init_states()[0]
    faults = config.model.faults
    assert state[layout.S_BUDGET] == tuple(getattr(faults, n) for n in layout.BUDGET_NAMES)


@pytest.mark.parametrize("name", ["ctp", "zombie-fencing", "txn-timeout", "coordinator-failover"])
def test_every_reachable_state_has_the_schemas_shape(name: str) -> None:
    """Every component the actions build has the schema's fields (a field added to the schema
    but not to one of the places that build its component fails here), and every code names
    a variant."""
    model = load_check_config(name).model
    seen = set(model.init_states())
    frontier = list(seen)
    while frontier and len(seen) < 4000:
        state = frontier.pop()
        named(state)  # raises on a component of the wrong length or an unknown code
        for _, successor in model.actions(state):
            if successor not in seen:
                seen.add(successor)
                frontier.append(successor)
    assert len(seen) > 250  # coordinator-failover has 307 states in all


def test_a_component_of_the_wrong_length_is_refused() -> None:
    _model, states = _model_and_states("idempotence-off")
    broken = _extend(states[-1], "state", "batch", 0)
    with pytest.raises(ValueError, match="batch has 4 fields, the value 5"):
        named(broken)


def test_every_field_says_what_it_holds() -> None:
    undocumented = [
        f"{component.name}.{field.name}"
        for component in SCHEMA.all()
        for field in component.fields
        if not field.doc.strip()
    ]
    assert not undocumented, f"fields without a doc in model/schema.py: {undocumented}"


#: names the model's code gives to states and their components
_STATE_NAMES = frozenset(
    {
        "state",
        "client",
        "batch",
        "batches",
        "b",
        "message",
        "n",
        "request",
        "awaiting",
        "entry",
        "log",
        "partition",
        "metadata",
        "pending",
        "transition",
        "reply",
        "coordinator",
        "consumer",
    }
)


def test_the_model_reads_its_state_by_position_names() -> None:
    """No ``batch[0]`` or ``client[1:...]`` in model/: a position is read through the
    constant the schema generates (BT_STATUS, C_EPOCH...), so a field added or moved in the
    schema cannot leave a stale number behind."""
    numbered = []
    for path in sorted(Path(layout.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Subscript):
                continue
            index = node.slice
            bounds = (index.lower, index.upper) if isinstance(index, ast.Slice) else (index,)
            if not any(
                isinstance(b, ast.Constant) and isinstance(b.value, int) and b.value >= 0
                for b in bounds
            ):
                continue
            base = node.value
            while isinstance(base, ast.Subscript):
                base = base.value
            if isinstance(base, ast.Name) and base.id in _STATE_NAMES:
                numbered.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not numbered, "read these positions by their layout constant:\n" + "\n".join(numbered)
