"""How much memory this process holds, and how much ``store="auto"`` lets it hold.

``auto`` keeps the states themselves (the fastest store) until both their number passes its
threshold (store.py) and the process holds more than :data:`AUTO_MEMORY_SHARE` of the memory
the machine gives it, then switches to fingerprints: a check that fits keeps its speed (the
default with one coordinator failover, 7,983,706 states: 149.9 s and 1.5 GB with its states
on a 24 GB machine, where fingerprints take about 1.3x the CPU), and one that would not fit
switches while a quarter of memory is still enough for the dict it turns into fingerprints
and the queue it goes on with.
Where the memory cannot be known (no /proc, no sysconf), the threshold alone decides.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
from pathlib import Path

#: The share of the machine's (or its cgroup's) memory past which ``auto`` switches.
AUTO_MEMORY_SHARE = 0.25
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max",  # cgroup v2
                  "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # cgroup v1


def auto_memory_budget() -> int:
    """Bytes this process may hold before ``auto`` switches to fingerprints (0: unknown)."""
    return int(machine_memory() * AUTO_MEMORY_SHARE)


def machine_memory() -> int:
    """The physical memory, or the container's limit if lower, in bytes (0: unknown)."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 0
    limits = [physical]
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) or a huge number (v1) when there is no limit
            limits.append(int(text))
    return max(0, min(limits))


def resident_bytes() -> int:
    """The resident memory of this process now (its peak where "now" is not known)."""
    now = _resident_now("self")
    if now is not None:
        return now
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB else


def resident_bytes_with_children() -> int:
    """This process's resident memory and that of its live child processes (a check's
    workers); children whose memory cannot be read count 0."""
    children = multiprocessing.active_children()
    return resident_bytes() + sum(_resident_now(str(child.pid)) or 0 for child in children)


def _resident_now(pid: str) -> int | None:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text(encoding="ascii").split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
