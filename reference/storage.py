"""Where a node keeps its logs: append-only record streams, in memory or in files.

A *stream* is an ordered list of JSON-able dicts with one name: a partition log (``orders-0``),
the transaction log (``__transaction_state-0``), the group offsets log (``__consumer_offsets-0``)
and the topic catalogue (``__topics``). Everything a node knows is rebuilt by replaying streams,
as Kafka rebuilds producer state and transaction state from its logs after a restart.

The file format is one JSON object per line, one file per stream (``<name>.log``). A record is
acknowledged only after its line is written, flushed and fsynced (unless ``fsync=False``, for
tests). A crash can leave a torn last line: on open, a last line that is not a complete JSON
object ending in a newline is cut off, because it was never acknowledged; a bad line anywhere
else is corruption and an error.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Protocol

from kafka_eos.errors import InputError


class Stream(Protocol):
    def append(self, record: dict[str, Any]) -> None: ...
    def records(self) -> list[dict[str, Any]]: ...


class Storage(Protocol):
    def stream(self, name: str) -> Stream: ...
    def stream_names(self) -> list[str]: ...


class MemoryStream:
    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []

    def append(self, record: dict[str, Any]) -> None:
        self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)


class MemoryStorage:
    """Streams in memory. Survives a simulated restart of the node object (pass the same
    MemoryStorage to the new node), not a process exit."""

    def __init__(self) -> None:
        self._streams: dict[str, MemoryStream] = {}

    def stream(self, name: str) -> MemoryStream:
        if name not in self._streams:
            self._streams[name] = MemoryStream()
        return self._streams[name]

    def stream_names(self) -> list[str]:
        return sorted(self._streams)


# --- files -----------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """JSON form of an opaque payload: bytes become {"b64": ...}; JSON values stay as they are."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [encode_value(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {"map": {key: encode_value(item) for key, item in value.items()}}
    raise TypeError(f"file storage cannot store a payload of type {type(value).__name__}")


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "b64" in value:
            return base64.b64decode(value["b64"])
        return {key: decode_value(item) for key, item in value["map"].items()}
    if isinstance(value, list):
        return tuple(decode_value(item) for item in value)
    return value


class FileStream:
    __slots__ = ("_fsync", "_handle", "_path", "_records")

    def __init__(self, path: Path, *, fsync: bool) -> None:
        self._path = path
        self._fsync = fsync
        self._records = _read_lines_cutting_torn_tail(path)
        self._handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 (kept open: append-only)

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), sort_keys=True)
        self._handle.write(line + "\n")
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def close(self) -> None:
        self._handle.close()


def _read_lines_cutting_torn_tail(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    data = path.read_bytes()
    records: list[dict[str, Any]] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end < 0:  # no newline: the last write was torn by a crash; it was never acknowledged
            break
        try:
            records.append(json.loads(data[position:end]))
        except (json.JSONDecodeError, UnicodeDecodeError):
            if data[end + 1 :].strip():
                raise InputError(f"{path}: corrupt record at byte {position}") from None
            break  # a garbled last line is a torn write too
        position = end + 1
    if position < len(data):
        with open(path, "r+b") as handle:
            handle.truncate(position)
    return records


class FileStorage:
    """Streams as files in ``data_dir`` (created if missing)."""

    def __init__(self, data_dir: Path | str, *, fsync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot use data dir {data_dir}: {exc.strerror}") from None
        self._fsync = fsync
        self._streams: dict[str, FileStream] = {}

    def stream(self, name: str) -> FileStream:
        if name not in self._streams:
            self._streams[name] = FileStream(self.data_dir / f"{name}.log", fsync=self._fsync)
        return self._streams[name]

    def stream_names(self) -> list[str]:
        on_disk = {path.name[: -len(".log")] for path in self.data_dir.glob("*.log")}
        return sorted(on_disk | set(self._streams))

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
