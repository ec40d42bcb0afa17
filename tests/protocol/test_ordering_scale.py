"""explain at scale: the ordering check decides each rule on the observed values and gives z3
only the piece that explains a violation, so a long history costs time linear in its rules and
memory for its events; a piece above the bound is reported unminimized, and says so."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kafka_eos.protocol import ordering
from kafka_eos.protocol.history import Append, Read, read_history, write_history
from kafka_eos.protocol.ordering import OBSERVED, check_ordering, is_satisfiable

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_explain", ROOT / "benchmarks" / "bench_explain.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def long_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("long") / "history.jsonl"
    _bench().write_large_history(path, megabytes=1.0, seed=3)
    return path


def test_a_long_consistent_history_is_consistent(long_history: Path) -> None:
    result = check_ordering(read_history(long_history))
    assert result.consistent and result.violated == 0
    assert result.constraints > 10_000


def test_one_wrong_read_deep_in_a_long_history_is_explained_by_a_minimal_core(
    long_history: Path, tmp_path: Path
) -> None:
    events = read_history(long_history)
    reads = [i for i, e in enumerate(events) if isinstance(e, Read)]
    target = reads[len(reads) * 3 // 4]
    read = events[target]
    assert isinstance(read, Read)
    events[target] = Read(read.client, read.isolation, read.partition, read.offset + 1, read.value)
    result = check_ordering(events)
    assert not result.consistent and result.minimized
    assert not is_satisfiable(result.core)
    for i in range(len(result.core)):  # minimal: each constraint is needed
        assert is_satisfiable(result.core[:i] + result.core[i + 1 :])
    assert any(c.kind != OBSERVED and target + 1 in c.positions for c in result.core)
    broken = tmp_path / "broken.jsonl"
    write_history(broken, events)
    done = subprocess.run(
        [sys.executable, "-m", "kafka_eos", "explain", "--json", str(broken)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert document["ordering"]["consistent"] is False
    assert document["ordering"]["minimized"] is True


def test_a_piece_above_the_bound_is_reported_unminimized(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = [
        Append("p0", 0, 1, 0, 0, ("a",), False),
        Append("p0", 1, 1, 0, 1, ("b",), False),
        Read("c", "read_committed", "p0", 5, "a"),  # 'a' is at offset 0, not 5
    ]
    monkeypatch.setattr(ordering, "MAX_PIECE_CONSTRAINTS", 2)
    result = check_ordering(history)
    assert not result.consistent and not result.minimized
    assert "not minimized" in result.lines()[-1] and "bound of 2" in result.lines()[-1]
    assert not is_satisfiable(result.core)  # still a real conflict, just not shrunk


@pytest.mark.slow
def test_explain_on_a_100_mb_history_stays_within_a_few_hundred_mb(tmp_path: Path) -> None:
    history = tmp_path / "large.jsonl"
    bench = _bench()
    bench.write_large_history(history, megabytes=100, seed=1)
    # explain's own peak: the largest of this process's children would count whatever an
    # earlier test here ran (under xdist, a check of 700 MB)
    run = bench.run_explain(history)
    assert run["code"] == 0
    assert run["document"]["consistent"] is True
    assert run["peak_mb"] < 700, f"explain peaked at {run['peak_mb']:.0f} MB"  # 422 MB measured
