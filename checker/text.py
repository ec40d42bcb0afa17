"""Readable text traces: the initial state in full, then per step the action and what changed.

    State 0 (initial)
      big = 0
      small = 0
    Step 1: FillBigJug
      big = 5
    Step 2: BigToSmall
      big = 2
      small = 3

A variable that is a mapping shows only the keys that changed (``rmState[r1] = prepared``), a
set only what was added and removed, anything else its new value.

A lasso (a trace with a ``loop``) is marked before the first step that repeats, and its last
step says where it goes back to::

    -- loop starts here --
    Step 2: Request(p1)
      ...
    Step 4: Release(p1)  (back to the state after step 1: the loop repeats for ever)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from .result import Trace
from .values import fields_of, variables_of


def format_trace(trace: Trace, model: object) -> str:
    """The whole trace as text, one line per changed variable."""
    loop = trace.loop
    lines = ["State 0 (initial)"]
    previous = variables_of(model, trace.states[0])
    lines += [f"  {name} = {render(value)}" for name, value in previous.items()]
    for step, (label, state) in enumerate(zip(trace.labels, trace.states[1:], strict=True), 1):
        if loop is not None and step == loop + 1:
            lines.append(LOOP_MARK)
        closing = loop is not None and step == trace.steps
        lines.append(f"Step {step}: {label}" + (_closing_note(loop) if closing else ""))
        current = variables_of(model, state)
        changes = [
            line
            for name, value in current.items()
            for line in variable_changes(name, previous.get(name, _ABSENT), value)
        ]
        lines += changes or ["  (no variable changed)"]
        previous = current
    return "\n".join(lines)


_ABSENT = object()
LOOP_MARK = "-- loop starts here --"


def _closing_note(loop: int | None) -> str:
    back = "State 0" if loop == 0 else f"the state after step {loop}"
    return f"  (back to {back}: the loop repeats for ever)"


def variable_changes(name: str, before: Any, after: Any) -> list[str]:
    """The lines (indented two spaces) saying how variable ``name`` changed; none when it
    did not."""
    if before is not _ABSENT and before == after:
        return []
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        lines = [
            f"  {name}[{render(key)}] = {render(value)}"
            for key, value in after.items()
            if key not in before or before[key] != value
        ]
        lines += [f"  {name}[{render(key)}] removed" for key in before if key not in after]
        return lines
    if isinstance(before, frozenset | set) and isinstance(after, frozenset | set):
        lines = []
        if added := after - before:
            lines.append(f"  {name} added {render(frozenset(added))}")
        if removed := before - after:
            lines.append(f"  {name} removed {render(frozenset(removed))}")
        return lines
    return [f"  {name} = {render(after)}"]


def render(value: Any) -> str:
    """A compact, readable rendering: strings unquoted where unambiguous, sets sorted."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, str):
        return value if value and value.replace("_", "").replace("-", "").isalnum() else repr(value)
    if (fields := fields_of(value)) is not None:
        inner = ", ".join(f"{k}={render(v)}" for k, v in fields.items())
        return f"{type(value).__name__}({inner})"
    if isinstance(value, tuple):
        return "(" + ", ".join(render(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(render(v) for v in value)) + "}"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{render(k)}: {render(v)}" for k, v in value.items()) + "}"
    return repr(value)
