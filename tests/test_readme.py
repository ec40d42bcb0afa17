"""The README is what a new user reads first: its commands, example and tables must be true."""

from __future__ import annotations

import re
from pathlib import Path

from kafka_eos.checker import check
from kafka_eos.checker.loader import load_model
from kafka_eos.model.verdicts import load_verdicts, with_readme_table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readmes_test_command() -> None:
    commands = re.findall(r"```sh\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2, commands
    main_job, test_suite = commands
    assert main_job.endswith("kafka-eos check")
    assert test_suite in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_verdict_table_is_the_measured_one() -> None:
    # regenerate with: python -m kafka_eos.model.verdicts --readme README.md
    assert with_readme_table(README, load_verdicts()) == README


def test_the_own_model_example_finds_the_lost_update(tmp_path: Path) -> None:
    source = re.search(r"```python\n(class Counter:.*?)```", README, re.S)
    assert source is not None
    path = tmp_path / "counter.py"
    path.write_text(source.group(1), encoding="utf-8")
    result = check(load_model(f"{path}:Counter"))
    assert (result.verdict, result.violated) == ("violated", "NoLostUpdate")
    assert result.trace is not None and len(result.trace.labels) == 4
