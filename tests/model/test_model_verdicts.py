"""Every row of spec/verdicts.yaml is what the checker finds for that named check.

The table is measured (python -m kafka_eos.model.verdicts --write), never typed in; these tests
re-measure it: verdict, violated property, shortest counterexample length and distinct-state
count must all match. Rows the table marks ``slow`` run only with ``pytest -m slow``.
"""

from __future__ import annotations

import pytest

from kafka_eos.checker import check
from kafka_eos.model.configs import DEFAULT_CONFIG, list_check_configs, load_check_config
from kafka_eos.model.verdicts import load_verdicts

TABLE = load_verdicts()

#: Actions a correct named check lists but never takes. coordinator-failover lists
#: ResendTxnMarker because a failover may leave a marker unanswered, but the new coordinator
#: re-sends the loaded Prepare* markers itself and nothing is lost there (the same in
#: tv2-no-coordinator-epoch-check, a failover without losses).
#: HandleProduce, the append without a KIP-890 round trip, is never taken where every write is
#: the first of its transaction on its partition (one record per partition and transaction):
#: each is verified first (VerifyPartition, AppendVerified).
_ALL_VERIFIED = {"HandleProduce"}
NEVER_TAKEN: dict[str, set[str]] = {
    "coordinator-failover": {"ResendTxnMarker", *_ALL_VERIFIED},
    "tv2-no-coordinator-epoch-check": {"ResendTxnMarker", *_ALL_VERIFIED},
    **{
        name: _ALL_VERIFIED
        for name in ("ctp", "ctp-rebalance", "ctp-timeout", "fencing-losses",
                     "fencing-both-partitions", "producer-id-rotation",
                     "retriable-errors", "tv1", "tv2-no-verification",
                     "tv2-producer-id-rotation", "txn-timeout", "zombie-fencing")
    },
}


def _rows() -> list[object]:
    return [
        pytest.param(name, marks=pytest.mark.slow) if row.slow else name
        for name, row in sorted(TABLE.items())
    ]


def test_every_named_check_has_exactly_one_row() -> None:
    assert sorted(TABLE) == list_check_configs()
    assert DEFAULT_CONFIG in TABLE


#: Rows violated with nothing turned off: what Kafka's own rules allow across a leader change
#: (spec/SPEC.md §7), each with the reason.
KAFKA_FINDINGS = {
    "replicated-reorder": "a new leader without state for the producer accepts any sequence "
    "(ProducerAppendInfo.checkSequence), the first batch's retry lands after the second",
    "replicated-min-isr-2": "a NOT_ENOUGH_REPLICAS_AFTER_APPEND batch is in the log; its retry, "
    "rewritten by a KIP-360 epoch bump, is not recognised as a duplicate",
}


def test_the_correct_protocol_holds_and_each_weakening_breaks_something() -> None:
    # Kafka 4.x defaults hold; every configuration that turns a protection off is violated.
    assert TABLE[DEFAULT_CONFIG].verdict == "ok"
    for name, row in TABLE.items():
        config = load_check_config(name)
        weakened = (
            not config.knobs["idempotence"]
            or config.knobs["batch_cache_size"] < config.knobs["max_in_flight"]
            or not config.knobs["producer_epoch_check"]
            # a deposed coordinator's late marker: under transaction version 2 the strict
            # marker epoch rule refuses it too, once the marker says its version (KIP-1228)
            or (
                not config.knobs["coordinator_epoch_check"]
                and config.faults["failovers"]
                and (
                    config.knobs["transaction_version"] == 1
                    or not config.knobs["marker_transaction_version"]
                )
            )
            or (config.knobs["producer_state_expiry"] and config.faults["expiries"])
            # a hanging transaction: a late batch after its ABORT marker, at the same epoch
            # (the client's delivery timeout, or a timeout abort without KAFKA-6119's fence)
            or (
                config.knobs["transaction_version"] == 1
                and not config.knobs["partition_verification"]
                and (
                    config.faults["batch_timeouts"]
                    or (config.faults["txn_timeouts"] and not config.knobs["timeout_epoch_bump"])
                )
            )
            # a late verification answer lands after the ABORT marker: without the guard the
            # leader appends it (KAFKA-14402)
            or (
                config.knobs["transaction_version"] == 1
                and config.knobs["partition_verification"]
                and not config.knobs["verification_guard"]
                and config.faults["batch_timeouts"]
            )
            or config.model.workload.consumer == "read_uncommitted"
            # Kafka 4.x itself: a leader with no state for an idempotent producer takes any
            # sequence, so a batch behind one refused with a retriable error overtakes it
            or (
                config.faults["retriable_errors"]
                and any(
                    p.kind == "idempotent" and len(p.batches) > len(set(p.batches))
                    for p in config.model.workload.producers
                )
            )
            # replication: an answer before the followers have the batch, or an election
            # outside the ISR, loses it at the next leader change
            or (config.knobs["acks"] == 1 and config.faults["leader_failovers"])
            or (config.knobs["unclean_leader_election"] and config.faults["leader_failovers"])
            or name in KAFKA_FINDINGS
            # KIP-890 part 2: a timed-out EndTxn's first copy ends the next transaction of
            # the same epoch under transaction version 1
            or (config.knobs["transaction_version"] == 1 and config.faults["request_timeouts"])
            # a stall: the strict TV2 marker check refuses a retried marker (KAFKA-19999), re-sent
            # after a loss or a timeout
            or (
                not config.knobs["marker_retry_accepted"]
                and config.knobs["transaction_version"] == 2
                and (
                    config.faults["losses"]
                    or config.faults["failovers"]
                    or config.faults["request_timeouts"]
                )
                and "ended_transactions_complete" in config.temporal_properties
            )
            # KIP-447: a member that lost its input partition commits offsets for it anyway
            or (not config.knobs["group_generation_check"] and config.faults["rebalances"])
            # KAFKA-5283: an exhausted epoch wraps around to one a zombie still holds
            or (
                not config.knobs["producer_id_rotation"]
                and config.model.workload.max_producer_epoch < 32767
            )
            # KAFKA-6119: a timeout abort at the transaction's own epoch (version 1) lets the
            # producer open a new transaction at that epoch and commit half of its work
            or (
                not config.knobs["timeout_epoch_bump"]
                and config.knobs["transaction_version"] == 1
                and config.faults["txn_timeouts"]
            )
        )
        assert (row.verdict == "violated") == weakened, name


@pytest.mark.parametrize("name", _rows())
def test_checker_reproduces_the_row(name: str) -> None:
    expected = TABLE[name]
    config = load_check_config(name)
    result = check(config.model, **config.bounds)
    assert result.verdict == expected.verdict
    assert result.violated == expected.violated
    trace_length = len(result.trace.labels) if result.trace is not None else None
    assert trace_length == expected.trace_length
    assert result.distinct_states == expected.distinct_states
    # a correct configuration explored everything, so an action it lists but never takes is
    # a guard that never holds (or an action listed for nothing): only the known ones here
    if expected.verdict == "ok":
        assert set(result.never_taken) == NEVER_TAKEN.get(name, set()), result.never_taken


@pytest.mark.parametrize("name", ["ctp", "tv1", "zombie-fencing", "txn-timeout", "idempotent"])
def test_every_action_a_correct_configuration_can_take_is_taken(name: str) -> None:
    # The model lists only the actions its configuration enables (a fault with a budget,
    # a consumer, a CTP application...), so "never taken" flags a guard that never holds.
    config = load_check_config(name)
    result = check(config.model, **config.bounds)
    assert set(result.never_taken) == NEVER_TAKEN.get(name, set())
    assert set(result.coverage) == set(config.model.action_names())


def test_switched_off_actions_are_not_listed() -> None:
    names = set(load_check_config("idempotent").model.action_names())
    assert {"HandleProduce", "Send"} <= names
    assert not names & {"HandleEndTxn", "CoordinatorFailover", "Fetch", "ExpireProducerState"}
