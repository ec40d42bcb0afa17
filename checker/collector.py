"""The cyclic garbage collector during a search: off while the model makes no cyclic garbage.

A search allocates a few containers per transition (successor tuples, labels, frontier
entries); the states it keeps are immutable tuples and the search makes no reference cycles,
so reference counting frees everything that dies. CPython still walks every young container
at each young-generation collection: with the collector made rare (100,000 allocations instead
of 700) those walks were still 3% of the default Kafka check's CPU time with the states kept,
7% with fingerprints, and 14% in a worker process, whose states all arrive as fresh tuples
(perf, compiled). So the search turns the collector off, and checks that this is safe: at
depths 1, 2, 4, 8, ... it collects once (what lives across depths is frozen out of the walk by
the search, so a probe walks one depth's objects); if a probe finds cyclic garbage (a model
whose steps keep an exception's traceback, say), collections come back, made rare, for the
rest of the search. The caller's collector settings are restored afterwards.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Once a model has shown cyclic garbage: young generation every 100,000 net container
#: allocations instead of 700; the older two as CPython's defaults count them.
RARE_THRESHOLDS = (100_000, 50, 100)


class Collector:
    """The collector's state for one search (or one worker's share of it)."""

    __slots__ = ("collecting",)

    def __init__(self) -> None:
        self.collecting = False  # True once a probe found cyclic garbage

    @contextmanager
    def off(self) -> Iterator[None]:
        """The collector off inside the block (see the module docstring); the caller's
        settings after it. What lives before the block is frozen out of the probes (its
        cyclic garbage is the caller's, not the model's), and unfrozen after it unless the
        caller had frozen objects itself."""
        saved, enabled, frozen_by_caller = gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()
        gc.disable()
        gc.freeze()
        try:
            yield
        finally:
            gc.set_threshold(*saved)
            (gc.enable if enabled else gc.disable)()
            if not frozen_by_caller:
                gc.unfreeze()

    def depth_done(self, depth: int) -> None:
        """A depth is stored: probe for cyclic garbage at depths 1, 2, 4, 8, ... (after the
        first found, collect rarely for the rest of the search), then freeze what is alive, so
        that probes and collections walk only what later depths make. Objects frozen are still
        freed when no longer referenced."""
        if not self.collecting and not depth & (depth - 1) and gc.collect():
            gc.set_threshold(*RARE_THRESHOLDS)
            gc.enable()
            self.collecting = True
        gc.freeze()
