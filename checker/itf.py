"""The Informal Trace Format (ITF), the JSON traces Apalache and Quint write and read.

A trace is ``{"#meta": {...}, "vars": [names], "states": [{"#meta": {...}, name: value}]}``.
Values are encoded as ITF says:

====================================  =============================================
Python                                ITF
====================================  =============================================
bool, str                             JSON boolean, string
int                                   ``{"#bigint": "digits"}`` (as Quint writes every int)
tuple                                 ``{"#tup": [...]}``
list                                  JSON array (a TLA+/Quint sequence)
frozenset, set                        ``{"#set": [...]}``
dict with str keys, NamedTuple,       JSON object (a record)
frozen dataclass
dict with other keys                  ``{"#map": [[key, value], ...]}``
enum member                           its name, a string
None                                  JSON null (our one extension: ITF has no null)
anything else                         ``{"#unserializable": "repr"}``
====================================  =============================================

Each state's ``#meta`` holds ``{"index": i, "action": label}`` (``"init"`` for the first), and
the top-level ``#meta`` whatever the caller passes (the config or model that produced the
trace, so it can be replayed). A lasso is written as ITF writes one: its states up to the last
distinct one and ``"loop"``, the index of the state the last one steps back to; the label of
that closing step goes into the top-level ``#meta`` as ``loop_action``. :func:`read_itf` reads
traces written by us, Apalache or Quint (plain JSON numbers as well as ``#bigint``).
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka_eos.errors import InputError, shown

from .result import Trace
from .values import fields_of, variables_of

FORMAT_DESCRIPTION = "https://apalache-mc.org/docs/adr/015adr-trace.html"


def trace_to_itf(trace: Trace, model: object, *, meta: Mapping[str, Any] | None = None) -> dict[
    str, Any
]:
    """The ITF document of ``trace``; the variables come from ``model.variables(state)``."""
    states = []
    names: list[str] = []
    # A lasso's last state repeats states[loop]: ITF says so with "loop" instead.
    shown = trace.states if trace.loop is None else trace.states[:-1]
    for index, state in enumerate(shown):
        variables = variables_of(model, state)
        if not names:
            names = list(variables)
        action = "init" if index == 0 else str(trace.labels[index - 1])
        encoded = {name: encode(value) for name, value in variables.items()}
        states.append({"#meta": {"index": index, "action": action}, **encoded})
    document: dict[str, Any] = {
        "#meta": {
            "format": "ITF",
            "format-description": FORMAT_DESCRIPTION,
            "source": "kafka-eos",
            **dict(meta or {}),
        },
        "vars": names,
        "states": states,
    }
    if trace.loop is not None:
        document["#meta"]["loop_action"] = trace.labels[-1]
        document["loop"] = trace.loop
    return document


def write_itf(
    path: str | Path, trace: Trace, model: object, *, meta: Mapping[str, Any] | None = None
) -> None:
    """Write ``trace`` as an ITF JSON file."""
    document = trace_to_itf(trace, model, meta=meta)
    Path(path).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def encode(value: Any) -> Any:
    """One Python value as an ITF JSON value."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        # ITF allows plain JSON numbers for small integers, but Quint and the Rust itf crate
        # expect #bigint for every integer: writing it always keeps every reader happy.
        return {"#bigint": str(value)}
    if (fields := fields_of(value)) is not None:
        return {name: encode(item) for name, item in fields.items()}
    if isinstance(value, tuple):
        return {"#tup": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, frozenset | set):
        return {"#set": _sorted(encode(item) for item in value)}
    if isinstance(value, Mapping):
        if all(isinstance(k, str) and not k.startswith("#") for k in value):
            return {k: encode(v) for k, v in value.items()}
        return {"#map": _sorted([encode(k), encode(v)] for k, v in value.items())}
    return {"#unserializable": repr(value)}


def _sorted(items: Iterator[Any]) -> list[Any]:
    # Sets have no order; sorting by the JSON text makes a trace file byte-for-byte stable.
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


class FrozenDict(dict[Any, Any]):
    """A decoded ITF record or map: a dict that can sit in a set or be a map key."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def _immutable(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("a decoded ITF value is immutable")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _immutable  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class ItfTrace:
    """A trace read from an ITF file: decoded values, one dict per state."""

    meta: dict[str, Any]
    vars: list[str]
    labels: list[str]
    states: list[dict[str, Any]]
    #: a lasso's loop index: the last state steps back to ``states[loop]``
    loop: int | None = None


def read_itf(path: str | Path) -> ItfTrace:
    """Read an ITF file (ours, Apalache's or Quint's); InputError if it is not one."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"trace file not found: {path}") from None
    except OSError as exc:  # a directory, no permission
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"cannot read {path} as JSON: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"cannot read {path} as JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:  # 5,000-digit numbers, nesting 10,000 deep
        raise InputError(f"cannot read {path} as JSON: {shown(str(exc))[1:-1]}") from None
    return itf_from_document(document, where=str(path))


def itf_from_document(document: Any, *, where: str = "trace") -> ItfTrace:
    """An ITF document already parsed from JSON (or made by :func:`trace_to_itf`) as a trace;
    InputError naming ``where`` if it is not one."""
    if not isinstance(document, dict) or not isinstance(document.get("states"), list):
        raise InputError(f"{where} is not an ITF trace: no \"states\" list")
    raw_states = document["states"]
    for number, state in enumerate(raw_states):
        if not isinstance(state, dict):
            raise InputError(f"{where} is not a valid ITF trace: state {number} is not an object")
    try:
        states = [
            {k: decode(v) for k, v in state.items() if k != "#meta"} for state in raw_states
        ]
    except (ValueError, TypeError, RecursionError) as exc:
        raise InputError(f"{where} is not a valid ITF trace: {shown(str(exc))[1:-1]}") from None
    labels = [
        str(_state_meta(state).get("action", "")) for state in raw_states[1:]
    ]
    names = document.get("vars")
    loop = document.get("loop")
    if loop is not None and (
        not isinstance(loop, int) or isinstance(loop, bool) or not 0 <= loop < len(states)
    ):
        raise InputError(
            f"{where}: \"loop\" must be the index of one of its states, got {shown(loop)}"
        )
    meta = document.get("#meta") or {}
    if not isinstance(meta, dict):
        raise InputError(f"{where} is not a valid ITF trace: \"#meta\" is not an object")
    return ItfTrace(
        meta=dict(meta),
        vars=list(names) if isinstance(names, list) else sorted(states[0]) if states else [],
        labels=labels,
        states=states,
        loop=loop,
    )


def _state_meta(state: Any) -> dict[str, Any]:
    meta = state.get("#meta") if isinstance(state, dict) else None
    return meta if isinstance(meta, dict) else {}


_DIGITS = re.compile(r"-?[0-9]+")


def decode(value: Any) -> Any:
    """One ITF JSON value as a hashable Python value."""
    if isinstance(value, list):
        return tuple(decode(item) for item in value)
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key == "#bigint":
            if not isinstance(inner, str) or not _DIGITS.fullmatch(inner):
                raise ValueError(f"#bigint must be a string of digits, got {shown(inner)}")
            return int(inner)
        if key == "#tup":
            return tuple(decode(item) for item in inner)
        if key == "#set":
            return frozenset(decode(item) for item in inner)
        if key == "#map":
            return FrozenDict((decode(k), decode(v)) for k, v in inner)
        if key == "#unserializable":
            return str(inner)
    if any(key.startswith("#") for key in value):
        raise ValueError(f"unknown ITF value {shown(value)}")
    return FrozenDict((key, decode(item)) for key, item in value.items())
