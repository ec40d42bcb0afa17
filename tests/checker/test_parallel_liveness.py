"""Temporal properties with --workers N: the one-process graph, verdicts and lassos.

Each worker records the graph of the states it expands and the main process joins the shares
(checker/graph_shares.py); what it joins must be the graph one process records, edge for edge,
so the fair-cycle search finds the same verdicts and the same lassos.
"""

from __future__ import annotations

from typing import Any

import pytest
from checker_examples import example
from hypothesis import given, settings
from named_checks import assert_gives_row
from test_liveness_oracle import RandomGraph, random_graphs
from tlc import cases

from kafka_eos.checker import check
from kafka_eos.checker.bfs import _Search
from kafka_eos.checker.interface import bind
from kafka_eos.checker.parallel import ParallelSearch
from kafka_eos.checker.temporal import leads_to
from kafka_eos.errors import InputError
from kafka_eos.model.configs import load_check_config
from kafka_eos.model.verdicts import load_verdicts

CASES = cases()


def _searched(model: Any, workers: int) -> Any:
    options: dict[str, Any] = {"max_states": None, "max_depth": None, "time_budget": None,
                               "deadlock": None, "progress": None}
    if workers == 1:
        search: Any = _Search(bind(model), store="states", **options)
    else:
        search = ParallelSearch(bind(model), workers=workers, **options)
    search.run()
    return search


def _edges(graph: Any) -> tuple[Any, ...]:
    labels = graph.label_list()
    return (graph.initial, list(graph.offsets), list(graph.targets),
            [labels[i] for i in graph.labels], labels)


@pytest.mark.parametrize("workers", [2, 3])
def test_the_joined_graph_is_the_one_process_graph(workers: int) -> None:
    model = load_check_config("tv2-strict-marker-timeout").model
    alone, spread = _searched(model, 1), _searched(model, workers)
    assert _edges(spread.numbered) == _edges(alone.graph)
    states = load_verdicts()["tv2-strict-marker-timeout"].distinct_states
    assert spread.numbered.expanded == len(alone.graph.states()) == states


@pytest.mark.parametrize("case", sorted(CASES))
def test_tlc_peers_give_the_same_verdict_and_lasso_with_workers(case: str) -> None:
    entry = CASES[case]
    model = example(entry["python"]["model"], **entry["python"]["params"])
    alone, spread = check(model), check(model, workers=2)
    assert (spread.verdict, spread.violated, spread.distinct_states) == (
        entry["tlc"]["verdict"], alone.violated, entry["tlc"]["distinct_states"])
    assert spread.trace == alone.trace


@pytest.mark.parametrize("name", ["tv1-hanging-transaction", "tv2-strict-marker-retry",
                                  "tv2-strict-marker-timeout", "tv2-producer-id-rotation"])
def test_kafka_rows_with_temporal_properties_give_their_row_with_workers(name: str) -> None:
    config = load_check_config(name)
    alone = check(config.model, **config.bounds)
    spread = check(config.model, workers=2, **config.bounds)
    assert_gives_row(name, spread)
    assert spread.trace == alone.trace
    assert spread.temporal_properties == alone.temporal_properties != ()
    assert spread.graph_bytes > 0


@settings(max_examples=20)
@given(random_graphs())
def test_random_graphs_give_the_one_process_verdict_and_lasso(model: RandomGraph) -> None:
    alone, spread = check(model), check(model, workers=2)
    assert (spread.verdict, spread.trace) == (alone.verdict, alone.trace)


class RaisingGoal(RandomGraph):
    def temporal_properties(self) -> Any:
        return {"Reaches": leads_to(lambda s: True, lambda s: 1 / (s - 2) > 0)}


def test_a_temporal_predicate_raising_in_a_worker_is_one_line() -> None:
    model = RaisingGoal(3, {(0, "A(0)", 1), (1, "A(0)", 2)}, leads_to(bool, bool), [])
    with pytest.raises(InputError, match="temporal property 'Reaches' raised ZeroDivisionError"):
        check(model, workers=2)
