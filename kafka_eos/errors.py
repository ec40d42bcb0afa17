"""The one exception type for user-facing mistakes.

Anything a user can get wrong (a bad option, a missing file, a bad configuration, a model that
breaks the checker's contract, a malformed history) raises :class:`InputError` with a message
that is one line naming the problem and, where possible, what to do. The command line prints it
as ``kafka-eos: error: <message>`` and exits 2; it never shows a traceback for one.
"""

from __future__ import annotations

#: The most characters of a user's value an error message echoes: a message stays one short
#: line even when the value is a megabyte of text (or a YAML alias bomb's expansion).
SHOWN_CHARACTERS = 80


class InputError(Exception):
    """A user-facing error: one line that names the problem."""


def shown(value: object, *, limit: int = SHOWN_CHARACTERS) -> str:
    """``repr(value)`` on one line, cut to about ``limit`` characters (for error messages).

    A container is cut while it is being written, so a huge value costs no more than the
    characters shown."""
    text = _bounded_repr(value, limit + 1, depth=0)
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _bounded_repr(value: object, limit: int, *, depth: int) -> str:
    if isinstance(value, str | bytes):
        return repr(value[:limit])
    if isinstance(value, list | tuple | dict | set | frozenset):
        if depth > _DEEPEST:
            return "..."
        brackets = {list: "[]", tuple: "()"}.get(type(value), "{}")
        parts: list[str] = []
        size = 0
        for item in value.items() if isinstance(value, dict) else value:
            if size > limit:
                break
            if isinstance(value, dict):
                part = ": ".join(_bounded_repr(inner, limit, depth=depth + 1) for inner in item)
            else:
                part = _bounded_repr(item, limit, depth=depth + 1)
            parts.append(part)
            size += len(part) + 2
        return brackets[0] + ", ".join(parts) + brackets[1]
    return repr(value)[:limit] if not isinstance(value, int) else _int_repr(value, limit)


# Nesting shown before "...": enough to recognise a value, never deep enough to recurse far.
_DEEPEST = 8


def _int_repr(value: int, limit: int) -> str:
    # int -> str is quadratic and refused above 4300 digits: say how big instead.
    if value.bit_length() > 4 * limit:
        return f"<an integer of {value.bit_length()} bits>"
    return repr(value)
