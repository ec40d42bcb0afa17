"""A diagram as one self-contained HTML page: the handwritten viewer.css and viewer.js inline,
the diagram embedded as JSON; nothing is loaded from anywhere."""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path

from kafka_eos.errors import InputError

from .diagram import Diagram, to_json

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kafka-eos view">
<title>{title}</title>
<style>
{css}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<div class="hint">{source}: {steps} steps, {lanes} lanes, {arrows} messages. Step with
<kbd>↓</kbd>/<kbd>j</kbd> and <kbd>↑</kbd>/<kbd>k</kbd>, <kbd>Home</kbd>/<kbd>End</kbd>;
<kbd>n</kbd> goes to the highlighted step; click a step.</div>
<div id="banner" hidden></div>
</header>
<main>
<div id="diagram-pane"></div>
<aside id="details"></aside>
</main>
<script type="application/json" id="trace-data">{data}</script>
<script>
{js}</script>
</body>
</html>
"""


def render_page(diagram: Diagram) -> str:
    files = resources.files("kafka_eos.viewer")
    # "</" must not appear inside a <script> element: JSON allows escaping the slash.
    data = json.dumps(to_json(diagram), separators=(",", ":")).replace("</", "<\\/")
    return _TEMPLATE.format(
        title=html.escape(diagram.title),
        source=diagram.source,
        steps=len(diagram.steps) - 1,
        lanes=len(diagram.lanes),
        arrows=len(diagram.arrows),
        css=(files / "viewer.css").read_text(encoding="utf-8"),
        js=(files / "viewer.js").read_text(encoding="utf-8"),
        data=data,
    )


def write_page(path: str | Path, diagram: Diagram) -> Path:
    """Write the page; InputError naming the file when it cannot be written."""
    target = Path(path)
    try:
        target.write_text(render_page(diagram), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the HTML view to {path}: {exc.strerror}") from exc
    return target
