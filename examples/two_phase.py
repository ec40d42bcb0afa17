"""Lamport's two-phase commit (TwoPhase.tla), ported action for action.

TLC with ``RM = {r1, r2, r3}`` finds 288 distinct states; 5 RMs: 8,832; 7 RMs: 296,448;
8 RMs: 1,745,408. The checker's tests reproduce these numbers, so this file is the checker's
trust anchor: keep it a literal port of the TLA+ text.

A state is the tuple ``(rmState, tmState, tmPrepared, msgs)``:

- ``rmState``: a tuple with one entry per resource manager, in the order of ``self.rms``
  (TLA+'s function ``[RM -> {"working", "prepared", "committed", "aborted"}]``);
- ``tmState``: ``"init"`` or ``"done"``;
- ``tmPrepared``: a frozenset of RM names;
- ``msgs``: a frozenset of messages, TLA+ records ``[type |-> "Prepared", rm |-> r]``,
  ``[type |-> "Commit"]`` and ``[type |-> "Abort"]``, as the NamedTuples below.

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


State = tuple[tuple[str, ...], str, frozenset[str], frozenset[Prepared | Decision]]

COMMIT = Decision("Commit")
ABORT = Decision("Abort")
_COMMIT_SET = frozenset({COMMIT})
_ABORT_SET = frozenset({ABORT})
_RM_STATES = frozenset({"working", "prepared", "committed", "aborted"})


class TwoPhase:
    """``TwoPhase.tla`` with ``RM = {r1, ..., r<rms>}``."""

    def __init__(self, rms: int = 3) -> None:
        if not isinstance(rms, int) or isinstance(rms, bool) or rms < 1:
            raise ValueError(f"rms must be a positive integer, got {rms!r}")
        self.rms: tuple[str, ...] = tuple(f"r{i}" for i in range(1, rms + 1))
        self._all_rms = frozenset(self.rms)
        self._prepared_msg = tuple(Prepared("Prepared", rm) for rm in self.rms)
        # Messages == [type : {"Prepared"}, rm : RM] \cup [type : {"Commit", "Abort"}]
        self._messages = frozenset(self._prepared_msg) | {COMMIT, ABORT}
        # Everything actions() needs per RM is built once: the checker calls actions()
        # millions of times, and label strings and singleton sets would be rebuilt each time.
        self._per_rm = tuple(
            (
                i,
                frozenset({rm}),
                self._prepared_msg[i],
                frozenset({self._prepared_msg[i]}),
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
        return [(("working",) * len(self.rms), "init", frozenset(), frozenset())]

    # TPNext == \/ TMCommit \/ TMAbort
    #           \/ \E rm \in RM : TMRcvPrepared(rm) \/ RMPrepare(rm) \/ RMChooseToAbort(rm)
    #                            \/ RMRcvCommitMsg(rm) \/ RMRcvAbortMsg(rm)
    def actions(self, state: State) -> list[tuple[str, State]]:
        rm_state, tm_state, tm_prepared, msgs = state
        steps: list[tuple[str, State]] = []
        tm_init = tm_state == "init"
        if tm_init:
            # TMCommit == tmState = "init" /\ tmPrepared = RM /\ tmState' = "done"
            #             /\ msgs' = msgs \cup {[type |-> "Commit"]}
            if tm_prepared == self._all_rms:
                steps.append(("TMCommit", (rm_state, "done", tm_prepared, msgs | _COMMIT_SET)))
            # TMAbort == tmState = "init" /\ tmState' = "done"
            #            /\ msgs' = msgs \cup {[type |-> "Abort"]}
            steps.append(("TMAbort", (rm_state, "done", tm_prepared, msgs | _ABORT_SET)))
        committed = COMMIT in msgs
        aborted = ABORT in msgs
        for i, rm_set, prepared, prepared_set, rcv, prepare, abort, rcv_commit, rcv_abort in (
            self._per_rm
        ):
            # TMRcvPrepared(rm) == tmState = "init" /\ [type |-> "Prepared", rm |-> rm] \in msgs
            #                      /\ tmPrepared' = tmPrepared \cup {rm}
            if tm_init and prepared in msgs:
                steps.append((rcv, (rm_state, tm_state, tm_prepared | rm_set, msgs)))
            if rm_state[i] == "working":
                # RMPrepare(rm) == rmState[rm] = "working"
                #   /\ rmState' = [rmState EXCEPT ![rm] = "prepared"]
                #   /\ msgs' = msgs \cup {[type |-> "Prepared", rm |-> rm]}
                steps.append((prepare, (
                    _except(rm_state, i, "prepared"),
                    tm_state, tm_prepared, msgs | prepared_set,
                )))
                # RMChooseToAbort(rm) == rmState[rm] = "working"
                #   /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
                steps.append((abort, (
                    _except(rm_state, i, "aborted"), tm_state, tm_prepared, msgs,
                )))
            # RMRcvCommitMsg(rm) == [type |-> "Commit"] \in msgs
            #   /\ rmState' = [rmState EXCEPT ![rm] = "committed"]
            if committed:
                steps.append((rcv_commit, (
                    _except(rm_state, i, "committed"), tm_state, tm_prepared, msgs,
                )))
            # RMRcvAbortMsg(rm) == [type |-> "Abort"] \in msgs
            #   /\ rmState' = [rmState EXCEPT ![rm] = "aborted"]
            if aborted:
                steps.append((rcv_abort, (
                    _except(rm_state, i, "aborted"), tm_state, tm_prepared, msgs,
                )))
        return steps

    def invariants(self) -> Mapping[str, Callable[[State], bool]]:
        return {"TPTypeOK": self.type_ok, "TCConsistent": tc_consistent}

    # TPTypeOK == /\ rmState \in [RM -> {"working", "prepared", "committed", "aborted"}]
    #             /\ tmState \in {"init", "done"}
    #             /\ tmPrepared \subseteq RM
    #             /\ msgs \subseteq Messages
    def type_ok(self, state: State) -> bool:
        rm_state, tm_state, tm_prepared, msgs = state
        return (
            len(rm_state) == len(self.rms)
            and _RM_STATES.issuperset(rm_state)
            and tm_state in ("init", "done")
            and tm_prepared <= self._all_rms
            and msgs <= self._messages
        )

    def action_names(self) -> list[str]:
        return [
            "TMCommit", "TMAbort", "TMRcvPrepared", "RMPrepare", "RMChooseToAbort",
            "RMRcvCommitMsg", "RMRcvAbortMsg",
        ]

    def variables(self, state: State) -> dict[str, Any]:
        rm_state, tm_state, tm_prepared, msgs = state
        return {
            "rmState": dict(zip(self.rms, rm_state, strict=True)),
            "tmState": tm_state,
            "tmPrepared": tm_prepared,
            "msgs": msgs,
        }


def _except(values: tuple[str, ...], index: int, value: str) -> tuple[str, ...]:
    """``[values EXCEPT ![index] = value]``; concatenation is the fastest way to build it."""
    return values[:index] + (value,) + values[index + 1 :]  # noqa: RUF005


# TCConsistent == \A rm1, rm2 \in RM : ~ /\ rmState[rm1] = "aborted"
#                                        /\ rmState[rm2] = "committed"
def tc_consistent(state: State) -> bool:
    rm_state = state[0]
    return not ("aborted" in rm_state and "committed" in rm_state)


class TwoPhaseSymmetric(TwoPhase):
    """TwoPhase with the resource managers declared symmetric (TLC's ``SYMMETRY Permutations(RM)``).

    ``canonical`` renames the RMs so that their per-RM views, sorted, come in order: two states
    that differ only by a renaming of RMs get the same representative, and the checker stores
    one state per orbit. Verdicts are the same as TwoPhase's; state counts are smaller.
    """

    def canonical(self, state: State) -> State:
        rm_state, tm_state, tm_prepared, msgs = state
        views = sorted(
            (rm_state[i], rm in tm_prepared, self._prepared_msg[i] in msgs)
            for i, rm in enumerate(self.rms)
        )
        decisions = frozenset(m for m in msgs if m.type != "Prepared")
        return (
            tuple(view[0] for view in views),
            tm_state,
            frozenset(rm for rm, view in zip(self.rms, views, strict=True) if view[1]),
            decisions
            | {msg for msg, view in zip(self._prepared_msg, views, strict=True) if view[2]},
        )
