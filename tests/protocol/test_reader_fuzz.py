"""Fuzzing the three readers of user files: the history reader (JSON lines), the ITF reader
(with the model's ITF -> history conversion) and the configuration loader (YAML).

Each gets inputs that are nearly right (a valid document with one part replaced by any JSON or
YAML value, a field dropped or added) and inputs that are anything at all (random text and
bytes). Whatever it gets, the command either works (``validate`` exits 0 or 1) or says what is
wrong in one line ``kafka-eos: error: ...`` and exits 2: never another exception.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sample_histories import clean_history
from user_errors import assert_one_line_error

from kafka_eos.checker import check
from kafka_eos.checker.itf import trace_to_itf
from kafka_eos.cli.main import main
from kafka_eos.errors import InputError
from kafka_eos.model.configs import config_path, load_check_config
from kafka_eos.protocol.history import event_to_json

# Files are written to one folder per test, not to pytest's function-scoped tmp_path.
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: Keys that mean something to one of the readers, for the "add a key" mutation.
MEANINGFUL_KEYS = st.sampled_from(
    ["type", "records", "offset", "loop", "#meta", "vars", "states", "#bigint", "#tup", "#set",
     "#map", "knobs", "faults", "workload", "bounds", "properties", "producers", "consumer"]
)


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(MEANINGFUL_KEYS | st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
random_text = st.text(max_size=300)
random_bytes = st.binary(max_size=300)


@contextlib.contextmanager
def file_holding(name: str, content: str | bytes) -> Iterator[Path]:
    """A file ``name`` holding ``content`` (text as UTF-8), in a folder of its own that is
    removed afterwards (hypothesis runs a test many times: no fixture's tmp_path per run)."""
    with tempfile.TemporaryDirectory(prefix="kafka-eos-fuzz-") as folder:
        path = Path(folder) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        yield path


def validate_handles(name: str, content: str | bytes) -> None:
    """``validate`` reads the file (its name's suffix chooses the reader) and answers, or
    refuses it in one line."""
    with file_holding(name, content) as path:
        assert_handled(*run_cli("validate", str(path)))


def run_cli(*argv: str) -> tuple[int, str]:
    """The command's exit code and stderr, run in-process."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, err.getvalue()


def assert_handled(code: int, err: str, *, ok: tuple[int, ...] = (0, 1)) -> None:
    if code in ok:
        return
    line = assert_one_line_error(code, err)
    assert len(line) < 2000, line[:300]


def replace_somewhere(document: Any, data: st.DataObject, value: Any) -> Any:
    """A deep copy of ``document`` with one part (chosen by ``data``) replaced by ``value``,
    or a key of an object dropped or added."""
    document = copy.deepcopy(document)
    node = document
    while True:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            return document
        key, child = children[data.draw(st.integers(0, len(children) - 1), label="step")]
        if isinstance(child, dict | list) and child and data.draw(st.booleans(), label="deeper"):
            node = child
            continue
        action = data.draw(st.sampled_from(["replace", "drop", "add"]), label="action")
        if action == "drop" and isinstance(node, dict):
            del node[key]
        elif action == "add" and isinstance(node, dict):
            node[data.draw(MEANINGFUL_KEYS | st.text(max_size=12), label="new key")] = value
        else:
            node[key] = value
        return document


# --- the history reader: validate HISTORY.jsonl ---------------------------------------------------

HISTORY = [json.loads(event_to_json(event)) for event in clean_history()]


@FUZZ
@given(data=st.data(), value=json_values)
def test_a_nearly_right_history_is_read_or_refused_in_one_line(
    data: st.DataObject, value: Any
) -> None:
    history = replace_somewhere(HISTORY, data, value)
    lines = [json.dumps(event) for event in history]
    validate_handles("h.jsonl", "\n".join(lines) + "\n")


@FUZZ
@given(lines=st.lists(random_text | st.builds(json.dumps, json_values), max_size=5))
def test_random_history_lines_are_read_or_refused_in_one_line(lines: list[str]) -> None:
    validate_handles("h.jsonl", "\n".join(lines))


@FUZZ
@given(content=random_bytes)
def test_random_history_bytes_are_read_or_refused_in_one_line(content: bytes) -> None:
    validate_handles("h.jsonl", content)


# --- the ITF reader and the ITF -> history conversion: validate TRACE.itf.json -----------------


@cache
def model_trace() -> dict[str, Any]:
    """A real counterexample's ITF document: a duplicate in two appends."""
    config = load_check_config("idempotence-off")
    result = check(config.model)
    assert result.trace is not None
    document: dict[str, Any] = trace_to_itf(result.trace, config.model, meta={"config": "x"})
    return document


@FUZZ
@given(data=st.data(), value=json_values)
def test_a_nearly_right_trace_is_read_or_refused_in_one_line(
    data: st.DataObject, value: Any
) -> None:
    document = replace_somewhere(model_trace(), data, value)
    validate_handles("t.itf.json", json.dumps(document))


@FUZZ
@given(content=st.builds(json.dumps, json_values) | random_text)
def test_random_trace_files_are_read_or_refused_in_one_line(content: str) -> None:
    validate_handles("t.itf.json", content)


# --- the configuration loader: check --config FILE.yaml ------------------------------------------

CONFIG = yaml.safe_load(config_path("no-coordinator-epoch-check").read_text(encoding="utf-8"))
yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4),
    max_leaves=12,
)


def loads_or_refuses(path: Path) -> None:
    try:
        load_check_config(path)
    except InputError as error:
        message = str(error)
        assert message.startswith(str(path)) and "\n" not in message, message
        assert len(message) < 2000, message[:300]


@FUZZ
@given(data=st.data(), value=yaml_values)
def test_a_nearly_right_configuration_loads_or_is_refused_in_one_line(
    data: st.DataObject, value: Any
) -> None:
    document = replace_somewhere(CONFIG, data, value)
    with file_holding("check.yaml", yaml.safe_dump(document)) as path:
        loads_or_refuses(path)


@FUZZ
@given(content=random_text | random_bytes)
def test_random_configuration_files_load_or_are_refused_in_one_line(
    content: str | bytes,
) -> None:
    with file_holding("check.yaml", content) as path:
        loads_or_refuses(path)
