"""Tuple primitives for states made of parts: in C in the compiled build (``_tuples.c``), in
Python where nothing is compiled. Both give equal results; only their speed differs.

- :func:`hashed`: a part that keeps its hash. Python's tuples compute their hash again at
  every look-up, walking every nested tuple: a Kafka state's hash took 0.86 us, spread over its
  seven parts, and the search hashes every successor. A model that interns its parts (one
  object per value, see ``KafkaEosModel._canonical``) makes each interned part hashed: a
  state's hash is then its parts' kept hashes combined. A hashed part equals, orders and hashes
  as the plain tuple of its items (dicts and sets mix them freely); it pickles as that plain
  tuple; :func:`plain` turns the hashed parts in a value back into plain tuples for ``marshal``,
  which writes exact tuples only. Without the compiled build :func:`hashed` returns a plain
  tuple (the same object when given one).
- :func:`interned`: a successor's parts made the first objects of their values, one table per
  position, a new value's object a hashed one: the whole interning loop of such a model, in C
  where compiled (one copy of the successor at most, and the tables keyed by hashed objects).
- :func:`kept_print`: a part's fingerprint, which a hashed part keeps once computed; and, in C
  only, ``packed_prints``: the bytes a state of parts is fingerprinted by (fingerprint.py),
  its parts' fingerprints packed from those kept, without a look-up per part.
- :func:`replace`, :func:`replace_many`: a tuple with positions set, the step every action of
  a model built of tuples takes to make its successor. In C, one copy of the item pointers; in
  Python, through a list (about 1.3 us -> 0.8 us against two slices and an unpacking).
"""

from __future__ import annotations

from typing import Any

__all__ = ["COMPILED", "HASHED_TYPE", "PYTHON_VERSIONS", "hashed", "interned", "kept_print",
           "packed_prints", "plain", "replace", "replace_many"]


class _NothingHashed(tuple[Any, ...]):
    """Stands for the hashed parts' type where nothing is compiled: no value is of it."""

    __slots__ = ()


#: The type of a hashed part (where nothing is compiled, a type no value is of).
HASHED_TYPE: type = _NothingHashed


def hashed(items: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
    """The items as a tuple that keeps its hash (a plain tuple where nothing is compiled)."""
    return tuple(items)


def replace(values: tuple[Any, ...], index: int, value: object) -> tuple[Any, ...]:
    """``values`` with position ``index`` set to ``value``."""
    changed = list(values)
    changed[index] = value
    return tuple(changed)


def replace_many(values: tuple[Any, ...], *changes: tuple[int, object]) -> tuple[Any, ...]:
    """``values`` with each ``(index, value)`` of ``changes`` set: :func:`replace` for a step
    that changes several positions at once (one copy instead of one per position)."""
    changed = list(values)
    for index, value in changes:
        changed[index] = value
    return tuple(changed)


def plain(value: Any) -> Any:
    """``value`` with its hashed parts made plain tuples (the same object where it has none,
    as it always is where nothing is compiled)."""
    return value


def interned(tables: tuple[dict[Any, Any], ...], parent: tuple[Any, ...],
             following: tuple[Any, ...], limit: int) -> tuple[Any, ...]:
    """``following`` with each part it does not share with ``parent`` (the same object) made
    the first object of its value in that position's table; a table holding ``limit`` values
    starts again. ``following`` itself when no part changes object. Compiled, a new value that
    is an exact tuple is stored as a hashed copy; here, where nothing is hashed, as itself."""
    changed: list[Any] | None = None
    for at, table in enumerate(tables):
        part = following[at]
        if at < len(parent) and part is parent[at]:
            continue
        first = table.get(part)
        if first is None:
            if len(table) >= limit:
                table.clear()
            first = table[part] = part
        if first is not part:
            if changed is None:
                changed = list(following)
            changed[at] = first
    return following if changed is None else tuple(changed)


def kept_print(part: Any, compute: Any) -> int:
    """``compute(part)``: a part's fingerprint (fingerprint.py). Compiled, a hashed part keeps
    it once computed."""
    print_: int = compute(part)
    return print_


#: Compiled, ``packed_prints(state, tag, compute)``: the bytes fingerprint.of_part_prints
#: packs for the fingerprints ``compute`` gives the state's parts, a hashed part's kept in it.
#: None where nothing is compiled: fingerprint.py then packs through of_part_prints itself
#: (the one statement of those bytes in Python).
packed_prints: Any = None


#: The pure-Python versions by name, whichever versions run (the tests hold the C ones to them).
PYTHON_VERSIONS: dict[str, Any] = {
    "hashed": hashed, "interned": interned, "replace": replace, "replace_many": replace_many,
    "plain": plain, "kept_print": kept_print,
}
#: Whether the C versions are in use (the compiled build holds ``_tuples``).
COMPILED = False

try:
    from ._tuples import (  # type: ignore[import-not-found,no-redef,unused-ignore]
        HashedTuple as HASHED_TYPE,
    )
    from ._tuples import (  # type: ignore[import-not-found,no-redef,unused-ignore]
        hashed,
        interned,
        kept_print,
        packed_prints,
        plain,
        replace,
        replace_many,
    )

    COMPILED = True
except ImportError:  # no compiled build matches the sources: the versions above run
    pass
