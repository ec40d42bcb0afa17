"""Loading named checks: strict, one-line errors naming the file and the key."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kafka_eos.errors import InputError
from kafka_eos.model.configs import (
    DEFAULT_CONFIG,
    list_check_configs,
    load_check_config,
)
from kafka_eos.protocol.knobs import make_knobs

VALID = """\
description: a small check
knobs:
  transaction_version: 1
faults:
  losses: 1
workload:
  partitions: 2
  consumer: read_committed
  producers:
    - kind: transactional
      transactional_id: app
      transactions:
        - partitions: [0, 1]
bounds:
  max_states: 1000
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "check.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_config_loads_and_default_is_one() -> None:
    names = list_check_configs()
    assert DEFAULT_CONFIG in names
    for name in names:
        config = load_check_config(name)
        assert config.name == name and config.description
        assert list(config.model.init_states())


def test_default_is_a_real_check() -> None:
    config = load_check_config(DEFAULT_CONFIG)
    workload = config.model.workload
    transactional_ids = [p.transactional_id for p in workload.producers if p.transactional_id]
    assert len(workload.producers) >= 2 or len(transactional_ids) > len(set(transactional_ids))
    assert workload.partitions >= 2 and workload.consumer == "read_committed"
    assert config.model.transactional_ids
    faults = config.faults
    assert faults["losses"] or faults["failovers"] or len(transactional_ids) > 1
    # issue 11: a client's request may time out and be re-sent while its first copy lives on,
    # under Kafka 4.x's knobs (every knob at its default)
    assert faults["request_timeouts"] == 1
    assert config.knobs == dataclasses.asdict(make_knobs({}, where="default"))


def test_a_file_path_loads_with_its_bounds_and_knobs(tmp_path: Path) -> None:
    config = load_check_config(_write(tmp_path, VALID))
    assert config.bounds == {"max_states": 1000}
    assert config.knobs["transaction_version"] == 1
    assert config.knobs["idempotence"] is True  # defaults filled in


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("  losses: 1", "  losses: 1\n  lossez: 2"), "faults.'lossez'"),
        (("description:", "descripton:"), "'descripton'"),
        (("transaction_version: 1", "transaction_version: two"), "knobs.transaction_version"),
        (("transaction_version: 1", "transaction_version: 3"), "knobs.transaction_version"),
        (("transaction_version: 1", "idempotence: 1"), "knobs.idempotence"),
        (("  losses: 1", "  losses: -1"), "faults.losses"),
        (("partitions: [0, 1]", "partitions: [0, 2]"), "partitions"),
        (("max_states: 1000", "max_states: 0"), "bounds.max_states"),
        (("max_states: 1000", "max_states: many"), "bounds.max_states"),
        (("consumer: read_committed", "consumer: dirty"), "workload.consumer"),
        (("  losses: 1", "  losses: 1\n  losses: 2"), "duplicate key 'losses'"),
        (("bounds:", "properties: [no_such_property]\nbounds:"), "no_such_property"),
        (("kind: transactional", "kind: exactly_once"), "kind"),
        (("consumer: read_committed", "max_producer_epoch: 0"), "workload.max_producer_epoch"),
    ],
)
def test_bad_configs_get_one_line_naming_file_and_key(
    tmp_path: Path, edit: tuple[str, str], expected: str
) -> None:
    old, new = edit
    assert old in VALID
    path = _write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(InputError) as error:
        load_check_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message
    assert expected in message


def test_a_small_max_producer_epoch_is_taken_under_either_transaction_version(
    tmp_path: Path,
) -> None:
    # version 1 rotates at InitProducerId only, version 2 at EndTxn too (nextProducerId)
    text = VALID.replace("consumer: read_committed", "max_producer_epoch: 3")
    assert load_check_config(_write(tmp_path, text)).model.workload.max_producer_epoch == 3
    path = _write(tmp_path, text.replace("transaction_version: 1", "transaction_version: 2"))
    model = load_check_config(path).model
    assert (model.knobs.transaction_version, model.workload.max_producer_epoch) == (2, 3)


def test_transactions_need_idempotence(tmp_path: Path) -> None:
    path = _write(tmp_path, VALID.replace("transaction_version: 1", "idempotence: false"))
    with pytest.raises(InputError, match="idempotence"):
        load_check_config(path)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"known: .*default"):
        load_check_config("no-such-check")


def test_not_yaml_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"check\.yaml"):
        load_check_config(_write(tmp_path, "workload: [unclosed\n"))


def test_properties_select_what_is_checked(tmp_path: Path) -> None:
    text = VALID.replace("bounds:", "properties: [no_duplicates, lso_bounds]\nbounds:")
    config = load_check_config(_write(tmp_path, text))
    assert set(config.model.invariants()) == {"no_duplicates"}
    assert set(config.model.action_properties()) == {"lso_bounds"}
