"""Benchmark: ``kafka-eos explain`` on a large history.

    python benchmarks/bench_explain.py                  # a 100 MB history
    python benchmarks/bench_explain.py --megabytes 20   # a quicker run
    python benchmarks/bench_explain.py --keep h.jsonl   # keep the generated history

Writes a consistent history of transactional and idempotent producers on 8 partitions with a
read_committed consumer reading every committed record (unique values, ~10% of transactions
aborted), then runs ``kafka-eos explain --json`` on it in a subprocess and prints its CPU time
and peak memory (the child's own, from the kernel). The history is seeded: the same
arguments write the same bytes. Time is CPU time: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

PARTITIONS = 8
TRANSACTIONAL_PRODUCERS = 16
IDEMPOTENT_PRODUCER = 1000


class _Writer:
    """Appends events as JSON lines and keeps each partition's log end and each producer's
    next sequence, so the history follows Kafka's rules."""

    def __init__(self, out: TextIO, rng: random.Random) -> None:
        self.out = out
        self.rng = rng
        self.log_end = [0] * PARTITIONS
        self.sequences: dict[tuple[int, int], int] = {}
        self.read_up_to = [0] * PARTITIONS  # the consumer's position per partition
        self.visible: list[list[tuple[int, str]]] = [[] for _ in range(PARTITIONS)]
        self.values = 0
        self.written = 0

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":")) + "\n"
        self.out.write(line)
        self.written += len(line)

    def append(self, partition: int, pid: int, *, transactional: bool) -> list[tuple[int, str]]:
        size = self.rng.randint(1, 5)
        values = [f"v{self.values + i}" for i in range(size)]
        self.values += size
        offset = self.log_end[partition]
        sequence = self.sequences.get((pid, partition), 0)
        self.sequences[(pid, partition)] = sequence + size
        self.log_end[partition] += size
        batch = {
            "partition": f"t-{partition}",
            "producer_id": pid,
            "producer_epoch": 0,
            "base_sequence": sequence,
            "records": values,
        }
        self.emit({"type": "append", **batch, "base_offset": offset,
                   "transactional": transactional})  # fmt: skip
        self.emit({"type": "ack", "client": f"p{pid}", **batch, "error": "NONE",
                   "base_offset": offset})  # fmt: skip
        return [(offset + i, value) for i, value in enumerate(values)]

    def transaction(self) -> None:
        pid = self.rng.randint(1, TRANSACTIONAL_PRODUCERS)
        partitions = self.rng.sample(range(PARTITIONS), self.rng.randint(1, 3))
        written = {p: self.append(p, pid, transactional=True) for p in partitions}
        commit = self.rng.random() < 0.9
        self.emit({"type": "txn_end", "client": f"p{pid}", "transactional_id": f"tx-{pid}",
                   "producer_id": pid, "producer_epoch": 0, "commit": commit,
                   "error": "NONE"})  # fmt: skip
        for partition in partitions:
            self.emit({"type": "marker", "partition": f"t-{partition}",
                       "offset": self.log_end[partition], "producer_id": pid,
                       "producer_epoch": 0, "commit": commit,
                       "coordinator_epoch": 0})  # fmt: skip
            self.log_end[partition] += 1
            if commit:
                self.visible[partition].extend(written[partition])

    def idempotent(self) -> None:
        partition = self.rng.randrange(PARTITIONS)
        self.visible[partition].extend(
            self.append(partition, IDEMPOTENT_PRODUCER, transactional=False)
        )

    def consume(self) -> None:
        for partition in range(PARTITIONS):
            for offset, value in self.visible[partition]:
                self.emit({"type": "read", "client": "consumer", "isolation": "read_committed",
                           "partition": f"t-{partition}", "offset": offset,
                           "value": value})  # fmt: skip
            self.visible[partition].clear()


def write_large_history(path: Path, *, megabytes: float, seed: int = 0) -> int:
    """Write a consistent history of about ``megabytes`` MB to ``path``; its size in bytes."""
    target = int(megabytes * 1_000_000)
    with open(path, "w", encoding="utf-8") as out:
        writer = _Writer(out, random.Random(seed))
        while writer.written < target:
            if writer.rng.random() < 0.8:
                writer.transaction()
            else:
                writer.idempotent()
            if writer.rng.random() < 0.2:
                writer.consume()
        writer.consume()
    return writer.written


# Runs a command as its child and reports that child's CPU time and peak RSS alone: the
# calling process's own children (earlier tests in one pytest worker, say) do not count.
_WRAPPER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
                  "cpu": usage.ru_utime + usage.ru_stime, "wall": wall,
                  "peak_mb": usage.ru_maxrss / 1024}))
"""


def run_measured(command: list[str]) -> dict[str, Any]:
    """``command`` in a child process of a child: its exit code, stdout, stderr, CPU and wall
    seconds, and peak RSS in MB (kilobytes from Linux's getrusage), its own alone."""
    wrapper = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True
    )
    report: dict[str, Any] = json.loads(wrapper.stdout)
    return report


def run_explain(history: Path) -> dict[str, Any]:
    """``kafka-eos explain --json`` on ``history``: its document, exit code, CPU s, wall s and
    peak MB (:func:`run_measured`)."""
    run = run_measured([sys.executable, "-m", "kafka_eos", "explain", "--json", str(history)])
    if run["code"] not in (0, 1):
        raise SystemExit(f"explain failed ({run['code']}): {run['stderr'].strip()}")
    return {"document": json.loads(run["stdout"]), "code": run["code"], "cpu_s": run["cpu"],
            "wall_s": run["wall"], "peak_mb": run["peak_mb"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--megabytes", type=float, default=100.0, help="history size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the history here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        history = args.keep or Path(workdir) / "large.jsonl"
        started = time.perf_counter()
        size = write_large_history(history, megabytes=args.megabytes, seed=args.seed)
        print(f"history: {size / 1e6:.1f} MB written in {time.perf_counter() - started:.1f} s")
        result = run_explain(history)
    document = result["document"]
    print(
        f"explain: {document['events']:,} events, {document['ordering']['constraints']:,} "
        f"ordering constraints, consistent={document['consistent']}; "
        f"{result['cpu_s']:.1f} CPU s, {result['wall_s']:.1f} s wall, "
        f"peak {result['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
