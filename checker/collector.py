"""The cyclic garbage collector during a search: made rare, not stopped.

A search allocates a few containers per transition (successor tuples, labels, frontier
entries) and frees most of them at once by reference counting; CPython still starts a
young-generation collection every 700 net allocations of containers, and each one walks
every young container alive. On the default Kafka check (compiled, its 1,020,269 states of
the time) those collections were about 8% of the CPU time (perf). States are immutable
values and the search makes no reference cycles, so collections are made rare: what lives
across levels is frozen out of them by the search (``gc.freeze``), and the little cyclic
garbage a model makes (an exception's traceback, say) is still collected.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Young generation every 100,000 net container allocations instead of 700; the older two as
#: CPython's defaults count them (in collections of the generation below).
RARE_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def rare_collections() -> Iterator[None]:
    """Collect rarely inside the block; the caller's thresholds again after it."""
    saved = gc.get_threshold()
    gc.set_threshold(*RARE_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*saved)
