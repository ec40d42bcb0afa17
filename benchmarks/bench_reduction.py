"""Benchmark: partial-order reduction against the plain search, on every named check.

    python benchmarks/bench_reduction.py                         # every named check
    python benchmarks/bench_reduction.py --targets default ctp
    python benchmarks/bench_reduction.py --targets default --properties no_duplicates
    python benchmarks/bench_reduction.py --targets default --faults failovers=1 --max-depth 20

Each named check runs twice, each run a subprocess of its own (so its peak RSS is its own):
``plain`` (the plain search) and ``por`` (``reduce="por"``), both on the check's safety
properties only (a reduced search does not check temporal properties), or on
``--properties``. ``--faults name=N`` changes a fault budget of every target (e.g. the
issue's default plus one coordinator failover), ``--max-depth`` bounds both runs alike (for
targets too large to finish here). Time is CPU time. The two runs must give the same verdict
and violated property, or the benchmark stops.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import time
from typing import Any

from bench_scale import named_check


def model_of(target: str, properties: list[str] | None, faults: dict[str, int]) -> Any:
    from kafka_eos.model.kafka import KafkaEosModel

    model = named_check(target, temporal=False).model
    return KafkaEosModel(knobs=model.knobs, faults=dataclasses.replace(model.faults, **faults),
                         workload=model.workload, checked=properties or model.checked)


def run(target: str, mode: str, options: dict[str, Any]) -> dict[str, Any]:
    """One run of ``mode`` on ``target`` in this process, measured."""
    from kafka_eos.checker import check

    model = model_of(target, options["properties"], options["faults"])
    start = time.perf_counter()
    result = check(model, reduce="por" if mode == "por" else "none",
                   max_depth=options["max_depth"])
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "target": target, "mode": mode, "verdict": result.verdict, "violated": result.violated,
        "trace": result.trace.steps if result.trace is not None else None,
        "states": result.distinct_states, "transitions": result.transitions,
        "reduced_states": result.reduced_states,
        "cpu_seconds": own.ru_utime + own.ru_stime, "wall_seconds": wall,
        "peak_mb": own.ru_maxrss / 1024,
    }


def measure(target: str, mode: str, options: dict[str, Any]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--run", target, mode, json.dumps(options)],
        check=True, capture_output=True, text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(output)
    return figures


def compare(target: str, options: dict[str, Any]) -> str:
    plain, por = (measure(target, mode, options) for mode in ("plain", "por"))
    if (plain["verdict"], plain["violated"]) != (por["verdict"], por["violated"]):
        raise SystemExit(f"{target}: por says {por['verdict']} {por['violated']}, the plain "
                         f"search {plain['verdict']} {plain['violated']}")
    verdict = plain["violated"] or plain["verdict"]
    traces = "" if plain["trace"] is None else f" {plain['trace']}/{por['trace']}"
    return (f"{target:<28} {verdict[:26]:<26}{traces:>7} {plain['states']:>10,} "
            f"{por['states']:>10,} {plain['states'] / por['states']:>6.2f}x "
            f"{por['reduced_states']:>9,} {plain['cpu_seconds']:>7.1f} {por['cpu_seconds']:>7.1f} "
            f"{plain['peak_mb']:>6.0f} {por['peak_mb']:>6.0f}")


def main() -> None:
    from kafka_eos.model.configs import list_check_configs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+",
                        default=list_check_configs())
    parser.add_argument("--properties", nargs="+", help="check only these properties")
    parser.add_argument("--faults", nargs="+", default=[], metavar="NAME=N")
    parser.add_argument("--max-depth", type=int)
    parser.add_argument("--run", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        target, mode, options = args.run
        print(json.dumps(run(target, mode, json.loads(options))))
        return
    options = {"properties": args.properties, "max_depth": args.max_depth,
               "faults": {k: int(v) for k, v in (f.split("=") for f in args.faults)}}
    print(f"{'check':<28} {'verdict':<26} {'trace':>7} {'plain':>10} {'por':>10} {'factor':>7} "
          f"{'reduced':>9} {'CPU s':>7} {'CPU s':>7} {'MB':>6} {'MB':>6}", flush=True)
    for target in args.targets:
        print(compare(target, options), flush=True)


if __name__ == "__main__":
    main()
