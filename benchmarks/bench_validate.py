"""``kafka-eos validate`` on a large history: CPU time and peak memory.

    .venv/bin/python benchmarks/bench_validate.py               # about 100 MB of history
    .venv/bin/python benchmarks/bench_validate.py --mb 20       # a smaller one

It writes a history like the wire broker's ``--history`` (transactional producers committing
transactions over two partitions, their Produce answers and EndTxn, a read_committed consumer
reading every committed record), then runs ``kafka-eos validate`` on it as a subprocess of its
own, so the peak RSS is validate's. ``write_large_history`` is also used by the slow test
``tests/protocol/test_validate_scale.py``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kafka_eos.protocol.history import (
    Append,
    Event,
    Marker,
    ProduceAck,
    Read,
    TxnEnd,
    event_to_json,
)

PARTITIONS = ("orders-0", "orders-1")
RECORDS_PER_BATCH = 4


def transaction_events(producer: int, number: int, offsets: dict[str, int]) -> list[Event]:
    """One committed transaction of ``producer`` over both partitions, its answers, markers
    and the consumer's reads (``offsets`` is each partition's next offset, advanced here)."""
    client = f"producer-{producer}"
    events: list[Event] = []
    appends = []
    for partition in PARTITIONS:
        records = tuple(
            f"{client}-txn-{number}-{partition}-{i}" for i in range(RECORDS_PER_BATCH)
        )
        sequence = number * RECORDS_PER_BATCH % 2**31
        append = Append(partition, offsets[partition], producer, 0, sequence, records, True)
        offsets[partition] += len(records)
        appends.append(append)
        events.append(append)
        ack = ProduceAck(client, partition, producer, 0, sequence, records, "NONE",
                         append.base_offset)
        events.append(ack)
    events.append(TxnEnd(client, client, producer, 0, True, "NONE"))
    for partition in PARTITIONS:
        events.append(Marker(partition, offsets[partition], producer, 0, True, 0))
        offsets[partition] += 1
    for append in appends:
        for i, value in enumerate(append.records):
            events.append(Read("consumer", "read_committed", append.partition,
                               append.base_offset + i, value))
    return events


def write_large_history(path: Path, *, megabytes: float, producers: int = 4) -> int:
    """Write a clean history of about ``megabytes`` MB to ``path``; return its event count.
    Producers take turns, one whole transaction at a time, as a broker serialises them."""
    target = int(megabytes * 1_000_000)
    offsets = dict.fromkeys(PARTITIONS, 0)
    written = events = 0
    number = 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            producer = number % producers
            for event in transaction_events(producer, number // producers, offsets):
                line = event_to_json(event) + "\n"
                out.write(line)
                written += len(line)
                events += 1
            number += 1
    return events


# Runs validate as its child and reports that child's CPU time and peak RSS alone (the
# calling process's own children, e.g. earlier tests, do not count).
_WRAPPER = """
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
                  "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": usage.ru_maxrss / 1024}))
"""


def measure(path: Path, *options: str) -> dict[str, Any]:
    """Run ``kafka-eos validate`` on ``path``: its exit code, stdout, stderr, CPU seconds and
    peak RSS in MB (kilobytes from Linux's getrusage)."""
    command = [sys.executable, "-m", "kafka_eos", "validate", *options, str(path)]
    wrapper = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    )
    report: dict[str, Any] = json.loads(wrapper.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="history size (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.jsonl"
        started = time.perf_counter()
        events = write_large_history(path, megabytes=args.mb)
        size = path.stat().st_size / 1_000_000
        print(f"wrote {events:,} events, {size:.0f} MB in {time.perf_counter() - started:.0f} s")
        run = measure(path, "--quiet")
        last = (run["stdout"] or run["stderr"]).strip().splitlines()[-1:]
        print(f"validate: exit {run['code']}, {run['cpu']:.1f} s CPU, peak RSS "
              f"{run['peak_mb']:.0f} MB: {last[0] if last else ''}")


if __name__ == "__main__":
    main()
