"""``kafka-eos validate`` on a large history: CPU time and peak memory.

    .venv/bin/python benchmarks/bench_validate.py               # about 100 MB of history
    .venv/bin/python benchmarks/bench_validate.py --mb 20       # a smaller one

It writes the seeded, consistent history ``bench_explain.py`` writes (16 transactional
producers and an idempotent one on 8 partitions, about 10% of transactions aborted, a
read_committed consumer reading every committed record), then runs ``kafka-eos validate`` on it
in a child process of a child, so the peak RSS is validate's alone. The slow test
``tests/protocol/test_validate_scale.py`` runs the 100 MB case and bounds its memory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the same seeded history explain is timed on, and the same measure of a child alone
from bench_explain import run_measured, write_large_history


def measure(path: Path, *options: str) -> dict[str, Any]:
    """Run ``kafka-eos validate`` on ``path``: its exit code, stdout, stderr, CPU seconds and
    peak RSS in MB (kilobytes from Linux's getrusage)."""
    return run_measured([sys.executable, "-m", "kafka_eos", "validate", *options, str(path)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=100.0, help="history size (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.jsonl"
        started = time.perf_counter()
        size = write_large_history(path, megabytes=args.mb) / 1_000_000
        print(f"wrote {size:.0f} MB in {time.perf_counter() - started:.0f} s")
        run = measure(path, "--quiet")
        last = (run["stdout"] or run["stderr"]).strip().splitlines()[-1:]
        print(f"validate: exit {run['code']}, {run['cpu']:.1f} s CPU, peak RSS "
              f"{run['peak_mb']:.0f} MB: {last[0] if last else ''}")


if __name__ == "__main__":
    main()
