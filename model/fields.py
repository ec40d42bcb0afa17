"""The vocabulary of the state schema (:mod:`.schema`): a field, a component, a schema."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: How a trace shows a field: a key of ``variables.RENDERERS``. ``value`` shows it as stored,
#: ``hidden`` leaves it out (a ghost the properties use, or a copy shown elsewhere).
Show = str


@dataclass(frozen=True, slots=True)
class Field:
    """One named position of a component (or, ``stored=False``, a value the trace derives)."""

    name: str
    doc: str
    #: the layout constant naming the position ("" for none)
    constant: str = ""
    show: Show = "value"
    #: text messages: the prefix the field's value takes in the message's text
    tag: str = ""
    #: False: not in the tuple, computed for readers from the model and the component
    stored: bool = True
    #: a tuple of components: the component (or variant group) of its elements
    item: str = ""
    #: one component (or ()): its component (or variant group)
    record: str = ""


@dataclass(frozen=True, slots=True)
class Component:
    """A record of the state: its fields, stored ones in tuple order."""

    name: str
    doc: str
    fields: tuple[Field, ...]
    #: the Kafka classes it stands for
    kafka: str = ""
    #: a variant (a message kind, a log entry type): its code's constant and value, stored in
    #: its first field
    code: str = ""
    code_value: int = -1
    #: a message: the fields its text shows, in order (the rest are appended as name=value
    #: unless hidden)
    text: tuple[str, ...] = ()

    @property
    def stored(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.stored)

    def position(self, name: str) -> int:
        """The tuple index of stored field ``name``."""
        for index, field in enumerate(self.stored):
            if field.name == name:
                return index
        raise KeyError(f"{self.name} has no stored field {name!r}")

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"{self.name} has no field {name!r}")

    def make(self, **values: Any) -> tuple[Any, ...]:
        """The tuple of this component with every stored field given by name (a field
        missing or unknown is an error, so a field added here cannot be forgotten); a
        variant's code field may be left out: it is the variant's code."""
        names = [f.name for f in self.stored]
        if self.code and names[0] not in values:
            values[names[0]] = self.code_value
        missing = [n for n in names if n not in values]
        unknown = [n for n in values if n not in names]
        if missing or unknown:
            raise TypeError(f"{self.name}: missing fields {missing}, unknown fields {unknown}")
        return tuple(values[n] for n in names)

    def named(self, value: tuple[Any, ...]) -> dict[str, Any]:
        """``value``'s stored fields by name (raw values)."""
        stored = self.stored
        if len(value) != len(stored):
            raise ValueError(f"{self.name} has {len(stored)} fields, the value {len(value)}")
        return {f.name: v for f, v in zip(stored, value, strict=True)}


def field(name: str, doc: str, constant: str = "", **more: Any) -> Field:
    return Field(name=name, doc=doc, constant=constant, **more)


def derived(name: str, doc: str, show: Show) -> Field:
    return Field(name=name, doc=doc, show=show, stored=False)


@dataclass(frozen=True, slots=True)
class Schema:
    """The whole declaration (a test may pass an extended copy)."""

    components: Mapping[str, Component]
    variants: Mapping[str, tuple[Component, ...]]

    def of(self, name: str, value: tuple[Any, ...]) -> Component:
        """The component ``value`` is, for a component or variant group ``name``."""
        if name in self.variants:
            for variant in self.variants[name]:
                if value[0] == variant.code_value:
                    return variant
            raise ValueError(f"no {name} has code {value[0]!r}")
        return self.components[name]

    def all(self) -> Iterator[Component]:
        yield from self.components.values()
        for group in self.variants.values():
            yield from group

    def with_field(self, component: str, field: Field) -> Schema:
        """This schema with ``field`` appended to ``component`` (a variant's name too)."""

        def extended(c: Component) -> Component:
            if c.name != component:
                return c
            return Component(
                c.name, c.doc, (*c.fields, field), c.kafka, c.code, c.code_value, c.text
            )

        return Schema(
            {n: extended(c) for n, c in self.components.items()},
            {n: tuple(extended(c) for c in g) for n, g in self.variants.items()},
        )
