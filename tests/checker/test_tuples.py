"""checker/tuples.py: the tuple primitives, in C (the compiled build's ``_tuples``) and in
Python, give the same values. A hashed part must be, for every reader of a state, the plain
tuple it equals: in a dict or set, in a comparison, pickled, written by marshal.

The C module is built alone (one gcc run) into a temporary cache and loaded from there, so
these tests run it whether or not the test process runs the compiled build.
"""

from __future__ import annotations

import marshal
import pickle
from struct import Struct
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from c_modules import built_alone
from hypothesis import given
from hypothesis import strategies as st
from xxhash import xxh3_64_intdigest

from kafka_eos.checker import tuples as python_tuples
from kafka_eos.checker.fingerprint import _PARTS_TAG, of_part_prints, part_print, part_prints

C_MODULE = "kafka_eos.checker._tuples"

#: nested tuples of small ints and short strs, as a model's states are
values = st.recursive(
    st.integers(-3, 300) | st.text(max_size=2),
    lambda inner: st.lists(inner, max_size=4).map(tuple),
    max_leaves=12,
)
tuples_ = st.lists(values, max_size=6).map(tuple)


@pytest.fixture(scope="module")
def c_tuples(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The C module, compiled alone into a fresh cache and loaded from its file."""
    return built_alone(C_MODULE, tmp_path_factory)


@pytest.fixture(scope="module", params=["python", "c"])
def impl(request: pytest.FixtureRequest) -> Any:
    """Each implementation of the primitives."""
    if request.param == "python":
        return _PythonImpl()
    return request.getfixturevalue("c_tuples")


class _PythonImpl:
    """The pure-Python versions, as a module-like object (what runs with no compiled build)."""

    hashed = staticmethod(python_tuples.PYTHON_VERSIONS["hashed"])
    replace = staticmethod(python_tuples.PYTHON_VERSIONS["replace"])
    replace_many = staticmethod(python_tuples.PYTHON_VERSIONS["replace_many"])
    interned = staticmethod(python_tuples.PYTHON_VERSIONS["interned"])
    plain = staticmethod(python_tuples.PYTHON_VERSIONS["plain"])
    kept_print = staticmethod(python_tuples.PYTHON_VERSIONS["kept_print"])


def _deep_hashed(c_tuples: ModuleType, value: Any) -> Any:
    """``value`` with every tuple in it hashed."""
    if type(value) is not tuple:
        return value
    return c_tuples.hashed([_deep_hashed(c_tuples, item) for item in value])


@given(value=tuples_)
def test_a_hashed_tuple_is_its_plain_tuple_to_every_reader(c_tuples: ModuleType,
                                                           value: tuple[Any, ...]) -> None:
    part = c_tuples.hashed(value)
    assert type(part) is c_tuples.HashedTuple and isinstance(part, tuple)
    assert part == value and value == part and not part != value  # noqa: SIM202 (!= itself)
    assert hash(part) == hash(value)
    assert repr(part) == repr(value) and list(part) == list(value) and len(part) == len(value)
    assert part[1:] == value[1:] and part + (0,) == (*value, 0)  # noqa: RUF005 (+ itself)
    assert {value: "plain"}[part] == "plain" and {part: "hashed"}[value] == "hashed"
    assert part < (*value, 0) and (*value, 0) > part and part <= value


@given(value=tuples_)
def test_equal_hashed_tuples_are_one_key(c_tuples: ModuleType, value: tuple[Any, ...]) -> None:
    """Two hashed objects of one value compare equal (not by identity: CPython drops a type's
    inherited comparison when it sets its own hash), so a table that starts again and makes a
    second object of a value still finds the first."""
    first, second = c_tuples.hashed(value), c_tuples.hashed(list(value))
    assert first is not second and first == second and len({first, second, value}) == 1
    assert sorted([c_tuples.hashed((2,)), c_tuples.hashed((1,))]) == [(1,), (2,)]


@given(value=values)
def test_hashed_parts_pickle_and_marshal_as_plain_tuples(c_tuples: ModuleType, value: Any) -> None:
    """Checkpoints, spilled queues and Ray pickle states; fingerprints and workers write them
    with marshal, which takes exact tuples only: either way a hashed part is its plain tuple."""
    deep = _deep_hashed(c_tuples, value)
    state = (deep, (deep,))  # a hashed part inside a plain tuple inside the state
    plain_state = (value, (value,))
    revived = pickle.loads(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))
    assert revived == plain_state and _only_plain_tuples(revived)
    made_plain = c_tuples.plain(state)
    assert made_plain == plain_state and _only_plain_tuples(made_plain)
    assert marshal.dumps(made_plain, 2) == marshal.dumps(plain_state, 2)
    assert c_tuples.plain(plain_state) is plain_state  # nothing hashed: nothing copied
    with pytest.raises(ValueError, match="unmarshallable"):
        marshal.dumps(c_tuples.hashed((1,)), 2)


def _only_plain_tuples(value: Any) -> bool:
    if isinstance(value, tuple):
        return type(value) is tuple and all(_only_plain_tuples(item) for item in value)
    return True


def test_an_unhashable_item_is_refused_when_the_tuple_is_made(c_tuples: ModuleType) -> None:
    with pytest.raises(TypeError, match="unhashable"):
        c_tuples.hashed(([],))
    with pytest.raises(TypeError, match="tuple or a list"):
        c_tuples.hashed(5)
    with pytest.raises(TypeError, match="no keyword"):
        c_tuples.HashedTuple((1,), extra=2)
    assert c_tuples.HashedTuple(iter((1, 2))) == (1, 2)


@given(values_=tuples_.filter(len), data=st.data())
def test_replace_sets_one_position(impl: Any, values_: tuple[Any, ...], data: Any) -> None:
    index = data.draw(st.integers(-len(values_), len(values_) - 1))
    expected = list(values_)
    expected[index] = "new"
    for given_ in (values_, impl.hashed(values_)):
        changed = impl.replace(given_, index, "new")
        assert changed == tuple(expected) and type(changed) is tuple
    assert impl.replace(values_, index, values_[index]) == values_


@given(values_=tuples_.filter(len), data=st.data())
def test_replace_many_sets_each_change_in_order(impl: Any, values_: tuple[Any, ...],
                                                data: Any) -> None:
    indices = st.integers(-len(values_), len(values_) - 1)
    changes = data.draw(st.lists(st.tuples(indices, st.integers()), max_size=4))
    expected = list(values_)
    for index, value in changes:
        expected[index] = value
    changed = impl.replace_many(impl.hashed(values_), *changes)
    assert changed == tuple(expected) and type(changed) is tuple



def test_a_position_out_of_range_is_an_index_error(impl: Any) -> None:
    with pytest.raises(IndexError):
        impl.replace((1, 2), 2, 0)
    with pytest.raises(IndexError):
        impl.replace((1, 2), -3, 0)
    with pytest.raises(IndexError):
        impl.replace_many((1, 2), (0, 9), (5, 0))


def test_the_c_versions_refuse_what_is_not_a_tuple(c_tuples: ModuleType) -> None:
    with pytest.raises(TypeError, match="takes a tuple"):
        c_tuples.replace([1, 2], 0, 0)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        c_tuples.replace((1, 2), 0)
    with pytest.raises(TypeError, match=r"\(index, value\) pair"):
        c_tuples.replace_many((1, 2), (0, 1, 2))


def test_without_the_compiled_build_nothing_is_hashed() -> None:
    """The pure-Python stand-ins keep a plain tuple plain (the same object), so a model that
    hashes its parts runs unchanged where nothing is compiled."""
    python = _PythonImpl()
    value = ((1, 2), (3,))
    assert python.hashed(value) is value
    assert python.hashed([1, 2]) == (1, 2)
    assert python.plain(value) is value


parts_ = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=3, max_size=3)


@given(parent=parts_, following=parts_, again=parts_)
def test_interned_makes_each_part_the_first_object_of_its_value(
    impl: Any, parent: list[Any], following: list[Any], again: list[Any]
) -> None:
    """A successor's parts become the table's objects for their values (a new value's object a
    hashed one where compiled); a part the parent shares is left as it is, and a successor
    whose parts are all known comes back made of the first objects met."""
    tables: tuple[dict[Any, Any], ...] = ({}, {}, {})
    parent_state = impl.interned(tables, (), tuple(tuple(p) for p in parent), 100)
    successor = tuple(parent_state[0:1]) + tuple(tuple(p) for p in following[1:])
    made = impl.interned(tables, parent_state, successor, 100)
    assert made == successor and made[0] is parent_state[0]
    for at, part in enumerate(made):
        assert tables[at][part] is part
    copy = tuple(tuple(p) for p in made)  # equal values, other objects
    remade = impl.interned(tables, (), copy, 100)
    assert remade == made and all(a is b for a, b in zip(remade, made, strict=True))
    unchanged = impl.interned(tables, made, made, 100)
    assert unchanged is made
    other = impl.interned(tables, (), tuple(tuple(p) for p in again), 100)
    assert other == tuple(tuple(p) for p in again)


def test_interned_starts_a_full_table_again(impl: Any) -> None:
    tables: tuple[dict[Any, Any], ...] = ({},)
    for value in range(5):
        impl.interned(tables, (), ((value,),), 3)
    assert len(tables[0]) == 2  # cleared at 3 values, then (3,) and (4,)
    assert impl.interned(tables, (), ((4,),), 3)[0] is next(iter(
        k for k in tables[0] if k == (4,)))


class _Pair(NamedTuple):
    left: int
    right: int


def test_interned_hashes_new_parts_where_compiled(c_tuples: ModuleType) -> None:
    """Only an exact tuple is hashed: a part of another type (a NamedTuple) keeps its type."""
    tables: tuple[dict[Any, Any], ...] = ({}, {}, {})
    made = c_tuples.interned(tables, (), ((1, 2), 7, _Pair(1, 2)), 10)
    assert type(made[0]) is c_tuples.HashedTuple and made[1] == 7
    assert type(made[2]) is _Pair and made[2].right == 2
    assert type(_PythonImpl.interned(({},), (), (_Pair(3, 4),), 10)[0]) is _Pair
    with pytest.raises(TypeError, match="interned"):
        c_tuples.interned([{}], (), ((1,),), 10)
    with pytest.raises(TypeError, match="each table is a dict"):
        c_tuples.interned(([],), (), ((1,),), 10)
    with pytest.raises(ValueError, match="fewer parts"):
        c_tuples.interned(({}, {}), (), ((1,),), 10)


@given(state=st.lists(values, min_size=1, max_size=8).map(tuple))
def test_packed_prints_are_the_part_fingerprints_fingerprint_py_hashes(c_tuples: ModuleType,
                                                                       state: Any) -> None:
    """Packed in C part by part, a state's fingerprint is the one of_part_prints gives its
    part fingerprints (workers send the prints, and the store looks states up by it)."""
    parts = tuple(c_tuples.hashed(part) if type(part) is tuple else part for part in state)

    def compute(part: Any) -> int:  # this process's fingerprint.py may not know the C type
        return part_print(c_tuples.plain(part))

    packed = c_tuples.packed_prints(parts, _PARTS_TAG, compute)
    assert packed == Struct(f"<c{len(state)}Q").pack(_PARTS_TAG, *part_prints(state))
    fingerprint = xxh3_64_intdigest(packed) or 1  # as fingerprint.py: no fingerprint is 0
    assert fingerprint == of_part_prints(part_prints(state))


def test_a_hashed_part_keeps_its_fingerprint_once_computed(c_tuples: ModuleType) -> None:
    asked: list[Any] = []

    def compute(part: Any) -> int:
        asked.append(part)
        return 0xFEDCBA9876543210 if type(part) is c_tuples.HashedTuple else 7

    kept, atom = c_tuples.hashed((1, (2,))), 300
    first = c_tuples.packed_prints((kept, atom), b"P", compute)
    assert first == b"P" + (0xFEDCBA9876543210).to_bytes(8, "little") + (7).to_bytes(8, "little")
    assert asked == [kept, atom]
    assert c_tuples.packed_prints((atom, kept), b"P", compute)[9:] == first[1:9]
    assert asked == [kept, atom, atom]  # the hashed part's was kept; the atom's asked again
    # a plain tuple of the same value keeps nothing: asked for at every call
    c_tuples.packed_prints(((1, (2,)),), b"P", compute)
    c_tuples.packed_prints(((1, (2,)),), b"P", compute)
    assert len(asked) == 5


def test_kept_print_is_the_part_fingerprint_kept_in_a_hashed_part(impl: Any) -> None:
    asked: list[Any] = []

    def compute(part: Any) -> int:
        asked.append(part)
        return 0xFEDCBA9876543210

    part = impl.hashed((1, (2,)))
    assert impl.kept_print(part, compute) == impl.kept_print(part, compute) == 0xFEDCBA9876543210
    kept = type(part) is not tuple  # C's hashed part keeps it; Python's hashed() is plain
    assert len(asked) == (1 if kept else 2)
    assert impl.kept_print(7, compute) == 0xFEDCBA9876543210  # an atom: asked every time
    assert len(asked) == (2 if kept else 3)


def test_packed_prints_refuses_what_is_no_state_of_parts(c_tuples: ModuleType) -> None:
    with pytest.raises(TypeError, match="tuple of parts"):
        c_tuples.packed_prints([(1,)], b"P", part_print)
    with pytest.raises(TypeError, match="one byte"):
        c_tuples.packed_prints(((1,),), b"PP", part_print)
    with pytest.raises(ValueError, match="fingerprint is 0"):
        c_tuples.packed_prints(((1,),), b"P", lambda part: 0)
    with pytest.raises(OverflowError):
        c_tuples.packed_prints(((1,),), b"P", lambda part: 1 << 64)
    with pytest.raises(KeyError):
        c_tuples.packed_prints(((1,),), b"P", lambda part: {}[part])
    with pytest.raises(ValueError, match="fingerprint is 0"):
        c_tuples.kept_print(c_tuples.hashed((1,)), lambda part: 0)
    with pytest.raises(TypeError, match="takes"):
        c_tuples.kept_print((1,))
