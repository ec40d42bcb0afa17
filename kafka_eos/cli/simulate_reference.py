"""``kafka-eos simulate --reference --seed N --steps K [--config NAME]``: the randomized,
deterministic simulation of the reference implementation (kafka_eos.reference.simulation).

Called by the ``simulate`` subcommand (kafka_eos/cli/check.py) with ``args.seed`` and
``args.steps`` already converted; ``args.config`` names a simulation configuration
(``default``, ``no-faults``, ``tv1``, and weakened protocols that must fail). Exit 0 when every
property held, 1 with the violations and the command that reproduces them. ``--trace-out FILE``
writes the run's history (JSON lines, the format ``kafka-eos validate`` reads).
"""

from __future__ import annotations

import argparse
import json
import sys

from kafka_eos.reference.simulation import (
    SIMULATION_CONFIGS,
    load_simulation_config,
    run_simulation,
)

DEFAULT_STEPS = 10_000


def run(args: argparse.Namespace) -> int:
    config = load_simulation_config(getattr(args, "config", None))
    steps = args.steps if args.steps is not None else DEFAULT_STEPS
    seed = args.seed
    quiet = getattr(args, "quiet", False)
    if not quiet and sys.stderr.isatty():
        print(
            f"simulating the reference: {config.name}, seed {seed}, {steps} steps", file=sys.stderr
        )
    result = run_simulation(seed=seed, steps=steps, config=config)
    trace_out = getattr(args, "trace_out", None)
    if trace_out:
        with open(trace_out, "w", encoding="utf-8") as out:
            out.write(result.history_jsonl())
    reproduce = f"kafka-eos simulate --reference --seed {seed} --steps {steps}"
    if config.name != "default":
        reproduce += f" --config {config.name}"
    rate = result.steps / result.seconds if result.seconds else 0.0
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "verdict": "ok" if result.ok else "violated",
                    "config": config.name,
                    "seed": seed,
                    "steps": result.steps,
                    "seconds": round(result.seconds, 3),
                    "steps_per_second": round(rate),
                    "events": len(result.events),
                    "violated": sorted({v.property for v in result.violations}),
                    "violations": [
                        {"property": v.property, "message": v.message} for v in result.violations
                    ],
                    "stats": result.stats,
                    "coverage": result.coverage,
                    "reproduce": reproduce,
                    "expect_violation": config.expect_violation,
                }
            )
        )
    else:
        verdict = "ok" if result.ok else "VIOLATED"
        print(
            f"reference simulation {config.name}: {verdict} after {result.steps} steps, "
            f"{len(result.events)} history events, {result.seconds:.2f}s ({rate:,.0f} steps/s)"
        )
        stats = result.stats
        print(
            f"  faults: {stats['messages_lost']} messages lost, {stats['messages_duplicated']} "
            f"duplicated, {stats['crashes']} producer crashes ({stats['zombies']} zombies), "
            f"{stats['failovers']} coordinator failovers, {stats['broker_restarts']} broker "
            f"restarts, {stats['expiries']} producer-state expiries"
        )
        for violation in result.violations[:20]:
            print(f"  {violation.property}: {violation.message}")
        if len(result.violations) > 20:
            print(f"  ... and {len(result.violations) - 20} more")
        if not result.ok:
            print(f"reproduce: {reproduce}")
        if config.expect_violation:
            print(f"  ({config.name} weakens the protocol: {config.description})")
    return 0 if result.ok else 1


def config_names() -> list[str]:
    return sorted(SIMULATION_CONFIGS)
