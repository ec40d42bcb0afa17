"""Kafka's liveness under fairness (model/liveness.py): stalls found as lassos, and fairness
that matters (take one fair step away and the property fails)."""

from __future__ import annotations

from typing import Any

import pytest

from kafka_eos.checker import check
from kafka_eos.checker.result import STUTTERING
from kafka_eos.checker.temporal import Fairness
from kafka_eos.errors import InputError
from kafka_eos.model.configs import build_check_config, load_check_config
from kafka_eos.model.kafka import ACTION_NAMES
from kafka_eos.model.layout import S_PARTITIONS
from kafka_eos.model.liveness import FAIR_ACTIONS, TEMPORAL_PROPERTIES, KafkaEosLivenessModel
from kafka_eos.model.views import high_watermark, last_stable_offset


class _Unfair(KafkaEosLivenessModel):
    """The same model with one action's fairness taken away."""

    def __init__(self, model: KafkaEosLivenessModel, unfair: str) -> None:
        super().__init__(temporal=model.temporal, knobs=model.knobs, faults=model.faults,
                         workload=model.workload, checked=model.checked)
        self.unfair = unfair

    def fairness(self) -> list[Fairness]:
        return [f for f in super().fairness() if f.action != self.unfair]


def _config(name: str, temporal: list[str]) -> KafkaEosLivenessModel:
    raw = {**_raw(name), "temporal_properties": temporal}
    model = build_check_config(raw, name=name, where=f"{name} (test)").model
    assert isinstance(model, KafkaEosLivenessModel)
    return model


def _raw(name: str) -> dict[str, Any]:
    import yaml

    from kafka_eos.model.configs import config_path

    loaded: dict[str, Any] = yaml.safe_load(config_path(name).read_text(encoding="utf-8"))
    return loaded


def test_the_hanging_transaction_is_a_lasso_with_the_lso_stuck_below_the_high_watermark() -> None:
    result = check(load_check_config("tv1-hanging-transaction").model)
    assert (result.verdict, result.violated) == ("violated", "lso_reaches_high_watermark")
    trace = result.trace
    assert trace is not None and trace.loop is not None
    assert trace.labels[-1] == STUTTERING  # it stops there: no fair step is left
    stuck = trace.states[trace.loop]
    assert any(last_stable_offset(p) < high_watermark(p) for p in stuck[S_PARTITIONS])
    assert "HandleProduce" in " ".join(map(str, trace.labels))  # the late write


def test_every_temporal_property_holds_in_a_correct_configuration() -> None:
    result = check(_config("zombie-fencing", list(TEMPORAL_PROPERTIES)))
    assert result.verdict == "ok"
    assert len(result.temporal_properties) >= 3


def test_without_a_fair_log_append_an_ended_transaction_may_never_complete() -> None:
    model = _config("tv1", ["ended_transactions_complete"])
    assert check(model).verdict == "ok"
    result = check(_Unfair(model, "CompleteTxnLogAppend"))
    assert result.verdict == "violated"
    assert result.violated == "ended_transactions_complete[app#0.txn0]"


def test_a_stopped_producers_transaction_is_aborted_by_a_fair_transaction_timeout() -> None:
    model = _config("txn-timeout", ["abandoned_transactions_abort"])
    assert check(model).verdict == "ok"
    result = check(_Unfair(model, "TimeoutTransaction"))
    assert (result.verdict, result.violated) == (
        "violated", "abandoned_transactions_abort[app#0.txn0]")


def test_a_read_committed_consumer_needs_a_fair_fetch() -> None:
    model = _config("tv1", ["committed_records_delivered"])
    assert check(model).verdict == "ok"
    assert check(_Unfair(model, "Fetch")).verdict == "violated"


def test_fairness_names_only_actions_of_the_model() -> None:
    assert set(FAIR_ACTIONS) <= set(ACTION_NAMES)
    faults_and_choices = {"LoseMessage", "CoordinatorFailover", "ExpireProducerState",
                          "ExpireBatch", "RetryProduce", "BeginTransaction", "Send",
                          "CommitTransaction", "AbortTransaction", "InitProducerId"}
    assert not faults_and_choices & set(FAIR_ACTIONS)


def test_the_default_configuration_lists_every_temporal_property() -> None:
    assert load_check_config("default").temporal_properties == TEMPORAL_PROPERTIES


@pytest.mark.parametrize(("value", "message"), [
    (["lso_stuck"], "unknown temporal property 'lso_stuck' in temporal_properties"),
    ([], "temporal_properties must be a non-empty list"),
    ("lso_reaches_high_watermark", "temporal_properties must be a non-empty list"),
])
def test_a_wrong_temporal_property_list_is_one_line_naming_the_file(
    value: object, message: str
) -> None:
    raw = {**_raw("tv1"), "temporal_properties": value}
    with pytest.raises(InputError, match=message) as raised:
        build_check_config(raw, name="tv1", where="my.yaml")
    assert str(raised.value).startswith("my.yaml: ") and "\n" not in str(raised.value)


def test_a_lasso_written_as_itf_replays_on_the_reference_to_its_loop(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from kafka_eos.cli.main import main

    trace = tmp_path / "stall.itf.json"
    assert main(["check", "--config", "tv2-strict-marker-retry", "--quiet",
                 "--trace-out", str(trace)]) == 1
    capsys.readouterr()
    main(["replay", str(trace)])
    out = capsys.readouterr().out
    assert "the reference agrees with the model at every step" in out
    assert "a lasso violating ended_transactions_complete[app#0.txn0]; the reference followed " \
           "it to the loop" in out
