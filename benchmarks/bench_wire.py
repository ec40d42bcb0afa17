"""Benchmark: real librdkafka clients against ``kafka-eos serve``.

    python benchmarks/bench_wire.py                      # 100,000 records, transactions of 1,000
    python benchmarks/bench_wire.py --records 20000      # a quicker run
    python benchmarks/bench_wire.py --data-dir           # with durable, fsync'ed logs
    python benchmarks/bench_wire.py --history            # with the history log on
    python benchmarks/bench_wire.py --brokers 3          # a cluster of 3 (replicated) brokers

A transactional producer (confluent-kafka / librdkafka) writes ``--records`` small records in
transactions of ``--txn-size`` (begin, produce, commit); then a read_committed consumer reads
them all back. Prints records/s for both phases and checks that the consumer saw every record
exactly once. The broker is its own process, started here on a free loopback port.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

TOPIC = "bench"


def start_broker(
    workdir: Path, *, data_dir: bool, history: bool, brokers: int
) -> tuple[subprocess.Popen[bytes], str]:
    ready = workdir / "ready"
    command = [
        sys.executable, "-m", "kafka_eos", "serve", "--port", "0", "--ready-file", str(ready),
        "--quiet", "--brokers", str(brokers),
    ]  # fmt: skip
    if data_dir:
        command += ["--data-dir", str(workdir / "data")]
    if history:
        command += ["--history", str(workdir / "history.jsonl")]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 20
    while not (ready.exists() and ready.read_text().endswith("\n")):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("kafka-eos serve did not start")
        time.sleep(0.02)
    ports = ready.read_text().split()[0].split(",")
    return process, ",".join(f"127.0.0.1:{port}" for port in ports)


def produce(bootstrap: str, records: int, txn_size: int) -> float:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "transactional.id": "bench-producer",
            "linger.ms": 5,
            "batch.num.messages": 1000,
            "compression.type": "none",
        }
    )
    producer.init_transactions(30)
    value = b"x" * 16
    start = time.perf_counter()
    for first in range(0, records, txn_size):
        producer.begin_transaction()
        for number in range(first, min(first + txn_size, records)):
            producer.produce(TOPIC, value=value, key=str(number).encode())
            producer.poll(0)
        producer.commit_transaction(60)
    elapsed = time.perf_counter() - start
    producer.flush(10)
    return elapsed


def consume(bootstrap: str, records: int) -> float:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-reader",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    seen: set[bytes] = set()
    duplicates = 0
    start = time.perf_counter()
    deadline = time.monotonic() + 300
    while len(seen) < records and time.monotonic() < deadline:
        for message in consumer.consume(10_000, timeout=0.5):
            if message.error():
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise SystemExit(f"consumer error: {message.error()}")
                continue
            key = message.key()
            duplicates += key in seen
            seen.add(key)
    elapsed = time.perf_counter() - start
    consumer.close()
    if len(seen) != records or duplicates:
        raise SystemExit(f"consumer saw {len(seen)} of {records} records, {duplicates} twice")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--txn-size", type=int, default=1_000)
    parser.add_argument("--data-dir", action="store_true", help="durable logs (fsync per append)")
    parser.add_argument("--history", action="store_true", help="write the history log")
    parser.add_argument("--brokers", type=int, default=1, help="brokers in the cluster")
    parser.add_argument(
        "--bootstrap", help="use this already running broker (e.g. one under a profiler)"
    )
    args = parser.parse_args()
    if args.bootstrap:
        produce_s = produce(args.bootstrap, args.records, args.txn_size)
        consume_s = consume(args.bootstrap, args.records)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-wire-") as tmp:
            process, bootstrap = start_broker(
                Path(tmp), data_dir=args.data_dir, history=args.history, brokers=args.brokers
            )
            try:
                produce_s = produce(bootstrap, args.records, args.txn_size)
                consume_s = consume(bootstrap, args.records)
            finally:
                process.terminate()
                process.wait(timeout=10)
    storage = "data dir (fsync)" if args.data_dir else "memory"
    cluster = f", {args.brokers} brokers" if args.brokers > 1 else ""
    print(
        f"kafka-eos serve ({storage}{', history' if args.history else ''}{cluster}): "
        f"{args.records} records in transactions of {args.txn_size}"
    )
    print(
        f"  transactional producer (librdkafka): {args.records / produce_s:,.0f} records/s "
        f"({produce_s:.2f} s)"
    )
    print(
        f"  read_committed consumer (librdkafka): {args.records / consume_s:,.0f} records/s "
        f"({consume_s:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
