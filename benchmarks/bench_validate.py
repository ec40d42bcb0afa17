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
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_explain import write_large_history  # the same seeded history explain is timed on

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
        size = write_large_history(path, megabytes=args.mb) / 1_000_000
        print(f"wrote {size:.0f} MB in {time.perf_counter() - started:.0f} s")
        run = measure(path, "--quiet")
        last = (run["stdout"] or run["stderr"]).strip().splitlines()[-1:]
        print(f"validate: exit {run['code']}, {run['cpu']:.1f} s CPU, peak RSS "
              f"{run['peak_mb']:.0f} MB: {last[0] if last else ''}")


if __name__ == "__main__":
    main()
