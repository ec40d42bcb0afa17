"""Benchmark: the full checker against a minimal BFS loop, on TwoPhase.

    python benchmarks/bench_checker.py               # TwoPhase with 7 resource managers
    python benchmarks/bench_checker.py --rms 7 8     # 7 and 8 (8 takes a few minutes)
    python benchmarks/bench_checker.py --repeat 3    # best of 3 runs of each loop

Each run is its own subprocess, so its peak memory (peak RSS from getrusage) is its own. The
two loops run alternately and the best of each is kept: the machine is shared, and only
ratios measured in the same invocation mean anything. Time is the process's CPU time (wall
time is printed too): on a loaded machine, wall time also counts the time spent waiting for
a core, which says nothing about either loop. Targets: the checker (parent links for
traces, coverage, depth, bounds, progress) within 1.25x of the minimal loop's time and 1.5x
of its peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"
TIME_TARGET = 1.25
MEMORY_TARGET = 1.5


def worker(loop: str, rms: int) -> dict[str, Any]:
    """Run one loop on TwoPhase(rms) in this process and measure it."""
    sys.path[:0] = [str(EXAMPLES), str(HERE)]
    from two_phase import TwoPhase

    model = TwoPhase(rms=rms)
    start, cpu_start = time.perf_counter(), time.process_time()
    if loop == "minimal":
        from minimal_loop import minimal_bfs

        states, transitions = minimal_bfs(model)
        verdict = "ok"
    else:
        from kafka_eos.checker import check

        # The plain store: the figure compared with the minimal loop's set of states.
        result = check(model, progress=lambda progress: None, store="states")
        states, transitions, verdict = (
            result.distinct_states, result.transitions, result.verdict
        )
    cpu_seconds = time.process_time() - cpu_start
    wall_seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "loop": loop,
        "rms": rms,
        "verdict": verdict,
        "states": states,
        "transitions": transitions,
        "seconds": cpu_seconds,
        "wall_seconds": wall_seconds,
        "peak_mb": peak_kib / 1024,
    }


def measure(loop: str, rms: int) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", loop, "--rms", str(rms)],
        check=True, capture_output=True, text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(output)
    return figures


def compare(rms: int, repeat: int) -> list[str]:
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):
        for loop in ("minimal", "checker"):
            run = measure(loop, rms)
            if loop not in best or run["seconds"] < best[loop]["seconds"]:
                best[loop] = run
    minimal, checker = best["minimal"], best["checker"]
    if (minimal["states"], minimal["transitions"]) != (checker["states"], checker["transitions"]):
        raise SystemExit(f"the loops disagree on TwoPhase({rms}): {minimal} vs {checker}")
    lines = [
        f"TwoPhase, {rms} RMs: {checker['states']:,} distinct states, "
        f"{checker['transitions']:,} transitions (best of {repeat})",
        f"  {'loop':<8} {'CPU s':>7} {'wall s':>7} {'states/s':>10} {'transitions/s':>14} "
        f"{'peak MB':>8}",
    ]
    for run in (minimal, checker):
        lines.append(
            f"  {run['loop']:<8} {run['seconds']:>7.2f} {run['wall_seconds']:>7.2f} "
            f"{run['states'] / run['seconds']:>10,.0f} "
            f"{run['transitions'] / run['seconds']:>14,.0f} {run['peak_mb']:>8.0f}"
        )
    time_ratio = checker["seconds"] / minimal["seconds"]
    memory_ratio = checker["peak_mb"] / minimal["peak_mb"]
    lines.append(
        f"  checker/minimal: CPU time {time_ratio:.2f}x (target <= {TIME_TARGET}x), "
        f"peak memory {memory_ratio:.2f}x (target <= {MEMORY_TARGET}x)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rms", type=int, nargs="+", default=[7],
                        help="numbers of resource managers (default: 7)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each loop; best kept")
    parser.add_argument("--worker", choices=["minimal", "checker"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rms[0])))
        return
    for rms in args.rms:
        print("\n".join(compare(rms, args.repeat)), flush=True)


if __name__ == "__main__":
    main()
