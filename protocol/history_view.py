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

from collections.abc import Hashable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING

from .client_view import ClientView, Polled, Sent, Told, told_by_error
from .history import Append, ProduceAck, Read, TxnEnd
from .sequence import NO_SEQUENCE

if TYPE_CHECKING:
    from .history_checks import HistoryIndex

READ_COMMITTED = "read_committed"
_Identity = tuple[Hashable, ...]


def client_view(index: HistoryIndex, *, every_read_committed: bool = False) -> ClientView:
    """The client view of the indexed history; reads count when read_committed (or all of
    them with ``every_read_committed``, as the model's consumer properties do)."""
    return _Builder(index).build(every_read_committed=every_read_committed)


def _identities(batch: Append | ProduceAck) -> Iterator[tuple[int, _Identity]]:
    """Each record of the batch, by index, with its identity."""
    for i, value in enumerate(batch.records):
        if batch.base_sequence == NO_SEQUENCE:
            yield i, (batch.partition, value)
        else:
            key = (batch.producer_id, batch.producer_epoch, batch.base_sequence, i)
            yield i, (batch.partition, *key)


class _Builder:
    def __init__(self, index: HistoryIndex) -> None:
        self.index = index
        self.events = index.events
        self.slots: dict[_Identity, int] = {}
        self.sent: list[Sent] = []
        self.ends = self._next_txn_ends()
        self.transactional_pids = {e.producer_id for e in self.events if isinstance(e, TxnEnd)}
        self.clients = {
            e.producer_id: e.client for e in self.events if isinstance(e, ProduceAck | TxnEnd)
        }

    def _next_txn_ends(self) -> dict[int, int]:
        """History position -> the position of the next TxnEnd (any answer) of the producer id
        and epoch of the append or acknowledgement there."""
        following: dict[tuple[int, int], int] = {}
        ends: dict[int, int] = {}
        for position in range(len(self.events) - 1, -1, -1):
            event = self.events[position]
            if isinstance(event, TxnEnd):
                following[(event.producer_id, event.producer_epoch)] = position
            elif isinstance(event, Append | ProduceAck):
                end = following.get((event.producer_id, event.producer_epoch))
                if end is not None:
                    ends[position] = end
        return ends

    def build(self, *, every_read_committed: bool) -> ClientView:
        acks: dict[_Identity, list[tuple[int, int, str]]] = {}  # -> (position, offset, error)
        for position, event in enumerate(self.events):
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
        polled = list(self._polls(every_read_committed=every_read_committed))
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
        value = event.records[i]
        client = self.clients.get(producer_id, f"pid {producer_id}")
        if isinstance(event, ProduceAck):
            client = event.client
        order = None
        if event.base_sequence != NO_SEQUENCE:
            order = (producer_id, event.producer_epoch, event.base_sequence + i)
        transaction: Hashable | None = None
        told = Told.INDEFINITE
        if transactional:
            end = self.ends.get(position, -1)
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
                name=repr(value),
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
            self.sent[number] = replace(sent, offset=offset, told=told, ref=position)

    def _polls(self, *, every_read_committed: bool) -> Iterator[Polled]:
        records = self.index.records
        for position, event in enumerate(self.events):
            if not isinstance(event, Read):
                continue
            if event.isolation != READ_COMMITTED and not every_read_committed:
                continue
            identity: _Identity = (event.partition, event.value)
            slot = records.get(event.partition, {}).get(event.offset)
            if slot is not None:
                append = self.events[slot.append]
                assert isinstance(append, Append)
                if append.records[slot.index] == event.value:
                    identity = next(key for i, key in _identities(append) if i == slot.index)
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
                        name=f"{event.value!r}",
                    )
                )
            yield Polled(
                reader=event.client,
                partition=event.partition,
                offset=event.offset,
                sent=number,
                name=f"#{position + 1} read by {event.client}",
                ref=position,
            )
