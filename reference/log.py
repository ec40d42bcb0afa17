"""A partition's log: batches at leader-assigned offsets, the high watermark, the aborted index.

This is the storage half of Kafka's UnifiedLog (LocalLog + the transaction index). It knows
nothing of producers' rules: :mod:`~kafka_eos.reference.producer_state` decides what may be
appended; :mod:`~kafka_eos.reference.partition` puts the two together.

Inspectable state (plain attributes):

* ``batches``: every batch in offset order (data and control), a list of :class:`LogBatch`;
* ``log_end_offset``: the next offset to assign; offsets are contiguous from 0;
* ``high_watermark``: offsets below it are replicated (on this single-replica core the node
  advances it to the log end offset when it "replicates", see BrokerNode.replicate);
* ``aborted``: the aborted-transaction index, a list of :class:`AbortedTxn` in marker order.
"""

from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from typing import Any

from kafka_eos.reference.messages import FetchedBatch
from kafka_eos.reference.storage import Stream, decode_value, encode_value

#: A stored record that cuts the log back to an offset (the stream itself is append-only).
_TRUNCATE_TO = "truncate_to"


@dataclass(frozen=True, slots=True)
class LogBatch(FetchedBatch):
    """A stored batch: what a fetch returns of it, and what only the log keeps."""

    append_time_ms: int = 0
    #: the leader epoch of the leader that appended it (RecordBatch.partitionLeaderEpoch):
    #: a replica's leader-epoch cache is rebuilt from these when it loads its log
    leader_epoch: int = 0

    def to_record(self) -> dict[str, Any]:
        """Every field, as :meth:`from_record` reads it back (the payload in a JSON-safe form)."""
        record = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        record["records"] = list(self.records)
        record["payload"] = encode_value(self.payload)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LogBatch:
        fields = dict(record)
        fields["records"] = tuple(fields["records"])
        fields["payload"] = decode_value(fields["payload"])
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class AbortedTxn:
    """An aborted transaction's range on this partition (Kafka's AbortedTxn in the .txnindex)."""

    producer_id: int
    first_offset: int
    last_offset: int  # the offset of the ABORT marker


class PartitionLog:
    def __init__(self, name: str, stream: Stream) -> None:
        self.name = name
        self._stream = stream
        self.batches: list[LogBatch] = []
        self._base_offsets: list[int] = []  # parallel to batches, for bisect
        self.log_start_offset = 0
        self.log_end_offset = 0
        self.high_watermark = 0
        self.aborted: list[AbortedTxn] = []

    # -- writing ---------------------------------------------------------------------------

    def append(self, batch: LogBatch) -> None:
        """Write ``batch`` (its offsets already assigned from log_end_offset) durably, then
        make it part of the log."""
        assert batch.base_offset == self.log_end_offset, "offsets are assigned contiguously"
        self._stream.append(batch.to_record())
        self._add(batch)

    def _add(self, batch: LogBatch) -> None:
        self.batches.append(batch)
        self._base_offsets.append(batch.base_offset)
        self.log_end_offset = batch.last_offset + 1

    def truncate_to(self, offset: int) -> list[LogBatch]:
        """Drop the batches at ``offset`` and above (a new leader that never had them: Kafka's
        truncation of unreplicated records on a leader change) and return them. Only records
        above the high watermark may go: replicated records are never lost."""
        assert self.high_watermark <= offset, "replicated records are never truncated"
        cut = self.count_below(offset)
        dropped = self.batches[cut:]
        if not dropped:
            return []
        self._stream.append({_TRUNCATE_TO: offset})
        self._cut(cut, offset)
        return dropped

    def _cut(self, cut: int, offset: int) -> None:
        del self.batches[cut:]
        del self._base_offsets[cut:]
        self.log_end_offset = offset
        self.aborted = [t for t in self.aborted if t.last_offset < offset]

    def load(self) -> list[LogBatch]:
        """Read the stored batches back (after a restart); everything stored was acknowledged
        only once durable, so the high watermark is the log end offset."""
        for record in self._stream.records():
            if _TRUNCATE_TO in record:
                offset = record[_TRUNCATE_TO]
                self._cut(self.count_below(offset), offset)
            else:
                self._add(LogBatch.from_record(record))
        self.high_watermark = self.log_end_offset
        return self.batches

    def add_aborted(self, entry: AbortedTxn) -> None:
        self.aborted.append(entry)

    # -- reading ---------------------------------------------------------------------------

    def count_below(self, offset: int) -> int:
        """How many batches start below ``offset`` (below the high watermark: the replicated
        prefix, which no truncation may touch)."""
        return bisect.bisect_left(self._base_offsets, offset)

    def batch_at(self, offset: int) -> LogBatch | None:
        """The batch holding ``offset``, or None when it is outside the log."""
        index = bisect.bisect_right(self._base_offsets, offset) - 1
        if index < 0 or offset >= self.log_end_offset:
            return None
        return self.batches[index]

    def read(self, start: int, end: int, max_records: int) -> list[LogBatch]:
        """Whole batches overlapping [start, end), at most about ``max_records`` records (at
        least one batch, as Kafka always returns at least one batch to make progress)."""
        index = max(bisect.bisect_right(self._base_offsets, start) - 1, 0)
        out: list[LogBatch] = []
        count = 0
        while index < len(self.batches):
            batch = self.batches[index]
            if batch.base_offset >= end or batch.last_offset >= end:
                break  # never hand out part of a batch beyond the visible end
            if batch.last_offset >= start:
                if out and count + batch.record_count > max_records:
                    break
                out.append(batch)
                count += batch.record_count
            index += 1
        return out

    def aborted_overlapping(self, start: int, end: int) -> list[AbortedTxn]:
        """Aborted transactions whose range overlaps [start, end) (collectAbortedTxns)."""
        return [t for t in self.aborted if t.first_offset < end and t.last_offset >= start]
