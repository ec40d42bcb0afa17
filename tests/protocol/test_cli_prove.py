"""``kafka-eos prove`` and ``kafka-eos explain``: output, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sample_histories as samples
import z3
from sample_histories import clean_history
from user_errors import assert_one_line_error

from kafka_eos.cli.main import main
from kafka_eos.protocol import proofs
from kafka_eos.protocol.history import Event, write_history


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def history_file(tmp_path: Path, events: list[Event]) -> str:
    """The history written as JSON lines in the test's folder, as ``explain`` is given it."""
    path = tmp_path / "h.jsonl"
    write_history(path, events)
    return str(path)


def test_prove_proves_and_shows_the_expected_counterexamples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "prove")
    assert code == 0
    for claim in proofs.default_claims():
        assert f"{claim.name}: " in out
    assert "retry_is_duplicate: proved in" in out
    assert "retry_with_fewer_cached: counterexample found (as expected)" in out
    assert "counterexample: start=" in out
    assert out.rstrip().splitlines()[-1].startswith("10 claims: 6 proved, 4 counterexamples")


def test_prove_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "prove", "--json")
    document = json.loads(out)
    assert code == 0 and document["ok"] is True
    outcomes = {c["claim"]: c["outcome"] for c in document["claims"]}
    assert outcomes["in_sequence_accepts_exactly_one_successor"] == "proved"
    assert outcomes["naive_next_sequence_in_range"] == "counterexample"


def test_prove_exits_1_when_a_claim_that_should_hold_fails(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    s = z3.Int("s")
    broken = proofs.Claim(
        "wrong_bound",
        "every sequence is below 10",
        "proved",
        lambda: proofs.Query(z3.And(s >= 10, s <= 20), {"s": s}, lambda v: "too big"),
    )
    monkeypatch.setattr(proofs, "default_claims", lambda: [broken])
    code, out, _ = run(capsys, "prove")
    assert code == 1
    assert "wrong_bound: counterexample found in" in out and "FAILED (wrong_bound)" in out


def test_prove_rejects_a_bad_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["prove", "--timeout", "soon"])
    assert exit_info.value.code == 2
    assert "not a number of seconds" in capsys.readouterr().err


def test_explain_a_consistent_history(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = history_file(tmp_path, clean_history())
    code, out, _ = run(capsys, "explain", path)
    assert code == 0 and out.startswith("consistent")


def test_explain_an_inconsistent_history_prints_the_core(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = history_file(tmp_path, samples.with_aborted_read())
    code, out, _ = run(capsys, "explain", path)
    assert code == 1
    assert out.startswith("inconsistent: these 4 constraints cannot all hold")
    assert "observed: #14 ABORT marker t-0@4 (pid 1)" in out
    assert "read_committed_no_aborted: aborted read:" in out

    code, out, _ = run(capsys, "explain", path, "--json")
    document = json.loads(out)
    assert code == 1 and document["consistent"] is False
    assert [c["kind"] for c in document["ordering"]["core"]].count("observed") == 3
    assert document["violations"][0]["property"] == "read_committed_no_aborted"


def test_explain_a_duplicate_that_breaks_no_ordering_constraint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = history_file(tmp_path, samples.with_duplicate_append())
    code, out, _ = run(capsys, "explain", path)
    assert code == 1
    assert out.startswith("EOS properties violated (1), though the")
    assert "no_duplicates: duplicate: #22 append t-0@7" in out


def test_explain_every_read_committed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = history_file(tmp_path, clean_history())  # a read_uncommitted read of aborted "d"
    assert run(capsys, "explain", path)[0] == 0
    code, out, _ = run(capsys, "explain", path, "--every-read-committed")
    assert code == 1 and "read_committed_no_aborted: aborted read:" in out


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing.jsonl", None, "cannot read history"),
        ("bad.jsonl", "{not json\n", "not JSON"),
        ("type.jsonl", '{"type": "nope"}\n', "'type' must be one of"),
        (
            "field.jsonl",
            '{"type":"read","client":"c","isolation":"read_committed","partition":"t-0",'
            '"offset":"3","value":"d"}\n',
            "'offset' must be an integer",
        ),
        ("binary.jsonl", b"\xff\xfe\x00", "not UTF-8"),
        ("trace.itf.json", "not json", ""),
    ],
)
def test_explain_a_bad_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    name: str,
    content: str | bytes | None,
    problem: str,
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    code, out, err = run(capsys, "explain", str(path))
    assert out == ""
    assert problem in assert_one_line_error(code, err)


def test_explain_a_model_counterexample_trace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "dup.itf.json"
    assert main(["check", "--config", "idempotence-off", "--trace-out", str(trace)]) == 1
    capsys.readouterr()
    code, out, _ = run(capsys, "explain", str(trace))
    assert code == 1
    assert "no_duplicates: duplicate:" in out  # what the model checker found, in history terms
