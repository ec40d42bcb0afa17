"""The producer-epoch rules the model and the reference share."""

from __future__ import annotations

import pytest

from kafka_eos.protocol.epochs import (
    BumpRequest,
    bump_request,
    bumped_epoch,
    fenced_epoch,
    marker_epoch_is_stale,
)


@pytest.mark.parametrize(
    ("marker", "stored", "open_", "tv2", "stale"),
    [
        (2, 3, False, False, True),  # older epoch: always refused
        (2, 3, False, True, True),
        (3, 3, True, False, False),  # TV1: the marker carries the transaction's own epoch
        (3, 3, True, True, True),  # TV2: equal epoch over an open transaction is a late copy
        (3, 3, False, True, False),  # TV2: equal epoch, nothing open: a retry (KAFKA-19999)
        (4, 3, True, True, False),  # TV2: the bumped epoch ends the open transaction
    ],
)
def test_marker_epoch_rule(marker: int, stored: int, open_: bool, tv2: bool, stale: bool) -> None:
    assert marker_epoch_is_stale(marker, stored, transaction_open=open_, tv2=tv2) is stale


def test_the_strict_check_before_kafka_19999_refuses_a_retried_marker() -> None:
    # marker_retry_accepted off: TV2 requires marker epoch > stored, a retry included.
    assert marker_epoch_is_stale(3, 3, transaction_open=False, tv2=True, retry_accepted=False)
    assert not marker_epoch_is_stale(3, 3, transaction_open=False, tv2=False, retry_accepted=False)
    assert not marker_epoch_is_stale(4, 3, transaction_open=True, tv2=True, retry_accepted=False)


@pytest.mark.parametrize(
    ("request_epoch", "current", "last", "outcome"),
    [
        (3, 3, -1, BumpRequest.BUMP),  # names the current epoch
        (2, 3, 2, BumpRequest.RETRY),  # names the epoch its lost-answer bump bumped
        (2, 3, -1, BumpRequest.FENCED),  # a new incarnation cleared lastProducerEpoch
        (1, 3, 2, BumpRequest.FENCED),  # older still
        (5, -1, -1, BumpRequest.BUMP),  # no epoch yet: whatever it names
    ],
)
def test_bump_request_rule(
    request_epoch: int, current: int, last: int, outcome: BumpRequest
) -> None:
    assert bump_request(request_epoch, current, last) is outcome


@pytest.mark.parametrize(
    ("epoch", "rotation", "expected"),
    [
        (-1, True, (False, 0)),  # a new transactional.id starts at epoch 0
        (3, True, (False, 4)),
        (8, True, (True, 0)),  # exhausted at max - 1: a new producer id (KAFKA-5283)
        (9, True, (True, 0)),  # at the bound after a fence: a new producer id too
        (8, False, (False, 9)),  # without rotation the bound itself is still handed out
        (9, False, (False, 0)),  # ... and the next bump wraps around under the same id
    ],
)
def test_a_plain_bump_rotates_the_producer_id_once_the_epoch_is_exhausted(
    epoch: int, rotation: bool, expected: tuple[bool, int]
) -> None:
    assert bumped_epoch(epoch, max_epoch=9, rotation=rotation) == expected


@pytest.mark.parametrize(
    ("epoch", "rotation", "expected"), [(8, True, 9), (9, True, 9), (8, False, 9), (9, False, 0)]
)
def test_a_fence_bumps_up_to_the_bound_and_stays_there(
    epoch: int, rotation: bool, expected: int
) -> None:
    assert fenced_epoch(epoch, max_epoch=9, rotation=rotation) == expected
