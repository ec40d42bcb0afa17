"""A state's variables: what traces (text and ITF) show of a state.

A model may say how its state splits into named variables with ``variables(state)``; without
it, a NamedTuple or dataclass state shows its fields and anything else is one variable named
``state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kafka_eos.errors import InputError


def variables_of(model: object, state: Any) -> dict[str, Any]:
    """The named variables of ``state``, in a stable order."""
    split = getattr(model, "variables", None)
    if callable(split):
        values = split(state)
        if not isinstance(values, Mapping):
            raise InputError(
                f"{type(model).__name__}.variables() must return a mapping name -> value, "
                f"got {type(values).__name__}"
            )
        return {str(name): value for name, value in values.items()}
    return fields_of(state) or {"state": state}


def fields_of(value: Any) -> dict[str, Any] | None:
    """The fields of a NamedTuple or dataclass instance, or None for anything else."""
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return dict(zip(value._fields, value, strict=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None
