"""Ranks of discovery keys: where each of one worker's states stands among a depth's states.

Workers (parallel.py, kept_owner.py) number a successor by its parent's rank: the parent's
position among every worker's states of its depth, sorted by discovery key (discovery.py).
Each worker holds its own keys sorted and receives every other's, so a rank is the key's
index among its own plus, for each other worker, how many of that worker's keys are smaller
(keys are distinct across workers: a state has one owner).

The compiled build ranks in C (``_ranks.c``: one merge walk over the packed keys, the same
ranks): compiled from this Python, a bisection per key read about fourteen array items, each
a new int object, and took 2.6% of a worker's CPU on the default check.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left


def ranks(sorted_keys: list[bytes], me: int) -> list[int]:
    """The rank of each of worker ``me``'s keys, ``sorted_keys[me]``, among every worker's
    ``sorted_keys`` (array("Q") bytes, one per worker, each sorted)."""
    others = [array("Q", blob) for owner, blob in enumerate(sorted_keys) if owner != me]
    return [index + sum(bisect_left(theirs, key) for theirs in others)
            for index, key in enumerate(array("Q", sorted_keys[me]))]


#: The Python version, whichever runs (the tests hold the C one to it).
PYTHON_RANKS = ranks

#: Whether the C version runs (the compiled build holds ``_ranks``).
COMPILED = False

try:  # the compiled build's version in C: the same ranks
    from ._ranks import ranks  # type: ignore[import-not-found,no-redef,unused-ignore]

    COMPILED = True
except ImportError:  # no compiled build matches the sources: the function above runs
    pass
