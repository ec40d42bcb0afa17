"""A transactional.id's producer id and epoch as one number, so that producer-id rotation
(KAFKA-5283: a new producer id once the epoch is exhausted; under transaction version 2 also
when a transaction is decided, KIP-890's nextProducerId) needs no new state field.

With workload ``max_producer_epoch`` = M (standing for Short.MAX_VALUE) an epoch value ``v``
in the model stands for the producer id of *generation* ``v // (M + 1)`` (generation 0 is the
transactional.id's first producer id, each rotation gives the next) at epoch ``v % (M + 1)``.
Two values are equal exactly when the producer id and the epoch are, which is what the
coordinator and the leaders compare; a rotation moves to a higher generation, so the values of
a transactional.id grow as Kafka's (producer id, epoch) pairs do, and ``producer_id_rotation``
off wraps the epoch around inside one generation (a smaller value). At Kafka's own bound
(M = 32767) no epoch in a modelled run comes near it: every value is its plain epoch.

Leaders keep producer state per producer id: generation ``g`` > 0 of transactional.id ``tid``
has its own slot (:meth:`ProducerEpochs.slot`), as a rotated producer id has its own entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_eos.protocol.epochs import (
    MAX_PRODUCER_EPOCH,
    bumped_epoch,
    end_txn_retries_rotation,
    end_txn_rotates,
    fenced_epoch,
)

from .params import Faults, Workload


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerEpochs:
    """The epoch arithmetic of one model: its bound, the knob, and the rotated slots."""

    max_epoch: int
    rotation: bool
    #: transactional.ids (their generation-0 producer ids are 0 .. tid_count - 1)
    tid_count: int
    #: the first slot of generation 1 (after every generation-0 producer id)
    first_rotated_slot: int
    #: generations a transactional.id can reach beyond its first producer id
    generations: int

    def split(self, value: int) -> tuple[int, int]:
        """(generation, epoch) of a model epoch value (-1, no epoch, stays -1)."""
        if value < 0:
            return 0, value
        return divmod(value, self.max_epoch + 1)

    def _join(self, generation: int, epoch: int) -> int:
        return generation * (self.max_epoch + 1) + epoch

    def bump(self, value: int) -> int:
        """The coordinator's plain bump (prepareIncrementProducerEpoch, or
        prepareProducerIdRotation once the epoch is exhausted)."""
        generation, epoch = self.split(value)
        rotated, epoch = bumped_epoch(epoch, max_epoch=self.max_epoch, rotation=self.rotation)
        return self._join(generation + rotated, epoch)

    def fence(self, value: int) -> int:
        """prepareFenceProducerEpoch: epoch + 1 under the same producer id."""
        generation, epoch = self.split(value)
        fenced = fenced_epoch(epoch, max_epoch=self.max_epoch, rotation=self.rotation)
        return self._join(generation, fenced)

    def end_txn_bump(self, value: int) -> int:
        """Transaction version 2's bump when a transaction is decided (prepareAbortOrCommit:
        epoch + 1 under the same producer id, the epoch of the Prepare* and its markers).
        Kafka never bumps past the bound here (an exhausted epoch's decision moves to a new
        producer id once it completes: :meth:`completed`); ``producer_id_rotation`` off wraps
        around as :meth:`bump` does."""
        return self.fence(value)

    def completed(self, value: int) -> int:
        """The epoch value a transaction-version-2 Prepare* at ``value`` completes with
        (prepareComplete): the next generation's epoch 0 once it was decided at the exhausted
        epoch + 1 (nextProducerId), else ``value``."""
        generation, epoch = self.split(value)
        if end_txn_rotates(epoch, max_epoch=self.max_epoch, rotation=self.rotation):
            return self._join(generation + 1, 0)
        return value

    def retries_rotation(self, request: int, stored: int) -> bool:
        """Whether an EndTxn at ``request`` may retry the decision that rotated the producer id
        to the one ``stored`` names (retryOnOverflow: the request names the previous one)."""
        (old, request_epoch), (new, stored_epoch) = self.split(request), self.split(stored)
        return new == old + 1 and end_txn_retries_rotation(
            request_epoch, stored_epoch, self.max_epoch
        )

    def same_producer_id(self, one: int, other: int) -> bool:
        """Whether two epoch values (both set) name the same producer id."""
        return self.split(one)[0] == self.split(other)[0]

    def slot(self, pid: int, value: int) -> int:
        """The leaders' producer-state index of generation-0 producer id ``pid`` at the
        producer id ``value`` names (an idempotent producer's pid never rotates)."""
        generation = self.split(value)[0]
        if generation == 0 or pid >= self.tid_count:
            return pid
        return self.first_rotated_slot + (generation - 1) * self.tid_count + pid


def rotation_generations(
    workload: Workload, faults: Faults, max_epoch: int, *, rotation: bool
) -> int:
    """An upper bound on a transactional.id's producer-id rotations in one run. Every bump
    is an InitProducerId handled (each incarnation's, its fence, a KIP-360 bump after an
    abort, a copy re-sent after a loss, a failover or a request timeout), a timeout fence,
    or under transaction version 2 a transaction's decision (one per transaction: a retried
    EndTxn bumps nothing); a generation lasts at least ``max_epoch`` - 1 bumps before it is
    exhausted."""
    if max_epoch >= MAX_PRODUCER_EPOCH or not rotation:
        return 0  # no epoch in a modelled run comes near Kafka's bound; or it wraps around
    incarnations = len(workload.producers)
    transactions = sum(len(p.transactions) for p in workload.producers) + workload.ctp_input
    budgets = faults.losses + faults.failovers + faults.request_timeouts + faults.txn_timeouts
    bumps = 2 * incarnations + transactions + 2 * budgets + 1
    return bumps // max(1, max_epoch - 1)
