"""Reading a JSON-lines history: every field is type-checked as it is read (one line naming the
file, line and field), and the checks call a read of what was never written a violation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sample_histories import append, clean_history, read

from kafka_eos.errors import InputError
from kafka_eos.protocol.history import event_to_json, read_history, write_history
from kafka_eos.protocol.history_checks import check_history

APPEND = json.loads(event_to_json(append("t-0", 0, 1, 0, "a")))


def _history(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "h.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _line(**changes: object) -> str:
    return json.dumps({**APPEND, **changes})


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"records": "abc"}, ["'records' must be a non-empty list of strings", "'abc'"]),
        ({"records": 5}, ["'records' must be a non-empty list of strings", "5"]),
        ({"records": []}, ["'records' must be a non-empty list of strings"]),
        ({"records": ["a", 1]}, ["'records'"]),
        ({"base_offset": "0"}, ["'base_offset' must be an integer"]),
        ({"base_offset": 1.5}, ["'base_offset' must be an integer"]),
        ({"base_offset": True}, ["'base_offset' must be an integer"]),
        ({"base_offset": 2**64}, ["'base_offset' must be an integer from"]),
        ({"producer_epoch": 40000}, ["'producer_epoch' must be an integer from -32768 to 32767"]),
        ({"transactional": 1}, ["'transactional' must be true or false"]),
        ({"partition": None}, ["'partition' must be a string"]),
        ({"type": ["append"]}, ["'type' must be one of"]),
        ({"surprise": 1}, ["unknown field 'surprise'"]),
    ],
)
def test_a_field_of_the_wrong_type_is_one_line_naming_line_and_field(
    tmp_path: Path, changes: dict[str, object], words: list[str]
) -> None:
    path = _history(tmp_path, event_to_json(clean_history()[0]), _line(**changes))
    with pytest.raises(InputError) as error:
        read_history(path)
    message = str(error.value)
    assert message.startswith(f"{path}:2: ") and "\n" not in message
    assert all(word in message for word in words), message


@pytest.mark.parametrize(
    "line",
    [
        "[" * 100_000,  # nested too deep for the JSON parser's recursion
        '{"type": "read", "offset": ' + "9" * 5000 + "}",  # more digits than int() takes
        "{" + '"x": 1, ' * 5 + "}",
        "null",
        '"append"',
    ],
)
def test_json_that_is_not_an_event_is_an_input_error(tmp_path: Path, line: str) -> None:
    with pytest.raises(InputError, match=rf"^{tmp_path / 'h.jsonl'}:1: "):
        read_history(_history(tmp_path, line))


def test_an_echoed_value_is_cut_short(tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        read_history(_history(tmp_path, _line(records="x" * 1_000_000)))
    assert len(str(error.value)) < 300


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(event_to_json(clean_history()[0]).encode() + b"\n\xff\xfe\n")
    with pytest.raises(InputError, match=r"h.jsonl:2: not UTF-8 text"):
        read_history(path)


def test_a_directory_or_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read history"):
        read_history(tmp_path)
    with pytest.raises(InputError, match="cannot read history"):
        read_history(tmp_path / "missing.jsonl")


def test_a_written_history_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    write_history(path, clean_history())
    assert read_history(path) == clean_history()


def test_a_read_from_a_partition_nothing_was_appended_to_is_a_violation() -> None:
    history = [*clean_history(), read("t-7", 0, "never-written")]
    violations = check_history(history)
    assert [v.property for v in violations] == ["offsets_immutable"]
    assert "t-7@0" in violations[0].message and "no record was appended" in violations[0].message


def test_a_consumer_only_history_says_nothing_about_the_log() -> None:
    assert check_history([read("t-7", 0, "v"), read("t-7", 1, "w")]) == []
