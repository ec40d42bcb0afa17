"""Workers that keep their states (checker/kept_owner.py): what they send each other, and the
path they rebuild by re-executing the model along the discovery keys' slots."""

from __future__ import annotations

import os
from typing import Any

import pytest
from toy_models import Counter

from kafka_eos.checker import check
from kafka_eos.checker.kept_owner import PartsInbox, PartsOutbox
from kafka_eos.checker.transfer import REFUSED, UNCHECKED, VOUCHED, SentParts, decoded
from kafka_eos.errors import InputError


def test_an_outbox_reads_back_as_its_states_each_shared_part_sent_once() -> None:
    shared = ((1, "a"), (2, "b"))
    states: list[Any] = [
        (shared, (0,), frozenset({0, 7})),  # a frozenset part: pickled, not marshalled
        (shared, (1,), frozenset({1, 7})),
        (shared, tuple([1]), frozenset({1, 7})),  # equal parts, other objects: sent again
        5,  # not made of parts: one part, itself
        (1, 2),  # a flat tuple: one part too
    ]
    verdicts = [VOUCHED, REFUSED, UNCHECKED, VOUCHED, REFUSED]
    box = PartsOutbox(SentParts())
    for key, (state, verdict) in enumerate(zip(states, verdicts, strict=True), start=100):
        box.add(key, state, verdict)
    # shared once; (0,), (1,) twice and the three frozensets; 5; (1, 2)
    assert len(box.chunks) == 1 + 3 + 3 + 1 + 1
    inbox = PartsInbox(box.packed(), [])
    assert list(inbox.keys) == [100, 101, 102, 103, 104]
    assert list(inbox.verdicts) == verdicts
    read = [inbox.state(index) for index in range(len(states))]
    assert read == states
    assert read[0][0] is read[1][0] is read[2][0]  # decoded once, shared as sent


def test_an_adopted_state_s_parts_stand_for_its_decoded_ones_in_later_states() -> None:
    shared, own = (1, (2, 3)), (4,)
    box = PartsOutbox(SentParts())
    box.add(1, (shared, own), VOUCHED)
    box.add(2, (shared, (5,)), VOUCHED)
    box.add(3, own, VOUCHED)  # one part, itself: the same object as the first state's
    inbox = PartsInbox(box.packed(), [])
    first = inbox.state(0)
    assert first == (shared, own) and first[0] is not shared  # decoded: new objects
    inbox.adopt(0, (shared, own))  # as intern() would give them: the model's objects
    second = inbox.state(1)
    assert second == (shared, (5,)) and second[0] is shared
    assert inbox.state(2) is own
    other = tuple([4])  # equal to ``own``, another object
    inbox.adopt(2, other)  # a state that is one part stands for that part
    assert inbox.state(0)[1] is other


def test_an_empty_outbox_packs_to_nothing() -> None:
    assert PartsOutbox(SentParts()).packed() == b""
    assert list(PartsInbox(b"", []).keys) == []
    assert PartsInbox(b"", []).verdicts == b""


def test_a_part_crosses_once_a_search_and_the_receiver_keeps_it_by_its_number() -> None:
    sent, read = SentParts(), list[Any]()
    shared, unread, other = (1, (2, 3)), (4,), (6,)
    first = PartsOutbox(sent)
    first.add(1, (shared, unread), VOUCHED)
    inbox = PartsInbox(first.packed(), read)
    inbox.close()  # no state built: the parts' bytes are kept, not decoded
    second = PartsOutbox(sent)  # the next depth's, to the same worker
    second.add(2, (shared, other), VOUCHED)
    second.add(3, (other, unread), VOUCHED)
    assert [decoded(chunk) for chunk in second.chunks] == [other]  # only the one not sent
    later = PartsInbox(second.packed(), read)
    assert later.state(0) == (shared, other) and later.state(1) == (other, unread)
    assert later.state(0)[1] is later.state(1)[0]  # one object per number
    later.adopt(0, (shared, other))  # the model's objects stand for the decoded ones
    third = PartsOutbox(sent)
    third.add(4, (shared, unread), VOUCHED)
    assert not third.chunks
    assert PartsInbox(third.packed(), read).state(0)[0] is shared


def test_a_full_book_starts_afresh_on_both_sides() -> None:
    sent, read = SentParts(limit=2), list[Any]()
    box = PartsOutbox(sent)
    box.add(1, ((1,), (2,)), VOUCHED)
    PartsInbox(box.packed(), read).close()
    assert len(read) == 2
    again = PartsOutbox(sent)  # the book is full: numbers start at 0 again
    again.add(2, ((1,), (3,)), VOUCHED)
    assert len(again.chunks) == 2
    inbox = PartsInbox(again.packed(), read)
    assert len(read) == 2 and inbox.state(0) == ((1,), (3,))


def test_an_outbox_out_of_step_with_its_receiver_is_refused() -> None:
    sent = SentParts()
    box = PartsOutbox(sent)
    box.add(1, ((1,), (2,)), VOUCHED)
    box.packed()  # never read
    later = PartsOutbox(sent)
    later.add(2, ((5,), (2,)), VOUCHED)
    with pytest.raises(AssertionError, match="start at 2, the receiver holds 0"):
        PartsInbox(later.packed(), [])


class MainProcessReverses(Counter):
    """A counter whose actions() gives its steps in another order in the process that built
    it than in the workers forked from it: the path the workers found cannot be re-executed."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.main_process = os.getpid()

    def actions(self, state: int) -> list[tuple[str, int]]:
        steps = list(super().actions(state))
        return steps[::-1] if os.getpid() == self.main_process else steps


def test_a_model_whose_steps_change_order_is_a_one_line_error_naming_it() -> None:
    spread = check(MainProcessReverses(top=9, forbid=8), workers=2, store="fingerprints")
    assert spread.verdict == "violated" and len(spread.trace.labels) == 8
    with pytest.raises(InputError, match=r"^MainProcessReverses could not be re-executed along "
                                         r"the stored path: .*same order"):
        check(MainProcessReverses(top=9, forbid=8), workers=2, store="states")
