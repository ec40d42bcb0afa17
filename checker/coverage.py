"""Per-action coverage: how often each action was taken, and which never were.

The search counts transitions per label (``RMPrepare(r1)``, or a structured label with a
``name``), the cheapest key it has; the counts are folded into action names (``RMPrepare``)
once, at the end. An action that is never taken usually means a modelling bug (a guard that
can never hold), so the names the model declares in ``action_names()`` are listed even with a
count of zero. A structured label may also name the branch its action took (its
``outcome``, e.g. the error a server answered with): those are counted per action too, with
the outcomes the model declares in ``action_outcomes()`` listed even when never taken.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .interface import action_name, label_outcome


def fold(label_counts: Mapping[object, int], declared: Iterable[str] | None) -> dict[str, int]:
    """Counts per action name: the declared names first (in order), then any others."""
    coverage = dict.fromkeys(declared or (), 0)
    for label, count in label_counts.items():
        name = action_name(label)
        coverage[name] = coverage.get(name, 0) + count
    return coverage


def never_taken(coverage: Mapping[str, int]) -> list[str]:
    return [name for name, count in coverage.items() if count == 0]


def fold_outcomes(
    label_counts: Mapping[object, int], declared: Mapping[str, Iterable[str]] | None
) -> dict[str, dict[str, int]]:
    """Counts per action and outcome: the declared outcomes first, then any others."""
    coverage = {name: dict.fromkeys(outcomes, 0) for name, outcomes in (declared or {}).items()}
    for label, count in label_counts.items():
        outcome = label_outcome(label)
        if outcome is not None:
            per_action = coverage.setdefault(action_name(label), {})
            per_action[outcome] = per_action.get(outcome, 0) + count
    return coverage


def outcomes_never_taken(coverage: Mapping[str, Mapping[str, int]]) -> list[str]:
    """``Action:OUTCOME`` for every declared outcome no transition took."""
    return [
        f"{name}:{outcome}"
        for name, outcomes in coverage.items()
        for outcome, count in outcomes.items()
        if count == 0
    ]
