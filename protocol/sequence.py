"""Producer sequence-number arithmetic, which the model and the reference both import.

Sequence numbers are int32 values in [0, 2147483647] that wrap to 0 (Kafka's
``DefaultRecordBatch.incrementSequence``); one batch may straddle the wrap. Every function here
is plain integer Python, fast enough for the model checker's successor function. The z3
encodings beside them (``*_z3``) state the same rule over 32-bit bit-vectors so that
``kafka-eos prove`` can check it for every value, and the tests check that each pair agrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: Largest sequence number (Java's Integer.MAX_VALUE); the next one is 0.
MAX_SEQUENCE = 2**31 - 1
#: RecordBatch.NO_SEQUENCE: the sequence of a batch from a producer without idempotence.
NO_SEQUENCE = -1
#: Batches of metadata a leader keeps per producer (ProducerStateEntry.NUM_BATCHES_TO_RETAIN),
#: equal to the client's max.in.flight.requests.per.connection limit under idempotence.
NUM_BATCHES_TO_RETAIN = 5


def next_sequence(sequence: int, increment: int = 1) -> int:
    """The sequence ``increment`` after ``sequence``, wrapping past MAX_SEQUENCE to 0."""
    if sequence > MAX_SEQUENCE - increment:
        return increment - (MAX_SEQUENCE - sequence) - 1
    return sequence + increment


def last_sequence(first_sequence: int, record_count: int) -> int:
    """Sequence of the last record of a batch of ``record_count`` records."""
    return next_sequence(first_sequence, record_count - 1)


def in_sequence(last_seq: int, first_seq: int) -> bool:
    """Whether a batch starting at ``first_seq`` may follow one that ended at ``last_seq``.

    Exactly one successor is accepted: ``last_seq + 1``, or 0 after MAX_SEQUENCE
    (ProducerAppendInfo.inSequence).
    """
    return first_seq == last_seq + 1 or (first_seq == 0 and last_seq == MAX_SEQUENCE)


#: TxnPartitionEntry.lastAckedSequence before anything is acknowledged under an epoch.
NO_LAST_ACKED_SEQUENCE = -1


def out_of_order_is_gap(*, base_sequence: int, last_acked_sequence: int, reset: bool) -> bool:
    """Whether an OUT_OF_ORDER_SEQUENCE_NUMBER answer for a batch means a real gap in the log
    (TransactionManager.canRetry, with no unresolved sequence on the partition).

    Only the next expected batch (``last_acked_sequence + 1``) can see a gap, and only under the
    sequence it was sent with: a later batch, or one whose sequence was reset since it went out
    (``reset``), gets the error because an earlier batch is being retried, and is simply
    retried. For the next batch an idempotent producer bumps its epoch and retries the batch
    (KIP-360); a transactional one fails it and aborts.
    """
    return not reset and in_sequence(last_acked_sequence, base_sequence)


def find_duplicate(
    cached: Iterable[tuple[int, int, int]], first_seq: int, last_seq: int
) -> int | None:
    """Offset of the cached batch with this exact sequence range, or None.

    ``cached`` holds (first_seq, last_seq, last_offset) of a producer's retained batches for one
    epoch (ProducerStateEntry.findDuplicateBatch: both ends must match). Returns the cached
    batch's last offset; the caller derives the base offset from the record count.
    """
    for cached_first, cached_last, last_offset in cached:
        if cached_first == first_seq and cached_last == last_seq:
            return last_offset
    return None


# --- z3 encodings --------------------------------------------------------------------------
# Imported lazily: the model checker and the reference never need z3 at run time.
# Each encoding is generic over the sort of its arguments: given 32-bit bit-vectors (compared
# signed) it states the rule in Java's int arithmetic, where an overflow would wrap to a
# negative number; given z3 Ints it states it in Python's unbounded integers, exactly what the
# functions above compute. The domain of a sequence is [0, MAX_SEQUENCE] and of a record count
# [1, MAX_SEQUENCE] (a batch has at least one record): there each encoding is proved (and
# tested) to agree with its Python function.

#: Bit width of a sequence number (Java int).
SEQUENCE_BITS = 32
#: What :func:`find_duplicate_z3` evaluates to when no cached batch matches (offsets are >= 0).
NO_DUPLICATE_OFFSET = -1


def sequence_z3(name: str, *, bits: bool = True) -> Any:
    """A fresh symbolic sequence number: a 32-bit bit-vector, or with ``bits=False`` an
    unbounded integer (constrain it with :func:`valid_sequence_z3`)."""
    import z3

    return z3.BitVec(name, SEQUENCE_BITS) if bits else z3.Int(name)


def valid_sequence_z3(sequence: Any) -> Any:
    """z3 formula: ``sequence`` lies in [0, MAX_SEQUENCE]."""
    import z3

    return z3.And(sequence >= 0, sequence <= MAX_SEQUENCE)


def next_sequence_z3(sequence: Any, increment: Any) -> Any:
    """z3 term for :func:`next_sequence` (bit-vectors: signed comparison, like Java)."""
    import z3

    return z3.If(
        sequence > MAX_SEQUENCE - increment,
        increment - (MAX_SEQUENCE - sequence) - 1,
        sequence + increment,
    )


def last_sequence_z3(first_sequence: Any, record_count: Any) -> Any:
    """z3 term for :func:`last_sequence`."""
    return next_sequence_z3(first_sequence, record_count - 1)


def in_sequence_z3(last_seq: Any, first_seq: Any) -> Any:
    """z3 formula for :func:`in_sequence`."""
    import z3

    return z3.Or(
        first_seq == last_seq + 1,
        z3.And(first_seq == 0, last_seq == MAX_SEQUENCE),
    )


def is_duplicate_z3(cached: Iterable[tuple[Any, Any]], first_seq: Any, last_seq: Any) -> Any:
    """z3 formula: some cached (first, last) range equals (first_seq, last_seq)."""
    import z3

    return z3.Or([z3.And(f == first_seq, lst == last_seq) for f, lst in cached] or [False])


def find_duplicate_z3(cached: Iterable[tuple[Any, Any, Any]], first_seq: Any, last_seq: Any) -> Any:
    """z3 integer term for :func:`find_duplicate`: the last offset of the FIRST cached batch
    (in the given order) whose range equals (first_seq, last_seq), else NO_DUPLICATE_OFFSET.

    First match, like the Python: if two cached batches had the same range (only possible when
    the cache spans 2**31 sequence numbers), the answer is the older batch's offset.
    """
    import z3

    term: Any = z3.IntVal(NO_DUPLICATE_OFFSET)
    for cached_first, cached_last, last_offset in reversed(list(cached)):
        match = z3.And(cached_first == first_seq, cached_last == last_seq)
        term = z3.If(match, last_offset, term)
    return term
