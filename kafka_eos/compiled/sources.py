"""What a compiled build is made from, and where it is kept.

A build compiles some modules of the model-checking layers (checker/, protocol/, model/) and
type-checks them against the rest of those layers, so its key is a hash of every source file
of those layers, Python and C (plus ``kafka_eos/__init__.py`` and ``errors.py``, which they
import), and of the Python it was compiled for. Editing any of those files changes the key:
the build no longer matches and the pure-Python sources run (see :mod:`.finder`). Standard
library only: this runs on every start of the package.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import os
import sys
from pathlib import Path

#: The subpackages a build may compile modules of (each one a layer of the architecture).
LAYERS = ("kafka_eos.checker", "kafka_eos.protocol", "kafka_eos.model")
#: Modules of the package root the layers import.
ROOT_MODULES = ("kafka_eos.__init__", "kafka_eos.errors")
#: Set to anything non-empty: never load compiled modules (the pure-Python sources run).
INTERPRETED_VARIABLE = "KAFKA_EOS_INTERPRETED"
#: Where builds are kept (default: ~/.cache/kafka-eos); each under compiled/<key>/.
CACHE_VARIABLE = "KAFKA_EOS_CACHE"
#: The file a finished build writes last: the modules it holds, one a line.
MANIFEST = "modules.txt"


def cache_root() -> Path:
    """The folder that holds the builds, one per key."""
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured) / "compiled"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "kafka-eos" / "compiled"


def interpreted_forced() -> bool:
    return bool(os.environ.get(INTERPRETED_VARIABLE))


def source_files(folders: dict[str, Path]) -> dict[str, Path]:
    """Every source a build depends on, by module name (``kafka_eos.model.kafka``), given
    the folder of the package root and of each layer (``folders``, by package name)."""
    files = {name: folders["kafka_eos"] / f"{name.rsplit('.', 1)[1]}.py"
             for name in ROOT_MODULES}
    for package in LAYERS:
        folder = folders[package]
        # Python modules, and C sources of extension modules (build.C_EXTENSIONS)
        for path in sorted((*folder.rglob("*.py"), *folder.rglob("*.c"))):
            parts = path.relative_to(folder).with_suffix("").parts
            files[".".join((package, *parts))] = path
    return files


def key(files: dict[str, Path]) -> str:
    """The build key of these sources for this Python: a build of other sources, or for
    another interpreter, has another key."""
    digest = hashlib.sha256()
    digest.update(sys.version.encode())
    digest.update(importlib.machinery.EXTENSION_SUFFIXES[0].encode())
    for name in sorted(files):
        digest.update(name.encode() + b"\0")
        digest.update(files[name].read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def built_modules(folder: Path) -> frozenset[str] | None:
    """The modules of the finished build in ``folder`` (from its manifest), or None."""
    try:
        listing = (folder / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return frozenset(line.strip() for line in listing if line.strip())


def group_name(key: str) -> str:
    """The name of a build's shared library (plus mypyc's ``__mypyc``): unique per key, so
    two builds never meet in ``sys.modules``."""
    return f"kafka_eos_compiled_{key}"
