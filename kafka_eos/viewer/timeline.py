"""Partition logs as they evolve, recorded once: each batch with the step that appended it and
the step that removed it, and the high watermark and LSO at every step."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .diagram import LogEntry, PartitionTimeline


@dataclass(slots=True)
class _Partition:
    live: dict[int, LogEntry] = field(default_factory=dict)  # offset -> entry, in the log now
    gone: list[LogEntry] = field(default_factory=list)
    high_watermark: list[int | None] = field(default_factory=list)
    last_stable_offset: list[int | None] = field(default_factory=list)


@dataclass(slots=True)
class TimelineBuilder:
    partitions: dict[str, _Partition] = field(default_factory=dict)

    def append(self, name: str, step: int, entry: LogEntry) -> None:
        """A batch appended at ``step`` (at the log end, after any truncation)."""
        self._partition(name).live[entry.offset] = replace(entry, added=step)

    def truncate(self, name: str, step: int, offset: int) -> None:
        """The entries at ``offset`` and above removed at ``step`` (a leader change)."""
        partition = self._partition(name)
        for at, entry in list(partition.live.items()):
            if at >= offset:
                partition.gone.append(replace(entry, removed=step))
                del partition.live[at]

    def observe(self, name: str, step: int, entries: tuple[LogEntry, ...]) -> None:
        """The whole log at ``step``: what is new was added now, what is missing or different
        at its offset was removed now."""
        partition = self._partition(name)
        now = {entry.offset: entry for entry in entries}
        for offset, entry in list(partition.live.items()):
            if _content(now.get(offset)) != _content(entry):
                partition.gone.append(replace(entry, removed=step))
                del partition.live[offset]
        for offset, entry in now.items():
            if offset not in partition.live:
                partition.live[offset] = replace(entry, added=step)

    def marks(self, name: str, step: int, high_watermark: int | None, lso: int | None) -> None:
        """The high watermark and LSO at ``step`` (call once per step and partition; a
        partition first seen later has none before)."""
        partition = self._partition(name)
        missing = step - len(partition.high_watermark)
        partition.high_watermark += [None] * missing + [high_watermark]
        partition.last_stable_offset += [None] * missing + [lso]

    def timelines(self) -> tuple[PartitionTimeline, ...]:
        return tuple(
            PartitionTimeline(
                name,
                tuple(sorted([*p.gone, *p.live.values()], key=lambda e: (e.added, e.offset))),
                tuple(p.high_watermark),
                tuple(p.last_stable_offset),
            )
            for name, p in self.partitions.items()
        )

    def _partition(self, name: str) -> _Partition:
        return self.partitions.setdefault(name, _Partition())


def _content(entry: LogEntry | None) -> tuple[object, ...] | None:
    """What an entry holds, whenever it was added."""
    if entry is None:
        return None
    return (entry.kind, entry.text, entry.producer, entry.transactional)
