"""Network messages as readable text (for labels, traces and error messages), from the schema:
the message's kind, then the fields its text shows (with their tags), then any other field
that is not hidden, as ``name=value``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .codes import DEPOSED_NAMES, MARKER_NAMES, error_name
from .layout import API_NAMES, M_COORDINATOR_REQUEST, M_COORDINATOR_RESPONSE, Message
from .schema import SCHEMA, Schema

if TYPE_CHECKING:
    from .kafka import KafkaEosModel

#: How a message field's value reads in the text, by its ``show``.
_TEXT: dict[str, Callable[[KafkaEosModel, Any], str]] = {
    "value": lambda m, v: str(v),
    "process": lambda m, v: m.process_names[v],
    "partition": lambda m, v: m.partition_names[v],
    "transactional_id": lambda m, v: m.transactional_ids[v],
    "error": lambda m, v: error_name(v),
    "commit": lambda m, v: MARKER_NAMES[v],
    # a coordinator message's connection, shown once a request timeout opened another (the
    # first connection, the only one without that fault, is not shown)
    "connection": lambda m, v: str(v) if v else "",
    # a verification message of a leader that lost its leadership since it asked
    "deposed": lambda m, v: DEPOSED_NAMES[v],
}


def describe(m: KafkaEosModel, message: Message, schema: Schema = SCHEMA) -> str:
    """A short readable name of ``message``: its kind, then its fields."""
    component = schema.of("message", message)
    values = component.named(message)
    if component.code_value == M_COORDINATOR_REQUEST:
        title = API_NAMES[values["api"]]  # the request's own name: one kind, four APIs
    elif component.code_value == M_COORDINATOR_RESPONSE:
        title = f"{API_NAMES[values['api']]}Response"
    else:
        title = component.name
    parts = [title]
    for name in component.text:
        field = component.field(name)
        text = _TEXT[field.show](m, values[name])
        if text:
            parts.append(f"{field.tag}{text}")
    for field in component.stored:
        if field.name not in component.text and field.show != "hidden":
            parts.append(f"{field.name}={values[field.name]}")
    return ",".join(parts)
