"""``kafka-eos compile``: build the compiled hot path (mypyc) for the current sources."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def register(subparsers: Any) -> None:
    compiler = subparsers.add_parser(
        "compile",
        help="compile the model and the search with mypyc (faster checks)",
        description="Compile the model's modules and the checker's search with mypyc into "
        "a cache outside the source tree ($KAFKA_EOS_CACHE, default ~/.cache/kafka-eos), "
        "keyed by a hash of the sources and the Python version. Later commands load the "
        "compiled modules only while the sources still hash to that key: after any edit "
        "the pure-Python sources run until the next compile. KAFKA_EOS_INTERPRETED=1 "
        "forces the pure-Python sources. Needs mypy (pip install -e '.[compile]'), a C "
        "compiler and Python's headers. Exit 0 built (or already built), 2 cannot build.",
    )
    compiler.add_argument("--force", action="store_true",
                          help="build again even if a build of these sources is cached")
    compiler.add_argument("--jobs", type=int, default=2, metavar="N",
                          help="C compiler processes in parallel (default 2)")
    compiler.add_argument("--verbose", action="store_true",
                          help="show mypyc's and the C compiler's output")
    compiler.set_defaults(run=run_compile)


def run_compile(args: argparse.Namespace) -> int:
    from kafka_eos.compiled.build import build

    started = time.monotonic()
    built = build(jobs=max(1, args.jobs), force=args.force,
                  log=sys.stderr if args.verbose else None)  # type: ignore[arg-type]
    if built.fresh:
        print(f"compiled {len(built.modules)} modules in {time.monotonic() - started:.0f} s "
              f"into {built.folder}")
    else:
        print(f"already compiled: {built.folder} ({len(built.modules)} modules)")
    return 0
