"""Each weakened variant fails for the reason its weakness implies: the shortest trace shows
the Kafka mechanism (error code, marker, fencing step) the configuration describes."""

from __future__ import annotations

from functools import cache

from kafka_eos.checker import CheckResult, check
from kafka_eos.model.configs import load_check_config


@cache
def _result(name: str) -> CheckResult:
    config = load_check_config(name)
    return check(config.model, **config.bounds)


def _labels(name: str) -> list[str]:
    result = _result(name)
    assert result.trace is not None, f"{name} found no counterexample"
    return list(result.trace.labels)


def test_without_idempotence_a_retry_appends_twice() -> None:
    labels = _labels("idempotence-off")
    appends = [label for label in labels if label.startswith("HandleProduce(")]
    assert len(appends) == 2 and all("r0" in a and ",o" in a for a in appends)
    assert any(label.startswith("RetryProduce(") for label in labels)


def test_a_small_batch_cache_turns_a_retry_into_out_of_order_then_a_duplicate() -> None:
    labels = _labels("small-batch-cache")
    out_of_order = labels.index(
        next(
            label
            for label in labels
            if label.startswith("HandleProduce(") and "OUT_OF_ORDER_SEQUENCE_NUMBER" in label
        )
    )
    # after the error the client re-sends with a bumped epoch (e1) from sequence 0
    assert any(label.startswith("Send(") and ",e1,s0" in label for label in labels[out_of_order:])


def test_the_default_cache_answers_the_same_retry_with_the_original_offset() -> None:
    # Same workload and retry as small-batch-cache, Kafka's 5 cached batches: no violation,
    # and somewhere the leader recognises the duplicate.
    config = load_check_config("idempotent")
    result = check(config.model)
    assert result.verdict == "ok"
    assert result.coverage["HandleProduce"] > 0


def test_expiry_lets_a_late_retry_in_again() -> None:
    labels = _labels("producer-state-expiry")
    expiry = next(i for i, label in enumerate(labels) if label.startswith("ExpireProducerState("))
    assert any(label.startswith("HandleProduce(") and ",o1)" in label for label in labels[expiry:])


def test_tv1_without_verification_hangs_a_transaction_after_its_abort_marker() -> None:
    labels = _labels("tv1-no-verification")
    marker = next(
        i
        for i, label in enumerate(labels)
        if label.startswith("HandleWriteTxnMarkers(") and "ABORT" in label
    )
    late = [
        i for i, label in enumerate(labels) if label.startswith("HandleProduce(") and ",o" in label
    ]
    assert late and late[-1] > marker
    assert any(label.startswith("ExpireBatch(") for label in labels)


def test_a_zombie_write_needs_the_epoch_check_off() -> None:
    labels = _labels("no-producer-epoch-check")
    assert labels[-1].startswith("HandleProduce(") and "app#0" in labels[-1]
    assert _result("zombie-fencing").verdict == "ok"


def test_a_deposed_coordinators_marker_lands_without_the_coordinator_epoch_check() -> None:
    labels = _labels("no-coordinator-epoch-check")
    failover = next(i for i, label in enumerate(labels) if label.startswith("CoordinatorFailover("))
    assert labels[-1].startswith("HandleWriteTxnMarkers(") and ",ce0," in labels[-1]
    assert failover < len(labels) - 1
    assert _result("coordinator-failover").verdict == "ok"


def test_read_uncommitted_returns_an_undecided_record() -> None:
    labels = _labels("read-uncommitted")
    assert labels[-1].startswith("Fetch(") and ",o0" in labels[-1]


def test_ctp_zombie_output_is_committed_twice_without_the_epoch_check() -> None:
    labels = _labels("ctp-no-producer-epoch-check")
    assert any(
        label.startswith("HandleProduce(") and "app#0" in label and ",o" in label
        for label in labels
    )
    assert labels[-1].startswith("HandleWriteTxnMarkers(") and "COMMIT" in labels[-1]
