"""Each sequence function and its z3 encoding give the same answer on concrete values.

The proofs in protocol/proofs.py are about the z3 encodings; these tests are what ties the
proofs to the plain Python functions the model and the reference run. Every encoding is
evaluated twice: over 32-bit bit-vectors (Java's int) and over z3 Ints (Python's int).
"""

from __future__ import annotations

import z3
from hypothesis import example, given
from hypothesis import strategies as st

from kafka_eos.protocol.sequence import (
    MAX_SEQUENCE,
    NO_DUPLICATE_OFFSET,
    NO_SEQUENCE,
    SEQUENCE_BITS,
    find_duplicate,
    find_duplicate_z3,
    in_sequence,
    in_sequence_z3,
    is_duplicate_z3,
    last_sequence,
    last_sequence_z3,
    next_sequence,
    next_sequence_z3,
)

BOUNDARIES = [0, 1, 2, MAX_SEQUENCE - 2, MAX_SEQUENCE - 1, MAX_SEQUENCE]
sequences = st.sampled_from(BOUNDARIES) | st.integers(0, MAX_SEQUENCE)
increments = st.sampled_from(BOUNDARIES) | st.integers(0, MAX_SEQUENCE)
record_counts = st.sampled_from([1, 2, 5, MAX_SEQUENCE]) | st.integers(1, MAX_SEQUENCE)
#: first sequences and sizes of batches that straddle (or touch) the wrap
near_wrap = st.integers(MAX_SEQUENCE - 20, MAX_SEQUENCE)
small_counts = st.integers(1, 40)


SORTS = ("int32", "int")


def const(value: int, sort: str) -> z3.ExprRef:
    return z3.BitVecVal(value, SEQUENCE_BITS) if sort == "int32" else z3.IntVal(value)


def evaluate_int(term: z3.ExprRef) -> int:
    value = z3.simplify(term)
    if isinstance(value, z3.BitVecNumRef):
        return value.as_signed_long()
    assert isinstance(value, z3.IntNumRef), value
    return value.as_long()


def evaluate_bool(formula: z3.ExprRef) -> bool:
    value = z3.simplify(formula)
    assert z3.is_true(value) or z3.is_false(value), value
    return z3.is_true(value)


@given(sequences, increments)
@example(MAX_SEQUENCE, 1)
@example(MAX_SEQUENCE, MAX_SEQUENCE)
@example(0, 0)
def test_next_sequence_agrees(sequence: int, increment: int) -> None:
    expected = next_sequence(sequence, increment)
    assert expected == (sequence + increment) % 2**31
    for sort in SORTS:
        term = next_sequence_z3(const(sequence, sort), const(increment, sort))
        assert evaluate_int(term) == expected, sort


@given(near_wrap, small_counts)
def test_batches_straddling_the_wrap_agree(first: int, count: int) -> None:
    expected = last_sequence(first, count)
    assert expected == (first + count - 1) % 2**31
    for sort in SORTS:
        assert evaluate_int(last_sequence_z3(const(first, sort), const(count, sort))) == expected


@given(sequences, record_counts)
@example(MAX_SEQUENCE, 1)
@example(MAX_SEQUENCE, 2)
@example(0, 1)
def test_last_sequence_agrees(first: int, count: int) -> None:
    expected = last_sequence(first, count)
    for sort in SORTS:
        assert evaluate_int(last_sequence_z3(const(first, sort), const(count, sort))) == expected


@given(
    st.sampled_from([*BOUNDARIES, NO_SEQUENCE]) | st.integers(0, MAX_SEQUENCE),
    st.sampled_from(BOUNDARIES) | st.integers(0, MAX_SEQUENCE),
)
@example(MAX_SEQUENCE, 0)
@example(MAX_SEQUENCE - 1, MAX_SEQUENCE)
@example(NO_SEQUENCE, 0)
@example(5, 6)
@example(5, 5)
def test_in_sequence_agrees(last_seq: int, first_seq: int) -> None:
    expected = in_sequence(last_seq, first_seq)
    for sort in SORTS:
        assert evaluate_bool(in_sequence_z3(const(last_seq, sort), const(first_seq, sort))) == (
            expected
        ), sort


@given(sequences)
def test_in_sequence_accepts_the_next_sequence(last_seq: int) -> None:
    assert in_sequence(last_seq, next_sequence(last_seq, 1))
    for sort in SORTS:
        last = const(last_seq, sort)
        assert evaluate_bool(in_sequence_z3(last, next_sequence_z3(last, 1))), sort


# A small pool of ranges so that lookups hit cached batches often, including equal ranges
ranges = st.sampled_from(
    [(0, 0), (0, 4), (MAX_SEQUENCE, 3), (MAX_SEQUENCE - 1, MAX_SEQUENCE), (7, 9)]
)
caches = st.lists(st.tuples(ranges, st.integers(0, 10**6)), max_size=5).map(
    lambda entries: [(first, last, offset) for (first, last), offset in entries]
)


@given(caches, ranges)
def test_find_duplicate_agrees(cached: list[tuple[int, int, int]], probe: tuple[int, int]) -> None:
    first, last = probe
    expected = find_duplicate(cached, first, last)
    for sort in SORTS:
        symbolic = [(const(f, sort), const(lst, sort), offset) for f, lst, offset in cached]
        found = evaluate_int(find_duplicate_z3(symbolic, const(first, sort), const(last, sort)))
        assert found == (NO_DUPLICATE_OFFSET if expected is None else expected), sort
        pairs = [(f, lst) for f, lst, _ in symbolic]
        duplicate = is_duplicate_z3(pairs, const(first, sort), const(last, sort))
        assert evaluate_bool(duplicate) == (expected is not None), sort
