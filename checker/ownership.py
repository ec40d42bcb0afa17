"""Which worker owns a state: chosen for locality, so that most steps stay with their worker.

A worker stores and expands the states it owns, and sends every successor another worker owns
to that worker. Owned by its whole fingerprint, a successor belongs to a random worker: with
two workers half of all successors travel (their parts' numbers and bytes, then a state
built from them at the other end), and each worker meets nearly every value of every part, so
whatever the model caches per part's value (the Kafka model caches the steps a network or a
clients value allows) is worked out again in every worker.

A state made of parts (a tuple of tuples, one per process or variable; see
fingerprint.by_parts) can instead be owned by the fingerprints of a few parts that steps seldom
change: a step that leaves them alone keeps its successor with the worker that made it. This
is the partition function of Lerda and Sisto's distributed SPIN ("Distributed-memory model
checking with SPIN", SPIN 1999), which hashes only part of the state vector for the same
reason. The parts are chosen from a sample of the state space, not declared by the model:
seeded random walks from the initial states record which parts each step changes and the
states they pass. The subset chosen is the one the fewest sampled steps change among those
that can spread the states evenly over the workers: at least ``KEYS_PER_WORKER`` distinct
values per worker among the sampled states, no one value holding more than ``HEAVIEST`` of an
even share of them, and the sampled states split no worse than ``SPREAD`` times even. If none
does, or the states are not made of parts, a state is owned by its whole fingerprint as before.

The first two rules are the test; the sample's own split is only a loose guard, because the
walks all start at the initial states and so weigh the shallow states, where a part has few
values, far above their share of a breadth-first search. Judged by that split (within 1.08x
even, 48 walks), the default Kafka check chose partitions and consumer, which 16.4% of all its
steps change and which leave the busier worker 54.5% of the states; by many values, none heavy,
it chooses partitions alone: 12.9% of steps, 50.5% of the states. Two workers' CPU on the
default's safety search, in all and on the busier one: owned by whole fingerprint 20.6-21.0 s
and 10.3-10.9 s; by partitions and consumer 17.4 s and 9.3 s; by partitions 16.0 s and 8.0 s
(one process keeping its states: 10.5 s). What is left of the difference: each worker still
fingerprints every successor, and works out again for its own states what the model caches per
value of the parts that do not decide the owner (the network's deliverable messages, the
clients' steps).

Which worker owns what changes only the work's split, never the result: counts, verdicts and
counterexamples are the sequential search's whatever the split (parallel.py says why).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Final

from .fingerprint import by_parts, compound, fingerprint, part_print, part_prints

#: Seeded random walks that sample the state space, and each one's longest run of steps.
WALKS = 256
WALK_STEPS = 96
#: Distinct owning values among the sampled states, at least this many per worker.
KEYS_PER_WORKER = 32
#: No one owning value holds more than this share of the sampled states, times an even share.
HEAVIEST = 0.5
#: The busiest worker's share of the sampled states, at most this times an even share: a loose
#: guard, the sample's spread is a poor guide (see above), the two rules before are the test.
SPREAD = 1.3
#: A subset more sampled steps change than this keeps too few successors with their worker to
#: be worth the risk of an uneven split: the whole fingerprint spreads states evenly.
MOST_CHANGED = 0.5
#: Past this many parts, subsets grow greedily (least changed first) instead of all being tried.
EXHAUSTIVE_PARTS = 10
_LOW_30: Final = (1 << 30) - 1


@dataclass(frozen=True, slots=True)
class Ownership:
    """A state's owner among ``workers``: by the fingerprints of its ``parts`` (indices into
    the state), or by its whole fingerprint when ``parts`` is empty."""

    workers: int
    parts: tuple[int, ...] = ()
    #: of the sampled steps, the fraction that change one of ``parts`` (1.0: by fingerprint)
    sampled_change: float = 1.0

    def owner(self, fp: int, prints: Sequence[int] | None) -> int:
        """The owner of the state with fingerprint ``fp`` and part fingerprints ``prints``
        (None for a state not fingerprinted by parts)."""
        parts = self.parts
        if not parts or prints is None:
            return (fp >> 32) % self.workers  # the high bits: the low ones pick table slots
        return _owner_of_parts(prints, parts, self.workers)

    def owner_of_state(self, state: Any) -> int:
        """The owner of ``state`` itself: only its owning parts are fingerprinted (a worker
        that keeps its states takes no fingerprint of the whole)."""
        parts = self.parts
        if parts and by_parts(state):
            return _owner_of_key(_key([part_print(state[at]) for at in parts]), self.workers)
        return self.owner(fingerprint(state), None)

    def keeps_owner(self, state: Any, target: Any) -> bool:
        """Whether a step from ``state`` to ``target`` keeps the owner for sure: ``target``
        holds each of ``state``'s owning parts as the very same object, one of them a tuple
        (so both states are owned by those parts' fingerprints, which are then equal). Most
        steps leave the owning parts alone, which is why they own: this spares a worker
        looking up their fingerprints for each successor."""
        parts = self.parts
        if (not parts or type(state) is not tuple or type(target) is not tuple
                or len(target) != len(state)):
            return False
        has_compound = False
        for at in parts:
            part = state[at]
            if target[at] is not part:
                return False
            has_compound = has_compound or compound(part)
        return has_compound

    def describe(self) -> str:
        if not self.parts:
            return "by fingerprint"
        return (f"by parts {', '.join(map(str, self.parts))} (positions in the state tuple; "
                f"{self.sampled_change:.0%} of sampled steps change them)")


def _owner_of_parts(prints: Sequence[int], parts: tuple[int, ...], workers: int) -> int:
    return _owner_of_key(_key([prints[at] for at in parts]), workers)


def _key(owning_prints: list[int]) -> int:
    """What owns a state, from its owning parts' fingerprints: the sum of their top 30 bits,
    modulo 2**30 (uniform, as each term is; small enough to stay a machine integer in compiled
    code, where arithmetic on 64-bit Python ints allocates)."""
    total = 0
    for print_ in owning_prints:
        total += print_ >> 34
    return total & _LOW_30


def _owner_of_key(key: int, workers: int) -> int:
    return key % workers


def chosen(actions: Callable[[Any], Iterable[tuple[Any, Any]]], initial: Sequence[Any],
           workers: int) -> Ownership:
    """The ownership for ``workers`` workers exploring from ``initial`` with ``actions``
    (the model's successor function: (label, state) pairs)."""
    whole = Ownership(workers)
    if workers < 2 or not initial or not all(by_parts(state) for state in initial):
        return whole
    try:
        sample = _walked(actions, initial)
    except Exception:
        return whole
    if sample is None:
        return whole
    states, changed = sample
    best: tuple[float, int, tuple[int, ...]] | None = None
    for parts in _candidates(changed, len(states[0])):
        touched = _mask_of(parts)
        rate = sum(1 for mask in changed if mask & touched) / max(len(changed), 1)
        if best is not None and (rate, len(parts)) >= best[:2]:
            continue
        if _spreads(states, parts, workers):
            best = (rate, len(parts), parts)
    if best is None or best[0] > MOST_CHANGED:
        return whole
    return Ownership(workers, best[2], best[0])


def _walked(actions: Callable[[Any], Iterable[tuple[Any, Any]]],
            initial: Sequence[Any]) -> tuple[list[tuple[int, ...]], list[int]] | None:
    """The sampled states, as their parts' fingerprints (each state once), and, for every step of
    every state a walk passed, a bitmask of the parts it changed; None if a sampled state is
    not a tuple of parts of one length."""
    rng = random.Random(0)  # same model, same ownership: same seed, same result
    width = len(initial[0])
    # each sampled state's successors, by its parts' fingerprints: a state met again costs
    # nothing (a small state space is sampled whole, not walked WALKS x WALK_STEPS steps),
    # and its steps count once, as the search expands each state once
    states: dict[tuple[int, ...], list[Any]] = {}
    changed: list[int] = []
    for walk in range(WALKS):
        state = initial[walk % len(initial)]
        for _ in range(WALK_STEPS):
            if not by_parts(state) or len(state) != width:
                return None
            key = tuple(part_prints(state))
            successors = states.get(key)
            if successors is None:
                successors = states[key] = [target for _, target in actions(state)]
                for target in successors:
                    if type(target) is tuple and len(target) == width:
                        changed.append(_changed_mask(state, target))
            if not successors:
                break
            state = rng.choice(successors)
    return list(states), changed


def _changed_mask(state: tuple[Any, ...], target: tuple[Any, ...]) -> int:
    mask = 0
    for at, (before, after) in enumerate(zip(state, target, strict=True)):
        if before is not after and before != after:
            mask |= 1 << at
    return mask


def _mask_of(parts: tuple[int, ...]) -> int:
    mask = 0
    for at in parts:
        mask |= 1 << at
    return mask


def _candidates(changed: list[int], width: int) -> Iterable[tuple[int, ...]]:
    """The subsets of parts to try (never all of them: that is the whole fingerprint's
    spread with none of its cost saved)."""
    if width <= EXHAUSTIVE_PARTS:
        for size in range(1, width):
            yield from combinations(range(width), size)
        return
    counts = [sum(1 for mask in changed if mask >> at & 1) for at in range(width)]
    order = sorted(range(width), key=lambda at: (counts[at], at))
    for size in range(1, width):
        yield tuple(sorted(order[:size]))


def _spreads(states: Iterable[tuple[int, ...]], parts: tuple[int, ...], workers: int) -> bool:
    """Whether owning by ``parts`` can spread the states evenly over ``workers``: many
    values, none heavy, and the sampled states not far from even."""
    shares = [0] * workers
    keys: dict[int, int] = {}
    for prints in states:
        key = _key([prints[at] for at in parts])
        keys[key] = keys.get(key, 0) + 1
        shares[_owner_of_key(key, workers)] += 1
    sampled = sum(shares)
    return (len(keys) >= KEYS_PER_WORKER * workers
            and max(keys.values()) * workers <= HEAVIEST * sampled
            and max(shares) * workers <= SPREAD * sampled)
