"""The refinement state machine: rules are the model's enabled actions, done on the reference.

After every step the reference is mapped onto a model state and checked: the model's
invariants hold on it, and the step refines the model (the same state, a successor, or a state
a few model steps away), with the model's action properties on those steps.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kafka_eos.model.kafka import KafkaEosModel
from kafka_eos.reference.conformance.abstraction import abstract_state
from kafka_eos.reference.conformance.known import known_disagreement
from kafka_eos.reference.conformance.refinement import check_step, differing_variables
from kafka_eos.reference.conformance.world import ConformanceWorld, NotEnabled, Unsupported


def refinement_machine(
    model: KafkaEosModel, *, properties: bool = True
) -> type[RuleBasedStateMachine]:
    """``properties=False`` checks refinement only (for a weakened configuration, whose
    violations the reference shares)."""

    class Refinement(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.world = ConformanceWorld(model)
            self.state = abstract_state(self.world)
            self.labels: list[str] = []  # the program so far, for a failure's report
            assert self.state == model.init_states()[0], (
                "the fresh reference is not the model's initial state"
            )

        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            world = self.world
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
            if properties:
                assert not result.broken, f"{label}: the reference breaks {result.broken}"
            self.state = after
            self.labels.append(label)

        @invariant()
        def properties_hold(self) -> None:
            if properties and hasattr(self, "state"):
                broken = [n for n, holds in model.invariants().items() if not holds(self.state)]
                assert not broken, f"the reference breaks {broken}"

    return Refinement
