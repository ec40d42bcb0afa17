"""``kafka-eos``: the command-line entry point.

Every module of this package that defines ``register(subparsers)`` contributes subcommands;
each subcommand sets ``run`` (a function of the parsed arguments returning the exit code) with
``parser.set_defaults(run=...)``. Exit codes are the same everywhere: 0 ok, 1 a property was
violated, 2 a usage or input error, 3 stopped by a bound before the answer was complete.
A reader that goes away (``kafka-eos check | head``) ends the command quietly with the shell's
SIGPIPE status, 141, as other Unix tools do.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import pkgutil
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from kafka_eos import __version__
from kafka_eos.errors import SHOWN_CHARACTERS, InputError

EXIT_OK = 0
EXIT_VIOLATED = 1
EXIT_USAGE = 2
EXIT_BOUNDED = 3
#: What a shell reports for a process ended by SIGPIPE (128 + 13).
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


class _OneLineParser(argparse.ArgumentParser):
    """argparse with its usage errors as one line, ``kafka-eos: error: ...`` like every other
    error (argparse prints the usage first); ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("kafka-eos").strip()
        where = f"{command}: " if command else ""
        hint = f"kafka-eos {command} --help" if command else "kafka-eos --help"
        self.exit(EXIT_USAGE, f"kafka-eos: error: {where}{shown_text(message)} (see {hint})\n")


def add_documented_subcommand(
    subparsers: Any, name: str, *, help: str, doc: str | None
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` description is its module's docstring, as written: its
    line breaks kept and its literal marks (two backquotes) shown as plain quotes."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=(doc or "").replace("``", "'"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
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
    parser.set_defaults(commands=subparsers.choices)  # to name the command in an error
    return parser


def shown_text(message: str) -> str:
    """An argparse message with the user's text in it, cut to stay one short line."""
    limit = 4 * SHOWN_CHARACTERS
    return message if len(message) <= limit else message[: limit - 3] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except InputError as exc:
        print(f"kafka-eos: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        # Files and sockets named by the user: a missing folder, a directory, no permission,
        # a full disk. Every command turns the ones it expects into an InputError; this is
        # the net under the rest, so the user still gets one line naming the file.
        print(f"kafka-eos: error: {_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kafka-eos: interrupted", file=sys.stderr)
        return 130


def console() -> NoReturn:
    """The ``kafka-eos`` command: :func:`main`, then exit with its code.

    What the command leaves alive (a model's caches, a search's results: after the default
    check, a few million container objects) is frozen out of the collection the interpreter
    runs as it exits: that collection walked them all and found nothing, 0.5-1 s after the
    default check. The process is ending, so nothing freezing keeps alive outlives it."""
    code = main()
    gc.freeze()
    sys.exit(code)


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command they were given to, whose --help lists its options
        commands: dict[str, argparse.ArgumentParser] = args.commands
        commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if getattr(args, "run", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(args.run(args))


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush of what the closed pipe
    did not take raises nothing more (Python's documented way to handle SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename is not None else ""
    return f"{where}{exc.strerror or exc}"


if __name__ == "__main__":
    console()
