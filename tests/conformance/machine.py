"""The refinement state machine: rules are the model's enabled actions, done on the reference.

After every step the reference is mapped onto a model state and checked: the model's
invariants hold on it, and the step refines the model (the same state, a successor, or a state
a few model steps away), with the model's action properties on those steps.

:func:`refinement_machine` drives one fixed model; :func:`drawn_refinement_machine` draws the
configuration itself (knobs, fault budgets, workload) at the start of each program, so that
every knob meets every fault.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.reference.conformance.abstraction import abstract_state
from kafka_eos.reference.conformance.known import known_disagreement
from kafka_eos.reference.conformance.refinement import check_step, differing_variables
from kafka_eos.reference.conformance.world import ConformanceWorld, NotEnabled, Unsupported

from .workloads import DrawnCheck


class _Refinement(RuleBasedStateMachine):
    """The rules; a subclass's ``@initialize`` chooses the model (``properties=False`` checks
    refinement only: a weakened configuration's violations are the reference's too)."""

    model: KafkaEosModel
    properties: bool

    def _start(self, model: KafkaEosModel, *, properties: bool) -> None:
        self.model = model
        self.properties = properties
        self.world = ConformanceWorld(model)
        self.state: Any = abstract_state(self.world)
        self.labels: list[str] = []  # the program so far, for a failure's report
        assert self.state == model.init_states()[0], (
            "the fresh reference is not the model's initial state"
        )

    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        model, world = self.model, self.world
        choices = sorted(
            (label, target)
            for label, target in model.actions(self.state)
            if known_disagreement(world, self.state, label, target) is None
        )
        if not choices:
            return
        label, target = data.draw(st.sampled_from(choices), label="action")
        try:
            world.perform(self.state, label, target)
        except (Unsupported, NotEnabled):
            return
        after = abstract_state(world)
        result = check_step(model, self.state, after, expected=target)
        if not result.refines:
            differences = differing_variables(model, after, target)
            raise AssertionError(
                f"{label}: the reference's step is not a model step; vs the model's "
                f"successor: {differences}; the program: {[*self.labels, label]}"
            )
        if self.properties:
            assert not result.broken, f"{label}: the reference breaks {result.broken}"
        self.state = after
        self.labels.append(label)

    @invariant()
    def properties_hold(self) -> None:
        if getattr(self, "properties", False):
            invariants = self.model.invariants().items()
            broken = [n for n, holds in invariants if not holds(self.state)]
            assert not broken, f"the reference breaks {broken}"


def refinement_machine(
    model: KafkaEosModel, *, properties: bool = True
) -> type[RuleBasedStateMachine]:
    class Refinement(_Refinement):
        @initialize()
        def start(self) -> None:
            self._start(model, properties=properties)

    return Refinement


def drawn_refinement_machine(
    checks: st.SearchStrategy[DrawnCheck],
) -> type[RuleBasedStateMachine]:
    """Each program starts from a drawn configuration; a failure's report shows it as the
    mapping a spec/configs/ file would hold. Properties are asserted where the configuration
    is Kafka's correct protocol (``DrawnCheck.correct``), refinement everywhere."""

    class DrawnRefinement(_Refinement):
        @initialize(check=checks)
        def start(self, check: DrawnCheck) -> None:
            self._start(check.model, properties=check.correct)

    return DrawnRefinement
