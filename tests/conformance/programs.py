"""Running a fixed program (a list of model steps) on the reference, step by step."""

from __future__ import annotations

from dataclasses import dataclass

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.model.registry import Step
from kafka_eos.reference.conformance.abstraction import abstract_state
from kafka_eos.reference.conformance.refinement import check_step
from kafka_eos.reference.conformance.world import ConformanceWorld


@dataclass(frozen=True, slots=True)
class ProgramResult:
    ran: int  # labels done
    failed_at: int | None  # 0-based index of the first step that does not refine the model
    broken: tuple[str, ...] = ()


def run_program(model: KafkaEosModel, labels: list[Step]) -> ProgramResult:
    """Each label must be enabled in the model at the reference's abstract state (else the
    program stops there: it does not apply)."""
    world = ConformanceWorld(model)
    state = abstract_state(world)
    for index, label in enumerate(labels):
        target = next((t for lbl, t in model.actions(state) if lbl == label), None)
        if target is None:
            return ProgramResult(index, None)
        world.perform(state, label, target)
        after = abstract_state(world)
        result = check_step(model, state, after, expected=target)
        if not result.refines or result.broken:
            return ProgramResult(index + 1, index, tuple(result.broken))
        state = after
    return ProgramResult(len(labels), None)


def final_states(model: KafkaEosModel, labels: list[Step]) -> tuple[ConformanceWorld, tuple]:  # type: ignore[type-arg]
    """The reference after the program, and the model state its last step reached (the
    program must apply and refine the model throughout: run_program checks that). Each step
    is taken from the reference's state, as run_program takes it: the reference may be a
    model step ahead (it sends a TxnOffsetCommit as soon as AddOffsetsToTxn is answered)."""
    world = ConformanceWorld(model)
    state = target = abstract_state(world)
    for label in labels:
        target = next(t for lbl, t in model.actions(state) if lbl == label)
        world.perform(state, label, target)
        state = abstract_state(world)
    return world, target
