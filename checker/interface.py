"""The model interface (contract A) as the checker sees it: bound, validated, fast to call.

A model is any object with ``init_states()``, ``actions(state)`` and ``invariants()``, and
optionally ``action_properties()``, ``canonical(state)``, ``intern(state)``,
``variables(state)``, ``action_names()`` and ``deadlock_is_error``. :func:`bind` checks that
shape once, before the search, so a mistake in a model is reported as one line naming it
instead of a traceback from deep inside the search loop.

Two optional methods are fast paths for the properties, and change no verdict:
``invariants_hold_after(state, label, next)`` says whether every invariant holds on ``next``,
a new state reached from ``state`` (on which they all hold), and
``action_properties_hold(state, label, next)`` whether every action property holds on the
step. A model that knows what each property reads can answer from what the step changed and
skip the rest. The checker calls them instead of each predicate, and only when one says no
does it call the predicates in order to name the first broken one.

``intern(state)`` returns an equal state made of the objects the model shares between its
states. A model that keeps one object per value of a part, and caches by those objects, loses
its caches on a state the checker decoded from bytes (sent by another worker, read back from a
spilled queue or a checkpoint), whose parts are all new objects; so the checker hands such a
state to ``intern`` before it expands it. It changes no verdict either.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from kafka_eos.errors import InputError

Invariant = Callable[[Any], object]
ActionProperty = Callable[[Any, Any, Any], object]
#: ``invariants_hold_after`` and ``action_properties_hold``: (state, label, next) -> bool
StepCheck = Callable[[Any, Any, Any], object]
Successors = Callable[[Any], Iterable[tuple[Any, Any]]]


@dataclass(frozen=True, slots=True)
class BoundModel:
    """The model's methods, looked up and checked once."""

    model: object
    name: str
    init_states: Callable[[], Iterable[Any]]
    actions: Successors
    invariants: tuple[tuple[str, Invariant], ...]
    action_properties: tuple[tuple[str, ActionProperty], ...]
    canonical: Callable[[Any], Any] | None
    action_names: tuple[str, ...] | None
    deadlock_is_error: bool
    #: action name -> every outcome its labels can name (from ``action_outcomes()``)
    action_outcomes: dict[str, tuple[str, ...]] | None = None
    #: the model's fast paths for its properties (see the module's docstring), or None
    invariants_hold_after: StepCheck | None = None
    action_properties_hold: StepCheck | None = None
    #: the model's ``intern(state)`` (see the module's docstring), or None
    intern: Callable[[Any], Any] | None = None


def bind(model: object) -> BoundModel:
    """Check ``model`` against the interface; raise InputError naming the first problem."""
    name = type(model).__name__
    required = {
        attribute: _method(model, attribute, required=True)
        for attribute in ("init_states", "actions", "invariants")
    }
    invariants = _predicates(model, "invariants", _called(name, "invariants",
                                                          required["invariants"]))
    action_properties: tuple[tuple[str, ActionProperty], ...] = ()
    if (getter := _method(model, "action_properties", required=False)) is not None:
        action_properties = _predicates(
            model, "action_properties", _called(name, "action_properties", getter)
        )
    names: tuple[str, ...] | None = None
    if (getter := _method(model, "action_names", required=False)) is not None:
        listed = _called(name, "action_names", getter)
        if isinstance(listed, str) or not isinstance(listed, Iterable):
            raise InputError(f"{name}.action_names() must return a list of names, got {listed!r}")
        names = tuple(str(n) for n in listed)
    outcomes: dict[str, tuple[str, ...]] | None = None
    if (getter := _method(model, "action_outcomes", required=False)) is not None:
        listed = _called(name, "action_outcomes", getter)
        if not isinstance(listed, Mapping):
            raise InputError(
                f"{name}.action_outcomes() must return a mapping action -> outcomes, got "
                f"{short_repr(listed)}"
            )
        outcomes = {str(k): tuple(str(o) for o in v) for k, v in listed.items()}
    return BoundModel(
        action_outcomes=outcomes,
        model=model,
        name=name,
        init_states=required["init_states"],
        actions=required["actions"],
        invariants=invariants,
        action_properties=action_properties,
        canonical=_method(model, "canonical", required=False),
        action_names=names,
        deadlock_is_error=bool(getattr(model, "deadlock_is_error", False)),
        invariants_hold_after=_method(model, "invariants_hold_after", required=False),
        action_properties_hold=_method(model, "action_properties_hold", required=False),
        intern=_method(model, "intern", required=False),
    )


def _called(name: str, attribute: str, method: Callable[[], Any]) -> Any:
    try:
        return method()
    except Exception as exc:
        raise model_error(f"{name}.{attribute}() raised", exc) from exc


def _method(model: object, attribute: str, *, required: bool) -> Any:
    method = getattr(model, attribute, None)
    if method is None:
        if required:
            raise InputError(
                f"{type(model).__name__} has no {attribute}() method; a model needs "
                "init_states(), actions(state) and invariants()"
            )
        return None
    if not callable(method):
        raise InputError(f"{type(model).__name__}.{attribute} must be a method, got {method!r}")
    return method


def _predicates(model: object, attribute: str, mapping: object) -> tuple[tuple[str, Any], ...]:
    where = f"{type(model).__name__}.{attribute}()"
    if not isinstance(mapping, Mapping):
        raise InputError(f"{where} must return a mapping name -> predicate, got {mapping!r}")
    for key, predicate in mapping.items():
        if not callable(predicate):
            raise InputError(
                f"{where}: {key!r} is not callable (got {type(predicate).__name__} "
                f"{predicate!r}); map each name to a function of the state"
            )
    return tuple((str(key), predicate) for key, predicate in mapping.items())


def action_name(label: object) -> str:
    """The action a label belongs to: a structured label's ``name``, or the text of a plain
    string label before the first ``(``."""
    if isinstance(label, str):
        return label.split("(", 1)[0]
    name = getattr(label, "name", None)
    return name if isinstance(name, str) else str(label).split("(", 1)[0]


def label_outcome(label: object) -> str | None:
    """The branch a structured label says its action took (its ``outcome``), if it has one."""
    outcome = getattr(label, "outcome", None) if not isinstance(label, str) else None
    return None if outcome is None else str(outcome)


def is_label(label: object) -> bool:
    """A label is a string, or a structured label: hashable, with a ``name`` (shown with
    ``str()``)."""
    if isinstance(label, str):
        return True
    return isinstance(getattr(label, "name", None), str) and type(label).__hash__ is not None


# Values that are immutable and compare by value, so they may appear anywhere in a state.
_ATOMS = (int, float, complex, str, bytes, bool, type(None), range, enum.Enum)


def mutability_problem(value: object) -> str | None:
    """Why ``value`` cannot serve as (part of) a state, or None if it can.

    The visited set relies on states being hashable AND immutable AND compared by value: a
    mutable state could change after it was stored, and one hashed by identity would never be
    recognised as seen again.
    """
    if isinstance(value, _ATOMS):
        return None
    if isinstance(value, tuple | frozenset):
        for item in value:
            if (problem := mutability_problem(item)) is not None:
                return problem
        return None
    kind = type(value)
    if dataclasses.is_dataclass(value):
        params = getattr(kind, "__dataclass_params__", None)
        if params is None or not params.frozen:
            return f"{kind.__name__} is a mutable dataclass (use @dataclass(frozen=True))"
        for field in dataclasses.fields(value):
            if (problem := mutability_problem(getattr(value, field.name))) is not None:
                return problem
        return None
    if kind.__hash__ is None:
        return f"{kind.__name__} is unhashable (use tuple, frozenset or a frozen dataclass)"
    if kind.__hash__ is object.__hash__ or kind.__eq__ is object.__eq__:
        return (
            f"{kind.__name__} compares by identity, so a state would never be recognised as "
            "seen again (use tuples, NamedTuples or frozen dataclasses)"
        )
    return None


def require_valid_state(bound: BoundModel, state: object, where: str) -> None:
    """Raise InputError if ``state`` cannot be stored in the visited set."""
    problem = mutability_problem(state)
    if problem is not None:
        raise InputError(
            f"{bound.name}.{where} produced a state that is not immutable: {problem}; "
            f"state: {short_repr(state)}"
        )


def short_repr(value: object, limit: int = 200) -> str:
    """A repr cut to one readable line, for error messages."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ModelError(InputError):
    """A model broke the interface while being explored (its exception is the ``__cause__``)."""


def explain_failure(bound: BoundModel, state: Any, exc: BaseException) -> ModelError | None:
    """Find which of the model's functions raised ``exc`` while ``state`` was expanded.

    The search loop runs without a try block per call (that would cost time on every
    transition); when something raises, this re-runs the work on ``state`` one call at a time
    and names the culprit. Models are deterministic, so the same call raises again. Returns
    None when nothing raises the second time (then the error is the checker's own).
    """
    name = bound.name
    try:
        successors = list(bound.actions(state))
    except Exception as again:
        return model_error(f"{name}.actions() raised", again, f"on state {short_repr(state)}")
    for step in successors:
        if not isinstance(step, tuple) or len(step) != 2 or not is_label(step[0]):
            return ModelError(
                f"{name}.actions() must yield (label, next_state) pairs with a str label (or "
                "a hashable label with a name), "
                f"got {short_repr(step)} from state {short_repr(state)}"
            )
        label, target = step
        if (problem := mutability_problem(target)) is not None:
            return ModelError(
                f"{name}.actions() produced a state that is not immutable: {problem}; "
                f"step {label} from {short_repr(state)}"
            )
        for prop_name, holds in bound.action_properties:
            try:
                holds(state, label, target)
            except Exception as again:
                return model_error(
                    f"action property {prop_name!r} raised", again,
                    f"on step {short_repr(state)} --{label}--> {short_repr(target)}",
                )
        if bound.canonical is not None:
            try:
                target = bound.canonical(target)
            except Exception as again:
                return model_error(
                    f"{name}.canonical() raised", again, f"on state {short_repr(target)}"
                )
        if (error := invariant_failure(bound, target)) is not None:
            return error
    return None


def reraise_explained(bound: BoundModel, state: Any, exc: Exception) -> NoReturn:
    """Raise the one-line ModelError for ``exc``, or ``exc`` itself if it is not the model's."""
    error = explain_failure(bound, state, exc)
    if error is None:
        raise exc
    raise error from exc


def invariant_failure(bound: BoundModel, state: Any) -> ModelError | None:
    """The error of the first invariant that raises on ``state``, or None."""
    for inv_name, holds in bound.invariants:
        try:
            holds(state)
        except Exception as again:
            return model_error(
                f"invariant {inv_name!r} raised", again, f"on state {short_repr(state)}"
            )
    return None


def first_broken_invariant(bound: BoundModel, state: Any) -> str | None:
    """The name of the first invariant (in declaration order) that ``state`` breaks."""
    for name, holds in bound.invariants:
        if not holds(state):
            return name
    return None


def first_broken_action_property(
    bound: BoundModel, state: Any, label: Any, target: Any
) -> str | None:
    """The name of the first action property (in declaration order) the step breaks."""
    for name, allows in bound.action_properties:
        if not allows(state, label, target):
            return name
    return None


def fast_path_disagrees(bound: BoundModel, method: str, state: Any) -> ModelError:
    """A fast path (see the module's docstring) said no where every predicate says yes."""
    return ModelError(
        f"{bound.name}.{method}() says a property is broken but every predicate holds, "
        f"on state {short_repr(state)}"
    )


def model_error(what: str, exc: BaseException, where: str = "") -> ModelError:
    """``what`` raised ``exc`` (at ``where``), as a one-line error keeping the cause."""
    message = f"{what} {type(exc).__name__}: {str(exc) or '(no message)'} {where}"
    error = ModelError(message.strip())
    error.__cause__ = exc
    return error
