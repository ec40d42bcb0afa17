"""``kafka-eos``: the command-line entry point.

Every module of this package that defines ``register(subparsers)`` contributes subcommands;
each subcommand sets ``run`` (a function of the parsed arguments returning the exit code) with
``parser.set_defaults(run=...)``. Exit codes are the same everywhere: 0 ok, 1 a property was
violated, 2 a usage or input error, 3 stopped by a bound before the answer was complete.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from kafka_eos import __version__
from kafka_eos.errors import InputError

EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2
EXIT_BOUNDED = 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafka-eos",
        description="Model-check Kafka's exactly-once semantics and test implementations of it.",
    )
    parser.add_argument("--version", action="version", version=f"kafka-eos {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = importlib.import_module("kafka_eos.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"kafka_eos.cli.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except InputError as exc:
        print(f"kafka-eos: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kafka-eos: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
