"""``kafka-eos replay TRACE.itf.json``: drive the reference implementation through a trace the
checker wrote (``kafka-eos check --trace-out TRACE.itf.json``) and report the first step where
the reference and the model disagree.

The trace's top-level ``#meta`` says what produced it: ``{"config": NAME, "configuration":
{...}}`` (the configuration itself, named or from ``--config FILE.yaml``; a trace written before
it was recorded names the shipped configuration only) or ``{"model": "FILE.py:Class",
"params": {...}}``; the reference is set up with the same workload, faults and protocol knobs.
A trace is data: replay never imports code it names. A trace of a model file replays only with
``--model FILE.py:Class`` (and ``--param``), a file the user trusts. ``--knob NAME=VALUE`` runs
the reference with other knobs (e.g. replay the counterexample of a weakened configuration on a
correctly configured reference, to see it refuse the step the weakness allowed).

Exit codes: 0 the reference agrees with the model at every step of the trace; 1 they disagree
(at the step printed); 2 a bad file, configuration or option (one line). Whether the reference
also violates the property the trace violates is printed on its own line (and in --json as
``violation_reproduced``); it does not change the exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from kafka_eos.cli.main import EXIT_OK, EXIT_VIOLATED, add_documented_subcommand
from kafka_eos.cli.view import add_html_option, write_replay_view
from kafka_eos.errors import InputError, shown


def register(subparsers: Any) -> None:
    parser = add_documented_subcommand(
        subparsers,
        "replay",
        help="drive the reference implementation through a checker trace (ITF)",
        doc=__doc__,
    )
    parser.add_argument("trace", metavar="TRACE.itf.json", help="an ITF trace from kafka-eos check")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--model",
        metavar="FILE.py:CLASS",
        help="the Kafka model class to replay against (a trace never names code to run)",
    )
    parser.add_argument(
        "--param",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="constructor argument of --model, value read as YAML (default: the trace's params)",
    )
    parser.add_argument(
        "--knob",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="run the reference with this protocol knob instead of the trace's (repeatable)",
    )
    add_html_option(parser)
    parser.set_defaults(run=run_replay)


def run_replay(args: argparse.Namespace) -> int:
    from kafka_eos.checker.itf import read_itf
    from kafka_eos.reference.conformance.replay import replay_labels

    trace = read_itf(args.trace)
    model = _model_of(trace.meta, args)
    reference = _with_knobs(model, args.knob) if args.knob else None
    violated = trace.meta.get("violated")
    report = replay_labels(
        model,
        list(trace.labels),
        violated=violated if isinstance(violated, str) else None,
        reference=reference,
    )
    viewed = write_replay_view(args.html, trace, report, name=args.trace) if args.html else None
    if args.json:
        html = str(viewed) if viewed else None
        print(json.dumps({"trace": args.trace, **report.to_json(), "html": html}, default=str))
    else:
        print(_text(args.trace, report))
        if viewed:
            print(f"view written to {viewed}")
    return EXIT_OK if report.agreed else EXIT_VIOLATED  # disagreeing is what replay finds wrong


def _model_of(meta: dict[str, Any], args: argparse.Namespace) -> Any:
    from kafka_eos.model.kafka import KafkaEosModel

    path = args.trace
    if args.param and not args.model:
        raise InputError("--param applies to --model only")
    if args.model:
        model = _model_named_by_user(args.model, args.param, meta, path)
    elif "configuration" in meta:
        # The configuration itself (plain data, validated like a file): the trace replays
        # on any machine, whether its check was a named one or a user's --config file.
        from kafka_eos.model.configs import build_check_config

        name = str(meta.get("config", "trace"))
        model = build_check_config(
            meta["configuration"], name=name, where=f"{path}: #meta.configuration"
        ).model
    elif "config" in meta:
        from kafka_eos.model.configs import load_check_config

        model = load_check_config(str(meta["config"])).model
    elif "model" in meta:
        # Importing the file a trace names would run a stranger's code: a downloaded trace
        # must be as harmless to replay as it is to read.
        raise InputError(
            f"{path}: the trace was written from the model file {shown(meta['model'])}; replay "
            "never runs code a trace names: give --model FILE.py:Class for a file you trust"
        )
    else:
        raise InputError(
            f"{path}: the trace's #meta names no config or model; write it with "
            "kafka-eos check --trace-out FILE.itf.json"
        )
    if not isinstance(model, KafkaEosModel):
        raise InputError(
            f"{path}: the reference implements the Kafka model only, not {type(model).__name__}"
        )
    return model


def _model_named_by_user(
    spec: str, pairs: list[str], meta: dict[str, Any], path: str
) -> object:
    from kafka_eos.checker.loader import load_model, parse_params, scalar_params

    if pairs:
        return load_model(spec, parse_params(pairs))
    return load_model(spec, scalar_params(meta.get("params"), where=f"{path}: #meta.params"))


def _with_knobs(model: Any, pairs: list[str]) -> Any:
    from kafka_eos.model.kafka import KafkaEosModel
    from kafka_eos.protocol.knobs import parse_knobs

    return KafkaEosModel(
        knobs=dataclasses.replace(model.knobs, **parse_knobs(pairs, option="--knob")),
        faults=model.faults,
        workload=model.workload,
        checked=model.checked,
    )


def _text(path: str, report: Any) -> str:
    lines = [f"replay of {path}: {report.steps} steps"]
    if report.agreed:
        lines.append("the reference agrees with the model at every step")
    else:
        lines.append(f"the reference disagrees at step {report.disagreement_step}: {report.label}")
        lines.append(f"  {report.reason}")
        for name, (mine, theirs) in report.differences.items():
            lines.append(f"  {name}:")
            lines.append(f"    reference: {mine}")
            lines.append(f"    model:     {theirs}")
    if report.violated and _is_temporal(report.violated):
        # The reference checks no liveness: following the lasso to its loop is what it can do.
        followed = "followed it to the loop" if report.agreed else "did not follow it"
        lines.append(f"the trace is a lasso violating {report.violated}; the reference {followed}")
    elif report.violated:
        verdict = "violates it too" if report.reproduced else "does not violate it"
        lines.append(f"the trace violates {report.violated}; the reference {verdict}")
    broken = ", ".join(report.reference_violates) or "none"
    lines.append(f"properties the reference violated: {broken}")
    return "\n".join(lines)


def _is_temporal(violated: str) -> bool:
    from kafka_eos.model.liveness import TEMPORAL_PROPERTIES

    return violated.split("[")[0] in TEMPORAL_PROPERTIES
