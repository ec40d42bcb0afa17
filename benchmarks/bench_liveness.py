"""Strongly connected components on the checker's graph: our Tarjan on CSR arrays vs networkx.

    .venv/bin/python benchmarks/bench_liveness.py                # the default Kafka check
    .venv/bin/python benchmarks/bench_liveness.py --config ctp

Records the configuration's state graph the way the checker does (checker/graph.py), then
takes its strongly connected components with checker/scc.py's Tarjan on the CSR arrays (the
Python class; where a compiled build runs, also its C version, ``_scc.c``) and with networkx
(building its DiGraph from the same edges, then ``strongly_connected_components``), and
reports CPU time and the memory each graph takes. Last, the whole liveness check of the
configuration's temporal properties on the graph.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from array import array
from typing import Any

from kafka_eos.checker import scc
from kafka_eos.checker.collector import Collector
from kafka_eos.checker.graph import StateGraph
from kafka_eos.checker.interface import bind
from kafka_eos.checker.liveness import LivenessChecker, declared
from kafka_eos.model.configs import load_check_config


def record(model: Any) -> StateGraph:
    graph = StateGraph()
    initial = list(model.init_states())
    graph.add_initial(initial)
    successors = graph.recording(model.actions)
    # breadth-first: new states are numbered, and expanded, in order; the recorder gives
    # KNOWN in place of a successor numbered before
    queue = graph.states()
    for state in queue:
        successors(state)
    return graph


def cpu(work: Any) -> tuple[Any, float]:
    started = time.process_time()
    value = work()
    return value, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    args = parser.parse_args()
    model = load_check_config(args.config).model
    graph, seconds = cpu(lambda: record(model))
    n, m = graph.expanded, len(graph.targets)
    print(f"{args.config}: {n:,} states, {m:,} edges recorded in {seconds:.2f} s CPU; "
          f"CSR arrays {graph.nbytes() / 2**20:.1f} MiB")

    member = array("i", [1]) * n
    versions = [("Tarjan in Python", scc.PYTHON_COMPONENTS)]
    if scc.COMPILED:
        versions.append(("Tarjan in C (_scc.c)", scc.Components))
    found = []
    for name, components in versions:
        search = components(n, graph.offsets, graph.targets)
        with Collector().off():  # as in the checker, whose search turns the collector off
            ours, seconds = cpu(lambda search=search: search.of(range(n), member, 1))
        print(f"  {name + ':':<25} {len(ours):,} components in {seconds:.2f} s CPU")
        found.append(ours)
    assert all(other == found[0] for other in found), "the versions' components differ"

    import networkx as nx

    tracemalloc.start()
    nx_graph, build = cpu(lambda: _networkx(graph))
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    theirs, seconds = cpu(lambda: list(nx.strongly_connected_components(nx_graph)))
    print(f"  networkx DiGraph:       built in {build:.2f} s CPU, {size / 2**20:.0f} MiB; "
          f"{len(theirs):,} components in {seconds:.2f} s CPU")
    assert sorted(map(sorted, ours)) == sorted(map(sorted, theirs))

    temporal = declared(bind(model))
    if temporal is not None:
        with Collector().off():
            outcome, seconds = cpu(lambda: LivenessChecker(graph, temporal).check(graph.states()))
        verdict = "holds" if outcome.lasso is None else f"violated: {outcome.lasso.property_name}"
        print(f"  liveness, {len(temporal.properties)} properties: {verdict}, {seconds:.2f} s CPU")


def _networkx(graph: StateGraph) -> Any:
    import networkx as nx

    nx_graph = nx.DiGraph()
    nx_graph.add_nodes_from(range(graph.expanded))
    offsets, targets = graph.offsets, graph.targets
    nx_graph.add_edges_from(
        (v, targets[e]) for v in range(graph.expanded) for e in range(offsets[v], offsets[v + 1])
    )
    return nx_graph


if __name__ == "__main__":
    main()
