"""Each weakened variant fails for the reason its weakness implies: the shortest trace shows
the Kafka mechanism (error code, marker, fencing step) the configuration describes."""

from __future__ import annotations

from functools import cache

from kafka_eos.checker import CheckResult, check
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.registry import Step


@cache
def _result(name: str) -> CheckResult:
    config = load_check_config(name)
    return check(config.model, **config.bounds)


def _labels(name: str) -> list[Step]:
    result = _result(name)
    assert result.trace is not None, f"{name} found no counterexample"
    return list(result.trace.labels)


def test_without_idempotence_a_retry_appends_twice() -> None:
    labels = _labels("idempotence-off")
    appends = [label for label in labels if label.name == "HandleProduce"]
    assert len(appends) == 2
    assert all(a.arg("record") == 0 and a.outcome == "NONE" for a in appends)
    assert any(label.name == "RetryProduce" for label in labels)


def test_a_small_batch_cache_turns_a_retry_into_out_of_order_then_a_duplicate() -> None:
    labels = _labels("small-batch-cache")
    out_of_order = next(
        i
        for i, label in enumerate(labels)
        if label.name == "HandleProduce" and label.outcome == "OUT_OF_ORDER_SEQUENCE_NUMBER"
    )
    # after the error the client re-sends with a bumped epoch (e1) from sequence 0
    assert any(
        label.name == "Send" and (label.arg("epoch"), label.arg("sequence")) == (1, 0)
        for label in labels[out_of_order:]
    )


def test_the_default_cache_answers_the_same_retry_with_the_original_offset() -> None:
    # Same workload and retry as small-batch-cache, Kafka's 5 cached batches: no violation,
    # and somewhere the leader recognises the duplicate.
    config = load_check_config("idempotent")
    result = check(config.model)
    assert result.verdict == "ok"
    assert result.outcome_coverage["HandleProduce"]["DUPLICATE"] > 0


def test_expiry_lets_a_late_retry_in_again() -> None:
    labels = _labels("producer-state-expiry")
    expiry = next(i for i, label in enumerate(labels) if label.name == "ExpireProducerState")
    assert any(
        label.name == "HandleProduce" and label.outcome == "NONE" and label.arg("offset") == 1
        for label in labels[expiry:]
    )


def test_tv1_without_verification_hangs_a_transaction_after_its_abort_marker() -> None:
    labels = _labels("tv1-no-verification")
    marker = next(
        i
        for i, label in enumerate(labels)
        if label.name == "HandleWriteTxnMarkers" and label.arg("marker") == "ABORT"
    )
    late = [
        i
        for i, label in enumerate(labels)
        if label.name == "HandleProduce" and label.outcome == "NONE"
    ]
    assert late and late[-1] > marker
    assert any(label.name == "ExpireBatch" for label in labels)


def test_a_zombie_write_needs_the_epoch_check_off() -> None:
    labels = _labels("no-producer-epoch-check")
    assert labels[-1].name == "HandleProduce" and labels[-1].arg("process") == "app#0"
    assert _result("zombie-fencing").verdict == "ok"


def test_a_deposed_coordinators_marker_lands_without_the_coordinator_epoch_check() -> None:
    labels = _labels("no-coordinator-epoch-check")
    failover = next(i for i, label in enumerate(labels) if label.name == "CoordinatorFailover")
    last = labels[-1]
    assert last.name == "HandleWriteTxnMarkers" and last.arg("coordinator_epoch") == 0
    assert failover < len(labels) - 1
    assert _result("coordinator-failover").verdict == "ok"


def test_read_uncommitted_returns_an_undecided_record() -> None:
    labels = _labels("read-uncommitted")
    assert labels[-1].name == "Fetch" and 0 in labels[-1].arg("offsets")


def test_ctp_zombie_output_is_committed_twice_without_the_epoch_check() -> None:
    labels = _labels("ctp-no-producer-epoch-check")
    assert any(
        label.name == "HandleProduce"
        and label.arg("process") == "app#0"
        and label.outcome == "NONE"
        for label in labels
    )
    assert labels[-1].name == "HandleWriteTxnMarkers" and labels[-1].arg("marker") == "COMMIT"
