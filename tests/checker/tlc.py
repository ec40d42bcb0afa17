"""Running TLC on the liveness peers in tests/checker/tla/ and reading its answer.

The suite never needs TLC: ``tla/tlc_results.yaml`` holds TLC's recorded verdicts and figures,
and the tests compare the checker with those. To record them again, or to compare live (the
opt-in test runs when ``KAFKA_EOS_TLA2TOOLS`` names the jar)::

    .venv/bin/python tests/checker/tlc.py --jar /tmp/tla2tools.jar          # print
    .venv/bin/python tests/checker/tlc.py --jar /tmp/tla2tools.jar --write  # record

Each case of the YAML names its TLA+ module and .cfg, and the Python port (an example model
with parameters) that must give the same verdict on the same number of distinct states.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TLA = Path(__file__).resolve().parent / "tla"
RESULTS = TLA / "tlc_results.yaml"
JAR_VARIABLE = "KAFKA_EOS_TLA2TOOLS"


@dataclass(frozen=True, slots=True)
class TlcAnswer:
    """What TLC said about one .cfg."""

    verdict: str  # "ok" or "violated"
    distinct_states: int
    lasso_states: int | None  # distinct states listed in the counterexample
    loop: int | None  # 0-based index of the state the lasso goes back to
    seconds: float


def cases() -> dict[str, dict[str, Any]]:
    loaded: dict[str, dict[str, Any]] = yaml.safe_load(RESULTS.read_text(encoding="utf-8"))
    return loaded


def run_tlc(jar: str, case: str, module: str) -> TlcAnswer:
    """Run TLC 2.18 on ``tla/<module>.tla`` with ``tla/<case>.cfg`` and parse its answer."""
    with tempfile.TemporaryDirectory() as meta:
        started = time.perf_counter()
        completed = subprocess.run(
            ["java", "-XX:+UseParallelGC", "-cp", jar, "tlc2.TLC", "-workers", "2",
             "-metadir", meta, "-config", f"{case}.cfg", f"{module}.tla"],
            cwd=TLA, capture_output=True, text=True, timeout=600, check=False,
        )
        seconds = time.perf_counter() - started
    return parse(completed.stdout, seconds)


def parse(output: str, seconds: float) -> TlcAnswer:
    states = re.search(r"([\d,]+) distinct states found", output)
    if states is None:
        raise RuntimeError(f"TLC gave no state count:\n{output[-2000:]}")
    distinct = int(states.group(1).replace(",", ""))
    if "No error has been found" in output:
        return TlcAnswer("ok", distinct, None, None, seconds)
    if "Temporal properties were violated" not in output:
        raise RuntimeError(f"TLC found something other than a liveness violation:\n{output}")
    listed = [int(n) for n in re.findall(r"^State (\d+): <", output, re.MULTILINE)]
    back = re.search(r"^Back to state (\d+)", output, re.MULTILINE)
    # "Back to state j" closes the loop at state j; "State k: Stuttering" stays in the last.
    loop = int(back.group(1)) - 1 if back else len(listed) - 1
    return TlcAnswer("violated", distinct, len(listed), loop, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jar", required=True, help="path to tla2tools.jar (TLC 2.18)")
    parser.add_argument("--write", action="store_true", help=f"record into {RESULTS.name}")
    args = parser.parse_args()
    recorded = cases()
    for case, entry in recorded.items():
        answer = run_tlc(args.jar, case, entry["module"])
        entry["tlc"] = {
            "verdict": answer.verdict,
            "distinct_states": answer.distinct_states,
            "lasso_states": answer.lasso_states,
            "loop": answer.loop,
            "seconds": round(answer.seconds, 1),
        }
        print(f"{case:<20} {answer}")
    if args.write:
        header = "".join(
            line + "\n" for line in RESULTS.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")
        )
        RESULTS.write_text(header + yaml.safe_dump(recorded, sort_keys=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
