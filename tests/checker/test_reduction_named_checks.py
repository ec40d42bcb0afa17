"""Partial-order reduction gives every named check the verdict of the plain search.

A reduced search checks invariants and action properties only (temporal properties are
skipped and named as such), so a row whose recorded violation is a temporal property is held
to the plain search of the same model without its temporal properties.
"""

from __future__ import annotations

import pytest
from named_checks import TABLE, verdict_rows

from kafka_eos.checker import check
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.liveness import TEMPORAL_PROPERTIES


@pytest.mark.parametrize("name", verdict_rows())
def test_a_reduced_search_keeps_the_named_checks_verdict(name: str) -> None:
    model = load_check_config(name).model
    reduced = check(model, reduce="por")
    row = TABLE[name]
    expected = (row.verdict, row.violated)
    if row.violated is not None and row.violated.split("[")[0] in TEMPORAL_PROPERTIES:
        safety_only = KafkaEosModel(knobs=model.knobs, faults=model.faults,
                                    workload=model.workload, checked=model.checked)
        plain = check(safety_only)
        expected = (plain.verdict, plain.violated)
    assert (reduced.verdict, reduced.violated) == expected
    assert bool(reduced.temporal_skipped) == bool(getattr(model, "temporal", ()))
    if reduced.verdict == "ok":
        assert reduced.distinct_states <= row.distinct_states
