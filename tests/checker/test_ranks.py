"""The workers' ranks of discovery keys (checker/ranks.py): each of one worker's keys' position
among every worker's, in Python and in the compiled build's C (``_ranks``), against sorting
all the keys together."""

from __future__ import annotations

import random
from array import array
from types import ModuleType
from typing import Any

import pytest
from c_modules import built_alone
from hypothesis import given
from hypothesis import strategies as st

from kafka_eos.checker import ranks as python_ranks

C_MODULE = "kafka_eos.checker._ranks"


@pytest.fixture(scope="module")
def c_ranks(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return built_alone(C_MODULE, tmp_path_factory)


@pytest.fixture(scope="module", params=["python", "c"])
def ranks(request: pytest.FixtureRequest) -> Any:
    """Each implementation of ranks (ranks.py's function, which the C module replaces)."""
    if request.param == "python":
        return python_ranks.PYTHON_RANKS
    return request.getfixturevalue("c_ranks").ranks


def _packed(keys: list[int]) -> bytes:
    return array("Q", sorted(keys)).tobytes()


@given(keys=st.sets(st.integers(0, 2**64 - 1), max_size=60), workers=st.integers(1, 4),
       seed=st.integers(0, 1000))
def test_a_rank_is_the_position_among_every_workers_keys(ranks: Any, keys: set[int],
                                                         workers: int, seed: int) -> None:
    rng = random.Random(seed)
    shares: list[list[int]] = [[] for _ in range(workers)]
    for key in keys:  # a key is one worker's: each state has one owner
        shares[rng.randrange(workers)].append(key)
    sorted_keys = [_packed(share) for share in shares]
    everyone = sorted(keys)
    for me, share in enumerate(shares):
        assert ranks(sorted_keys, me) == [everyone.index(key) for key in sorted(share)]


def test_the_c_ranks_are_the_python_ones_on_a_large_depth(c_ranks: ModuleType) -> None:
    rng = random.Random(7)
    keys = rng.sample(range(2**40), 200_000)
    sorted_keys = [_packed(keys[:120_000]), _packed(keys[120_000:])]
    for me in (0, 1):
        assert c_ranks.ranks(sorted_keys, me) == python_ranks.PYTHON_RANKS(sorted_keys, me)


def test_the_c_ranks_refuse_what_is_no_depth_of_keys(c_ranks: ModuleType) -> None:
    keys = [_packed([1, 5]), _packed([3])]
    with pytest.raises(ValueError, match="worker 2 of 2"):
        c_ranks.ranks(keys, 2)
    with pytest.raises(ValueError, match="worker 1's keys are 7 bytes"):
        c_ranks.ranks([keys[0], b"\0" * 7], 0)
    with pytest.raises(TypeError, match="list of bytes"):
        c_ranks.ranks(tuple(keys), 0)
    with pytest.raises(TypeError):
        c_ranks.ranks([keys[0], "not bytes"], 0)
