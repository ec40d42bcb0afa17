"""--ray: the partitioned search on Ray actors and the simulation swarm on Ray tasks, against a
local Ray cluster started once for the module (Ray's start-up takes seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import ray
from named_checks import TWO_PHASE, assert_gives_row
from test_parallel import figures
from toy_models import faulty_two_phase

from kafka_eos.checker import check, simulate
from kafka_eos.checker.ray_swarm import swarm
from kafka_eos.cli.main import main
from kafka_eos.model.configs import load_check_config


@pytest.fixture(scope="module", autouse=True)
def local_cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.parametrize("store", ["states", "fingerprints"])
def test_the_search_on_ray_gives_the_one_process_figures(store: str) -> None:
    model = faulty_two_phase(4)  # violated: the same shortest trace
    on_ray = check(model, ray="local", workers=2, store=store)
    assert figures(on_ray) == figures(check(model))
    assert (on_ray.workers, len(on_ray.worker_cpu_seconds), on_ray.store) == (2, 2, store)


def test_a_named_kafka_check_on_ray_gives_its_row_and_coverage() -> None:
    config = load_check_config("idempotent")
    on_ray = check(config.model, ray="local", workers=2, **config.bounds)
    assert_gives_row("idempotent", on_ray)
    assert figures(on_ray) == figures(check(config.model, **config.bounds))


def test_a_kafka_counterexample_on_ray_owning_by_parts_is_the_one_process_one() -> None:
    # the actors own Kafka states by a few of their parts and keep them: a trace is rebuilt
    # from every actor's keys of each depth
    config = load_check_config("ctp-no-producer-epoch-check")
    on_ray = check(config.model, ray="local", workers=2, **config.bounds)
    assert on_ray.ownership.startswith("by parts ")
    assert_gives_row("ctp-no-producer-epoch-check", on_ray)
    assert on_ray.trace == check(config.model, **config.bounds).trace


def test_temporal_properties_on_ray_give_the_one_process_lasso() -> None:
    # tv2-strict-marker-retry: KAFKA-19999's lasso, from the graph the actors recorded
    config = load_check_config("tv2-strict-marker-retry")
    on_ray = check(config.model, ray="local", workers=2, **config.bounds)
    assert_gives_row("tv2-strict-marker-retry", on_ray)
    assert on_ray.violation_kind == "temporal"
    assert on_ray.trace == check(config.model, **config.bounds).trace


def test_the_swarm_on_ray_is_the_swarm_run_here() -> None:
    model = faulty_two_phase(4)
    options: dict[str, Any] = {"members": 3, "seed": 7, "walks": 20, "max_depth": 30}
    here, there = swarm(model, **options), swarm(model, ray="local", **options)
    assert (there.verdict, there.violated, there.trace, there.walks, there.transitions,
            there.distinct_states, there.coverage) == (
        here.verdict, here.violated, here.trace, here.walks, here.transitions,
        here.distinct_states, here.coverage)
    # member 0 is the plain simulation with the swarm's seed
    alone = swarm(model, members=1, seed=7, walks=20, max_depth=30)
    plain = simulate(model, seed=7, walks=20, max_depth=30)
    assert (alone.verdict, alone.trace, alone.transitions) == (
        plain.verdict, plain.trace, plain.transitions)


def test_the_cli_options(capsys: Any) -> None:
    assert main(["check", "--model", TWO_PHASE, "--param", "rms=4", "--ray", "local",
                 "--workers", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["distinct_states"], shown["workers"]) == (1568, 2)
    assert main(["simulate", "--model", TWO_PHASE, "--param", "rms=4", "--ray", "local",
                 "--workers", "2", "--walks", "10", "--json"]) == 3
    assert json.loads(capsys.readouterr().out)["walks"] == 10
    assert main(["simulate", "--workers", "2", "--walks", "1"]) == 2
    assert "kafka-eos: error: --workers applies to simulate --ray only" in (
        capsys.readouterr().err)


def test_a_kafka_model_travels_to_an_actor_as_its_parameters() -> None:
    import pickle

    model = load_check_config("default").model  # the liveness model: temporal properties too
    copy = pickle.loads(pickle.dumps(model))
    assert (type(copy), copy.params, copy.checked, copy.temporal) == (
        type(model), model.params, model.checked, model.temporal)
    assert copy.init_states() == model.init_states()


def test_an_address_nothing_listens_on_is_a_one_line_error(capsys: Any) -> None:
    import socket

    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert main(["check", "--config", "idempotent", "--ray", f"127.0.0.1:{port}"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"kafka-eos: error: --ray 127.0.0.1:{port}: cannot connect")
    assert len(error.strip().splitlines()) == 1
