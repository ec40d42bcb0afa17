"""A state's 64-bit fingerprint: XXH3 of a canonical, deterministic encoding.

A state that is a tuple with tuples among its parts (as most models' are: one part per process
or variable) is fingerprinted part by part: XXH3 of its parts' fingerprints, each part's the
fingerprint of its encoding below. A step replaces one or two parts of a state and leaves the
others the same objects, and a model may make equal parts one object (the Kafka model does), so
a part's fingerprint is looked up by identity first: on the default Kafka check about 1 us a
successor instead of 2.3 us for encoding the whole state. Two states share a fingerprint only
if two distinct values of one part do or the parts' fingerprints hash alike: with n states and
n_i distinct values of part i, about (n^2 + sum n_i^2) / 2^65, where n_i is at most n and
usually far below it (the default check: 542,300 states, 90,247 distinct networks).

Python's ``hash()`` will not do: a str's hash changes with PYTHONHASHSEED (so a checkpoint
written by one process would not match the next), and an int's hash is the int itself modulo
2**61 - 1, so structured states collide in structured ways. A fingerprint instead hashes bytes
that depend on the value only:

- the fast path is ``marshal`` format 2, which writes ints, floats, strs, bytes, None, bools
  and exact tuples as the same bytes whatever objects hold them (format 3 and later write a
  back-reference for an object seen twice in the state, which depends on object sharing, not
  value; format 2 has no references);
- marshal writes a set or frozenset in iteration order, which depends on hash seeds and
  insertion history, and refuses NamedTuples, dataclasses and enums: such a state is encoded
  by :func:`canonical_bytes` instead, which sorts set members' encodings and names types. The
  choice depends on the value only: a state whose marshal bytes contain a set's type code (or
  a byte that looks like one) always takes the slow path.

Values that are equal across types (``1 == 1.0 == True``) get different fingerprints; a model
that mixes them at the same place of a state should use one type there.

The hash is XXH3's 64-bit variant (the ``xxhash`` package), a non-cryptographic hash built for
this: it passes SMHasher's collision and distribution tests, and is about ten times cheaper
than BLAKE2b (the first choice) on these short inputs: on states of the default Kafka
configuration (720 bytes a state in format 2, compiled), 0.12 us against 1.19 us for BLAKE2b
with its digest made an int, beside 2.1 us for marshal itself and 1.1 us for ``hash()`` of the
nested tuple. Nothing here depends on the hash being hard to invert: states are the model's,
not an adversary's.
"""

from __future__ import annotations

import dataclasses
import enum
import marshal
from struct import Struct
from typing import Any, Final

from xxhash import xxh3_64_intdigest

from . import tuples

#: The type of the hashed parts of checker/tuples.py, and its function that makes them plain
#: tuples: constants, which compiled are C statics, where a module global is a dict look-up at
#: each use (part_print runs for every part of every successor a fingerprint store keeps).
_HASHED: Final = tuples.HASHED_TYPE
_plain: Final = tuples.plain
_packed_prints: Final = tuples.packed_prints
_kept_print: Final = tuples.kept_print

# marshal's type codes for set and frozenset (Python/marshal.c: TYPE_SET '<', TYPE_FROZENSET
# '>'), as ints: ``60 in data`` is a plain memchr, several times faster than ``b"<" in data``.
_SET_CODE, _FROZENSET_CODE = ord("<"), ord(">")
MARSHAL_VERSION = 2
# 0 marks an empty slot in the fingerprint table, so no fingerprint is 0.
_ZERO_STANDS_FOR: Final = 1
#: The fingerprints of recent states' parts, by the part's id: (the part, its fingerprint). A
#: successor shares most parts with its parent (a step replaces one or two of them, the rest are
#: the same objects) and a model may make equal parts one object, so most parts of a successor
#: are found here by identity instead of encoded again. Each entry holds its part alive, so at
#: most _PARTS_HELD parts are kept; past that the table starts again. (Final, as the constants
#: above: the dict stays mutable, but compiled, its binding is read without a look-up.)
_PARTS: Final[dict[int, tuple[Any, int]]] = {}
_PARTS_HELD: Final = 1 << 16
#: Packs a tuple's part fingerprints, by the tuple's length. The tag byte is no marshal type code
#: and starts no canonical encoding, so these bytes are never another value's encoding.
_PACKERS: Final[dict[int, Any]] = {}
_PARTS_TAG: Final = b"P"


def fingerprint(state: Any) -> int:
    """The state's 64-bit fingerprint (never 0), stable across processes and runs.

    A tuple with a tuple among its parts gets XXH3 of its parts' fingerprints
    (:func:`part_prints`); anything else XXH3 of its encoding (:func:`value_fingerprint`)."""
    if by_parts(state):
        if _packed_prints is None:
            return of_part_prints(part_prints(state))
        # compiled: the same bytes, packed in one call from the parts' kept fingerprints
        packed = _packed_prints(state, _PARTS_TAG, part_print)
        return xxh3_64_intdigest(packed) or _ZERO_STANDS_FOR
    return value_fingerprint(state)


def by_parts(state: Any) -> bool:
    """Whether ``state`` is fingerprinted part by part: a tuple with a tuple among its parts.
    A flat tuple (TwoPhase's four ints, say) encodes whole faster than part by part: its
    parts are new objects at every step (an int past 256 is), found by identity never."""
    if type(state) is not tuple:
        return False
    for part in state:  # noqa: SIM110 (compiled, any() of a generator makes one per call)
        if compound(part):
            return True
    return False


def compound(part: Any) -> bool:
    """Whether a part of a state is a tuple (a hashed one included): fingerprinted by
    :func:`part_print` through its identity, and what makes its state one of parts."""
    kind = type(part)
    return kind is tuple or kind is _HASHED


def part_prints(state: tuple[Any, ...]) -> list[int]:
    """The fingerprints of a tuple's parts (:func:`part_print`)."""
    return [part_print(part) for part in state]


def part_print(part: Any) -> int:
    """The fingerprint of one part of a state: a hashed part's kept in it (checker/tuples.py;
    it is its plain tuple's), a plain tuple's found by identity where it can be, anything
    else's encoded (an atom encodes faster than it is looked up)."""
    kind = type(part)
    if kind is _HASHED:
        print_: int = _kept_print(part, value_fingerprint)
        return print_
    if kind is not tuple:
        return value_fingerprint(part)
    # Found, the entry holds ``part`` itself: no other object has its id while it lives.
    entry = _PARTS.get(id(part))
    if entry is None:
        if len(_PARTS) >= _PARTS_HELD:
            _PARTS.clear()
        entry = _PARTS[id(part)] = (part, value_fingerprint(part))
    return entry[1]


def of_part_prints(prints: list[int]) -> int:
    """The fingerprint of a tuple whose parts have the fingerprints ``prints``."""
    packer = _PACKERS.get(len(prints))
    if packer is None:
        packer = _PACKERS[len(prints)] = Struct(f"<c{len(prints)}Q").pack
    return xxh3_64_intdigest(packer(_PARTS_TAG, *prints)) or _ZERO_STANDS_FOR


def value_fingerprint(value: Any) -> int:
    """XXH3 of ``value``'s marshal bytes, or of its canonical encoding where those depend on
    more than its value (never 0)."""
    data = marshal_bytes(value)
    return xxh3_64_intdigest(canonical_bytes(value) if data is None else data) or _ZERO_STANDS_FOR


def marshal_bytes(state: Any, _dumps: Any = marshal.dumps) -> bytes | None:
    """The state in marshal format 2 when those bytes depend on its value only, else None.

    (The keyword default binds the function once: this runs once per transition.) Hashed parts
    are written as the plain tuples they equal: marshal writes exact tuples only.
    """
    if type(state) is _HASHED:  # a part: its items are plain (the model hashes parts only)
        items: Any = state
        state = tuple(items)
    try:
        data: bytes = _dumps(state, MARSHAL_VERSION)
    except ValueError:
        # a state holding hashed parts (rare: a state of parts is fingerprinted part by part)
        made_plain = _plain(state)
        if made_plain is state:
            return None
        try:
            data = _dumps(made_plain, MARSHAL_VERSION)
        except ValueError:
            return None
    if _SET_CODE in data or _FROZENSET_CODE in data:
        return None
    return data


def canonical_bytes(value: Any) -> bytes:
    """An encoding of ``value`` that equal values share, whatever their sets' orders."""
    parts: list[bytes] = []
    _encode(value, parts)
    return b"".join(parts)


def _encode(value: Any, out: list[bytes]) -> None:
    kind = type(value)
    if kind is tuple or kind is _HASHED:  # a hashed part encodes as its plain tuple
        out.append(b"(%d:" % len(value))
        for item in value:
            _encode(item, out)
        out.append(b")")
    elif isinstance(value, frozenset | set):
        members = sorted(canonical_bytes(member) for member in value)
        out.append(b"{%d:" % len(members))
        out.extend(members)
        out.append(b"}")
    elif isinstance(value, enum.Enum):
        out.append(b"E%s.%s;" % (_type_name(kind), value.name.encode()))
    elif isinstance(value, tuple):  # a NamedTuple or another tuple subclass
        out.append(b"T%s" % _type_name(kind))
        _encode(tuple(value), out)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out.append(b"D%s" % _type_name(kind))
        _encode(tuple(getattr(value, f.name) for f in dataclasses.fields(value)), out)
    else:
        # An atom: its type and marshal bytes, or its repr for what marshal cannot write.
        try:
            atom = marshal.dumps(value, MARSHAL_VERSION)
        except ValueError:
            atom = repr(value).encode()
        out.append(b"A%s%d:%s" % (_type_name(kind), len(atom), atom))


def _type_name(kind: type) -> bytes:
    return f"{kind.__module__}.{kind.__qualname__}".encode()


def collision_probability(distinct_states: int) -> float:
    """The chance that two of ``distinct_states`` states share a fingerprint: n(n-1)/2**65.

    The birthday bound for 64-bit fingerprints. When it happens, the second state is taken for
    the first and not explored, so a verdict "ok" could miss states; TLC prints the same kind
    of estimate with its result.
    """
    n = distinct_states
    return n * (n - 1) / 2.0**65


def tlc_optimistic_probability(distinct_states: int, transitions: int) -> float:
    """TLC's "calculated (optimistic)" estimate: n * (t - n) / 2**64.

    Each of the t - n successors that matched a stored fingerprint could have matched one of
    the n stored fingerprints by accident; TLC prints this figure as its optimistic estimate.
    """
    n = distinct_states
    return n * max(transitions - n, 0) / 2.0**64
