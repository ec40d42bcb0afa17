"""The compiled hot path (kafka_eos/compiled/): a build in a cache outside the source tree,
loaded only while the sources hash to its key, giving the same counts, verdicts and
counterexamples as the pure-Python sources.

The suite compiles the checker's search once per session (about 15 s of CPU, most of it gcc)
into a temporary cache; the whole model compiled runs under ``-m slow``. Each check runs in a
subprocess, since a process loads one build or none when it first imports the layers.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kafka_eos.checker import check
from kafka_eos.compiled import build, sources
from kafka_eos.model.kafka import KafkaEosModel

ROOT = Path(__file__).resolve().parents[2]
MISSING = build._missing_tools()
needs_compiler = pytest.mark.skipif(MISSING is not None, reason=f"cannot compile: {MISSING}")

#: The search, the checker's state store, the graph recorded by number and the tuple
#: primitives in C (so the model's parts are hashed): compiled in a small build for the suite.
SEARCH = ("kafka_eos.checker.bfs", "kafka_eos.checker.store", "kafka_eos.checker.graph_shares",
          "kafka_eos.checker._tuples")


def _environment(cache: Path, *, interpreted: bool = False) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k != sources.INTERPRETED_VARIABLE}
    environment[sources.CACHE_VARIABLE] = str(cache)
    if interpreted:
        environment[sources.INTERPRETED_VARIABLE] = "1"
    return environment


def _cli(cache: Path, *argv: str, interpreted: bool = False,
         python_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = _environment(cache, interpreted=interpreted)
    if python_path is not None:
        environment["PYTHONPATH"] = str(python_path)
    return subprocess.run(
        [sys.executable, "-m", "kafka_eos", *argv], env=environment,
        capture_output=True, text=True, timeout=900, check=False,
    )


def _check_json(cache: Path, config: str, *, interpreted: bool = False) -> dict[str, Any]:
    done = _cli(cache, "check", "--config", config, "--json", "--quiet",
                interpreted=interpreted)
    assert done.returncode in (0, 1), done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _figures(document: dict[str, Any]) -> tuple[Any, ...]:
    return (document["verdict"], document["violated"], document["trace_length"],
            document["distinct_states"], document["transitions"], document["coverage"])


def _trace(document: dict[str, Any]) -> tuple[Any, ...]:
    return document["trace_labels"], document["trace_loop"]


@pytest.fixture(scope="session")
def search_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache holding a build of the checker's search for the current sources."""
    cache = tmp_path_factory.mktemp("compiled-cache")
    done = subprocess.run(
        [sys.executable, "-c", f"from kafka_eos.compiled.build import build; "
                               f"build(modules={SEARCH!r})"],
        env=_environment(cache), capture_output=True, text=True, timeout=1200, check=False,
    )
    assert done.returncode == 0, done.stderr
    return cache


def test_the_hot_modules_are_compiled() -> None:
    """The modules the default check spends its time in are in the full build's list (a
    rename that moved them out of it fails here), and every module named as left out is
    still there to be left out."""
    files = sources.source_files(build.source_folders())
    compiled = build.compiled_modules(files)
    hot = {KafkaEosModel.__module__, check.__module__, "kafka_eos.model.state_invariants",
           "kafka_eos.model.views", "kafka_eos.model.unreadable", "kafka_eos.model.consumer",
           "kafka_eos.model.client_view", "kafka_eos.model.layout"}
    assert hot <= set(compiled)
    assert set(build.NOT_COMPILED) <= set(files)
    assert not set(build.NOT_COMPILED) & set(compiled)


def test_the_build_types_the_layers_and_skips_other_packages(tmp_path: Path) -> None:
    """mypy, as the build runs it, follows the project's modules (compiled code needs their
    types) and no other package's: following the optional Ray made a build's type check
    read 2,700 modules."""
    from mypy.config_parser import parse_config_file
    from mypy.options import Options

    config = tmp_path / "mypy.ini"
    config.write_text(build.MYPY_CONFIG, encoding="utf-8")
    options = Options()
    parse_config_file(options, lambda: None, str(config), io.StringIO(), io.StringIO())
    for module in ("kafka_eos", "kafka_eos.errors", "kafka_eos.checker.bfs",
                   "kafka_eos.model.kafka"):
        assert options.clone_for_module(module).follow_imports == "silent", module
    for module in ("ray", "ray.util.queue", "yaml", "z3"):
        assert options.clone_for_module(module).follow_imports == "skip", module


def test_the_build_key_follows_every_source(tmp_path: Path) -> None:
    files = sources.source_files(build.source_folders())
    copies = {name: tmp_path / f"{name}.py" for name in files}
    for name, path in files.items():
        shutil.copyfile(path, copies[name])
    assert sources.key(copies) == sources.key(files)
    for module in ("kafka_eos.protocol.epochs", *build.C_EXTENSIONS):  # Python, and C
        edited = dict(copies)
        edited[module] = tmp_path / f"{module}.edited"
        text = copies[module].read_text(encoding="utf-8")
        edited[module].write_text(text + "\n/* edited */\n", encoding="utf-8")
        assert sources.key(edited) != sources.key(files), module
    assert all(files[module].suffix == ".c" for module in build.C_EXTENSIONS)


@needs_compiler
@pytest.mark.parametrize("config", ["idempotence-off", "ctp-no-producer-epoch-check",
                                    "coordinator-failover"])
def test_compiled_search_finds_what_the_interpreted_one_does(
    search_cache: Path, config: str
) -> None:
    compiled = _check_json(search_cache, config)
    interpreted = _check_json(search_cache, config, interpreted=True)
    assert compiled["code"] == "compiled (mypyc)"
    assert interpreted["code"].startswith("interpreted")
    assert _figures(compiled) == _figures(interpreted)


@needs_compiler
def test_compiled_fingerprint_graph_finds_the_interpreted_lasso(search_cache: Path) -> None:
    # temporal properties with fingerprints: the graph by number (graph_shares.py) compiled
    runs = []
    for interpreted in (False, True):
        done = _cli(search_cache, "check", "--config", "tv2-strict-marker-timeout", "--store",
                    "fingerprints", "--json", "--quiet", interpreted=interpreted)
        assert done.returncode == 1, done.stderr
        runs.append(json.loads(done.stdout))
    assert runs[0]["code"] == "compiled (mypyc)"
    assert runs[0]["violation_kind"] == "temporal"
    assert _figures(runs[0]) == _figures(runs[1])
    assert _trace(runs[0]) == _trace(runs[1])


@needs_compiler
def test_compiled_search_spills_its_queue_as_the_interpreted_one_does(search_cache: Path) -> None:
    # the spilling queue stands where a list does: compiled code checked it as a list once
    runs = []
    for interpreted in (False, True):
        done = _cli(search_cache, "check", "--config", "tv2-producer-id-rotation",
                    "--queue-limit", "500", "--json", "--quiet", interpreted=interpreted)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    assert runs[0]["code"] == "compiled (mypyc)"
    assert runs[0]["queue_spilled"] == runs[1]["queue_spilled"] > 0
    assert _figures(runs[0]) == _figures(runs[1])


@needs_compiler
def test_the_compiled_build_hashes_the_models_parts_which_read_as_plain_tuples(
    search_cache: Path,
) -> None:
    """With the C tuple primitives, the model's interned parts keep their hash: a state's
    fingerprint, its bytes for another worker and its pickle are the plain state's."""
    probe = """if True:
        import pickle
        from kafka_eos.checker import tuples
        from kafka_eos.checker.fingerprint import fingerprint, marshal_bytes
        from kafka_eos.checker.transfer import decoded, state_bytes
        from kafka_eos.model.configs import load_check_config
        model = load_check_config("coordinator-failover").model
        state = model.init_states()[0]
        _, successor = next(iter(model.actions(state)))
        copy = tuple(tuple(part) if isinstance(part, tuple) else part for part in successor)
        plain = pickle.loads(pickle.dumps(successor))
        print(tuples.COMPILED, all(type(p) is tuples.HASHED_TYPE for p in successor),
              all(type(p) is tuple for p in plain), plain == successor,
              fingerprint(successor) == fingerprint(copy),
              marshal_bytes(successor) == marshal_bytes(plain),
              decoded(state_bytes(successor)) == successor)
    """
    done = subprocess.run([sys.executable, "-c", probe], env=_environment(search_cache),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"] * 7


@needs_compiler
def test_check_says_which_code_runs(search_cache: Path) -> None:
    done = _cli(search_cache, "check", "--config", "coordinator-failover", "--quiet")
    assert done.returncode == 0, done.stderr
    assert "  code             compiled (mypyc)" in done.stdout.splitlines()


def _installed_copy(into: Path) -> Path:
    """This tree's package laid out as installed (each layer copied into kafka_eos/)."""
    folders = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"]["package-dir"]
    package = into / "kafka_eos"
    shutil.copytree(ROOT / folders["kafka_eos"], package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name, folder in folders.items():
        if name != "kafka_eos":
            shutil.copytree(ROOT / folder, package / name.removeprefix("kafka_eos."),
                            ignore=shutil.ignore_patterns("__pycache__"))
    return into


@needs_compiler
def test_an_edited_source_runs_interpreted(search_cache: Path, tmp_path: Path) -> None:
    """A copy of the sources finds the build (the key is the sources' content, wherever
    they are); once one file of it is edited, the pure-Python sources run."""
    tree = _installed_copy(tmp_path)
    probe = "from kafka_eos.compiled.finder import mode; import kafka_eos.checker.bfs as b; " \
            "print(mode()); print(b.__file__)"

    def loaded() -> list[str]:
        environment = _environment(search_cache)
        environment["PYTHONPATH"] = str(tree)
        done = subprocess.run([sys.executable, "-c", probe], env=environment, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    mode, where = loaded()
    assert mode == "compiled (mypyc)"
    assert where.startswith(str(search_cache))
    edited = tree / "kafka_eos" / "checker" / "bfs.py"
    edited.write_text(edited.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    mode, where = loaded()
    assert mode.startswith("interpreted (no compiled build matches")
    assert where == str(edited)


def test_compile_without_a_c_compiler_is_one_line(tmp_path: Path) -> None:
    environment = _environment(tmp_path)
    environment["PATH"] = str(tmp_path)  # no cc, no gcc
    done = subprocess.run([sys.executable, "-m", "kafka_eos", "compile"],
                          env=environment, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("kafka-eos: error: cannot compile: ")
    assert done.stderr.count("\n") == 1
    assert not (tmp_path / "compiled").exists() or not any((tmp_path / "compiled").iterdir())


@needs_compiler
@pytest.mark.slow
@pytest.mark.parametrize("config", ["fencing-losses", "ctp-no-producer-epoch-check",
                                    "idempotence-off", "txn-timeout"])
def test_compiled_model_gives_the_verdict_table(
    tmp_path_factory: pytest.TempPathFactory, config: str
) -> None:
    """The whole hot path compiled (every model module but those left out, the search):
    the counts, verdict and counterexample length the interpreted model gives."""
    cache = _full_cache(tmp_path_factory)
    compiled = _check_json(cache, config)
    interpreted = _check_json(cache, config, interpreted=True)
    assert compiled["code"] == "compiled (mypyc)"
    assert _figures(compiled) == _figures(interpreted)


_FULL: list[Path] = []


def _full_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _FULL:
        cache = tmp_path_factory.mktemp("compiled-full")
        done = _cli(cache, "compile")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("compiled ")
        _FULL.append(cache)
    return _FULL[0]


@needs_compiler
@pytest.mark.slow
def test_a_model_extending_the_compiled_model_is_told_to_run_interpreted(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    cache = _full_cache(tmp_path_factory)
    model = tmp_path / "mine.py"
    model.write_text("from kafka_eos.model.kafka import KafkaEosModel\n\n\n"
                     "class Mine(KafkaEosModel):\n    pass\n", encoding="utf-8")
    done = _cli(cache, "check", "--model", f"{model}:Mine", "--quiet")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.rstrip().endswith(
        f"(a compiled build is loaded: run it with {sources.INTERPRETED_VARIABLE}=1)")
    assert _cli(cache, "check", "--model", f"{model}:Mine", "--quiet",
                interpreted=True).returncode == 0


@needs_compiler
@pytest.mark.slow
def test_compiled_workers_find_what_the_interpreted_ones_do(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    cache = _full_cache(tmp_path_factory)
    # ctp: safety only; tv2-strict-marker-timeout: the workers' graph and its lasso
    for config, code in (("ctp", 0), ("tv2-strict-marker-timeout", 1)):
        runs = []
        for interpreted in (False, True):
            done = _cli(cache, "check", "--config", config, "--workers", "2", "--json",
                        "--quiet", interpreted=interpreted)
            assert done.returncode == code, done.stderr
            runs.append(json.loads(done.stdout))
        assert runs[0]["code"] == "compiled (mypyc)"
        assert _figures(runs[0]) == _figures(runs[1])
        assert _trace(runs[0]) == _trace(runs[1])


@needs_compiler
@pytest.mark.slow
def test_a_compiled_kafka_model_pickles_as_its_parameters(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A model travels to a Ray actor pickled. Compiled, its frozen parameter dataclasses
    # refused pickle's default, which assigns each slot: `--ray` failed on the compiled build.
    script = (
        "import pickle\n"
        "import kafka_eos.model.params as params\n"
        "from kafka_eos.model.configs import load_check_config\n"
        "model = load_check_config('default').model\n"
        "copy = pickle.loads(pickle.dumps(model))\n"
        "print(params.__file__.endswith('.so'), (copy.knobs, copy.faults, copy.workload) == "
        "(model.knobs, model.faults, model.workload))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_environment(_full_cache(tmp_path_factory)), check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


@needs_compiler
@pytest.mark.slow
def test_the_reference_passes_its_tests_on_the_compiled_build(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The reference, its wire adapter and the conformance replays run on the compiled
    protocol/ and model/ wherever a build is cached, but the suite runs interpreted: these
    tests once more with the build loaded (they monkeypatch nothing compiled). Two bugs hid
    here: a compiled kw_only dataclass that refused dataclasses.replace (protocol/knobs.py),
    and a local typed by its first literal in model/transaction_log.py."""
    environment = _environment(_full_cache(tmp_path_factory))
    environment["KAFKA_EOS_TESTS_ON_THE_COMPILED_BUILD"] = "1"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
         "tests/reference", "tests/conformance", "tests/wire", "tests/protocol"],
        cwd=root, env=environment, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
