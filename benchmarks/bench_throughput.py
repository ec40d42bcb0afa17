"""Benchmark: per-core throughput of a named check, this tree against an earlier revision.

    python benchmarks/bench_throughput.py --against f5e37b9             # default, 3 pairs
    python benchmarks/bench_throughput.py --against HEAD~1 --repeat 5 --modes safety
    python benchmarks/bench_throughput.py                                # this tree only
    python benchmarks/bench_throughput.py --compiled     # and compiled (`kafka-eos compile`)
    python benchmarks/bench_throughput.py --against b1debd4 --modes safety --other-model

Each run is a subprocess of its own: ``safety`` checks the configuration's invariants and
action properties only, ``full`` adds its temporal properties (graph recording and the
fair-cycle search). The earlier revision is extracted with ``git archive`` into a temporary
directory and imported from there by the same worker code, and the two trees run
alternately (earlier, this, earlier, this...): the machine is shared, so only figures of
one invocation compare, and the best run of each is kept. Time is the worker's CPU time.
Both trees must find the same states, transitions and verdict, or the benchmark stops;
``--other-model`` lets them differ (a revision from before the model grew: each tree's figures
are then those of its own state space, and only states/s compare).
This tree runs interpreted (KAFKA_EOS_INTERPRETED=1); ``--compiled`` adds it compiled, which
needs a build of its sources (``kafka-eos compile``) and stops if the worker did not load one.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def worker(config: str, mode: str) -> dict[str, Any]:
    """Check ``config`` in this process (its safety properties only for ``safety``)."""
    from kafka_eos.checker import check
    from kafka_eos.model.configs import load_check_config
    from kafka_eos.model.kafka import KafkaEosModel

    model: Any = load_check_config(config).model
    if mode == "safety" and type(model) is not KafkaEosModel:  # without its temporal properties
        model = KafkaEosModel(knobs=model.knobs, faults=model.faults, workload=model.workload,
                              checked=model.checked)
    # a revision from before the checker's stores keeps every state (what "states" asks)
    store = {"store": "states"} if "store" in inspect.signature(check).parameters else {}
    cpu_start = time.process_time()
    result = check(model, **store)
    cpu_seconds = time.process_time() - cpu_start
    return {
        "verdict": result.verdict,
        "states": result.distinct_states,
        "transitions": result.transitions,
        "seconds": cpu_seconds,
        "liveness_seconds": getattr(result, "liveness_seconds", 0.0),  # none before liveness
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "code": _code_mode(),
    }


def _code_mode() -> str:
    try:
        from kafka_eos.compiled.finder import mode
    except ImportError:  # a revision from before `kafka-eos compile`
        return "interpreted"
    return mode()


def use_tree(packages: str) -> None:
    """Import kafka_eos from ``packages`` instead of this tree's editable install."""
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in f.__module__]
    sys.path.insert(0, packages)


def extract(revision: str, into: Path) -> Path:
    """``revision`` of this repository as an importable kafka_eos package under ``into``."""
    source = into / "tree"
    source.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    setup = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
    package_dirs: dict[str, str] = setup["tool"]["setuptools"]["package-dir"]
    packages = into / "packages"
    shutil.copytree(source / package_dirs["kafka_eos"], packages / "kafka_eos")
    for name, folder in package_dirs.items():
        if name != "kafka_eos":
            (packages / name.replace(".", "/")).symlink_to(source / folder)
    return packages


#: This tree compiled: a tree entry (its packages: the editable install's).
COMPILED = "compiled"


def measure(config: str, mode: str, packages: str | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", mode, "--configs", config]
    environment = dict(os.environ, KAFKA_EOS_INTERPRETED="1")
    if packages == COMPILED:
        del environment["KAFKA_EOS_INTERPRETED"]
    elif packages is not None:
        command += ["--packages", packages]
    figures: dict[str, Any] = json.loads(subprocess.run(
        command, check=True, capture_output=True, text=True, env=environment).stdout)
    if (packages == COMPILED) != figures["code"].startswith("compiled"):
        raise SystemExit(f"{config}: the worker ran {figures['code']}")
    return figures


def compare(
    config: str, mode: str, trees: dict[str, str | None], repeat: int, other_model: bool = False
) -> list[str]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(repeat):
        for name, packages in trees.items():
            runs[name].append(measure(config, mode, packages))
    best = {name: min(done, key=lambda run: run["seconds"]) for name, done in runs.items()}
    shapes = {(run["states"], run["transitions"], run["verdict"]) for run in best.values()}
    if len(shapes) != 1 and not other_model:
        raise SystemExit(f"the trees disagree on {config} ({mode}): {best}")
    first = next(iter(best.values()))
    if len(shapes) == 1:
        explored = f"{first['states']:,} states, {first['transitions']:,} transitions, "
        explored += first["verdict"]
    else:  # --other-model: each tree explored its own state space
        explored = "; ".join(
            f"{name} {run['states']:,} states, {run['transitions']:,} transitions, "
            f"{run['verdict']}"
            for name, run in best.items()
        )
    lines = [
        f"{config} ({mode}): {explored}; CPU s of {repeat} alternating runs, best kept",
        f"  {'tree':<14} {'runs':<24} {'best':>6} {'states/s':>9} {'liveness s':>10} "
        f"{'peak MB':>8} {'speed-up':>8}",
    ]
    # in states/s: the time ratio when the trees explore the same states
    reference = first["states"] / first["seconds"]
    for name, run in best.items():
        shown = " ".join(f"{r['seconds']:.2f}" for r in runs[name])
        rate = run["states"] / run["seconds"]
        lines.append(
            f"  {name:<14} {shown:<24} {run['seconds']:>6.2f} "
            f"{rate:>9,.0f} {run['liveness_seconds']:>10.2f} "
            f"{run['peak_mb']:>8.0f} {rate / reference:>7.2f}x"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["default"], help="named checks")
    parser.add_argument("--modes", nargs="+", choices=["safety", "full"],
                        default=["safety", "full"])
    parser.add_argument("--against", help="a git revision to compare with (e.g. HEAD~1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each tree; best kept")
    parser.add_argument("--compiled", action="store_true",
                        help="also run this tree compiled (after `kafka-eos compile`)")
    parser.add_argument("--other-model", action="store_true",
                        help="let the trees explore different state spaces (compare states/s)")
    parser.add_argument("--worker", choices=["safety", "full"], help=argparse.SUPPRESS)
    parser.add_argument("--packages", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.packages:
            use_tree(args.packages)
        print(json.dumps(worker(args.configs[0], args.worker)))
        return
    with tempfile.TemporaryDirectory() as directory:
        trees: dict[str, str | None] = {}
        if args.against:
            trees[args.against] = str(extract(args.against, Path(directory)))
        trees["this tree"] = None
        if args.compiled:
            trees["compiled"] = COMPILED
        for config in args.configs:
            for mode in args.modes:
                print("\n".join(compare(config, mode, trees, args.repeat, args.other_model)),
                      flush=True)


if __name__ == "__main__":
    main()
