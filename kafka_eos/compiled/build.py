"""Build the compiled hot path: the model and the checker's search compiled with mypyc into
the cache (:func:`.sources.cache_root`), under the key of the sources they were compiled from.

The sources are copied first, laid out as the installed package, and the copy is what is
hashed, type-checked and compiled: a file edited while the build runs makes the build's key
not match, never a build of mixed sources. A build is written to a temporary folder and
renamed into place once complete, so a build stopped half-way is never loaded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import shutil
import sys
import sysconfig
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kafka_eos.errors import InputError

from . import sources

#: Model modules that are not compiled, and why: the rest of model/ is.
NOT_COMPILED = {
    # mypyc cannot compile a subclass of a builtin type, and Step subclasses tuple (labels
    # are made on every transition, so they must stay tuples); nothing in it is hot
    "kafka_eos.model.registry": "Step subclasses tuple",
    "kafka_eos.model.configs": "reads YAML once per run",
    "kafka_eos.model.variables": "names a trace's variables once per trace",
    "kafka_eos.model.verdicts": "the verdict table's command",
    "kafka_eos.model.schema_texts": "writes SPEC.md's tables",
}
#: Protocol modules that are not compiled, and why: the rest of protocol/ is. The model
#: calls the shared rules (refusal orders, epoch checks, the client view's anomalies) on its
#: steps: interpreted, the default's safety search made about 1.5 million Python-level
#: calls into them (coordinator_busy and first_refusal 253,094 each).
PROTOCOL_NOT_COMPILED = {
    "kafka_eos.protocol.history": "the reference's histories, not the model's steps",
    "kafka_eos.protocol.history_checks": "mypyc 1.x fails on it (an AssertionError)",
    "kafka_eos.protocol.history_view": "the reference's histories, not the model's steps",
    # mypyc 1.x's __init__ of a kw_only dataclass refuses dataclasses.replace's keywords
    # ("bool object expected; got int"), and configs and the reference replace knobs
    "kafka_eos.protocol.knobs": "read once per run; compiled, dataclasses.replace fails on it",
    "kafka_eos.protocol.proofs": "z3 proofs, run by `kafka-eos prove`",
    "kafka_eos.protocol.sequence": "mypyc 1.x fails on its z3 term (an AssertionError)",
}
#: The checker's modules that run per state or per transition: the breadth-first search, its
#: stores, the fingerprints the fingerprint stores and workers take of every successor (and
#: which worker owns it), the state graph liveness records (with the states, or by number as
#: workers and fingerprint stores record it), and the fair-cycle search over that graph (each
#: temporal property's predicates per state; its strongly connected components are C); the
#: workers' search, whose class extends the search's (an interpreted class cannot extend a
#: compiled one), and its workers' shares (kept_owner.py, with the discovery keys and the
#: transfer of states they use).
CHECKER_HOT = (
    "kafka_eos.checker.bfs",
    "kafka_eos.checker.parallel",
    "kafka_eos.checker.kept_owner",
    "kafka_eos.checker.discovery",
    "kafka_eos.checker.transfer",
    "kafka_eos.checker.store",
    "kafka_eos.checker.fingerprint",
    "kafka_eos.checker.ownership",
    "kafka_eos.checker.graph",
    "kafka_eos.checker.graph_shares",
    "kafka_eos.checker.liveness",
)
#: Extension modules written in C, built beside the mypyc modules (each one's pure-Python
#: stand-in says what it does): the tuple primitives of checker/tuples.py, Tarjan's search
#: of checker/scc.py (compiled Python boxed an int for every index and low-link it wrote), and
#: the workers' ranks of checker/ranks.py (an int for every key a bisection read).
C_EXTENSIONS = ("kafka_eos.checker._tuples", "kafka_eos.checker._scc", "kafka_eos.checker._ranks")

#: mypy's options for the build. The layers are followed, silently (their type errors are the
#: project's own mypy run's to report), so that compiled code knows the types of what it
#: calls. Any other package is skipped (its names are Any, as they are to the compiled code
#: anyway): followed, the optional Ray that ``checker.ray_search`` imports brought in 2,700
#: modules (Ray's, and pip's and pytest's through it), 95% of a build's mypy time and
#: 1.4 GB. The standard library is typeshed's stubs, which ``follow_imports`` leaves alone.
MYPY_CONFIG = """\
[mypy]
follow_imports = skip
ignore_missing_imports = True

[mypy-kafka_eos.*]
follow_imports = silent
"""


@dataclass(frozen=True, slots=True)
class Built:
    folder: Path
    modules: tuple[str, ...]
    #: False: a build of these sources was already in the cache
    fresh: bool


def source_folders() -> dict[str, Path]:
    """The package root's folder and each layer's."""
    folders = {"kafka_eos": Path(__file__).resolve().parent.parent}
    for package in sources.LAYERS:
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations
        folders[package] = Path(next(iter(spec.submodule_search_locations)))
    return folders


def compiled_modules(files: Iterable[str]) -> tuple[str, ...]:
    """The modules a build of ``files`` (module names) compiles: every model module but
    :data:`NOT_COMPILED`, every protocol module but :data:`PROTOCOL_NOT_COMPILED`,
    :data:`CHECKER_HOT` and the C extensions (:data:`C_EXTENSIONS`)."""
    names = set(files)
    return (*CHECKER_HOT, *C_EXTENSIONS,
            *_layer(names, "kafka_eos.protocol.", PROTOCOL_NOT_COMPILED),
            *_layer(names, "kafka_eos.model.", NOT_COMPILED))


def _layer(names: set[str], prefix: str, left_out: dict[str, str]) -> list[str]:
    """The modules of one layer (``prefix``) in ``names``, but those ``left_out``."""
    return sorted(name for name in names
                  if name.startswith(prefix) and not name.endswith(".__init__")
                  and name not in left_out)


def _missing_tools() -> str | None:
    """Why this machine cannot compile, or None."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed (pip install -e '.[compile]' installs it)"
    include = sysconfig.get_paths().get("include", "")
    if not (Path(include) / "Python.h").exists():
        return f"no Python headers (Python.h) in {include} (install python3-dev)"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler!r} not found on PATH)"
    return None


def _snapshot(files: dict[str, Path], into: Path) -> dict[str, Path]:
    """Copy ``files`` into ``into`` laid out as the installed package; their copies by name."""
    copies: dict[str, Path] = {}
    for name, path in files.items():
        parts = name.split(".")
        if parts[-1] == "__init__":
            relative = Path(*parts[:-1], "__init__.py")
        elif path.name == "__init__.py":
            relative = Path(*parts, "__init__.py")
        else:
            relative = Path(*parts).with_suffix(path.suffix)
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies[name] = target
    return copies


def build(
    *,
    jobs: int = 2,
    force: bool = False,
    modules: tuple[str, ...] | None = None,
    log: io.TextIOBase | None = None,
) -> Built:
    """Compile the hot modules of the current sources (or only ``modules``) into the cache,
    unless a build of them is there already (or ``force``). Raises :class:`InputError` with
    one line saying what is missing or what failed."""
    problem = _missing_tools()
    if problem:
        raise InputError(f"cannot compile: {problem}")
    cache = sources.cache_root()
    with tempfile.TemporaryDirectory(prefix="kafka-eos-compile-") as work_dir:
        work = Path(work_dir)
        copies = _snapshot(sources.source_files(source_folders()), work / "src")
        key = sources.key(copies)
        if modules is None:
            modules = compiled_modules(copies)
        unknown = [name for name in modules if name not in copies]
        if unknown:
            raise InputError(f"cannot compile {unknown[0]}: no such module")
        target = cache / key
        if not force and sources.built_modules(target) == frozenset(modules):
            return Built(folder=target, modules=modules, fresh=False)
        partial = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=_made(cache)))
        try:
            _compile(work, {m: copies[m] for m in modules}, key, partial, jobs=jobs, log=log)
            (partial / sources.MANIFEST).write_text("\n".join(modules) + "\n", encoding="utf-8")
            shutil.rmtree(target, ignore_errors=True)
            try:
                partial.rename(target)
            except OSError:  # another compile of the same sources finished first
                if sources.built_modules(target) is None:
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return Built(folder=target, modules=modules, fresh=True)


def _made(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create the compile cache {folder}: {error.strerror}") from None
    return folder


def _compile(work: Path, files: dict[str, Path], key: str, out: Path, *, jobs: int,
             log: io.TextIOBase | None) -> None:
    """mypyc then the C compiler over ``files`` (copies under ``work/src``, by module name:
    Python modules through mypyc, C sources as they are), extension modules written under
    ``out``."""
    from mypyc.build import mypycify
    from setuptools import Distribution, Extension  # type: ignore[import-untyped]

    src = work / "src"
    config = work / "mypy.ini"
    config.write_text(MYPY_CONFIG, encoding="utf-8")
    output = log if log is not None else io.StringIO()
    previous = Path.cwd()
    try:
        os.chdir(src)  # mypy names modules from the folders (and __init__.py) above a file
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            python = [str(f.relative_to(src)) for f in files.values() if f.suffix == ".py"]
            extensions = mypycify(
                [*python, f"--config-file={config}"],
                target_dir=str(work / "c"),
                multi_file=True,  # one C file per module: the C compiler runs in parallel
                group_name=sources.group_name(key),
            ) if python else []
            extensions += [Extension(name, sources=[str(f.relative_to(src))])
                           for name, f in files.items() if f.suffix == ".c"]
            distribution = Distribution({"name": "kafka-eos-compiled", "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(out)
            command.build_temp = str(work / "objects")
            command.parallel = jobs
            distribution.run_command("build_ext")
    except SystemExit as stop:  # mypyc exits on a type error
        raise InputError(f"mypyc failed (exit {stop.code}): {_last_error(output)}") from None
    except Exception as error:  # the C compiler's failure, as distutils reports it
        raise InputError(f"compilation failed: {error}; {_last_error(output)}") from None
    finally:
        os.chdir(previous)


def _last_error(output: io.TextIOBase) -> str:
    if not isinstance(output, io.StringIO):
        return "see the log above"
    lines = [line for line in output.getvalue().splitlines() if "error" in line.lower()]
    return lines[0].strip() if lines else "no error message"


if __name__ == "__main__":
    built = build(force="--force" in sys.argv, log=None)
    print(built.folder, len(built.modules))
