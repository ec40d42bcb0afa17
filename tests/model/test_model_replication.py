"""Replicated data partitions in the model: what a leader change does and what it must not do.

The verdict table measures the named checks (replicated* rows); these tests pin down the
mechanisms behind them: a single replica is the model as it was, acks=all waits for the high
watermark, a new leader rebuilds its producer state from its log, followers truncate by
leader epoch, and the configuration refuses what Kafka would make pointless.
"""

from __future__ import annotations

import dataclasses

import pytest

from kafka_eos.checker import check
from kafka_eos.model.codes import NOT_LEADER_OR_FOLLOWER, RESTARTED
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.layout import (
    M_KIND,
    M_PRODUCE,
    M_PRODUCE_RESPONSE,
    M_VERIFY,
    P_LOG,
    P_REPLICATION,
    PRR_ERROR,
    RS_HW,
    RS_HWS,
    RS_LOGS,
    S_NETWORK,
    S_PARTITIONS,
    VQ_CONNECTION,
    VQ_DEPOSED,
    VQ_PROCESS,
    Tup,
    add_messages,
    replace,
)
from kafka_eos.model.network import deliverable
from kafka_eos.model.verdicts import load_verdicts


@pytest.mark.parametrize("name", ["idempotent", "zombie-fencing", "txn-timeout", "tv1"])
def test_one_replica_is_the_model_as_it_was(name: str) -> None:
    model = load_check_config(name).model
    assert model.workload.replicas == 1
    assert all(not partition[P_REPLICATION] for partition in model.init_states()[0][S_PARTITIONS])
    assert not {"FollowerFetch", "ShrinkIsr", "LeaderFailover"} & set(model.action_names())
    assert check(model).distinct_states == load_verdicts()[name].distinct_states


def _outcomes(name: str) -> dict[str, dict[str, int]]:
    config = load_check_config(name)
    return check(config.model, **config.bounds).outcome_coverage


def test_a_retry_after_a_leader_change_is_answered_by_the_rebuilt_producer_state() -> None:
    # the new leader got the batch from the old one; the client, told NOT_LEADER_OR_FOLLOWER,
    # retries it there, and the producer state rebuilt from the log recognises it
    taken = _outcomes("replicated")
    assert taken["LeaderFailover"]["clean"]
    assert taken["ReceiveProduceResponse"]["NOT_LEADER_OR_FOLLOWER"]
    assert taken["HandleProduce"]["DUPLICATE"]


def test_acks_1_answers_before_the_follower_has_the_batch() -> None:
    config = load_check_config("replicated-acks-1")
    result = check(config.model)
    assert result.violated == "no_lost_acks"
    assert result.trace is not None
    names = [label.name for label in result.trace.labels]
    assert names == ["Send", "HandleProduce", "ReceiveProduceResponse", "LeaderFailover"]
    # under acks=all the answer waits for the follower: nothing acknowledged is lost (the
    # properties of the replicated row: per_producer_order breaks for another reason)
    acks_all = dataclasses.replace(config.model.knobs, acks=-1)
    model = KafkaEosModel(
        knobs=acks_all,
        faults=config.model.faults,
        workload=config.model.workload,
        checked=load_check_config("replicated").model.checked,
    )
    assert check(model).verdict == "ok"


def test_unclean_election_loses_what_clean_election_keeps() -> None:
    config = load_check_config("replicated-unclean")
    assert check(config.model).violated == "no_lost_acks"
    clean = dataclasses.replace(config.model.knobs, unclean_leader_election=False)
    model = KafkaEosModel(
        knobs=clean,
        faults=config.model.faults,
        workload=config.model.workload,
        checked=config.model.checked,
    )
    result = check(model)
    assert result.verdict == "ok"
    assert not result.outcome_coverage["LeaderFailover"].get("unclean")


def test_a_truncating_follower_and_a_marker_above_the_high_watermark() -> None:
    # transactions across a leader change: followers truncate (a fetch from below their log
    # end happens), markers wait in the purgatory, and the reader sees only committed data
    config = load_check_config("replicated-transactions")
    result = check(config.model)
    assert result.verdict == "ok"
    assert result.coverage["FollowerFetch"] and result.coverage["ShrinkIsr"]
    assert result.outcome_coverage["HandleWriteTxnMarkers"]["NONE"]


def _walk(model: KafkaEosModel, steps: list[str]) -> Tup:
    """The state reached by taking, from the initial state, the first step whose label starts
    with each of ``steps`` in turn."""
    state = model.init_states()[0]
    for wanted in steps:
        state = next(t for label, t in model.actions(state) if str(label).startswith(wanted))
    return state


def test_a_deposed_leader_truncates_what_a_new_leader_without_its_epoch_never_had() -> None:
    # r0 appends r0's batch in epoch 0 and fails before r1 fetched; r1 (epoch 1) appends the
    # next batch at offset 0 and, alone in the ISR, moves its high watermark to 1. r0 asks for
    # the end of epoch 0: r1 has no epoch that old and answers with the start of epoch 1,
    # offset 0 (LeaderEpochFileCache.endOffsetFor), so r0 drops its batch. Truncating to a
    # high watermark instead (the leader's, 1) kept it under r1's batch: replica_logs_match
    # broke in 6 steps, and a second failover back to r0 would duplicate or reorder.
    model = load_check_config("replicated").model
    steps = ["Send(", "HandleProduce(", "LeaderFailover(", "Send(", "HandleProduce("]
    state = _walk(model, [*steps, "FollowerFetch(t-0,r0,truncate@0,end1)"])
    partition = state[S_PARTITIONS][0]
    replication = partition[P_REPLICATION]
    assert replication[RS_LOGS][0] == partition[P_LOG]
    assert replication[RS_HWS][0] == 1  # the leader's, as the fetch answered it
    assert model.invariants()["replica_logs_match"](state)


def test_a_new_leader_starts_from_its_own_high_watermark() -> None:
    # three replicas: both followers fetch the batch and report it, so the leader's high
    # watermark passes it; each follower learned the high watermark of before its report (0).
    # The elected r1 starts from its own 0 (Partition.makeLeader), not its predecessor's 1,
    # which the deposed r0 keeps as a follower.
    model = load_check_config("replicated-three-replicas").model
    fetches = [f"FollowerFetch(t-0,r{r},truncate@{at}" for r in (1, 2) for at in (0, 1)]
    before = _walk(model, ["Send(", "HandleProduce(", *fetches])
    assert before[S_PARTITIONS][0][P_REPLICATION][RS_HW] == 1
    after = _walk(model, ["Send(", "HandleProduce(", *fetches, "LeaderFailover(t-0,r0->r1"])
    replication = after[S_PARTITIONS][0][P_REPLICATION]
    assert replication[RS_HW] == 0
    assert replication[RS_HWS] == (1, -1, 0)


def test_a_failover_leaves_the_verification_going_and_the_connection_free() -> None:
    # t-0's leader holds app#0's first Produce for the leader's add when it fails over: the
    # AddPartitionsToTxn stays on its way to the coordinator, marked deposed (its NONE answer
    # will be refused NOT_LEADER_OR_FOLLOWER), and no longer mutes the Produce's connection,
    # since the producer's next requests for t-0 go to the new leader, another broker.
    model = load_check_config("replicated-transactions").model
    steps = ["InitProducerId(", "HandleInitProducerId(", "CompleteTxnLogAppend("]
    steps += ["ReceiveCoordinatorResponse(", "BeginTransaction(", "Send(", "VerifyPartition("]
    held = _walk(model, steps)
    deposed = _walk(model, [*steps, "LeaderFailover("])
    (before,) = [m for m in held[S_NETWORK] if m[M_KIND] == M_VERIFY]
    (after,) = [m for m in deposed[S_NETWORK] if m[M_KIND] == M_VERIFY]
    assert after == replace(before, VQ_DEPOSED, 1)
    # a next Produce on the held Produce's connection waits only while its leader leads
    proc, connection = before[VQ_PROCESS], before[VQ_CONNECTION]
    produce = (M_PRODUCE, proc, 0, 0, 0, 1, 1, 1, connection)
    assert produce not in [m for m, _ in deliverable(add_messages(held[S_NETWORK], produce))]
    assert produce in [m for m, _ in deliverable(add_messages(deposed[S_NETWORK], produce))]


def test_a_restart_is_a_failover_of_its_own_only_while_the_leader_holds_a_produce() -> None:
    # A deposed leader's broker that restarts loses only what it held in memory; for a leader
    # holding no Produce for its verification that is nothing the model has, so the restart
    # is a failover of its own only while it holds one: then the held Produce fails at once.
    model = load_check_config("replicated-transactions").model
    steps = ["InitProducerId(", "HandleInitProducerId(", "CompleteTxnLogAppend("]
    steps += ["ReceiveCoordinatorResponse(", "BeginTransaction(", "Send("]

    def failovers(state: Tup) -> list[str]:
        labels = (str(label) for label, _ in model.actions(state))
        return sorted(label for label in labels if label.startswith("LeaderFailover("))

    assert failovers(_walk(model, steps)) == ["LeaderFailover(t-0,r0->r1,le1,clean)"]
    held = _walk(model, [*steps, "VerifyPartition("])
    assert failovers(held) == [
        "LeaderFailover(t-0,r0->r1,le1,clean)",
        "LeaderFailover(t-0,r0->r1,le1,clean,restarted)",
    ]
    restarted = _walk(model, [*steps, "VerifyPartition(", "LeaderFailover(t-0,r0->r1,le1,clean,"])
    (request,) = [m for m in restarted[S_NETWORK] if m[M_KIND] == M_VERIFY]
    assert request[VQ_DEPOSED] == RESTARTED
    (answer,) = [m for m in restarted[S_NETWORK] if m[M_KIND] == M_PRODUCE_RESPONSE]
    assert answer[PRR_ERROR] == NOT_LEADER_OR_FOLLOWER
