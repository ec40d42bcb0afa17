"""Loading a user's model from ``path/to/file.py:ClassName`` with keyword parameters."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

from kafka_eos.errors import InputError, shown

from .interface import ModelError

# A parameter value is one YAML scalar: 7, 0.5, true, null, text.
_SCALARS = (int, float, str, bool, type(None))


def parse_params(pairs: Iterable[str]) -> dict[str, Any]:
    """``["rms=7", "name=x"]`` -> ``{"rms": 7, "name": "x"}``, each value read as YAML."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise InputError(f"--param must be NAME=VALUE with NAME an identifier, got {pair!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except (yaml.YAMLError, ValueError, RecursionError) as exc:
            # ValueError: an integer of more digits than Python converts (4,300)
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"--param {key}: {shown(text)} is not a YAML scalar ({shown(problem)[1:-1]})"
            ) from None
        if not isinstance(value, _SCALARS):
            raise InputError(
                f"--param {key}: {shown(text)} is a {type(value).__name__}, not a scalar "
                "(give a number, true/false, null or text)"
            )
        params[key] = value
    return params


def scalar_params(raw: object, *, where: str) -> dict[str, Any]:
    """``raw`` (e.g. a trace's recorded parameters) as constructor arguments: an object of
    identifier names to scalars, as :func:`parse_params` makes; InputError naming ``where``."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(
        isinstance(key, str) and key.isidentifier() and isinstance(value, _SCALARS)
        for key, value in raw.items()
    ):
        raise InputError(f"{where} must be an object of parameter names to scalars")
    return dict(raw)


def load_model(spec: str, params: Mapping[str, Any] | None = None) -> object:
    """Import ``FILE.py:Class`` and build ``Class(**params)``."""
    path_text, sep, class_name = spec.rpartition(":")
    if not sep or not path_text or not class_name:
        raise InputError(f"--model must be FILE.py:ClassName, got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise InputError(f"model file not found: {path_text}")
    module = _import_file(path)
    cls = getattr(module, class_name, None)
    if cls is None:
        defined = sorted(n for n, v in vars(module).items()
                         if isinstance(v, type) and v.__module__ == module.__name__)
        raise InputError(
            f"{path_text} has no class {class_name!r} (it defines: {', '.join(defined) or 'none'})"
        )
    if not callable(cls):
        raise InputError(f"{path_text}:{class_name} is not a class, it is {type(cls).__name__}")
    try:
        return cls(**dict(params or {}))
    except (TypeError, ValueError) as exc:
        error = ModelError(f"cannot build {class_name} with {_describe(params)}: {exc}")
        raise error from exc


def _import_file(path: Path) -> Any:
    # A stable module name per file, so that re-loading the same file reuses its classes.
    name = "kafka_eos_user_model_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered before executing: dataclasses and typing look the module up by name. The
    # file's folder goes on sys.path for the import, so a model may import its neighbours.
    sys.modules[name] = module
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        where = f" (line {exc.lineno})" if isinstance(exc, SyntaxError) else ""
        error = ModelError(f"cannot import {path}: {type(exc).__name__}: {exc}{where}")
        raise error from exc
    finally:
        sys.path.remove(folder)
    return module


def _describe(params: Mapping[str, Any] | None) -> str:
    if not params:
        return "no parameters"
    return ", ".join(f"{k}={v!r}" for k, v in params.items())
