"""``kafka-eos simulate --reference --seed N --steps K [--config NAME]``: the randomized,
deterministic simulation of the reference implementation (kafka_eos.reference.simulation).

Called by the ``simulate`` subcommand (kafka_eos/cli/check.py) with ``args.seed`` and
``args.steps`` already converted; ``args.config`` names a simulation configuration
(``default``, ``no-faults``, ``tv1``, and weakened protocols that must fail). Exit 0 when every
property held, 1 with the violations and the command that reproduces them. ``--trace-out FILE``
writes the run's history (JSON lines, the format ``kafka-eos validate`` reads).
``--time-budget SECONDS`` stops the steps early: the run is settled and checked as usual and
exits 3 (incomplete) unless a property was violated. Options of the model's simulation
(``--model``, ``--param``, ``--walks``, ``--max-depth``, ``--deadlock``) are refused.
"""

from __future__ import annotations

import argparse
import json
import sys

from kafka_eos.cli.main import EXIT_BOUNDED, EXIT_OK, EXIT_VIOLATED
from kafka_eos.errors import InputError
from kafka_eos.reference.simulation import (
    SIMULATION_CONFIGS,
    load_simulation_config,
    run_simulation,
)

DEFAULT_STEPS = 10_000
#: the simulate parser's --max-depth default: given explicitly only when it differs
MODEL_MAX_DEPTH_DEFAULT = "100"


def refuse_model_options(args: argparse.Namespace) -> None:
    """Options of the model's random walks mean nothing to the reference simulation:
    refused rather than silently ignored."""
    for option, given in (
        ("--model", getattr(args, "model", None) is not None),
        ("--param", bool(getattr(args, "param", None))),
        ("--walks", getattr(args, "walks", None) is not None),
        ("--deadlock", getattr(args, "deadlock", None) is not None),
    ):
        if given:
            raise InputError(f"{option} applies to the model only, not to --reference")
    if getattr(args, "max_depth", MODEL_MAX_DEPTH_DEFAULT) != MODEL_MAX_DEPTH_DEFAULT:
        raise InputError("--max-depth applies to the model only; use --steps with --reference")


def run(args: argparse.Namespace) -> int:
    from kafka_eos.cli.check import _seconds_option

    refuse_model_options(args)
    time_budget = _seconds_option("--time-budget", getattr(args, "time_budget", None))
    config = load_simulation_config(getattr(args, "config", None))
    steps = args.steps if args.steps is not None else DEFAULT_STEPS
    seed = args.seed
    quiet = getattr(args, "quiet", False)
    if not quiet and sys.stderr.isatty():
        print(
            f"simulating the reference: {config.name}, seed {seed}, {steps} steps", file=sys.stderr
        )
    result = run_simulation(seed=seed, steps=steps, config=config, time_budget_s=time_budget)
    trace_out = getattr(args, "trace_out", None)
    if trace_out:
        with open(trace_out, "w", encoding="utf-8") as out:
            out.write(result.history_jsonl())
    # a run stopped by its budget is reproduced by the steps it did
    reproduce = f"kafka-eos simulate --reference --seed {seed} --steps {result.steps}"
    if config.name != "default":
        reproduce += f" --config {config.name}"
    rate = result.steps / result.seconds if result.seconds else 0.0
    bounded = result.ok and result.stopped_by is not None
    code = EXIT_VIOLATED if not result.ok else EXIT_BOUNDED if bounded else EXIT_OK
    if getattr(args, "json", False):
        print(
            json.dumps(
                {
                    "verdict": "violated" if not result.ok else ("incomplete" if bounded else "ok"),
                    "stopped_by": result.stopped_by,
                    "steps_asked": steps,
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
        verdict = "VIOLATED" if not result.ok else "INCOMPLETE" if bounded else "ok"
        print(
            f"reference simulation {config.name}: {verdict} after {result.steps} steps, "
            f"{len(result.events)} history events, {result.seconds:.2f}s ({rate:,.0f} steps/s)"
        )
        stats = result.stats
        print(
            f"  faults: {stats['messages_lost']} messages lost, {stats['messages_duplicated']} "
            f"duplicated, {stats['crashes']} producer crashes ({stats['zombies']} zombies), "
            f"{stats['failovers']} coordinator failovers, {stats['broker_restarts']} broker "
            f"restarts, {stats['expiries']} producer-state expiries, "
            f"{stats['retriable_errors']} retriable Produce errors, "
            f"{stats['request_timeouts']} request timeouts"
        )
        for violation in result.violations[:20]:
            print(f"  {violation.property}: {violation.message}")
        if len(result.violations) > 20:
            print(f"  ... and {len(result.violations) - 20} more")
        if not result.ok:
            print(f"reproduce: {reproduce}")
        if bounded:
            print(
                f"  stopped by --time-budget {getattr(args, 'time_budget', '')} after "
                f"{result.steps:,} of {steps:,} steps; no violation so far (the run was "
                "settled and checked)"
            )
        if config.expect_violation:
            print(f"  ({config.name} is meant to show a violation: {config.description})")
    return code


def config_names() -> list[str]:
    return sorted(SIMULATION_CONFIGS)
