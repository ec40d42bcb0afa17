"""Checking the bounds and options a caller passes, before any work is done."""

from __future__ import annotations

from kafka_eos.errors import InputError


def positive_int(option: str, value: object, *, allow_zero: bool = False) -> int | None:
    """``value`` as a bound: None (unbounded) or a positive (or non-negative) integer."""
    if value is None:
        return None
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        wanted = "a non-negative integer" if allow_zero else "a positive integer"
        raise InputError(f"{option} must be {wanted}, got {value!r}")
    return value


def positive_seconds(option: str, value: object) -> float | None:
    """``value`` as a time budget in seconds: None or a positive number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"{option} must be a positive number of seconds, got {value!r}")
    return float(value)
