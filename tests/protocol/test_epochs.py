"""The producer-epoch rules the model and the reference share."""

from __future__ import annotations

import pytest

from kafka_eos.protocol.epochs import marker_epoch_is_stale


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
