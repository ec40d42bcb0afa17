"""Running a fixed program (a list of model steps) on the reference, step by step.

The reference may be model steps ahead: the driver runs a client's Sender as soon as it
delivers an answer, so the TxnOffsetCommit goes out with the AddOffsetsToTxn answer (or with the
answer to a refused one's retry), which the model sends in a step of its own. A
program written along the model's own path (a shortest path from the checker, say) then names
a step the reference has taken already. Such a step is passed over when it leads the model,
from the program's own state, to the reference's state or to a state a few model steps before
it; any other step not enabled at the reference's state stops the program (it does not apply),
as does a step the driver has no way to do on the reference (``Unsupported``: a lost request
that carries two model messages, say).
Passing over a step checks nothing and hides nothing: every step the reference does is checked
against the model (run_program's check_step) as it does it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.registry import Step
from kafka_eos.reference.conformance.abstraction import abstract_state
from kafka_eos.reference.conformance.refinement import check_step, find_path
from kafka_eos.reference.conformance.world import ConformanceWorld, Unsupported

State = tuple  # type: ignore[type-arg]


@dataclass(frozen=True, slots=True)
class ProgramResult:
    ran: int  # labels done (a step the reference had taken already counts as done)
    failed_at: int | None  # 0-based index of the first step that does not refine the model
    broken: tuple[str, ...] = ()


def run_program(model: KafkaEosModel, labels: list[Step]) -> ProgramResult:
    """Each step must be enabled in the model at the reference's abstract state, or be one the
    reference took ahead of the model (see the module docstring); else the program stops there."""
    return _run(model, labels, check=True)[0]


def final_states(model: KafkaEosModel, labels: list[Step]) -> tuple[ConformanceWorld, State]:
    """The reference after the program, and the model state its last step reached (the
    program must apply and refine the model throughout: run_program checks that)."""
    result, world, reached = _run(model, labels, check=False)
    if result.ran < len(labels):
        raise AssertionError(f"{labels[result.ran]} does not apply")
    return world, reached


def _run(model: KafkaEosModel, labels: list[Step], *,
         check: bool) -> tuple[ProgramResult, ConformanceWorld, State]:
    """The program on a new reference, step by step (each step checked against the model
    with ``check``): how far it went, the reference, and the model state its last step
    reached."""
    world = ConformanceWorld(model)
    state = planned = reached = abstract_state(world)
    for index, label in enumerate(labels):
        step = _next(model, state, planned, label)
        if step is None:
            return ProgramResult(index, None), world, reached
        target, planned = step
        if target is None:  # taken already
            reached = state
            continue
        try:
            world.perform(state, label, target)
        except Unsupported:  # the driver cannot do this step on the reference: it stops here
            return ProgramResult(index, None), world, reached
        after, reached = abstract_state(world), target
        if check:
            result = check_step(model, state, after, expected=target)
            if not result.refines or result.broken:
                return ProgramResult(index + 1, index, tuple(result.broken)), world, reached
        state = after
    return ProgramResult(len(labels), None), world, reached


def _next(model: KafkaEosModel, state: State, planned: State | None,
          label: Step) -> tuple[State | None, State | None] | None:
    """The model's target of ``label`` from the reference's abstract state ``state`` (None
    when the reference has taken the step already), and the program's own state after it;
    None when the step does not apply. ``planned`` is the program's own state (None once the
    program left the model's paths)."""
    target = _target(model, state, label)
    if planned == state:  # the reference is not ahead
        return None if target is None else (target, target)
    along = _target(model, planned, label) if planned is not None else None
    if target is not None:
        return target, along
    if along is not None and _leads_to(model, along, state):
        return None, along
    return None


def _leads_to(model: KafkaEosModel, planned: State, state: State) -> bool:
    """Whether the reference's ``state`` is the program's own state ``planned`` or a few model
    steps past it (steps the reference took ahead: each client's TxnOffsetCommit, sent as
    soon as its AddOffsetsToTxn or the retry of a refused one is answered)."""
    return planned == state or find_path(model, planned, state, max_depth=3)[0] is not None


def _target(model: KafkaEosModel, state: State, label: Step) -> State | None:
    return next((t for lbl, t in model.actions(state) if lbl == label), None)
