"""Every command's user errors are one line ``kafka-eos: error: ...`` with exit 2, never a
traceback; a reader that goes away (``kafka-eos check | head``) ends the command quietly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from user_errors import assert_one_line_error

from kafka_eos.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
DIE_HARD = f"{ROOT / 'examples' / 'die_hard.py'}:DieHard"

pytestmark = pytest.mark.timeout(120)


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the command in-process; assert exit 2 and one error line; return that line."""
    try:
        code = main(argv)
    except SystemExit as exit_info:  # argparse's usage errors leave through SystemExit
        code = int(exit_info.code or 0)
    return assert_one_line_error(code, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        # named by the command it was given to, whose --help lists the options there are
        (["check", "--no-such-option"], ["check: unrecognized arguments: --no-such-option",
                                         "(see kafka-eos check --help)"]),
        (["--no-such-option"], ["unrecognized arguments", "(see kafka-eos --help)"]),
        (["no-such-command"], ["invalid choice", "no-such-command"]),
        (["validate"], ["validate:", "required", "HISTORY"]),
        (["prove", "--timeout", "soon"], ["prove:", "--timeout", "kafka-eos prove --help"]),
        (["replay"], ["replay:", "required"]),
        (["prove", "--timeout", "nan"], ["--timeout", "more than 0"]),
        (["prove", "--timeout", "inf"], ["--timeout", "at most"]),
        (["prove", "--timeout", "1e30"], ["--timeout", "at most 4,294,967 seconds"]),
        (["check", "--config", ""], ["no configuration named ''"]),
        (["check", "--model", DIE_HARD, "--max-states", "9" * 5000], ["--max-states"]),
        (["simulate", "--model", DIE_HARD, "--walks", "-5"], ["--walks"]),
    ],
)
def test_bad_commands_and_options_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    err = one_line_error(capsys, argv)
    assert all(word in err for word in words), err


@pytest.mark.parametrize(
    "value", ["9" * 5000, "[" * 5000, "[&a [1, 1], *a, *a]"], ids=["digits", "nested", "alias"]
)
def test_a_param_value_yaml_cannot_take_is_one_short_line(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    err = one_line_error(capsys, ["check", "--model", DIE_HARD, "--param", f"big={value}"])
    assert "--param big" in err and len(err) < 400


def test_a_usage_error_does_not_echo_a_megabyte_of_argument(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = one_line_error(capsys, ["no-such-command" + "x" * 1_000_000])
    assert len(err) < 500


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    # `kafka-eos check ... | head -1`: the pipe closes after the first line; Unix tools end
    # quietly (the shell's SIGPIPE status 141), never with a BrokenPipeError traceback.
    command = [sys.executable, "-m", "kafka_eos", "check", "--model", DIE_HARD, "--json"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()  # the reader is gone before the command writes a byte
        err = process.stderr.read().decode()
        code = process.wait(timeout=60)
    assert err == ""
    assert code == 141


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ({"states": [{}], "loop": "x"}, ['"loop" must be the index']),
        ({"states": [{}], "#meta": [1, 2]}, ['"#meta" is not an object']),
        ({"states": [5]}, ["state 0 is not an object"]),
        ({"states": [{"x": {"#bigint": " 12"}}]}, ["#bigint must be a string of digits"]),
        ({"states": [{"x": {"#frob": 1}}]}, ["unknown ITF value"]),
    ],
)
def test_a_malformed_itf_trace_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: object, words: list[str]
) -> None:
    path = tmp_path / "t.itf.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    for command in ("validate", "replay"):
        err = one_line_error(capsys, [command, str(path)])
        assert str(path) in err and all(word in err for word in words), err
