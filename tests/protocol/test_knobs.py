"""The protocol knobs are declared once (protocol/knobs.py) and everything reads that one
declaration: the model's parameters, the reference broker's config, the command line's parser
and spec/SPEC.md's table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from kafka_eos.errors import InputError
from kafka_eos.model import params
from kafka_eos.protocol.knobs import (
    KNOBS,
    Knobs,
    knob_table,
    make_knobs,
    parse_knobs,
)
from kafka_eos.reference.node import BrokerConfig
from kafka_eos.reference.producer_state import ProducerChecks

SPEC = Path(__file__).resolve().parents[2] / "spec" / "SPEC.md"


def test_the_model_and_the_reference_use_the_one_declaration() -> None:
    assert params.Knobs is Knobs
    assert BrokerConfig().knobs == Knobs() and ProducerChecks().knobs == Knobs()
    # a knob written again as a field of the reference's own config would drift from it
    for config in (BrokerConfig, ProducerChecks):
        declared_again = {f.name for f in dataclasses.fields(config)} & set(KNOBS)
        assert not declared_again, f"{config.__name__} declares knobs again: {declared_again}"


def test_every_knob_is_documented_with_its_kafka_origin_and_a_kafka_default() -> None:
    for knob in KNOBS.values():
        assert knob.doc and knob.kafka and knob.roles, knob.name
        assert getattr(Knobs(), knob.name) == knob.default
        assert re.search(r"KIP-\d+|KAFKA-\d+|\w+\.\w+", knob.kafka), knob.name


def test_spec_knob_table_is_the_declaration() -> None:
    text = SPEC.read_text(encoding="utf-8")
    begin = text.index("<!-- knobs:begin")
    table = text[text.index("\n", begin) + 1 : text.index("<!-- knobs:end -->")].strip()
    assert table == knob_table(), (
        "spec/SPEC.md §4 differs from protocol/knobs.py: paste the output of "
        "python -m kafka_eos.protocol.knobs between the knobs markers"
    )


@pytest.mark.parametrize(
    ("pairs", "error"),
    [
        (["transaction_version=3"], "--knob transaction_version: must be 1 or 2, got 3"),
        (["batch_cache_size=0"], "--knob batch_cache_size: must be at least 1, got 0"),
        (["producer_epoch_check=maybe"], "--knob producer_epoch_check: expected true or false"),
        (["max_in_flight=two"], "--knob max_in_flight: expected an integer >= 1, got 'two'"),
        (["epoch_checks=false"], "--knob epoch_checks: no such knob 'epoch_checks'"),
        (["transaction_version"], "--knob 'transaction_version': expected NAME=VALUE"),
    ],
)
def test_command_line_values_are_checked_against_the_declaration(
    pairs: list[str], error: str
) -> None:
    with pytest.raises(InputError) as raised:
        parse_knobs(pairs, option="--knob")
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


def test_parsed_values_have_the_declared_types() -> None:
    values = parse_knobs(
        ["transaction_version=1", "producer_epoch_check=False", "max_in_flight= 2"],
        option="--knob",
    )
    assert values == {"transaction_version": 1, "producer_epoch_check": False, "max_in_flight": 2}
    knobs = make_knobs(values, where="--knob ")
    assert knobs.changed() == values


def test_a_value_outside_the_declaration_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="knob transaction_version"):
        Knobs(transaction_version=3)
    with pytest.raises(ValueError, match="knob idempotence"):
        Knobs(idempotence=1)  # type: ignore[arg-type]
