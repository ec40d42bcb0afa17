"""The producer-epoch rules the model and the reference share."""

from __future__ import annotations

import pytest

from kafka_eos.protocol.epochs import BumpRequest, bump_request, marker_epoch_is_stale


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
