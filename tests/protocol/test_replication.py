"""The replication rules shared by the model and the reference (protocol/replication.py)."""

from __future__ import annotations

from kafka_eos.protocol.errors import ErrorCode
from kafka_eos.protocol.replication import (
    ACKS_ALL,
    ACKS_LEADER,
    delayed_produce_result,
    elect_leader,
    elected_high_watermark,
    end_offset_for,
    follower_high_watermark,
    follower_in_sync,
    high_watermark,
    produce_refusal,
    truncation_offset,
)


def test_the_high_watermark_is_the_lowest_log_end_of_the_isr_and_never_moves_back() -> None:
    assert high_watermark(current=1, leader_end=4, in_sync_ends=(3, 2)) == 2
    assert high_watermark(current=3, leader_end=4, in_sync_ends=(2,)) == 3
    # a follower the new leader has not heard from (-1) holds it
    assert high_watermark(current=2, leader_end=5, in_sync_ends=(-1,)) == 2
    # the leader alone in the ISR: its log end
    assert high_watermark(current=2, leader_end=5, in_sync_ends=()) == 5


def test_a_follower_joins_the_isr_once_it_reaches_the_high_watermark_and_the_epoch_start() -> None:
    assert follower_in_sync(follower_end=3, high_watermark=3, leader_epoch_start=2)
    assert not follower_in_sync(follower_end=2, high_watermark=3, leader_epoch_start=0)
    assert not follower_in_sync(follower_end=3, high_watermark=1, leader_epoch_start=4)


def test_end_offset_for_answers_the_largest_epoch_not_above_the_one_asked() -> None:
    cache = ((0, 0), (2, 3), (5, 7))
    assert end_offset_for(cache, 0, 9) == (0, 3)
    assert end_offset_for(cache, 3, 9) == (2, 7)
    assert end_offset_for(cache, 5, 9) == (5, 9)
    # an epoch older than every cached one: its end is where the first later epoch starts
    assert end_offset_for(((1, 0),), 0, 4) == (0, 0)
    # an epoch above every cached one, or no cache: UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
    assert end_offset_for(cache, 6, 9) == (-1, -1)
    assert end_offset_for((), 0, 9) == (-1, -1)


def test_kip_101_a_follower_keeps_what_the_new_leader_has_of_the_epoch() -> None:
    # both wrote 2 entries in epoch 0; the follower got a third the new leader (epoch 1)
    # never had: it truncates to 2, not to its high watermark (KIP-101's data-loss case)
    cut = truncation_offset(
        follower_cache=((0, 0),),
        follower_end=3,
        follower_high_watermark=1,
        leader_cache=((0, 0), (1, 2)),
        leader_end=4,
    )
    assert cut == 2


def test_kip_279_the_follower_asks_again_for_an_epoch_the_leader_has() -> None:
    # follower: epochs 0 (0..2) and 2 (from 3); leader: 0 (0..1), 1 (from 2), 3 (from 4).
    # The leader answers epoch 2 with epoch 1 ending at 4; the follower has no epoch 1, so it
    # truncates to its end of epoch 0 (3) and asks for epoch 0: the leader's epoch 0 ends at 2.
    cut = truncation_offset(
        follower_cache=((0, 0), (2, 3)),
        follower_end=5,
        follower_high_watermark=0,
        leader_cache=((0, 0), (1, 2), (3, 4)),
        leader_end=6,
    )
    assert cut == 2


def test_a_deposed_leader_truncates_what_a_leader_without_its_epoch_never_had() -> None:
    # the old leader wrote 2 entries in epoch 0 (its high watermark 1); the new leader had
    # none and wrote 1 in epoch 1: it answers epoch 0 with the start of epoch 1, offset 0
    # (LeaderEpochFileCache.endOffsetFor), so the follower keeps nothing, not what lies
    # below any high watermark (the leader's is 1 here)
    cut = truncation_offset(
        follower_cache=((0, 0),),
        follower_end=2,
        follower_high_watermark=1,
        leader_cache=((1, 0),),
        leader_end=1,
    )
    assert cut == 0


def test_a_follower_whose_epochs_cannot_be_placed_falls_back_to_its_own_high_watermark() -> None:
    # no epoch at all (truncateToHighWatermark), or one above every epoch the leader knows
    # (UNDEFINED_EPOCH_OFFSET): the follower's own high watermark, its initial fetch offset
    for follower_cache in ((), ((4, 0),)):
        cut = truncation_offset(
            follower_cache=follower_cache,
            follower_end=3,
            follower_high_watermark=1,
            leader_cache=((0, 0), (2, 1)),
            leader_end=5,
        )
        assert cut == 1


def test_a_follower_keeps_the_leaders_high_watermark_cut_to_its_log_end() -> None:
    assert follower_high_watermark(leader_high_watermark=4, follower_end=3) == 3
    assert follower_high_watermark(leader_high_watermark=2, follower_end=3) == 2


def test_a_new_leader_starts_from_its_own_high_watermark() -> None:
    assert elected_high_watermark(own_high_watermark=1, new_leader_end=3) == 1
    assert elected_high_watermark(own_high_watermark=3, new_leader_end=2) == 2


def test_an_election_picks_the_first_live_in_sync_replica_else_unclean_if_allowed() -> None:
    assert elect_leader(assignment=(0, 1, 2), in_sync=(0, 2), live=(1, 2), unclean=False) == (
        2,
        True,
    )
    assert elect_leader(assignment=(0, 1), in_sync=(0,), live=(1,), unclean=False) is None
    assert elect_leader(assignment=(0, 1), in_sync=(0,), live=(1,), unclean=True) == (1, False)


def test_acks_all_needs_min_insync_replicas_before_and_after_the_append() -> None:
    assert produce_refusal(acks=ACKS_ALL, in_sync=1, min_insync_replicas=2) == (
        ErrorCode.NOT_ENOUGH_REPLICAS
    )
    assert produce_refusal(acks=ACKS_LEADER, in_sync=1, min_insync_replicas=2) is None
    assert (
        delayed_produce_result(
            high_watermark=3, required_offset=4, in_sync=2, min_insync_replicas=1
        )
        is None
    )
    assert (
        delayed_produce_result(
            high_watermark=4, required_offset=4, in_sync=2, min_insync_replicas=2
        )
        == ErrorCode.NONE
    )
    assert (
        delayed_produce_result(
            high_watermark=4, required_offset=4, in_sync=1, min_insync_replicas=2
        )
        == ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
    )
