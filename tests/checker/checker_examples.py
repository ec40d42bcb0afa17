"""The example models, loaded the way a user loads them (``FILE.py:Class`` and parameters)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kafka_eos.checker.loader import load_model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(spec: str, **params: Any) -> Any:
    """An example model, e.g. ``example("two_phase.py:TwoPhase", rms=3)``."""
    return load_model(str(EXAMPLES / spec), params)
