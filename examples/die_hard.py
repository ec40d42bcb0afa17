"""DieHard.tla: measure 4 gallons with a 3-gallon and a 5-gallon jug.

The state is the pair ``(big, small)``. ``NotSolved == big /= 4`` is written as an invariant
so that its violation IS the solution: TLC reports it after 6 steps, the shortest way to get
4 gallons. With ``goal=None`` the invariant is left out and the checker explores all 16
reachable states, as TLC does with only TypeOK.

    kafka-eos check --model examples/die_hard.py:DieHard --trace-out die_hard.itf.json
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple


class Jugs(NamedTuple):
    big: int
    small: int


class DieHard:
    """``DieHard.tla`` (jug capacities 5 and 3)."""

    def __init__(self, goal: int | None = 4) -> None:
        self.goal = goal

    # Init == big = 0 /\ small = 0
    def init_states(self) -> list[Jugs]:
        return [Jugs(big=0, small=0)]

    # Next == FillSmallJug \/ FillBigJug \/ EmptySmallJug \/ EmptyBigJug
    #         \/ SmallToBig \/ BigToSmall
    def actions(self, state: Jugs) -> Iterator[tuple[str, Jugs]]:
        big, small = state
        yield "FillSmallJug", Jugs(big, 3)
        yield "FillBigJug", Jugs(5, small)
        yield "EmptySmallJug", Jugs(big, 0)
        yield "EmptyBigJug", Jugs(0, small)
        # SmallToBig == IF big + small =< 5 THEN big' = big + small /\ small' = 0
        #               ELSE big' = 5 /\ small' = small - (5 - big)
        if big + small <= 5:
            yield "SmallToBig", Jugs(big + small, 0)
        else:
            yield "SmallToBig", Jugs(5, small - (5 - big))
        # BigToSmall == IF big + small =< 3 THEN big' = 0 /\ small' = big + small
        #               ELSE big' = small - (3 - big) /\ small' = 3
        if big + small <= 3:
            yield "BigToSmall", Jugs(0, big + small)
        else:
            yield "BigToSmall", Jugs(small - (3 - big), 3)

    def invariants(self) -> Mapping[str, Callable[[Jugs], bool]]:
        checks: dict[str, Callable[[Jugs], bool]] = {"TypeOK": type_ok}
        if self.goal is not None:
            goal = self.goal
            checks["NotSolved"] = lambda state: state.big != goal
        return checks

    def action_names(self) -> list[str]:
        return [
            "FillSmallJug",
            "FillBigJug",
            "EmptySmallJug",
            "EmptyBigJug",
            "SmallToBig",
            "BigToSmall",
        ]


# TypeOK == small \in 0..3 /\ big \in 0..5
def type_ok(state: Jugs) -> bool:
    return 0 <= state.small <= 3 and 0 <= state.big <= 5
