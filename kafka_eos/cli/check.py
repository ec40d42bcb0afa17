"""``kafka-eos check`` (exhaustive BFS) and ``kafka-eos simulate`` (seeded random walks).

Which model: ``--model FILE.py:Class --param k=v`` (any model), ``--config NAME|FILE`` (a named
Kafka check from spec/configs/), or neither (the default Kafka check). Exit codes: 0 every
reachable state checked, 1 a property is violated, 2 a usage or input error, 3 stopped by a
bound (or a simulation that found nothing) before the answer was complete.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka_eos.checker import CheckResult, Progress, check, simulate
from kafka_eos.checker.bfs import RESUMABLE_STOPS
from kafka_eos.checker.checkpoint import FILE_NAME as CHECKPOINT_FILE
from kafka_eos.checker.interface import ModelError
from kafka_eos.checker.itf import itf_from_document, trace_to_itf, write_itf
from kafka_eos.checker.loader import load_model, parse_params
from kafka_eos.checker.memory import resident_bytes_with_children
from kafka_eos.checker.shortest import shortest_counterexample
from kafka_eos.checker.store import AUTO_FINGERPRINTS_AFTER, STORES
from kafka_eos.checker.text import format_trace
from kafka_eos.cli.main import EXIT_BOUNDED, EXIT_OK, EXIT_VIOLATED
from kafka_eos.cli.progress import PROGRESS_AFTER_SECONDS, StatusLine
from kafka_eos.cli.view import add_html_option, itf_title, write_itf_view
from kafka_eos.compiled.finder import mode as code_mode
from kafka_eos.compiled.sources import INTERPRETED_VARIABLE
from kafka_eos.errors import InputError

EXIT_CODES = {"ok": EXIT_OK, "violated": EXIT_VIOLATED, "incomplete": EXIT_BOUNDED}
REDUCE_OPTIONS = ("none", "por", "symmetry")


def register(subparsers: Any) -> None:
    checker = subparsers.add_parser(
        "check",
        help="model-check exhaustively (breadth-first; shortest counterexample)",
        description="Explore every reachable state breadth-first and report a shortest "
        "counterexample. Exit 0 ok, 1 violated, 2 usage error, 3 stopped by a bound.",
    )
    _model_options(checker)
    checker.add_argument("--max-states", metavar="N", help="stop after N distinct states")
    checker.add_argument("--max-depth", metavar="N", help="explore traces of at most N steps")
    checker.add_argument("--store", choices=STORES, default="auto",
                         help="keep visited states as states (fastest), 64-bit fingerprints "
                         "(about 30 bytes a state), or auto: fingerprints past "
                         f"{AUTO_FINGERPRINTS_AFTER:,} states once the check holds a quarter "
                         "of the machine's memory (default)")
    checker.add_argument("--workers", metavar="N", default="1",
                         help="explore in N processes, each owning a share of the states "
                         "(kept as --store says; same counts and shortest traces; default 1)")
    checker.add_argument("--ray", metavar="ADDRESS",
                         help="run the workers as actors on the Ray cluster at ADDRESS ('local' "
                         "starts one on this machine; needs Ray installed): the same search, "
                         "the same figures; --workers defaults to the cluster's CPUs")
    checker.add_argument("--queue-limit", metavar="N",
                         help="keep at most N queued states in memory, the rest in a "
                         "temporary file")
    checker.add_argument("--checkpoint", metavar="DIR",
                         help="write the search to DIR periodically and when a bound or Ctrl-C "
                         "stops it; if DIR holds a checkpoint of this check, go on from it")
    checker.add_argument("--checkpoint-every", metavar="SECONDS",
                         help="seconds between two checkpoints (default 300)")
    checker.add_argument("--resume", metavar="DIR",
                         help="go on from the checkpoint in DIR (which must hold one)")
    checker.add_argument("--reduce", choices=REDUCE_OPTIONS, default="none",
                         help="por: partial-order reduction from the footprints the model "
                         "declares (invariants and action properties only; a counterexample "
                         "may be longer than the shortest); symmetry: require the model's "
                         "canonical() (default none)")
    checker.add_argument("--safety-only", action="store_true",
                         help="check the invariants and action properties only, not the "
                         "temporal properties the check names (no graph is recorded)")
    checker.add_argument("--shortest", action="store_true",
                         help="with --reduce por: when a violation is found at depth d, search "
                         "again unreduced up to depth d for a shortest counterexample")
    _common_options(checker)
    checker.set_defaults(run=run_check)

    walker = subparsers.add_parser(
        "simulate",
        help="seeded random walks for models too large to check exhaustively",
        description="Run seeded random walks, checking every state and step on the way. "
        "Same seed, same walks. Finding nothing is not a proof (exit 3).",
    )
    _model_options(walker)
    walker.add_argument("--seed", default="0", help="random seed (default 0)")
    walker.add_argument("--max-depth", metavar="N", default="100",
                        help="steps per walk (default 100)")
    walker.add_argument("--walks", metavar="N",
                        help="number of walks (default 1000 unless --time-budget is given)")
    walker.add_argument("--reference", action="store_true",
                        help="simulate the reference implementation instead of the model")
    walker.add_argument("--steps", metavar="K", help="steps of the reference simulation")
    walker.add_argument("--ray", metavar="ADDRESS",
                        help="run a swarm of walkers as tasks on the Ray cluster at ADDRESS "
                        "('local' starts one): walker i takes seed SEED+i and its share of "
                        "the walks; the same result wherever they run")
    walker.add_argument("--workers", metavar="N",
                        help="walkers in the --ray swarm (default: the cluster's CPUs)")
    _common_options(walker)
    walker.set_defaults(run=run_simulate)


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (default: the default Kafka check)")
    group.add_argument("--model", metavar="FILE.py:CLASS", help="check a model class from a file")
    group.add_argument("--param", metavar="NAME=VALUE", action="append", default=[],
                       help="constructor argument of --model, value read as YAML (repeatable)")
    group.add_argument("--config", metavar="NAME|FILE", help="a named check from spec/configs/ "
                       "or a .yaml file")


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-budget", metavar="SECONDS", help="stop after SECONDS")
    parser.add_argument("--deadlock", action=argparse.BooleanOptionalAction, default=None,
                        help="report states without successors (default: the model's "
                        "deadlock_is_error)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--trace-out", metavar="FILE",
                        help="write the counterexample: ITF when FILE ends in .json, else text")
    add_html_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error raised by the model, show its Python traceback")


@dataclass(slots=True)
class Target:
    """The model to check, with where it came from (for the ITF #meta) and its bounds."""

    model: object
    title: str
    meta: dict[str, Any]
    bounds: dict[str, Any] = field(default_factory=dict)


def run_check(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    bounds = {
        "max_states": _int_option("--max-states", args.max_states),
        "max_depth": _int_option("--max-depth", args.max_depth, allow_zero=True),
        "time_budget": _seconds_option("--time-budget", args.time_budget),
    }
    bounds = {**target.bounds, **{k: v for k, v in bounds.items() if v is not None}}
    saving = _checkpoint_options(args, target)
    saving["queue_limit"] = _int_option("--queue-limit", args.queue_limit)
    saving["workers"] = _int_option("--workers", args.workers)
    saving["ray"] = args.ray
    saving["reduce"] = _reduction(args, target.model)
    saving["temporal"] = not args.safety_only
    with _ProgressDisplay(enabled=_show_progress(args)) as display:
        result = _run_model(args, lambda: check(
            target.model, deadlock=args.deadlock, progress=display.update, store=args.store,
            **saving, **bounds,
        ))
        if args.shortest and result.verdict == "violated":
            result = _run_model(args, lambda: shortest_counterexample(
                target.model, result, deadlock=args.deadlock, store=args.store))
    code = _report(args, target, result, bounds)
    if saving["checkpoint"] and result.stopped_by in RESUMABLE_STOPS and not args.json:
        print(f"checkpoint written to {saving['checkpoint']}; go on with --resume "
              f"{saving['checkpoint']}")
    return code


def _reduction(args: argparse.Namespace, model: object) -> str:
    """The checker's ``reduce`` for ``--reduce`` (symmetry is the model's own canonical())."""
    if args.shortest and args.reduce != "por":
        raise InputError("--shortest applies to --reduce por only (without it every "
                         "counterexample is a shortest one)")
    if args.reduce == "symmetry":
        if not callable(getattr(model, "canonical", None)):
            raise InputError(f"--reduce symmetry: {type(model).__name__} declares no symmetry "
                             "(a canonical(state) method) for this configuration")
        return "none"  # the checker maps every state to the model's representative
    return str(args.reduce)


def _checkpoint_options(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    if args.resume and args.checkpoint:
        raise InputError("give either --checkpoint DIR or --resume DIR, not both")
    if args.resume and not (Path(args.resume) / CHECKPOINT_FILE).is_file():
        raise InputError(f"--resume {args.resume}: no checkpoint in that directory")
    directory = args.resume or args.checkpoint
    every = _seconds_option("--checkpoint-every", args.checkpoint_every)
    if every is not None and directory is None:
        raise InputError("--checkpoint-every applies to --checkpoint DIR only")
    return {"checkpoint": directory, "checkpoint_every": every,
            "checkpoint_of": json.dumps(target.meta, sort_keys=True, default=str)}


def run_simulate(args: argparse.Namespace) -> int:
    if args.reference:
        from kafka_eos.cli.simulate_reference import run

        # The reference simulation gets its options already checked and converted.
        args.seed = _int_option("--seed", args.seed, allow_zero=True, signed=True)
        args.steps = _int_option("--steps", args.steps)
        result_code: int = run(args)
        return result_code
    if args.steps is not None:
        raise InputError("--steps applies to --reference only; use --max-depth for the model")
    target = resolve_target(args)
    seed = _int_option("--seed", args.seed, allow_zero=True, signed=True)
    options = {
        "seed": seed,
        "max_depth": _int_option("--max-depth", args.max_depth),
        "walks": _int_option("--walks", args.walks),
        "time_budget": _seconds_option("--time-budget", args.time_budget),
    }
    if args.workers is not None and args.ray is None:
        raise InputError("--workers applies to simulate --ray only (a swarm of walkers)")
    if args.ray is not None:
        result = _run_model(args, lambda: _swarm(args, target.model, options))
        target.meta["seed"] = seed
        return _report(args, target, result, options)
    with _ProgressDisplay(enabled=_show_progress(args)) as display:
        result = _run_model(args, lambda: simulate(
            target.model, deadlock=args.deadlock, progress=display.update, **options
        ))
    target.meta["seed"] = seed
    return _report(args, target, result, options)


def _swarm(args: argparse.Namespace, model: object, options: dict[str, Any]) -> CheckResult:
    """``simulate --ray``: the walkers as Ray tasks (Ray is imported only here)."""
    from kafka_eos.checker.ray_search import ray_workers
    from kafka_eos.checker.ray_swarm import swarm

    members = ray_workers(args.ray, _int_option("--workers", args.workers) or 1)
    return swarm(model, members=members, ray=args.ray, deadlock=args.deadlock, **options)


def resolve_target(args: argparse.Namespace) -> Target:
    if args.model and args.config:
        raise InputError("give either --model or --config, not both")
    if args.param and not args.model:
        raise InputError("--param applies to --model only")
    if args.model:
        params = parse_params(args.param)
        model = _run_model(args, lambda: _load_model(args.model, params))
        shown = " ".join(f"{k}={v}" for k, v in params.items())
        return Target(model, f"{args.model} {shown}".strip(),
                      {"model": args.model, "params": params})
    from kafka_eos.model.configs import DEFAULT_CONFIG, load_check_config

    config = load_check_config(DEFAULT_CONFIG if args.config is None else args.config)
    return Target(
        config.model,
        f"config {config.name}" + (f": {config.description}" if config.description else ""),
        # the configuration itself, so that replay rebuilds the model from the trace alone
        {"config": config.name, "configuration": config.source},
        {k: v for k, v in dict(config.bounds).items() if k in _CONFIG_BOUNDS and v is not None},
    )


def _load_model(spec: str, params: dict[str, Any]) -> object:
    try:
        return load_model(spec, params)
    except ModelError as error:
        if COMPILED_BASE not in str(error):
            raise
        # e.g. a model file's class extends KafkaEosModel, loaded compiled
        raise ModelError(f"{error} (a compiled build is loaded: run it with "
                         f"{INTERPRETED_VARIABLE}=1)") from error.__cause__


#: What Python says when an interpreted class extends a compiled (mypyc) one.
COMPILED_BASE = "interpreted classes cannot inherit from compiled"

# The bounds a named check may set; the command line overrides each.
_CONFIG_BOUNDS = ("max_states", "max_depth", "time_budget")


def _run_model(args: argparse.Namespace, work: Any) -> Any:
    """Run ``work``; with --traceback, show where in the model an error came from."""
    try:
        return work()
    except ModelError as exc:
        if args.traceback and exc.__cause__ is not None:
            import traceback

            traceback.print_exception(exc.__cause__, file=sys.stderr)
        raise


def _report(
    args: argparse.Namespace, target: Target, result: CheckResult, bounds: dict[str, Any]
) -> int:
    written = _write_trace(args.trace_out, target, result) if args.trace_out else None
    viewed = _write_view(args.html, target, result) if args.html else None
    if args.json:
        print(json.dumps({**result.to_json(), "target": target.meta, "trace_out": written,
                          "html": viewed, "code": code_mode()}))  # fmt: skip
    else:
        print(summary(target, result, bounds, written, trace_out=args.trace_out))
        if viewed:
            print(f"view written to {viewed}")
        elif args.html:
            print(f"no counterexample, nothing written to {args.html}")
    return EXIT_CODES[result.verdict]


def _write_view(path: str, target: Target, result: CheckResult) -> str | None:
    if result.trace is None:
        return None
    meta = {**target.meta, "verdict": result.verdict, "violated": result.violated}
    trace = itf_from_document(trace_to_itf(result.trace, target.model, meta=meta))
    return str(write_itf_view(path, trace, title=itf_title(meta, target.title)))


def _write_trace(path: str, target: Target, result: CheckResult) -> str | None:
    if result.trace is None:
        return None
    meta = {**target.meta, "verdict": result.verdict, "violated": result.violated}
    try:
        if path.endswith(".json"):
            write_itf(path, result.trace, target.model, meta=meta)
        else:
            with open(path, "w", encoding="utf-8") as out:
                out.write(format_trace(result.trace, target.model) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write the trace to {path}: {exc.strerror}") from exc
    return path


def summary(
    target: Target,
    result: CheckResult,
    bounds: dict[str, Any],
    written: str | None,
    *,
    trace_out: str | None = None,
) -> str:
    """The human report: verdict, statistics, coverage and, on violation, the trace."""
    lines = [f"{_mode_title(result)} {target.title}", _verdict_line(result, bounds), ""]
    rate = f"{result.states_per_second:,.0f} states/s, {result.transitions_per_second:,.0f} " \
           "transitions/s"
    stats = [
        ("distinct states", f"{result.distinct_states:,}"),
        ("transitions", f"{result.transitions:,}"),
        ("depth", f"{result.max_depth:,}"),
    ]
    if result.mode == "check":
        stats.append(("queue peak", f"{result.queue_peak:,}"))
    else:
        stats.append(("walks", f"{result.walks:,}"))
    stats.append(("time", f"{result.seconds:.2f} s ({rate})"))
    stats.append(("code", code_mode()))
    if result.store == "fingerprints":
        per_state = result.store_bytes / max(result.distinct_states, 1)
        stats.append(("store", f"fingerprints, {per_state:.1f} bytes/state; collision "
                               f"probability {result.collision_probability:.1e} (n²/2⁶⁵)"))
    if result.workers > 1:
        cpu = ", ".join(f"{seconds:.1f}" for seconds in result.worker_cpu_seconds)
        kept = "their states" if result.store == "states" else "fingerprints"
        stats.append(("workers", f"{result.workers} keeping {kept}, owning states "
                                 f"{result.ownership}; CPU s each: {cpu}"))
    if result.queue_spilled:
        stats.append(("queue on disk", f"{result.queue_spilled:,} states went through a "
                                       "temporary file"))
    if result.reduction == "por":
        stats.append(("reduction", f"partial-order: {result.reduced_states:,} states expanded "
                                   "fewer steps than they enabled; "
                                   f"{result.visible_classes} of {result.step_classes} step "
                                   "classes change what a checked property reads (never "
                                   "deferred)"))
    if result.temporal_skipped:
        skipped = ", ".join(result.temporal_skipped)
        why = ("partial-order reduction keeps safety verdicts only" if result.reduction == "por"
               else "--safety-only")
        stats.append(("not checked", f"temporal properties ({why}): {skipped}"))
    if result.temporal_properties:
        # with fingerprints the graph also holds each state's fingerprint and predicate values
        held = ("edges, fingerprints and temporal predicate values"
                if result.store == "fingerprints" else "edge arrays")
        stats.append(("liveness", f"{result.liveness_seconds:.2f} s of it, on a graph of "
                                  f"{result.graph_bytes / 1024:,.0f} KiB of {held}"))
    lines += [f"  {name:<16} {value}" for name, value in stats]
    lines += ["", *_coverage_table(result)]
    if result.trace is not None:
        kind = "lasso, " if result.trace.loop is not None else ""
        lines += ["", f"Counterexample ({kind}{result.trace.steps} steps):",
                  format_trace(result.trace, target.model)]
    if written:
        lines += ["", f"trace written to {written}"]
    elif trace_out:
        lines += ["", f"no counterexample, nothing written to {trace_out}"]
    return "\n".join(lines)


def _mode_title(result: CheckResult) -> str:
    if result.mode == "simulate":
        return "Simulated"
    if result.reduction == "por":
        return "Checked (partial-order reduction)"
    return "Checked (symmetry reduction)" if result.symmetry else "Checked"


_BOUND_OPTIONS = {
    "max_states": "--max-states",
    "max_depth": "--max-depth",
    "time_budget": "--time-budget",
    "walks": "--walks",
}


def _verdict_line(result: CheckResult, bounds: dict[str, Any]) -> str:
    if result.verdict == "violated":
        what = {"invariant": "invariant", "action_property": "action property",
                "deadlock": "deadlock:", "temporal": "temporal property"}.get(
            result.violation_kind or "", "property")
        name = "a state without successors" if result.violation_kind == "deadlock" \
            else result.violated
        shortest = "shortest " if result.mode == "check" and result.reduction == "none" else ""
        steps = result.trace.steps if result.trace else 0
        if result.trace is not None and result.trace.loop is not None:
            return (f"VIOLATED: {what} {name} (a fair behaviour that never satisfies it: "
                    f"{steps} steps, the last {steps - result.trace.loop} repeating for ever)")
        return f"VIOLATED: {what} {name} ({shortest}counterexample: {steps} steps)"
    if result.verdict == "ok":
        holding = (f"; temporal properties hold: {', '.join(result.temporal_properties)}"
                   if result.temporal_properties else "")
        return (f"OK: all {result.distinct_states:,} reachable states checked, no "
                f"violation{holding}")
    reason = result.stopped_by or "a bound"
    option = _BOUND_OPTIONS.get(reason, reason)
    limit = bounds.get(reason)
    stopped = f"stopped by {option} {limit}" if limit is not None else f"stopped ({reason})"
    if result.mode == "simulate":
        return (f"INCOMPLETE: no violation in {result.walks:,} random walks of up to "
                f"{result.max_depth} steps ({stopped}); random walks prove nothing")
    return (f"INCOMPLETE: {stopped}; no violation in {result.distinct_states:,} states up to "
            f"depth {result.max_depth}, but not every reachable state was checked")


def _coverage_table(result: CheckResult) -> list[str]:
    if not result.coverage:
        return ["coverage: no action was taken"]
    width = max(len(name) for name in result.coverage)
    lines = [f"  {'action':<{width}}  {'taken':>12}"]
    lines += [f"  {name:<{width}}  {count:>12,}" for name, count in result.coverage.items()]
    if result.never_taken:
        why = (
            # not always a bug (a workload may not need a step: the default's batches are all
            # verified, so its HandleProduce never runs), but a guard that never holds is the
            # commonest modelling bug, so the line says what to look at
            "no reachable state enables them in this configuration: if one should, its guard "
            "never holds"
            if result.verdict == "ok"
            else "not reached before the run stopped"
        )
        lines.append(f"never taken: {', '.join(result.never_taken)} ({why})")
    if result.outcomes_never_taken:
        # a branch of an action (an error a server answers with...) this run never took
        lines.append(f"outcomes never taken: {', '.join(result.outcomes_never_taken)}")
    return ["coverage:", *lines]


def _int_option(
    option: str, text: str | None, *, allow_zero: bool = False, signed: bool = False
) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = None
    lowest = None if signed else (0 if allow_zero else 1)
    if value is None or (lowest is not None and value < lowest):
        kind = "an integer" if signed else (
            "a non-negative integer" if allow_zero else "a positive integer")
        raise InputError(f"{option} must be {kind}, got {text!r}")
    return value


def _seconds_option(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise InputError(f"{option} must be a positive number of seconds, got {text!r}")
    return value


def _show_progress(args: argparse.Namespace) -> bool:
    return not args.quiet and not args.json and sys.stderr.isatty()


def _memory(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MB"


class _ProgressDisplay(StatusLine):
    """The checker's progress: states, rate, depth, queue, and the memory held by this
    process and its workers (what decides between --store states and fingerprints)."""

    def update(self, progress: Progress) -> None:
        if not self.enabled or progress.seconds < PROGRESS_AFTER_SECONDS:
            return
        if progress.phase == "temporal":
            self.show(f"{progress.distinct_states:,} states explored; checking the temporal "
                      f"properties on their graph  {progress.seconds:.0f} s",
                      seconds=progress.seconds)
            return
        rate = progress.distinct_states / progress.seconds
        # Expanded states per second: the queue's states take about queue / that to expand
        # (a lower bound on what is left: they will find new states too).
        expanded = (progress.distinct_states - progress.queue) / progress.seconds
        queue_seconds = f"  queue ~{progress.queue / expanded:,.0f} s" if expanded > 0 else ""
        text = (f"{progress.distinct_states:,} states  {rate:,.0f} states/s  "
                f"depth {progress.depth}  queue {progress.queue:,}{queue_seconds}  "
                f"{_memory(resident_bytes_with_children())}  {progress.seconds:.0f} s")
        self.show(text, seconds=progress.seconds)
