"""``kafka-eos view TRACE -o trace.html``: any trace the project writes as one self-contained
HTML page (a sequence diagram with keyboard stepping; see kafka_eos/viewer/).

TRACE is an ITF trace (``*.json``, from ``kafka-eos check --trace-out X.itf.json``) or a
history (JSON lines, from ``kafka-eos serve --history`` or a test). ``check``, ``simulate``,
``replay`` and ``validate`` take ``--html FILE`` to write the same page for what they found.
Exit 0 when the page is written, 2 for a bad file or option (one line).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kafka_eos.cli.main import add_documented_subcommand
from kafka_eos.errors import InputError


def register(subparsers: Any) -> None:
    parser = add_documented_subcommand(
        subparsers,
        "view",
        help="write a trace or history as a self-contained HTML sequence diagram",
        doc=__doc__,
    )
    parser.add_argument("trace", metavar="TRACE", help="an ITF trace (*.json) or a history")
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="the HTML file (default: TRACE with .html)"
    )
    parser.set_defaults(run=run_view)


def add_html_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--html", metavar="FILE", help="also write what was found as an HTML trace view"
    )


def run_view(args: argparse.Namespace) -> int:
    source = Path(args.trace)
    output = Path(args.output) if args.output else _default_output(source)
    if source.name.endswith(".json"):
        from kafka_eos.checker.itf import read_itf

        trace = read_itf(source)
        written = write_itf_view(output, trace, title=itf_title(trace.meta, source.name))
    else:
        from kafka_eos.cli.validate import load_history

        written = write_history_view(output, load_history(source), title=source.name)
    print(f"view written to {written}")
    return 0


def _default_output(source: Path) -> Path:
    name = source.name
    for suffix in (".itf.json", ".json", ".jsonl"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return source.with_name(name + ".html")


def itf_title(meta: dict[str, Any], fallback: str) -> str:
    what = meta.get("config") or meta.get("model") or fallback
    violated = meta.get("violated")
    return f"{what}: {violated} violated" if violated else str(what)


def write_itf_view(
    path: str | Path, trace: Any, *, title: str, highlights: Sequence[Any] | None = None,
    source: str = "counterexample",
) -> Path:
    """The page of an ITF trace (a checker counterexample, or a replayed one)."""
    from kafka_eos.viewer.from_itf import diagram_from_itf
    from kafka_eos.viewer.page import write_page

    if not trace.states:
        raise InputError(f"{path}: the trace has no states, nothing to view")
    diagram = diagram_from_itf(trace, title=title, highlights=highlights, source=source)
    return write_page(path, diagram)


def write_history_view(
    path: str | Path, events: Sequence[Any], *, title: str, violations: Sequence[Any] | None = None
) -> Path:
    """The page of a history, with the violations ``kafka-eos validate`` finds highlighted."""
    from kafka_eos.viewer.from_history import diagram_from_history
    from kafka_eos.viewer.page import write_page

    return write_page(path, diagram_from_history(events, title=title, violations=violations))


def write_replay_view(path: str | Path, trace: Any, report: Any, *, name: str) -> Path:
    """The replayed trace with the step where the reference disagrees highlighted first."""
    from kafka_eos.viewer.diagram import Highlight
    from kafka_eos.viewer.from_itf import violation_highlights
    from kafka_eos.viewer.spec_index import spec_index

    highlights = []
    if not report.agreed and report.disagreement_step is not None:
        details = tuple(
            f"{variable}: reference {mine} / model {theirs}"
            for variable, (mine, theirs) in report.differences.items()
        )
        highlights.append(Highlight(
            report.disagreement_step, "disagreement",
            f"the reference disagrees at {report.label}", report.reason, details,
        ))  # fmt: skip
    highlights += violation_highlights(trace, spec_index())
    title = f"replay of {itf_title(trace.meta, name)}"
    return write_itf_view(path, trace, title=title, highlights=highlights, source="replay")
