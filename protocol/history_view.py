"""A history's client view (protocol/client_view.py): what each client of the run was told.

A sent record is named by its batch identity (partition, producer id, epoch, base sequence,
index in the batch), which its append, its acknowledgements and (through the offset it was
appended at) every read of it share; a record without a sequence (enable.idempotence=false)
has no other identity than its value. What its client was told:

- not transactional: ok once an acknowledgement said NONE, failed after a definite error,
  indefinite otherwise (no answer, or a timeout);
- transactional: its transaction's outcome, from the producer's next EndTxn of the same
  producer id and epoch (ok for a commit that returned NONE, failed for an abort that did);
  failed when its own Produce got a definite error; indefinite otherwise (the client never
  learnt: it crashed, was fenced, or its EndTxn answer was an error).
"""

from __future__ import annotations

import bisect
from array import array
from collections import defaultdict
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING

from .client_view import ClientView, Polled, Sent, Told, told_by_error
from .history import Append, ProduceAck, Read, Seek, TxnEnd
from .sequence import NO_SEQUENCE

if TYPE_CHECKING:
    from .history_checks import HistoryIndex

READ_COMMITTED = "read_committed"
_Identity = tuple[Hashable, ...]


def client_views(
    index: HistoryIndex, *, every_read_committed: bool = False
) -> Iterator[tuple[ClientView, frozenset[Hashable]]]:
    """The client view of the indexed history, one partition at a time (so a long history
    needs memory for one partition's records only), each with the transactions polled on any
    partition (what torn-transaction compares with). Reads count when read_committed (or all
    of them with ``every_read_committed``, as the model's consumer properties do)."""
    builder = _Builder(index, every_read_committed=every_read_committed)
    polled = builder.polled_transactions()
    for partition in builder.partitions():
        yield builder.build(partition), polled


def _identities(batch: Append | ProduceAck) -> Iterator[tuple[int, _Identity]]:
    """Each record of the batch, by index, with its identity."""
    for i, value in enumerate(batch.records):
        if batch.base_sequence == NO_SEQUENCE:
            yield i, (batch.partition, value)
        else:
            key = (batch.producer_id, batch.producer_epoch, batch.base_sequence, i)
            yield i, (batch.partition, *key)


class _Builder:
    def __init__(self, index: HistoryIndex, *, every_read_committed: bool) -> None:
        self.index = index
        self.events = index.events
        self.every_read_committed = every_read_committed
        self.slots: dict[_Identity, int] = {}
        self.sent: list[Sent] = []
        #: (producer id, epoch) -> positions of its TxnEnds, in history order
        self.txn_ends: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.transactional_pids: set[int] = set()
        self.clients: dict[int, str] = {}
        #: partition -> positions of its appends, acknowledgements, reads and seeks (8 bytes
        #: each)
        self.positions: dict[str, array[int]] = {}
        for position, event in enumerate(self.events):
            if isinstance(event, Append | ProduceAck | Read | Seek):
                at = self.positions.get(event.partition)
                if at is None:
                    at = self.positions[event.partition] = array("q")
                at.append(position)
            if isinstance(event, TxnEnd):
                self.txn_ends[(event.producer_id, event.producer_epoch)].append(position)
                self.transactional_pids.add(event.producer_id)
            if isinstance(event, ProduceAck | TxnEnd):
                self.clients[event.producer_id] = event.client

    def partitions(self) -> list[str]:
        return list(self.positions)

    def _next_end(self, position: int, producer_id: int, epoch: int) -> int:
        """The position of the next TxnEnd (any answer) of the producer id and epoch after
        ``position``, or -1."""
        ends = self.txn_ends.get((producer_id, epoch))
        if not ends:
            return -1
        at = bisect.bisect_right(ends, position)
        return ends[at] if at < len(ends) else -1

    def _counts(self, read: Read) -> bool:
        return read.isolation == READ_COMMITTED or self.every_read_committed

    def polled_transactions(self) -> frozenset[Hashable]:
        """The transactions some counted read returned a record of, on any partition."""
        polled: set[Hashable] = set()
        for event in self.events:
            if isinstance(event, Read) and self._counts(event):
                append = self._append_read(event)
                if append is not None and append[1].transactional:
                    position, batch = append
                    end = self._next_end(position, batch.producer_id, batch.producer_epoch)
                    polled.add((batch.producer_id, batch.producer_epoch, end))
        return frozenset(polled)

    def _append_read(self, read: Read) -> tuple[int, Append] | None:
        """The append holding the record a read returned (same value), with its position."""
        slot = self.index.records.get(read.partition, {}).get(read.offset)
        if slot is None:
            return None
        append = self.events[slot.append]
        assert isinstance(append, Append)
        return (slot.append, append) if append.records[slot.index] == read.value else None

    def build(self, partition: str) -> ClientView:
        self.slots = {}
        self.sent = []
        acks: dict[_Identity, list[tuple[int, int, str]]] = {}  # -> (position, offset, error)
        for position in self.positions[partition]:
            event = self.events[position]
            if isinstance(event, Append):
                for i, identity in _identities(event):
                    self._slot(identity, position, event.producer_id, event.transactional, i, event)
            elif isinstance(event, ProduceAck):
                transactional = event.producer_id in self.transactional_pids
                for i, identity in _identities(event):
                    self._slot(identity, position, event.producer_id, transactional, i, event)
                    offset = event.base_offset + i if event.error == "NONE" else -1
                    acks.setdefault(identity, []).append((position, offset, event.error))
        self._apply_acks(acks)
        polled = list(self._polls(partition))
        return ClientView(sent=self.sent, polled=polled)

    def _slot(
        self,
        identity: _Identity,
        position: int,
        producer_id: int,
        transactional: bool,
        i: int,
        event: Append | ProduceAck,
    ) -> int:
        known = self.slots.get(identity)
        if known is not None:
            return known
        client = self.clients.get(producer_id, f"pid {producer_id}")
        if isinstance(event, ProduceAck):
            client = event.client
        order = None
        if event.base_sequence != NO_SEQUENCE:
            order = (producer_id, event.producer_epoch, event.base_sequence + i)
        transaction: Hashable | None = None
        told = Told.INDEFINITE
        if transactional:
            end = self._next_end(position, producer_id, event.producer_epoch)
            transaction = (producer_id, event.producer_epoch, end)
            if end >= 0:
                told = self._told_by_end(end)
        self.slots[identity] = len(self.sent)
        self.sent.append(
            Sent(
                client=client,
                partition=event.partition,
                offset=-1,
                told=told,
                order=order,
                transaction=transaction,
                value=event.records[i],
                ref=position,
            )
        )
        return len(self.sent) - 1

    def _told_by_end(self, end: int) -> Told:
        txn_end = self.events[end]
        assert isinstance(txn_end, TxnEnd)
        if txn_end.error != "NONE":
            return Told.INDEFINITE  # the client does not know how its transaction ended
        return Told.OK if txn_end.commit else Told.FAILED

    def _apply_acks(self, acks: dict[_Identity, list[tuple[int, int, str]]]) -> None:
        """An acknowledgement says where the record landed; a definite error that it failed
        (for a transactional record, unless its transaction's end already said)."""
        for identity, answers in acks.items():
            number = self.slots[identity]
            sent = self.sent[number]
            ok = [(position, offset) for position, offset, _ in answers if offset >= 0]
            failed = any(told_by_error(error) == Told.FAILED for _, _, error in answers)
            told = sent.told
            if sent.transaction is None:
                told = Told.OK if ok else Told.FAILED if failed else told
            elif told == Told.INDEFINITE and failed and not ok:
                told = Told.FAILED
            position, offset = ok[0] if ok else (sent.ref, -1)
            self.sent[number] = Sent(
                client=sent.client,
                partition=sent.partition,
                offset=offset,
                told=told,
                order=sent.order,
                transaction=sent.transaction,
                value=sent.value,
                ref=position,
            )

    def _polls(self, partition: str) -> Iterator[Polled]:
        sought: set[str] = set()  # the readers that set their position since their last poll
        for position in self.positions[partition]:
            event = self.events[position]
            if isinstance(event, Seek):
                sought.add(event.client)
                continue
            if not isinstance(event, Read) or not self._counts(event):
                continue
            after_seek = event.client in sought
            sought.discard(event.client)
            identity: _Identity = (event.partition, event.value)
            append = self._append_read(event)
            if append is not None:
                slot = self.index.records[event.partition][event.offset]
                identity = next(key for i, key in _identities(append[1]) if i == slot.index)
            number = self.slots.get(identity)
            if number is None:  # a record the history never saw sent: its writer is unknown
                number = len(self.sent)
                self.slots[identity] = number
                self.sent.append(
                    Sent(
                        client="an unknown client",
                        partition=event.partition,
                        offset=-1,
                        told=Told.INDEFINITE,
                        value=event.value,
                    )
                )
            yield Polled(
                reader=event.client,
                partition=event.partition,
                offset=event.offset,
                sent=number,
                ref=position,
                after_seek=after_seek,
            )
