"""The model's intern(state): a state decoded from bytes made of the model's own objects again.

Workers, a spilled queue and a checkpoint hand the checker states decoded from bytes, whose
parts are all new objects; the model's caches are keyed by its component objects, so a state
that is not interned is expanded without them (about 6% more CPU in two workers)."""

from __future__ import annotations

import marshal
import pickle
import random

from kafka_eos.model.configs import load_check_config


def test_a_decoded_state_is_made_of_the_models_components_again() -> None:
    model = load_check_config("default").model
    rng = random.Random(7)
    state = model.init_states()[0]
    for _ in range(40):  # a state some way into the search, its components the model's own
        steps = model.actions(state)
        if not steps:
            break
        _, state = rng.choice(steps)
    for decoded in (marshal.loads(marshal.dumps(state, 2)), pickle.loads(pickle.dumps(state))):
        assert decoded == state and decoded[0] is not state[0]
        interned = model.intern(decoded)
        assert interned == state
        assert all(mine is its for mine, its in zip(interned, state, strict=True))
