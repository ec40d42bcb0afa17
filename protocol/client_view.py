"""Client-view anomalies: exactly-once judged by what each client was told, in Jepsen's words.

Jepsen judges a Kafka-compatible system by what its clients saw, not by its logs: each send
and each transaction ends ``:ok`` (the client was told it happened), ``:fail`` (told it did
not) or ``:info`` (the client cannot know: a timeout, a lost answer), and each poll returns
(offset, value) pairs. Elle's Kafka checker (``jepsen.tests.kafka``) then names what went
wrong; these rules use its names and definitions, over a :class:`ClientView` that the model
(model/client_view.py) and the history checks (protocol/history_view.py) each build from
their own shapes, so the rule for each anomaly is written once:

- ``duplicate``: one sent record is seen (acknowledged or polled) at more than one offset of
  its partition.
- ``lost-write``: a record that must have committed (its send or transaction was told ok, or
  it is indefinite and some record of it or its transaction was polled) sits at an offset no
  higher than the highest one polled from its partition, and no poll returned it.
- ``G1a`` (aborted read): a poll returned a record whose send or transaction was told it
  failed (an abort that returned success, a definite error).
- ``torn-transaction``: some records of a transaction were polled while another of its
  records, at an offset some poll went past, was never returned.
- ``nonmonotonic-send``: a client's later send to a partition (in its sequence order) was
  acknowledged at a lower offset than an earlier one.
- ``poll-skip``: two consecutive polls of one reader on one partition skip over an offset
  where a record that must have committed is known to be (acknowledged or polled there).
- ``nonmonotonic-poll``: a reader's poll of a partition returns an offset no higher than its
  previous poll there, with no seek in between.

An indefinite outcome constrains nothing on its own, as in Elle: only a poll of the record
(or of its transaction's) turns it into one that must have committed. Polls are those of
read_committed readers: a read_uncommitted reader may return aborted records.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum

#: Elle's name -> what a run shows when it has that anomaly (the model's property names too).
ANOMALIES: dict[str, str] = {
    "duplicate": "a record a client sent is seen (acknowledged or polled) at two offsets "
    "(Jepsen: duplicate)",
    "lost-write": "a record that must have committed (told ok, or polled in part) is below "
    "the highest offset polled from its partition but never polled (Jepsen: lost write)",
    "G1a": "a poll returned a record whose send or transaction was told it failed "
    "(Jepsen: G1a, aborted read)",
    "torn-transaction": "part of a transaction was polled, and another of its records that a "
    "poll went past never was (Jepsen: torn transaction)",
    "nonmonotonic-send": "a client's later send to a partition was acknowledged at a lower "
    "offset than an earlier one (Jepsen: nonmonotonic send)",
    "poll-skip": "consecutive polls of one reader skip a record that must have committed "
    "(Jepsen: poll skip)",
    "nonmonotonic-poll": "a reader's poll of a partition went back to an offset no higher than "
    "its previous poll there, with no seek in between (Jepsen: nonmonotonic poll)",
}

#: Answers after which a client cannot know whether its send was written: Kafka's client
#: surfaces them as a TimeoutException or a retriable error it gave up on, which Jepsen
#: records as ``:info``. Every other error answer is a definite failure.
INDEFINITE_ERRORS = frozenset(
    {
        "REQUEST_TIMED_OUT",
        "NETWORK_EXCEPTION",
        "UNKNOWN_SERVER_ERROR",
        "NOT_LEADER_OR_FOLLOWER",
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    }
)


class Told(IntEnum):
    """What a client was told about a send or a transaction (Jepsen's :ok, :fail, :info)."""

    OK = 0
    FAILED = 1
    INDEFINITE = 2


def told_by_error(error: str) -> Told:
    """What an answer with ``error`` ("NONE" for success) told its client."""
    if error == "NONE":
        return Told.OK
    return Told.INDEFINITE if error in INDEFINITE_ERRORS else Told.FAILED


@dataclass(frozen=True, slots=True)
class Sent:
    """One record a client sent: where it was told the record landed (``offset``, -1 when it
    was not told) and what it was told about the record (its transaction's outcome when it
    is transactional). ``order`` is its place in the client's sends to the partition
    (producer id, producer epoch, sequence: sends of different producer ids are not
    compared), or None when the client gives no order (no sequences).
    ``transaction`` groups the records of one client transaction (None: not transactional).
    ``value`` and ``ref`` say how a report names it (``ref``: the 0-based history position of
    the answer that told the client, or of its append; -1 for none)."""

    client: str
    partition: str
    offset: int
    told: Told
    order: tuple[int, int, int] | None = None
    transaction: Hashable | None = None
    value: str = ""
    ref: int = -1


@dataclass(frozen=True, slots=True)
class Polled:
    """One record a read_committed poll returned: ``sent`` is the index of the record in
    :attr:`ClientView.sent`. Polls are listed in the order each reader made them.
    ``after_seek``: the reader set its position on the partition (a seek, a new assignment)
    since its previous poll there, so this poll may go back."""

    reader: str
    partition: str
    offset: int
    sent: int
    ref: int = -1
    after_seek: bool = False


@dataclass(frozen=True, slots=True)
class ClientView:
    """Everything the clients of a run were told: its sends and its polls."""

    sent: Sequence[Sent]
    polled: Sequence[Polled]


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomaly: Elle's ``name`` for it, a one-line ``detail``, the ``refs`` it involves."""

    name: str
    detail: str
    refs: tuple[int, ...]


def anomalies(view: ClientView, *, polled_transactions: Iterable[Hashable] = ()) -> list[Anomaly]:
    """Every client-view anomaly of ``view``, grouped by name in the order of ANOMALIES.
    ``polled_transactions`` adds transactions polled outside the view (a view of one
    partition of a run: a transaction polled on another is torn if this one skipped it)."""
    facts = _Facts(view, polled_transactions)
    found: list[Anomaly] = []
    found.extend(_duplicates(facts))
    found.extend(_lost_and_torn(facts))
    found.extend(_aborted_reads(facts))
    found.extend(_nonmonotonic_sends(facts))
    found.extend(_poll_skips(facts))
    found.extend(_nonmonotonic_polls(facts))
    order = list(ANOMALIES)
    found.sort(key=lambda anomaly: order.index(anomaly.name))
    return found


class _Facts:
    """What the rules look up, computed once: the polls of each sent record, the highest
    offset polled per partition, the transactions polled in part, and where each record is
    known to be."""

    def __init__(self, view: ClientView, polled_transactions: Iterable[Hashable]) -> None:
        self.view = view
        self.polls_of: dict[int, list[int]] = defaultdict(list)
        self.highest: dict[str, int] = {}
        self.polled_transactions: set[Hashable] = set(polled_transactions)
        for number, poll in enumerate(view.polled):
            self.polls_of[poll.sent].append(number)
            if poll.offset > self.highest.get(poll.partition, -1):
                self.highest[poll.partition] = poll.offset
            transaction = view.sent[poll.sent].transaction
            if transaction is not None:
                self.polled_transactions.add(transaction)

    def must_have_committed(self, index: int) -> bool:
        """Elle's must-have-committed?: told ok, or indefinite and seen committed (the record
        or a record of its transaction was polled)."""
        sent = self.view.sent[index]
        if sent.told == Told.OK:
            return True
        if sent.told == Told.FAILED:
            return False
        return index in self.polls_of or (
            sent.transaction is not None and sent.transaction in self.polled_transactions
        )

    def offsets_seen(self, index: int) -> set[int]:
        sent = self.view.sent[index]
        seen = {self.view.polled[n].offset for n in self.polls_of.get(index, ())}
        if sent.offset >= 0:
            seen.add(sent.offset)
        return seen

    def known_offsets(self) -> dict[str, list[tuple[int, int]]]:
        """Per partition, the sorted (offset, sent index) of every record that must have
        committed at an offset a client was told or polled."""
        known: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for index, sent in enumerate(self.view.sent):
            if self.must_have_committed(index):
                for offset in self.offsets_seen(index):
                    known[sent.partition].add((offset, index))
        return {partition: sorted(pairs) for partition, pairs in known.items()}


def _named(sent: Sent) -> str:
    name = repr(sent.value) if sent.value else f"{sent.client}'s record"
    return f"{name} (#{sent.ref + 1})" if sent.ref >= 0 else name


def _poll_named(poll: Polled) -> str:
    return f"#{poll.ref + 1} read by {poll.reader}" if poll.ref >= 0 else poll.reader


def _refs(*refs: int) -> tuple[int, ...]:
    return tuple(ref for ref in refs if ref >= 0)


def _duplicates(facts: _Facts) -> Iterable[Anomaly]:
    for index, sent in enumerate(facts.view.sent):
        seen = facts.offsets_seen(index)
        if len(seen) > 1:
            where = ", ".join(str(offset) for offset in sorted(seen))
            polls = [facts.view.polled[n].ref for n in facts.polls_of.get(index, ())]
            yield Anomaly(
                "duplicate",
                f"{_named(sent)} is seen at offsets {where} of {sent.partition}",
                _refs(sent.ref, *polls),
            )


def _lost_and_torn(facts: _Facts) -> Iterable[Anomaly]:
    for index, sent in enumerate(facts.view.sent):
        if index in facts.polls_of or sent.offset < 0 or sent.told == Told.FAILED:
            continue
        highest = facts.highest.get(sent.partition, -1)
        if sent.offset > highest:
            continue  # no poll went past it (yet)
        if sent.transaction is not None and sent.transaction in facts.polled_transactions:
            yield Anomaly(
                "torn-transaction",
                f"{_named(sent)} at {sent.partition}@{sent.offset} was never polled, though "
                f"other records of its transaction were and polls reached offset {highest}",
                _refs(sent.ref),
            )
        elif facts.must_have_committed(index):
            yield Anomaly(
                "lost-write",
                f"{_named(sent)}, told ok at {sent.partition}@{sent.offset}, was never polled "
                f"though polls reached offset {highest}",
                _refs(sent.ref),
            )


def _aborted_reads(facts: _Facts) -> Iterable[Anomaly]:
    for poll in facts.view.polled:
        sent = facts.view.sent[poll.sent]
        if sent.told == Told.FAILED:
            yield Anomaly(
                "G1a",
                f"{_poll_named(poll)} returned {_named(sent)}, whose "
                f"{'transaction' if sent.transaction is not None else 'send'} was told it failed",
                _refs(sent.ref, poll.ref),
            )


def _nonmonotonic_sends(facts: _Facts) -> Iterable[Anomaly]:
    by_client: dict[tuple[str, str, int], list[tuple[tuple[int, int, int], int]]] = defaultdict(
        list
    )
    for index, sent in enumerate(facts.view.sent):
        if sent.order is not None and sent.offset >= 0:
            by_client[(sent.client, sent.partition, sent.order[0])].append((sent.order, index))
    for sends in by_client.values():
        sends.sort(key=_send_order(sends))
        for (_, earlier), (_, later) in itertools.pairwise(sends):
            first, second = facts.view.sent[earlier], facts.view.sent[later]
            if second.offset < first.offset:
                yield Anomaly(
                    "nonmonotonic-send",
                    f"{_named(second)}, sent after {_named(first)}, was acknowledged at "
                    f"{second.partition}@{second.offset}, before {first.offset}",
                    _refs(first.ref, second.ref),
                )


def _send_order(
    sends: list[tuple[tuple[int, int, int], int]],
) -> Callable[[tuple[tuple[int, int, int], int]], tuple[int, int]]:
    """Sort key of one producer's sends: epoch, then sequence, where a sequence that wrapped
    past 2^31 - 1 to 0 (Kafka's sequences are int32 and wrap) counts as after the high ones."""
    low = [order[2] for order, _ in sends if order[2] < _HALF]
    high = [order[2] for order, _ in sends if order[2] >= _HALF]
    wrapped = bool(low and high)

    def key(send: tuple[tuple[int, int, int], int]) -> tuple[int, int]:
        (_, epoch, sequence), _ = send
        return epoch, sequence + (_WRAP if wrapped and sequence < _HALF else 0)

    return key


_WRAP = 2**31
_HALF = 2**30


def _poll_skips(facts: _Facts) -> Iterable[Anomaly]:
    known = facts.known_offsets()
    last: dict[tuple[str, str], Polled] = {}
    for poll in facts.view.polled:
        key = (poll.reader, poll.partition)
        previous = last.get(key)
        last[key] = poll
        if previous is None or poll.after_seek or poll.offset <= previous.offset:
            continue  # the first poll, a seek (polls start afresh), or a nonmonotonic poll
        pairs = known.get(poll.partition, [])
        start = bisect.bisect_right(pairs, (previous.offset, len(facts.view.sent)))
        if start < len(pairs) and pairs[start][0] < poll.offset:
            skipped = facts.view.sent[pairs[start][1]]
            yield Anomaly(
                "poll-skip",
                f"{_poll_named(poll)} follows {_poll_named(previous)} but "
                f"skips {_named(skipped)} at {poll.partition}@{pairs[start][0]}",
                _refs(previous.ref, skipped.ref, poll.ref),
            )


def _nonmonotonic_polls(facts: _Facts) -> Iterable[Anomaly]:
    last: dict[tuple[str, str], Polled] = {}
    for poll in facts.view.polled:
        key = (poll.reader, poll.partition)
        previous = last.get(key)
        last[key] = poll
        if previous is not None and not poll.after_seek and poll.offset <= previous.offset:
            yield Anomaly(
                "nonmonotonic-poll",
                f"{_poll_named(poll)} at {poll.partition}@{poll.offset} follows "
                f"{_poll_named(previous)} at {previous.offset} with no seek between",
                _refs(previous.ref, poll.ref),
            )
