"""``kafka-eos replay``: exit 0 when the reference agrees at every step, 1 when it disagrees
(the violation status printed on its own line), 2 with one line for a bad file or option."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kafka_eos.cli.main import main
from kafka_eos.errors import shown


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("traces") / "tv1-no-verification.itf.json"
    assert main(["check", "--config", "tv1-no-verification", "--trace-out", str(path)]) == 1
    return path


def test_a_counterexample_replays_and_the_violation_is_reproduced(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["replay", str(trace)]) == 0
    out = capsys.readouterr().out
    assert "agrees with the model at every step" in out
    assert "violates open_txns_known; the reference violates it too" in out


def test_the_corrected_reference_disagrees_at_the_bad_step(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(["replay", str(trace), "--knob", "partition_verification=true", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["agreed"] is False
    assert report["disagreement_step"] <= report["steps"]
    assert report["label"]
    assert report["violation_reproduced"] is False


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        (None, [], "not found"),
        ("{}", [], "not an ITF trace"),
        ("not json", [], ""),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    options: list[str],
    message: str,
) -> None:
    path = tmp_path / "trace.itf.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert main(["replay", str(path), *options]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kafka-eos: error:") and "\n" not in err and message in err


def test_an_unknown_knob_is_one_line_and_exit_2(
    trace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(trace), "--knob", "epoch_checks=false"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no such knob" in err and "\n" not in err


def _retarget(trace: Path, tmp_path: Path, meta: dict[str, object]) -> Path:
    document = json.loads(trace.read_text(encoding="utf-8"))
    document["#meta"] = meta
    path = tmp_path / "retargeted.itf.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_a_trace_never_makes_replay_import_the_code_it_names(
    trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evidence = tmp_path / "ran"
    planted = tmp_path / "planted.py"
    planted.write_text(f"open({str(evidence)!r}, 'w').close()\nclass M:\n    pass\n")
    downloaded = _retarget(trace, tmp_path, {"model": f"{planted}:M"})
    assert main(["replay", str(downloaded)]) == 2
    err = capsys.readouterr().err.strip()
    assert not evidence.exists()
    assert err.startswith("kafka-eos: error:") and "\n" not in err
    # the file the trace names, as a stranger's text is shown: cut to one short line
    assert "--model" in err and shown(f"{planted}:M") in err


def test_a_model_file_named_on_the_command_line_is_used(
    trace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text(
        "from kafka_eos.model.configs import load_check_config\n"
        "class Weakened:\n"
        "    def __new__(cls):\n"
        "        return load_check_config('tv1-no-verification').model\n"
    )
    downloaded = _retarget(trace, tmp_path, {"model": "somewhere/else.py:Other"})
    capsys.readouterr()
    assert main(["replay", str(downloaded), "--model", f"{mine}:Weakened"]) == 0
    assert "agrees with the model at every step" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("knob", "words"),
    [
        ("transaction_version=7", ["transaction_version", "1 or 2", "7"]),
        ("batch_cache_size=0", ["batch_cache_size", "at least 1"]),
        ("idempotence=maybe", ["idempotence", "true or false"]),
    ],
)
def test_a_knob_value_the_reference_cannot_run_is_one_line_and_exit_2(
    trace: Path, capsys: pytest.CaptureFixture[str], knob: str, words: list[str]
) -> None:
    assert main(["replay", str(trace), "--knob", knob]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kafka-eos: error: --knob") and "\n" not in err
    assert all(word in err for word in words), err
