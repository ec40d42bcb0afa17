"""The import hook that runs compiled modules only where they match the sources.

:func:`install` (called when the ``kafka_eos`` package is imported, before any layer is)
puts a :class:`CompiledFinder` first in ``sys.meta_path``. The first time a module of a layer
is imported, the finder hashes the layers' current sources (:func:`.sources.key`) and looks
for a finished build with that key in the cache. If there is one, each module it compiled is
loaded from it; every other module, and every module when there is no matching build, is
left to the ordinary finders: the pure-Python source runs. A build is never looked up by
anything but the sources' hash, so an edited ``.py`` can never run stale compiled code.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from . import sources

#: The suffix mypyc gives the shared library of modules compiled together.
GROUP_SUFFIX = "__mypyc"


@dataclass(frozen=True, slots=True)
class Build:
    """A finished build that matches the sources: its folder and the modules it holds."""

    folder: Path
    modules: frozenset[str]
    #: the top-level name of its shared library (``<group>__mypyc``)
    library: str

    def path_of(self, name: str) -> Path:
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        return self.folder.joinpath(*name.split(".")).with_name(name.rsplit(".", 1)[-1] + suffix)


class CompiledFinder:
    """Serves the modules of the build that matches the sources (see the module docstring)."""

    def __init__(self) -> None:
        self._resolved = False
        self._build: Build | None = None
        self._resolving = False

    @property
    def build(self) -> Build | None:
        """The matching build, or None (no build, sources edited, or interpreted forced)."""
        if not self._resolved and not self._resolving:
            self._resolving = True
            try:
                self._build = None if sources.interpreted_forced() else _matching_build()
            finally:
                self._resolving = False
            self._resolved = True
        return self._build

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not (fullname.startswith(sources.LAYERS) or fullname.endswith(GROUP_SUFFIX)):
            return None
        if self._resolving:
            return None
        build = self.build
        if build is None:
            return None
        if fullname == build.library:
            location = build.folder / (fullname + importlib.machinery.EXTENSION_SUFFIXES[0])
        elif fullname in build.modules:
            location = build.path_of(fullname)
        else:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(location))
        return importlib.util.spec_from_file_location(fullname, location, loader=loader)


def _source_folders() -> dict[str, Path]:
    """Where the package root and each layer's sources are (an editable install maps the
    layers to folders of their own), found without importing the layers."""
    root = sys.modules["kafka_eos"]
    folders = {"kafka_eos": Path(root.__file__ or "").parent}
    for package in sources.LAYERS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"no sources for {package}")
        folders[package] = Path(next(iter(spec.submodule_search_locations)))
    return folders


def _matching_build() -> Build | None:
    try:
        folders = _source_folders()
        key = sources.key(sources.source_files(folders))
    except (ImportError, OSError):
        return None
    folder = sources.cache_root() / key
    modules = sources.built_modules(folder)
    if modules is None:
        return None
    return Build(folder=folder, modules=modules, library=sources.group_name(key) + GROUP_SUFFIX)


_FINDER = CompiledFinder()


def install() -> None:
    """Put the finder first in ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def mode() -> str:
    """How the model-checking layers run in this process: ``compiled (mypyc)`` or
    ``interpreted`` (with the reason when a build could be used but is not)."""
    compiled = [name for name in sys.modules if _FINDER.build is not None
                and name in _FINDER.build.modules]
    if compiled:
        return "compiled (mypyc)"
    if sources.interpreted_forced():
        return f"interpreted ({sources.INTERPRETED_VARIABLE} is set)"
    return "interpreted (no compiled build matches these sources: `kafka-eos compile`)"
