"""Version-independent views of kio's per-version entity classes.

kio generates one frozen dataclass per message *version* (``FetchResponse`` v4 and v11 are
different classes with different fields). The server should not be written once per version,
so it works on plain dictionaries instead:

- :func:`to_plain` turns a decoded kio request into nested dicts and lists (timedeltas as
  milliseconds, error codes and other integer types as ``int``), whatever its version;
- :func:`build` turns a dictionary holding the *union* of every version's fields into the kio
  class of one version: fields the version lacks are dropped, fields the dictionary lacks take
  the schema default (Kafka's own rule for fields absent from a version).

So a handler writes one response dictionary, and the codec encodes it for the version asked.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping
from enum import Enum
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

from kio.schema.errors import ErrorCode as KioErrorCode
from kio.static.primitive import i32Timedelta, i64Timedelta

_ZERO_UUID = uuid.UUID(int=0)

# Field kinds, decided once per class (the schemas never change at run time).
_ENTITY, _ENTITY_TUPLE, _TIMEDELTA32, _TIMEDELTA64, _ERROR, _DATETIME, _PLAIN = range(7)


@dataclasses.dataclass(frozen=True, slots=True)
class _FieldShape:
    name: str
    kind: int
    nested: type[Any] | None
    optional: bool
    kafka_type: str | None
    default: Any  # dataclasses.MISSING when the schema has none


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (UnionType, Union):
        args = [a for a in get_args(annotation) if a is not NoneType]
        return (args[0] if len(args) == 1 else annotation), len(args) < len(get_args(annotation))
    return annotation, False


#: kio class -> the shapes of its fields, worked out once per class.
_SHAPES: dict[type[Any], tuple[_FieldShape, ...]] = {}


def _shapes(cls: type[Any]) -> tuple[_FieldShape, ...]:
    if cls not in _SHAPES:
        _SHAPES[cls] = _field_shapes(cls)
    return _SHAPES[cls]


def _field_shapes(cls: type[Any]) -> tuple[_FieldShape, ...]:
    shapes = []
    for field in dataclasses.fields(cls):
        annotation, optional = _strip_optional(field.type)
        nested: type[Any] | None = None
        kind = _PLAIN
        if get_origin(annotation) is tuple:
            item = get_args(annotation)[0]
            if dataclasses.is_dataclass(item):
                kind, nested = _ENTITY_TUPLE, item  # type: ignore[assignment]
        elif isinstance(annotation, type):
            if dataclasses.is_dataclass(annotation):
                kind, nested = _ENTITY, annotation
            elif issubclass(annotation, i32Timedelta):
                kind = _TIMEDELTA32
            elif issubclass(annotation, i64Timedelta):
                kind = _TIMEDELTA64
            elif issubclass(annotation, KioErrorCode):
                kind = _ERROR
            elif issubclass(annotation, datetime.datetime):
                kind = _DATETIME
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
        shapes.append(
            _FieldShape(
                name=field.name,
                kind=kind,
                nested=nested,
                optional=optional,
                kafka_type=field.metadata.get("kafka_type"),
                default=default,
            )
        )
    return tuple(shapes)


def _zero(shape: _FieldShape) -> Any:
    """The value of a field a response dictionary left out and the schema gives no default."""
    if shape.kind == _ENTITY_TUPLE:
        return ()
    if shape.kind == _ENTITY:
        return None if shape.optional else build(shape.nested, {})  # type: ignore[arg-type]
    if shape.kind in (_TIMEDELTA32, _TIMEDELTA64):
        return datetime.timedelta(0)
    if shape.kind == _ERROR:
        return KioErrorCode(0)
    if shape.optional:
        return None
    kafka_type = shape.kafka_type or ""
    if kafka_type == "string":
        return ""
    if kafka_type == "bool":
        return False
    if kafka_type in ("bytes", "records"):
        return b""
    if kafka_type == "uuid":
        return _ZERO_UUID
    if kafka_type.startswith("[]") or kafka_type == "":
        return ()
    return 0


def _convert(shape: _FieldShape, value: Any) -> Any:
    if value is None:
        # A field nullable in later versions but not in this one: Kafka writes its default.
        return None if shape.optional else _zero(shape)
    if shape.kind == _ENTITY_TUPLE:
        return tuple(
            item if dataclasses.is_dataclass(item) else build(shape.nested, item)  # type: ignore[arg-type]
            for item in value
        )
    if shape.kind == _ENTITY:
        return value if dataclasses.is_dataclass(value) else build(shape.nested, value)  # type: ignore[arg-type]
    if shape.kind in (_TIMEDELTA32, _TIMEDELTA64):
        if isinstance(value, datetime.timedelta):
            return value
        return datetime.timedelta(milliseconds=int(value))
    if shape.kind == _ERROR:
        return KioErrorCode(int(value))
    if shape.kind == _DATETIME and not isinstance(value, datetime.datetime):
        if value < 0 and shape.optional:
            return None  # Kafka's -1 "no timestamp"
        return datetime.datetime.fromtimestamp(int(value) / 1000, datetime.UTC)
    if isinstance(value, list):
        return tuple(value)
    return value


def build(cls: type[Any], data: Mapping[str, Any]) -> Any:
    """An instance of kio class ``cls`` from ``data`` (extra keys ignored, missing ones default)."""
    values = {}
    for shape in _shapes(cls):
        if shape.name in data:
            values[shape.name] = _convert(shape, data[shape.name])
        elif shape.default is not dataclasses.MISSING:
            values[shape.name] = shape.default
        else:
            values[shape.name] = _zero(shape)
    return cls(**values)


def to_plain(entity: Any) -> Any:
    """``entity`` (a kio dataclass, possibly nested) as dicts, lists and plain scalars."""
    if dataclasses.is_dataclass(entity) and not isinstance(entity, type):
        return {f.name: to_plain(getattr(entity, f.name)) for f in dataclasses.fields(entity)}
    if isinstance(entity, tuple):
        return [to_plain(item) for item in entity]
    if isinstance(entity, datetime.datetime):
        return round(entity.timestamp() * 1000)
    if isinstance(entity, datetime.timedelta):
        return int(entity / datetime.timedelta(milliseconds=1))
    if isinstance(entity, Enum):
        return int(entity.value)
    if isinstance(entity, bool):
        return entity
    if isinstance(entity, int):
        return int(entity)
    if isinstance(entity, str):
        return str(entity)
    if isinstance(entity, bytes):
        return bytes(entity)
    return entity
