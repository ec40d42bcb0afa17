"""Benchmark: each scale lever side by side (store, queue on disk, workers, Ray; TLC).

    python benchmarks/bench_scale.py                      # default Kafka check and TwoPhase 8
    python benchmarks/bench_scale.py --targets tp7        # TwoPhase with 7 RMs only
    python benchmarks/bench_scale.py --levers states fingerprints
    python benchmarks/bench_scale.py --targets tp8 tp9 --tlc /tmp/tla2tools.jar   # and TLC

A target is ``default`` (or any named check, its safety properties only; with ``--temporal``
its temporal properties too, where only the ``states`` and worker levers differ: one process
keeps the states of a graph whatever its store), a named check with more faults
(``default+retries=1``: a million states and more) or ``tpN`` (TwoPhase with N resource
managers).
The levers: ``states`` (the plain dict store), ``fingerprints`` (64-bit fingerprints and
parent numbers), ``queue`` (fingerprints and at most 100,000 queued states in memory),
``workers2`` (2 worker processes with ``--store auto``, as ``--workers 2`` runs: keeping their
states, or fingerprints with temporal properties), ``workers2fp`` (2 workers keeping
fingerprints), ``ray2`` (the same as ``workers2`` on actors of a local Ray cluster started for
the run; its CPU is the actors', Ray's own processes left out).
With ``--tlc JAR`` (TLC 2.18's tla2tools.jar), each TwoPhase target is also checked by TLC
with 2 workers (``-workers 2``) on benchmarks/tla/TwoPhase.tla. Each run is a subprocess of
its own, so its peak RSS is its own (for workers: the main process's and the largest
worker's). Time is CPU time of the run and its workers, plus wall time: on a shared machine
wall time also counts the time spent waiting for a core. Every lever must find the same
distinct states and transitions as the plain store (TLC: the same states), or the benchmark
stops.
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
LEVERS: dict[str, dict[str, Any]] = {
    "states": {"store": "states"},
    "fingerprints": {"store": "fingerprints"},
    "queue": {"store": "fingerprints", "queue_limit": 100_000},
    "workers2": {"store": "auto", "workers": 2},
    "workers2fp": {"store": "fingerprints", "workers": 2},
    "ray2": {"store": "auto", "workers": 2, "ray": "local"},
}
TLA = HERE / "tla"


def model_of(target: str, *, temporal: bool) -> Any:
    if target.startswith("tp"):
        sys.path.insert(0, str(EXAMPLES))
        from two_phase import TwoPhase

        return TwoPhase(rms=int(target[2:]))
    return named_check(target, temporal=temporal).model


def named_check(target: str, *, temporal: bool) -> Any:
    """The named check (without its temporal properties unless ``temporal``), with the
    fault budgets ``+fault=N`` after its name adds."""
    import tempfile

    import yaml

    from kafka_eos.model.configs import config_path, load_check_config

    name, *extra = target.split("+")
    mapping = yaml.safe_load(config_path(name).read_text(encoding="utf-8"))
    if not temporal:
        mapping.pop("temporal_properties", None)
    for budget in extra:
        fault, count = budget.split("=")
        mapping.setdefault("faults", {})[fault] = int(count)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"{name}.yaml"
        path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
        return load_check_config(str(path))


def run_lever(target: str, lever: str, *, temporal: bool) -> dict[str, Any]:
    """Run one lever on one target in this process and measure it."""
    from kafka_eos.checker import check

    model = model_of(target, temporal=temporal)
    start = time.perf_counter()
    result = check(model, **LEVERS[lever])
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime
    if "ray" in LEVERS[lever]:  # actors are not this process's children: their own figures
        cpu = own.ru_utime + own.ru_stime + sum(result.worker_cpu_seconds)
    return {
        "target": target, "lever": lever, "verdict": result.verdict,
        "states": result.distinct_states, "transitions": result.transitions,
        "cpu_seconds": cpu, "wall_seconds": wall,
        "peak_mb": own.ru_maxrss / 1024, "worker_peak_mb": workers.ru_maxrss / 1024,
        "store_bytes": result.store_bytes, "transfer_seconds": result.transfer_seconds,
        "queue_spilled": result.queue_spilled, "ownership": result.ownership,
        # On a machine with a core per process, the run's wall time is about the main
        # process's CPU plus its busiest worker's (the main process waits while they work).
        "critical_cpu_seconds": own.ru_utime + own.ru_stime
        + max(result.worker_cpu_seconds, default=0.0),
    }


def run_tlc(jar: str, target: str) -> dict[str, Any]:
    """TLC with 2 workers on TwoPhase with the target's RMs, in a child process measured."""
    import re
    import shutil
    import tempfile

    rms = int(target[2:])
    with tempfile.TemporaryDirectory() as directory:
        shutil.copy(TLA / "TwoPhase.tla", directory)
        names = ", ".join(f"r{i}" for i in range(1, rms + 1))
        Path(directory, "TwoPhase.cfg").write_text(
            f"CONSTANT RM = {{{names}}}\nINIT TPInit\nNEXT TPNext\n"
            "INVARIANTS TPTypeOK TCConsistent\n", encoding="utf-8")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        output = subprocess.run(
            ["java", "-XX:+UseParallelGC", "-cp", jar, "tlc2.TLC", "-workers", "2",
             "-metadir", str(Path(directory) / "meta"), "TwoPhase.tla"],
            cwd=directory, check=True, capture_output=True, text=True).stdout
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"([\d,]+) states generated, ([\d,]+) distinct states found", output)
    if found is None:
        raise SystemExit(f"TLC gave no state count on {target}:\n{output[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"target": target, "lever": "tlc2", "verdict": "ok",
            "states": int(found[2].replace(",", "")), "transitions": None,
            "cpu_seconds": cpu, "wall_seconds": wall, "peak_mb": after.ru_maxrss / 1024,
            "worker_peak_mb": 0.0, "store_bytes": 0, "transfer_seconds": 0.0,
            "queue_spilled": 0, "critical_cpu_seconds": cpu}


def measure(target: str, lever: str, *, temporal: bool) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--run", target, lever, *(["--temporal"] if temporal else [])],
        check=True, capture_output=True, text=True,
    ).stdout
    figures: dict[str, Any] = json.loads(output)
    return figures


def compare(target: str, levers: list[str], tlc: str | None = None, *,
            temporal: bool = False) -> list[str]:
    runs = [measure(target, lever, temporal=temporal) for lever in levers]
    if tlc is not None and target.startswith("tp"):
        runs.append(run_tlc(tlc, target))
    first = runs[0]
    for run in runs[1:]:
        if run["states"] != first["states"] or run["transitions"] not in (
                None, first["transitions"]):
            raise SystemExit(f"{run['lever']} disagrees with {first['lever']} on {target}")
    lines = [
        f"{target}: {first['states']:,} distinct states, {first['transitions']:,} transitions",
        f"  {'lever':<13} {'CPU s':>7} {'wall s':>7} {'states/CPU s':>12} {'states/wall s':>13}"
        f" {'peak MB':>8} {'store B/state':>13} {'vs first, CPU':>13}",
    ]
    for run in runs:
        per_state = run["store_bytes"] / run["states"] if run["store_bytes"] else 0
        peak = max(run["peak_mb"], run["worker_peak_mb"])
        lines.append(
            f"  {run['lever']:<13} {run['cpu_seconds']:>7.1f} {run['wall_seconds']:>7.1f} "
            f"{run['states'] / run['cpu_seconds']:>12,.0f} "
            f"{run['states'] / run['wall_seconds']:>13,.0f} {peak:>8.0f} "
            f"{per_state or float('nan'):>13.1f} "
            f"{first['cpu_seconds'] / run['cpu_seconds']:>12.2f}x"
        )
        if run["transfer_seconds"]:
            lines.append(
                f"  {'':<13} main + busiest worker: {run['critical_cpu_seconds']:.1f} CPU s "
                f"({first['cpu_seconds'] / run['critical_cpu_seconds']:.2f}x the first lever's "
                f"CPU: the speed-up on idle cores); packing and reading what workers "
                f"exchanged: {run['transfer_seconds']:.1f} CPU s; states owned "
                f"{run['ownership']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=["default", "tp8"],
                        help="named checks or tpN (default: default tp8)")
    parser.add_argument("--levers", nargs="+", choices=list(LEVERS), default=list(LEVERS))
    parser.add_argument("--tlc", metavar="JAR",
                        help="also run TLC (tla2tools.jar) with 2 workers on TwoPhase targets")
    parser.add_argument("--temporal", action="store_true",
                        help="check Kafka targets' temporal properties too")
    parser.add_argument("--run", nargs=2, metavar=("TARGET", "LEVER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_lever(*args.run, temporal=args.temporal)))
        return
    for target in args.targets:
        print("\n".join(compare(target, args.levers, args.tlc, temporal=args.temporal)),
              flush=True)


if __name__ == "__main__":
    main()
