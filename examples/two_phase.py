"""Lamport's two-phase commit (TwoPhase.tla), ported action for action.

TLC with ``RM = {r1, r2, r3}`` finds 288 distinct states; 5 RMs: 8,832; 7 RMs: 296,448;
8 RMs: 1,745,408. The checker's tests reproduce these numbers, so this file is the checker's
trust anchor: keep it a literal port of the TLA+ text.

It is also the checker's benchmark model, so a state is packed into four small ints: hashing
and comparing ints is what the checker's visited set does millions of times, and tuples of
strings and frozensets of records would make the benchmark measure frozenset hashing instead
of the checker. A state is the tuple ``(rmState, tmState, tmPrepared, msgs)``, RM ``i`` (0 for
``r1``) owning bit ``i`` of the masks and bits ``2i, 2i+1`` of ``rmState``:

- ``rmState``: 2 bits per RM, ``working = 0``, ``prepared = 1``, ``committed = 2``,
  ``aborted = 3`` (TLA+'s ``[RM -> {"working", "prepared", "committed", "aborted"}]``);
  the high bit of a field says "decided", the low bit then says which way;
- ``tmState``: ``"init" = 0``, ``"done" = 1``;
- ``tmPrepared``: a bitmask, bit ``i`` set when RM ``i`` is in the set;
- ``msgs``: a bitmask of the messages sent: bit ``i`` is ``[type |-> "Prepared", rm |-> i]``,
  bit ``n`` (n RMs) is ``[type |-> "Commit"]``, bit ``n + 1`` is ``[type |-> "Abort"]``.

``variables(state)`` decodes a state to the TLA+ values (a function from RM names to strings,
sets of RM names and of the records below), so traces read as TLC's do.

Check it with ``kafka-eos check --model examples/two_phase.py:TwoPhase --param rms=5``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple


class Prepared(NamedTuple):
    """The message ``[type |-> "Prepared", rm |-> rm]``."""

    type: str
    rm: str


class Decision(NamedTuple):
    """The messages ``[type |-> "Commit"]`` and ``[type |-> "Abort"]``."""

    type: str


# (rmState, tmState, tmPrepared, msgs), packed as the module docstring explains.
State = tuple[int, int, int, int]

COMMIT = Decision("Commit")
ABORT = Decision("Abort")

# The values of one RM's 2-bit field in rmState, in TLA+'s order.
RM_STATE_NAMES = ("working", "prepared", "committed", "aborted")
WORKING, PREPARED, COMMITTED, ABORTED = range(4)
RM_FIELD = 0b11
TM_STATE_NAMES = ("init", "done")
TM_INIT, TM_DONE = range(2)


class TwoPhase:
    """``TwoPhase.tla`` with ``RM = {r1, ..., r<rms>}``."""

    def __init__(self, rms: int = 3) -> None:
        if not isinstance(rms, int) or isinstance(rms, bool) or rms < 1:
            raise ValueError(f"rms must be a positive integer, got {rms!r}")
        self.rms: tuple[str, ...] = tuple(f"r{i}" for i in range(1, rms + 1))
        # RM = {r1, ..., rn} as a bitmask over RMs; Messages as a bitmask over msgs.
        self.all_rms_mask = (1 << rms) - 1
        self.commit_msg_bit = 1 << rms
        self.abort_msg_bit = 1 << (rms + 1)
        self.all_messages_mask = (1 << (rms + 2)) - 1
        self.rm_state_limit = 1 << (2 * rms)
        every_field = self.rm_state_limit - 1
        # Bits 0, 2, 4, ...: the low bit of every RM's field, for TCConsistent's test.
        self._field_low_bits = sum(1 << (2 * i) for i in range(rms))
        # Everything actions() needs per RM is computed once: the checker calls actions()
        # millions of times, and labels, shifts and masks would otherwise be rebuilt each time.
        self._per_rm = tuple(
            (
                1 << i,  # the RM's bit in tmPrepared and its Prepared message's bit in msgs
                RM_FIELD << (2 * i),  # the RM's field in rmState
                every_field ^ (RM_FIELD << (2 * i)),  # every other RM's field
                PREPARED << (2 * i),
                COMMITTED << (2 * i),
                ABORTED << (2 * i),
                f"TMRcvPrepared({rm})",
                f"RMPrepare({rm})",
                f"RMChooseToAbort({rm})",
                f"RMRcvCommitMsg({rm})",
                f"RMRcvAbortMsg({rm})",
            )
            for i, rm in enumerate(self.rms)
        )

    # TPInit == /\ rmState = [rm \in RM |-> "working"] /\ tmState = "init"
    #          /\ tmPrepared = {} /\ msgs = {}
    def init_states(self) -> list[State]:
        return [(0, TM_INIT, 0, 0)]

    # TPNext == \/ TMCommit \/ TMAbort
    #           \/ \E rm \in RM : TMRcvPrepared(rm) \/ RMPrepare(rm) \/ RMChooseToAbort(rm)
    #                            \/ RMRcvCommitMsg(rm) \/ RMRcvAbortMsg(rm)
    def actions(self, state: State) -> list[tuple[str, State]]:
        rm_state, tm_state, tm_prepared, msgs = state
        steps: list[tuple[str, State]] = []
        tm_init = tm_state == TM_INIT
        if tm_init:
            # TMCommit == tmState = "init" /\ tmPrepared = RM /\ tmState' = "done"
            #             /\ msgs' = msgs \cup {[type |-> "Commit"]}
            if tm_prepared == self.all_rms_mask:
                steps.append(
                    ("TMCommit", (rm_state, TM_DONE, tm_prepared, msgs | self.commit_msg_bit))
                )
            # TMAbort == tmState = "init" /\ tmState' = "done"
            #            /\ msgs' = msgs \cup {[type |-> "Abort"]}
            steps.append(("TMAbort", (rm_state, TM_DONE, tm_prepared, msgs | self.abort_msg_bit)))
        committed = msgs & self.commit_msg_bit
        aborted = msgs & self.abort_msg_bit
        for (
            rm_bit, field, others, prepared, commit, abort,
            rcv_label, prepare_label, abort_label, rcv_commit_label, rcv_abort_label,
        ) in self._per_rm:
            # TMRcvPrepared(rm) == tmState = "init" /\ [type |-> "Prepared", rm |-> rm] \in msgs
            #                      /\ tmPrepared' = tmPrepared \cup {rm}
            if tm_init and msgs & rm_bit:
                steps.append((rcv_label, (rm_state, tm_state, tm_prepared | rm_bit, msgs)))
            if not rm_state & field:  # rmState[rm] = "working" (0)
                # RMPrepare(rm) == rmState[rm] = "working"
                #   /\ rmState' = [rmState EXCEPT ![rm] = "prepared"]
                #   /\ msgs' = msgs \cup {[type |-> "Prepared", rm |-> rm]}
                steps.append(
                    (prepare_label, (rm_state | prepared, tm_state, tm_prepared, msgs | rm_bit))
                )
                # RMChooseToAbort(rm) == rmState[rm] = "working"
                #   /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
                steps.append((abort_label, (rm_state | abort, tm_state, tm_prepared, msgs)))
            # RMRcvCommitMsg(rm) == [type |-> "Commit"] \in msgs
            #   /\ rmState' = [rmState EXCEPT ![rm] = "committed"]
            if committed:
                steps.append(
                    (rcv_commit_label, ((rm_state & others) | commit, tm_state, tm_prepared, msgs))
                )
            # RMRcvAbortMsg(rm) == [type |-> "Abort"] \in msgs
            #   /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
            if aborted:
                # "aborted" is 0b11: OR-ing it in overwrites whatever the field held.
                steps.append((rcv_abort_label, (rm_state | abort, tm_state, tm_prepared, msgs)))
        return steps

    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"TPTypeOK": self.type_ok, "TCConsistent": self.tc_consistent}

    # TPTypeOK == /\ rmState \in [RM -> {"working", "prepared", "committed", "aborted"}]
    #             /\ tmState \in {"init", "done"}
    #             /\ tmPrepared \subseteq RM
    #             /\ msgs \subseteq Messages
    def type_ok(self, state: State) -> bool:
        rm_state, tm_state, tm_prepared, msgs = state
        # Every 2-bit value is one of the four RM states, so rmState is typed when it has no
        # bits beyond the last RM's field; the masks likewise when they have no bits beyond
        # RM (tmPrepared) or Messages (msgs).
        return (
            0 <= rm_state < self.rm_state_limit
            and tm_state in (TM_INIT, TM_DONE)
            and 0 <= tm_prepared <= self.all_rms_mask
            and 0 <= msgs <= self.all_messages_mask
        )

    # TCConsistent == \A rm1, rm2 \in RM : ~ /\ rmState[rm1] = "aborted"
    #                                        /\ rmState[rm2] = "committed"
    def tc_consistent(self, state: State) -> bool:
        rm_state = state[0]
        # Line up each field's high bit ("decided") with its low bit ("aborted if decided").
        decided = (rm_state >> 1) & self._field_low_bits
        aborted = decided & rm_state
        committed = decided & ~rm_state
        return not (aborted and committed)

    def action_names(self) -> list[str]:
        return [
            "TMCommit", "TMAbort", "TMRcvPrepared", "RMPrepare", "RMChooseToAbort",
            "RMRcvCommitMsg", "RMRcvAbortMsg",
        ]

    def variables(self, state: State) -> dict[str, Any]:
        rm_state, tm_state, tm_prepared, msgs = state
        messages: set[Prepared | Decision] = {
            Prepared("Prepared", rm) for i, rm in enumerate(self.rms) if msgs >> i & 1
        }
        if msgs & self.commit_msg_bit:
            messages.add(COMMIT)
        if msgs & self.abort_msg_bit:
            messages.add(ABORT)
        return {
            "rmState": {
                rm: RM_STATE_NAMES[rm_state >> (2 * i) & RM_FIELD]
                for i, rm in enumerate(self.rms)
            },
            "tmState": TM_STATE_NAMES[tm_state],
            "tmPrepared": frozenset(rm for i, rm in enumerate(self.rms) if tm_prepared >> i & 1),
            "msgs": frozenset(messages),
        }


class TwoPhaseSymmetric(TwoPhase):
    """TwoPhase with the resource managers declared symmetric (TLC's ``SYMMETRY Permutations(RM)``).

    ``canonical`` renames the RMs so that their per-RM views, sorted, come in order: two states
    that differ only by a renaming of RMs get the same representative, and the checker stores
    one state per orbit. Verdicts are the same as TwoPhase's; state counts are smaller.
    """

    def canonical(self, state: State) -> State:
        rm_state, tm_state, tm_prepared, msgs = state
        # One RM's view is (rmState[rm], rm \in tmPrepared, Prepared(rm) \in msgs), packed as
        # the 4-bit int value << 2 | prepared << 1 | sent: ints sort as the tuples would.
        views = sorted(
            (rm_state >> (2 * i) & RM_FIELD) << 2 | (tm_prepared >> i & 1) << 1 | (msgs >> i & 1)
            for i in range(len(self.rms))
        )
        # The i-th smallest view becomes RM i's.
        canonical_rm_state = canonical_prepared = canonical_sent = 0
        for i, view in enumerate(views):
            canonical_rm_state |= (view >> 2) << (2 * i)
            canonical_prepared |= (view >> 1 & 1) << i
            canonical_sent |= (view & 1) << i
        decisions = msgs & (self.commit_msg_bit | self.abort_msg_bit)
        return (canonical_rm_state, tm_state, canonical_prepared, decisions | canonical_sent)
