"""The configuration loader's YAML: whatever bytes a file holds, one line naming the file, never
a traceback, and never more work or output than the file's size warrants."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kafka_eos.errors import InputError
from kafka_eos.model.configs import MAX_YAML_VALUES, load_check_config

WORKLOAD = "workload:\n  producers: [{kind: idempotent, batches: [0]}]\n"


def billion_laughs(levels: int = 9) -> str:
    """A few hundred bytes whose aliases expand to 9**levels strings."""
    lines = ['description: [&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f" , &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join([*lines, "]", WORKLOAD])


def _refused(tmp_path: Path, content: str | bytes) -> str:
    path = tmp_path / "check.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as error:
        load_check_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message


def test_an_alias_bomb_is_refused_at_once_with_a_short_line(tmp_path: Path) -> None:
    bomb = billion_laughs()
    assert len(bomb) < 1000
    started = time.process_time()
    message = _refused(tmp_path, bomb)
    assert time.process_time() - started < 2
    assert f"more than {MAX_YAML_VALUES:,} values" in message and "line" in message
    assert len(message) < 300


def test_a_few_aliases_are_still_yaml(tmp_path: Path) -> None:
    path = tmp_path / "check.yaml"
    path.write_text(
        "workload:\n"
        "  partitions: 2\n"
        "  producers:\n"
        "    - {kind: idempotent, batches: &both [0, 1]}\n"
        "    - {kind: idempotent, batches: *both}\n",
        encoding="utf-8",
    )
    config = load_check_config(path)
    assert [p.batches for p in config.model.workload.producers] == [(0, 1), (0, 1)]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), ["not UTF-8 text"]),
        (b"description: caf\xe9\n", ["not UTF-8 text", "line 1"]),
        ("description: \x00\x01\n" + WORKLOAD, ["not a YAML text file"]),
        ("? [1, 2]\n: x\n" + WORKLOAD, ["mapping key must be a name", "sequence", "line 1"]),
        ("{[1, 2]: x}\n", ["mapping key must be a name", "line 1"]),
        ("{{a: 1}: x}\n", ["mapping key must be a name", "mapping"]),
        ("[" * 50_000, ["nested too deeply"]),
        (f"bounds: {{max_states: {'9' * 5000}}}\n" + WORKLOAD, ["cannot read", "digits"]),
        (f"description: {'x' * 1_000_000}\nbounds: 5\n" + WORKLOAD, ["bounds must be a mapping"]),
        (WORKLOAD + f"properties: [{'p' * 1_000_000}]\n", ["unknown property 'ppp"]),
        (WORKLOAD + f"bounds: {{max_depth: -{'9' * 4000}}}\n", ["must be positive"]),
        ("", ["missing key 'workload'"]),
    ],
)
def test_bad_bytes_are_one_short_line(
    tmp_path: Path, content: str | bytes, words: list[str]
) -> None:
    message = _refused(tmp_path, content)
    assert all(word in message for word in words), message
    # short whatever the input; the file's name is the machine's (pytest's tmp_path)
    assert len(message.replace(str(tmp_path), "")) < 600


_REPLICATED = (
    "workload:\n  replicas: {replicas}\n  producers: [{{kind: idempotent, batches: [0]}}]\n"
)


def test_min_insync_replicas_above_replicas_is_refused(tmp_path: Path) -> None:
    text = "knobs:\n  min_insync_replicas: 3\n" + _REPLICATED.format(replicas=2)
    message = _refused(tmp_path, text)
    assert "knobs.min_insync_replicas 3 exceeds workload.replicas 2" in message


@pytest.mark.parametrize("replicas", [0, 4])
def test_replicas_are_one_to_three(tmp_path: Path, replicas: int) -> None:
    message = _refused(tmp_path, _REPLICATED.format(replicas=replicas))
    assert f"workload.replicas must be 1, 2 or 3, got {replicas}" in message
