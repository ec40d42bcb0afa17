"""The one exception type for user-facing mistakes.

Anything a user can get wrong (a bad option, a missing file, a bad configuration, a model that
breaks the checker's contract, a malformed history) raises :class:`InputError` with a message
that is one line naming the problem and, where possible, what to do. The command line prints it
as ``kafka-eos: error: <message>`` and exits 2; it never shows a traceback for one.
"""

from __future__ import annotations


class InputError(Exception):
    """A user-facing error: one line that names the problem."""
