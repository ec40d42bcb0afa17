"""Where a node keeps its logs: append-only record streams, in memory or in files.

A *stream* is an ordered list of JSON-able dicts with one name: a partition log (``orders-0``),
the transaction log (``__transaction_state-0``), the group offsets log (``__consumer_offsets-0``)
and the topic catalogue (``__topics``). Everything a node knows is rebuilt by replaying streams,
as Kafka rebuilds producer state and transaction state from its logs after a restart.

Files (format 2; see :class:`FileStorage`): one file per stream, ``<name>.log``, that starts
with a header line and then holds one record per line, ``<crc32c> <length> <json>``, the
checksum (CRC32C, as Kafka's record batches carry) and the length taken over the JSON bytes.
A record is acknowledged only after its line is written, flushed and fsynced (unless
``fsync=False``, for tests). ``MANIFEST`` lists the streams that exist; it is replaced
atomically (write, fsync, rename, fsync the directory) when a stream is created.

What a crash can leave, and what a damaged directory gives:

- a *torn tail*: the last line is a strict prefix of a line (its newline and possibly more
  never reached the disk). That append was never acknowledged: it is cut off with a one-line
  warning;
- anything else is corruption and an :class:`InputError` naming the file and line: a bad
  checksum or length, a line that is not a JSON object, in the middle or on the last complete
  line (a COMMIT marker a client was already told about is not cut silently), a file the
  MANIFEST lists that is missing, empty or has no header, a data directory without MANIFEST.
  The users of the records (:mod:`~kafka_eos.reference.node`) refuse records of the wrong
  shape with :func:`refuse_malformed`.

A data directory written by the earlier format (JSON lines without checksums or MANIFEST) is
refused with an error naming the format: move it away and start with an empty one.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, Protocol

from crc32c import crc32c

from kafka_eos.errors import InputError

log = logging.getLogger("kafka_eos.storage")


class Stream(Protocol):
    def append(self, record: dict[str, Any]) -> None: ...
    def records(self) -> list[dict[str, Any]]: ...


class Storage(Protocol):
    def stream(self, name: str) -> Stream: ...
    def stream_names(self) -> list[str]: ...
    def location(self, name: str) -> str: ...


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

    def location(self, name: str) -> str:
        return f"stream {name}"


@contextmanager
def refuse_malformed(storage: Storage, name: str) -> Iterator[None]:
    """Rebuilding state from stream ``name``: a record of the wrong shape (which only a forged
    line with a valid checksum, or a bug, can hold) is a one-line error naming the stream,
    never a traceback."""
    try:
        yield
    except InputError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        problem = f"{type(exc).__name__}: {exc}"[:200]
        raise InputError(
            f"{storage.location(name)}: malformed record ({problem}); refusing to start"
        ) from None


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


#: The first line of every stream file; what this version reads and writes.
STREAM_HEADER = b"#kafka-eos-stream format=2\n"
MANIFEST = "MANIFEST"
_MANIFEST_FORMAT = "kafka-eos data directory format 2"
_LINE_HEAD = re.compile(rb"([0-9a-f]{8}) ([0-9]{1,10}) ")
_PARTIAL_LINE_HEAD = re.compile(rb"[0-9a-f]{0,8}( [0-9]{0,10})?")


def encode_line(record: dict[str, Any]) -> bytes:
    body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode("ascii")
    return b"%08x %d %s\n" % (crc32c(body), len(body), body)


def _decode_line(line: bytes) -> dict[str, Any] | str:
    """The record on one complete line (without its newline), or what is wrong with it."""
    head = _LINE_HEAD.match(line)
    if head is None:
        return "no checksum and length"
    body = line[head.end() :]
    if len(body) != int(head[2]):
        return f"length {len(body)} where the line says {int(head[2])}"
    if crc32c(body) != int(head[1], 16):
        return "checksum mismatch"
    try:
        record = json.loads(body)
    except ValueError:
        return "not JSON"
    return record if isinstance(record, dict) else "not a JSON object"


def _is_torn(tail: bytes) -> bool:
    """Is ``tail`` (the bytes after the last newline) a strict prefix of a line, which is all
    an interrupted append can leave? A full-length line whose newline is wrong is not."""
    head = _LINE_HEAD.match(tail)
    if head is None:
        return _PARTIAL_LINE_HEAD.fullmatch(tail) is not None
    return len(tail) < head.end() + int(head[2]) + 1


def _is_file_name(name: object) -> bool:
    return isinstance(name, str) and Path(name).name == name and name not in ("", ".", "..")


def _manifest_streams(manifest: object) -> list[str] | None:
    """The stream names a MANIFEST lists, or None when it is not one of this format."""
    if not isinstance(manifest, dict) or manifest.get("format") != _MANIFEST_FORMAT:
        return None
    names = manifest.get("streams")
    if not isinstance(names, list) or not all(_is_file_name(name) for name in names):
        return None
    return list(names)


def _read_stream_file(path: Path, *, fsync: bool) -> list[dict[str, Any]]:
    data = path.read_bytes()
    if not data:
        raise InputError(f"{path}: empty, but the MANIFEST lists it: refusing to start")
    if not data.startswith(STREAM_HEADER):
        raise InputError(f"{path}: line 1: not a kafka-eos stream header: refusing to start")
    records: list[dict[str, Any]] = []
    position, line_number = len(STREAM_HEADER), 2
    while position < len(data):
        end = data.find(b"\n", position)
        if end < 0:
            if not _is_torn(data[position:]):
                _corrupt(path, line_number, position, "last line damaged, not torn")
            log.warning(
                "%s: line %d (byte %d): cutting a torn last line; a crash interrupted that "
                "append, which was never acknowledged",
                path, line_number, position,
            )  # fmt: skip
            _truncate(path, position, fsync=fsync)
            break
        record = _decode_line(data[position:end])
        if isinstance(record, str):
            _corrupt(path, line_number, position, record)
        records.append(record)
        position, line_number = end + 1, line_number + 1
    return records


def _corrupt(path: Path, line_number: int, position: int, problem: str) -> NoReturn:
    raise InputError(
        f"{path}: line {line_number} (byte {position}): corrupt record ({problem}); "
        "the data directory is damaged: refusing to start"
    )


def _truncate(path: Path, size: int, *, fsync: bool) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(size)
        if fsync:
            os.fsync(handle.fileno())


def _fsync_path(path: Path) -> None:
    """fsync a file or a directory (which makes the names in it durable) by its path."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class FileStream:
    __slots__ = ("_before_append", "_fsync", "_handle", "_path", "_records")

    def __init__(
        self,
        path: Path,
        *,
        fsync: bool,
        records: list[dict[str, Any]],
        before_append: Callable[[], None],
    ) -> None:
        self._path = path
        self._fsync = fsync
        self._records = records
        self._before_append = before_append
        self._handle = open(path, "ab")  # noqa: SIM115 (kept open: append-only)

    def append(self, record: dict[str, Any]) -> None:
        self._before_append()
        self._handle.write(encode_line(record))
        self._handle.flush()
        if self._fsync:
            os.fsync(self._handle.fileno())
        self._records.append(record)

    def records(self) -> list[dict[str, Any]]:
        return list(self._records)

    def close(self) -> None:
        self._handle.close()


class FileStorage:
    """Streams as files in ``data_dir`` (created if missing), listed in its MANIFEST.

    Opening checks that every stream the MANIFEST lists is there and not emptied; opening a
    stream reads it whole, checking every line (see the module docstring)."""

    def __init__(self, data_dir: Path | str, *, fsync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot use data dir {data_dir}: {exc.strerror}") from None
        self._fsync = fsync
        self._streams: dict[str, FileStream] = {}
        self._listed = self._read_manifest()
        self._unlisted: list[str] = []  # created, not yet in the MANIFEST (see _create)
        for name in self._listed:
            path = self._path(name)
            if not path.is_file():
                raise InputError(f"{path}: missing, but the MANIFEST lists it: refusing to start")

    def _path(self, name: str) -> Path:
        if not _is_file_name(name):
            raise ValueError(f"stream name {name!r} is not a file name")
        return self.data_dir / f"{name}.log"

    def _read_manifest(self) -> list[str]:
        path = self.data_dir / MANIFEST
        if not path.exists():
            self._refuse_unlisted_files(path)
            return []
        try:
            manifest = json.loads(path.read_bytes())
        except (OSError, ValueError):
            manifest = None
        names = _manifest_streams(manifest)
        if names is None:
            raise InputError(f"{path}: unreadable or damaged: refusing to start")
        return names

    def _refuse_unlisted_files(self, manifest: Path) -> None:
        """No MANIFEST: a new data directory, unless it already holds stream files."""
        files = sorted(self.data_dir.glob("*.log"))
        if not files:
            return
        for path in files:
            with open(path, "rb") as handle:
                if handle.read(len(STREAM_HEADER)) == STREAM_HEADER:
                    raise InputError(
                        f"{manifest}: missing, but {path.name} is a stream: refusing to start"
                    )
        raise InputError(
            f"{self.data_dir}: written by an earlier kafka-eos (format 1: JSON lines without "
            "checksums or MANIFEST); this version reads format 2 only: move it away and "
            "start with an empty --data-dir"
        )

    def stream(self, name: str) -> FileStream:
        if name not in self._streams:
            path = self._path(name)
            if name in self._listed:
                records = _read_stream_file(path, fsync=self._fsync)
            else:
                self._create(name, path)
                records = []
            self._streams[name] = FileStream(
                path, fsync=self._fsync, records=records, before_append=self._list_created
            )
        return self._streams[name]

    def _create(self, name: str, path: Path) -> None:
        """A new stream: its file with its header. The MANIFEST lists it before the first
        record is appended to any stream (:meth:`_list_created`), so a topic's partitions
        cost one MANIFEST write, not one each; a crash before that leaves an unlisted file,
        which is not part of the data and which the next creation overwrites."""
        with open(path, "wb") as handle:
            handle.write(STREAM_HEADER)
        self._unlisted.append(name)

    def _list_created(self) -> None:
        """Make the streams created since the last append durable and list them in the
        MANIFEST: headers fsynced, then the MANIFEST replaced atomically."""
        if not self._unlisted:
            return
        if self._fsync:
            for name in self._unlisted:
                _fsync_path(self._path(name))
        listed = [*self._listed, *self._unlisted]
        temporary = self.data_dir / f"{MANIFEST}.tmp"
        with open(temporary, "w", encoding="ascii") as handle:
            json.dump({"format": _MANIFEST_FORMAT, "streams": listed}, handle, indent=0)
            handle.flush()
            if self._fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, self.data_dir / MANIFEST)
        if self._fsync:
            _fsync_path(self.data_dir)
        self._listed, self._unlisted = listed, []

    def stream_names(self) -> list[str]:
        return sorted([*self._listed, *self._unlisted])

    def location(self, name: str) -> str:
        return str(self._path(name))

    def close(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
