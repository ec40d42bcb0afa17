"""Per-action coverage: how often each action was taken, and which never were.

The search counts transitions per label (``RMPrepare(r1)``), the cheapest key it has; the
counts are folded into action names (``RMPrepare``) once, at the end. An action that is never
taken usually means a modelling bug (a guard that can never hold), so the names the model
declares in ``action_names()`` are listed even with a count of zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .interface import action_name


def fold(label_counts: Mapping[str, int], declared: Iterable[str] | None) -> dict[str, int]:
    """Counts per action name: the declared names first (in order), then any others."""
    coverage = dict.fromkeys(declared or (), 0)
    for label, count in label_counts.items():
        name = action_name(label)
        coverage[name] = coverage.get(name, 0) + count
    return coverage


def never_taken(coverage: Mapping[str, int]) -> list[str]:
    return [name for name, count in coverage.items() if count == 0]
