"""Test-suite settings shared by every test.

Hypothesis profiles: ``dev`` (default), ``ci`` (chosen when CI=true: bounded examples, no
deadline, so the suite stays well inside CI's time), ``thorough`` (HYPOTHESIS_PROFILE=thorough).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile("thorough", max_examples=2000, deadline=None)

_default = "ci" if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else "dev"
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", _default))

# The suite runs the pure-Python sources even where a compiled build of them is cached: tests
# replace module functions (monkeypatch), which compiled callers would not see. The compiled
# hot path is tested in tests/compiled/, in subprocesses that choose their own mode; one of
# them runs the reference's own tests on the compiled build, and sets this variable for it.
COMPILED_RUN = "KAFKA_EOS_TESTS_ON_THE_COMPILED_BUILD"
if not os.environ.get(COMPILED_RUN):
    os.environ["KAFKA_EOS_INTERPRETED"] = "1"
