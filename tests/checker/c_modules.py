"""The compiled build's C modules, each built alone (one gcc run) into a temporary cache and
loaded from its file, so that tests hold the C versions to the Python ones whether or not the
test process runs the compiled build."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from kafka_eos.compiled import build, sources

MISSING = build._missing_tools()


def built_alone(name: str, tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The C module ``name`` (one of build.C_EXTENSIONS), compiled into a fresh cache."""
    if MISSING is not None:
        pytest.skip(f"cannot compile: {MISSING}")
    cache = tmp_path_factory.mktemp(name.rsplit(".", 1)[-1] + "-cache")
    environment = {**os.environ, sources.CACHE_VARIABLE: str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", "from kafka_eos.compiled.build import build; "
                               f"print(build(modules=({name!r},)).folder)"],
        env=environment, capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip())
    path = folder.joinpath(*name.split(".")).with_name(
        name.rsplit(".", 1)[-1] + importlib.machinery.EXTENSION_SUFFIXES[0])
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module
