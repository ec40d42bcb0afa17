"""``kafka-eos validate`` on long histories: it reads the file line by line (memory for the
events, not the text), shows how far it has read on a terminal, and a 100 MB history stays
within a few hundred MB (slow: it writes the history first)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from kafka_eos.cli.progress import StatusLine
from kafka_eos.cli.validate import load_history

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_validate import measure, write_large_history  # noqa: E402


class RecordedStatus(StatusLine):
    """A status line that records what it would show, at once."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.texts: list[str] = []

    def show(self, text: str, *, seconds: float | None = None) -> None:
        self.texts.append(text)


def test_reading_a_long_history_shows_how_far_it_has_read(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    write_large_history(path, megabytes=2)
    status = RecordedStatus()
    assert len(load_history(path, status=status)) == len(path.read_text().splitlines())
    assert len(status.texts) >= 2, status.texts
    shape = re.compile(r"reading long\.jsonl: \d+ of 2 MB \((\d+)%\)")
    shares = [int(shape.fullmatch(text).group(1)) for text in status.texts]  # type: ignore[union-attr]
    assert shares == sorted(shares) and shares[-1] > 50


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_100_mb_history_is_validated_within_a_few_hundred_mb(tmp_path: Path) -> None:
    path = tmp_path / "large.jsonl"
    write_large_history(path, megabytes=100)
    assert path.stat().st_size >= 100_000_000
    run = measure(path, "--quiet")
    assert run["code"] == 0, run["stderr"][-500:]
    assert re.fullmatch(r"ok: \d{6,} events, no property violated", run["stdout"].strip())
    assert run["peak_mb"] < 400, f"validate peaked at {run['peak_mb']:.0f} MB"
