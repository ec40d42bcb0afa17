"""The protocol knobs, declared once: each with its type, allowed values, default (Kafka 4.x),
documentation and the Kafka JIRA or KIP it stands for.

:class:`Knobs` is the one declaration. The model checks it (``model/params.py`` re-exports it),
the reference broker and clients obey it (``BrokerConfig.knobs``; the client-side knobs become
producer settings in ``reference/conformance/common.py``), the command line reads it
(``--knob``, ``serve --set`` and the ``knobs:`` of a configuration file go through
:func:`knob_value`) and spec/SPEC.md's knob table is :func:`knob_table` (a test compares them).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kafka_eos.errors import InputError

#: Who obeys a knob: a partition leader, the transaction coordinator, the producer client, or
#: the controller that elects partition leaders.
Role = Literal["leader", "coordinator", "client", "controller"]
KnobValue = bool | int


@dataclass(frozen=True, slots=True, kw_only=True)
class Knob:
    """One knob's declaration (read from the metadata of a :class:`Knobs` field)."""

    name: str
    kind: type[bool] | type[int]
    default: KnobValue
    #: the values it may take; None: any integer not below ``minimum``
    allowed: tuple[KnobValue, ...] | None
    minimum: int
    #: who obeys it, in Kafka and in the reference
    roles: tuple[Role, ...]
    #: the Kafka JIRA, KIP or configuration it stands for
    kafka: str
    doc: str

    def describe_allowed(self) -> str:
        if self.kind is bool:
            return "true or false"
        if self.allowed is not None:
            return " or ".join(str(value) for value in self.allowed)
        return f"an integer >= {self.minimum}"


def _knob(
    default: KnobValue,
    *,
    roles: tuple[Role, ...],
    kafka: str,
    doc: str,
    allowed: tuple[KnobValue, ...] | None = None,
    minimum: int = 0,
) -> Any:
    metadata = {"roles": roles, "kafka": kafka, "doc": doc, "allowed": allowed, "minimum": minimum}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True, kw_only=True)
class Knobs:
    """Protocol switches; each default is Kafka 4.x behaviour."""

    idempotence: bool = _knob(
        True,
        roles=("client", "leader"),
        kafka="enable.idempotence (KIP-98; on by default since Kafka 3.0, KIP-679)",
        doc="producers use producer ids and sequence numbers, and leaders deduplicate by them; "
        "off: no producer id, no sequence numbers (transactions need it)",
    )
    batch_cache_size: int = _knob(
        5,
        roles=("leader",),
        kafka="ProducerStateEntry.NUM_BATCHES_TO_RETAIN (KAFKA-5494)",
        doc="batches of metadata a leader keeps per producer to recognise a retried batch",
        minimum=1,
    )
    max_in_flight: int = _knob(
        5,
        roles=("client",),
        kafka="max.in.flight.requests.per.connection (KAFKA-5494)",
        doc="outstanding Produce requests per partition (per connection in Kafka)",
        minimum=1,
    )
    transaction_version: int = _knob(
        2,
        roles=("client", "leader", "coordinator"),
        kafka="transaction.version feature (KIP-890 part 2; 2 by default in Kafka 4.0)",
        doc="1: classic transactions; 2: EndTxn bumps the epoch, Prepare* and the markers "
        "carry it, leaders require a marker epoch above the stored one (equal only as an "
        "idempotent retry, KAFKA-19999), retries recognised by epoch + 1",
        allowed=(1, 2),
    )
    marker_retry_accepted: bool = _knob(
        True,
        roles=("leader",),
        kafka="ProducerAppendInfo.checkProducerEpoch's idempotent marker retry (KAFKA-19999)",
        doc="under transaction version 2 a leader writes a marker with exactly the stored epoch "
        "when no transaction is open (a retry of a marker already written: its response was "
        "lost, or a new coordinator re-sends a loaded Prepare*); off: the strict TV2 check "
        "before that fix refuses it with INVALID_PRODUCER_EPOCH, the coordinator gives up the "
        "transaction's markers and it stays in Prepare* until a failover",
    )
    marker_transaction_version: bool = _knob(
        True,
        roles=("coordinator", "leader"),
        kafka="WriteTxnMarkers' TransactionVersion (KIP-1228, KAFKA-19446, Kafka 4.2)",
        doc="a marker tells the leader its transaction version, so the leader holds a "
        "transaction-version-2 marker to the strict epoch rule (above the stored epoch); off: "
        "the leader cannot tell, and checks every marker with the version-1 rule (not below the "
        "stored epoch, Kafka 4.0 and 4.1), which takes a late marker of the previous "
        "transaction (same epoch as the open one under version 2) for the open transaction's",
    )
    partition_verification: bool = _knob(
        True,
        roles=("leader",),
        kafka="transaction.partition.verification.enable (KIP-890 part 1, Kafka 3.6)",
        doc="the leader verifies a transaction's first append with the coordinator",
    )
    verification_guard: bool = _knob(
        True,
        roles=("leader",),
        kafka="UnifiedLog.analyzeAndValidateProducerState's VerificationGuard check "
        "(KIP-890 part 1, KAFKA-14402)",
        doc="the leader appends a verified batch only if the VerificationGuard its "
        "verification started with is still the producer's (a transactional append or a "
        "marker in between clears it); off: the leader appends on any answer of the "
        "coordinator, so a late NONE for a transaction that ended meanwhile opens a hanging "
        "transaction",
    )
    coordinator_epoch_check: bool = _knob(
        True,
        roles=("leader",),
        kafka="ProducerAppendInfo.checkCoordinatorEpoch (KIP-98 coordinator epochs)",
        doc="leaders refuse markers from a deposed coordinator (an older coordinator epoch)",
    )
    producer_epoch_check: bool = _knob(
        True,
        roles=("leader",),
        kafka="ProducerAppendInfo.checkProducerEpoch (KIP-98 fencing; KIP-588 "
        "INVALID_PRODUCER_EPOCH)",
        doc="leaders refuse data batches and transaction markers from an older producer epoch "
        "(Kafka's one check guards both: appendDataBatch and appendEndTxnMarker call it). With "
        "partition_verification on, the coordinator's verification refuses such a write too, "
        "and under transaction version 2 the leader asks the coordinator to add the partition "
        "whatever this knob says; so the named checks no-producer-epoch-check and "
        "ctp-no-producer-epoch-check run transaction version 1 without verification: the "
        "epoch check is what protected Kafka before 3.6",
    )
    timeout_epoch_bump: bool = _knob(
        True,
        roles=("coordinator",),
        kafka="TransactionCoordinator.abortTimedOutTransactions, "
        "TransactionMetadata.prepareFenceProducerEpoch (KAFKA-6119, Kafka 1.0.1)",
        doc="the coordinator fences before it aborts a timed-out transaction: the PrepareAbort "
        "and its markers carry epoch + 1, so the producer that kept going is refused "
        "(PRODUCER_FENCED) instead of adding partitions to a new transaction at its old epoch; "
        "off: the abort at the transaction's own epoch, as an EndTxn(abort) from the client "
        "(under transaction version 2 that abort bumps the epoch anyway, so the knob changes "
        "only lastProducerEpoch there)",
    )
    producer_id_rotation: bool = _knob(
        True,
        roles=("coordinator",),
        kafka="TransactionMetadata.isProducerEpochExhausted / prepareProducerIdRotation, "
        "TransactionCoordinator.handleInitProducerId (KAFKA-5283, Kafka 0.11; KIP-360); under "
        "transaction version 2 TransactionCoordinator.endTransaction's nextProducerId, "
        "TransactionMetadata.prepareAbortOrCommit / prepareComplete (KIP-890; KAFKA-18660, "
        "KAFKA-20090)",
        doc="the producer epoch is an int16: once it is exhausted (at Short.MAX_VALUE - 1, "
        "workload max_producer_epoch - 1 in the model) the coordinator's next epoch bump gives "
        "the transactional.id a new producer id at epoch 0 instead, so every epoch a zombie "
        "may hold stays below the new ones of its producer id. Under transaction version 2 a "
        "transaction decided at the exhausted epoch (by EndTxn, or by the fence of a timeout "
        "or an InitProducerId) is prepared and marked under the old producer id at epoch + 1 "
        "and completes under a new producer id at epoch 0, which the EndTxn answer already "
        "names; off: the bump past the largest epoch wraps around to 0 under the same "
        "producer id (the int16 overflow KAFKA-5283 is about; apache/kafka#3183 proposed "
        "wrapping and was closed as unsafe), so a new incarnation can get an epoch a zombie "
        "still holds, or one below it",
    )
    group_generation_check: bool = _knob(
        True,
        roles=("coordinator",),
        kafka="GroupMetadataManager / OffsetMetadataManager.commitTransactionalOffset member "
        "and generation validation (KIP-447, Kafka 2.5)",
        doc="the group coordinator refuses a TxnOffsetCommit whose consumer group generation is "
        "not the group's current one (ILLEGAL_GENERATION, abortable for the producer), so a "
        "member that lost its input partition in a rebalance (fault budget rebalances) cannot "
        "commit offsets for it; off: the stale member's commit is written",
    )
    producer_state_expiry: bool = _knob(
        False,
        roles=("leader",),
        kafka="producer.id.expiration.ms (KIP-854; one day by default)",
        doc="leaders may expire an idle producer's state (fault budget expiries). Kafka 4.x does "
        "it after one day, far beyond a modelled run, so it is off unless switched on; the "
        "reference then expires after BrokerConfig.producer_state_expiry_ms",
    )

    acks: int = _knob(
        -1,
        roles=("client", "leader"),
        kafka="acks (all, written -1, by default since Kafka 3.0 with idempotence, KIP-679)",
        doc="-1 (all): a replicated partition's leader answers a Produce once the high "
        "watermark passed the batch (every in-sync replica has it; DelayedProduce); 1: once "
        "the leader appended it, so a leader failover can lose an acknowledged write. Matters "
        "only with workload replicas above 1",
        allowed=(-1, 1),
        minimum=-1,
    )
    min_insync_replicas: int = _knob(
        1,
        roles=("leader",),
        kafka="min.insync.replicas (topic config; Kafka's default 1)",
        doc="with acks=all a leader whose ISR is smaller refuses a Produce "
        "(NOT_ENOUGH_REPLICAS) and answers one whose ISR shrank while it waited "
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND; at most workload replicas",
        minimum=1,
    )
    unclean_leader_election: bool = _knob(
        False,
        roles=("controller",),
        kafka="unclean.leader.election.enable (topic config; off by default)",
        doc="when no in-sync replica is left to take over, the controller may elect a replica "
        "outside the ISR (leader_failovers fault): acknowledged writes it lacks are truncated "
        "everywhere",
    )

    def __post_init__(self) -> None:
        for knob in KNOBS.values():
            value = getattr(self, knob.name)
            problem = _problem(knob, value)
            if problem:
                raise ValueError(f"knob {knob.name}: {problem}")

    def changed(self) -> dict[str, KnobValue]:
        """The knobs that differ from Kafka 4.x's defaults, by name."""
        return {
            name: getattr(self, name)
            for name, knob in KNOBS.items()
            if getattr(self, name) != knob.default
        }


def _declared() -> dict[str, Knob]:
    knobs: dict[str, Knob] = {}
    for spec in dataclasses.fields(Knobs):
        meta = spec.metadata
        kind = bool if isinstance(spec.default, bool) else int
        allowed = meta["allowed"] if kind is int else (False, True)
        knobs[spec.name] = Knob(
            name=spec.name,
            kind=kind,
            default=spec.default,  # type: ignore[arg-type]
            allowed=allowed,
            minimum=meta["minimum"],
            roles=meta["roles"],
            kafka=meta["kafka"],
            doc=meta["doc"],
        )
    return knobs


#: Every knob by name, in declaration order.
KNOBS: dict[str, Knob] = _declared()


def _problem(knob: Knob, value: object) -> str | None:
    """Why ``value`` is not a value of ``knob``, or None."""
    if knob.kind is bool:
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int):
        return f"expected {knob.describe_allowed()}, got {value!r}"
    if knob.allowed is not None and value not in knob.allowed:
        return f"must be {knob.describe_allowed()}, got {value}"
    if value < knob.minimum:
        return f"must be at least {knob.minimum}, got {value}"
    return None


def knob_value(name: str, value: object, *, where: str) -> KnobValue:
    """``value`` checked against knob ``name``'s declaration; an unknown knob or a value it
    cannot take is an InputError naming ``where`` (the file, key or option at fault)."""
    knob = KNOBS.get(name)
    if knob is None:
        raise InputError(f"{where}: no such knob {name!r}; knobs: {', '.join(KNOBS)}")
    problem = _problem(knob, value)
    if problem:
        raise InputError(f"{where}: {problem}")
    return value  # type: ignore[return-value]


def make_knobs(
    values: Mapping[str, object], *, where: str, base: Knobs | None = None
) -> Knobs:
    """``base`` (Kafka 4.x's defaults) with ``values`` set, each checked by :func:`knob_value`;
    ``where`` names the file or option the values come from (``where: NAME: problem``)."""
    checked: dict[str, Any] = {
        name: knob_value(name, value, where=f"{where}{name}") for name, value in values.items()
    }
    return dataclasses.replace(base or Knobs(), **checked)


def parse_knob_text(name: str, text: str, *, where: str) -> KnobValue:
    """A knob's value written on the command line (``true``/``false`` or an integer)."""
    knob = KNOBS.get(name)
    if knob is None:
        raise InputError(f"{where}: no such knob {name!r}; knobs: {', '.join(KNOBS)}")
    lowered = text.strip().lower()
    value: object = text
    if knob.kind is bool and lowered in ("true", "false"):
        value = lowered == "true"
    elif knob.kind is int:
        try:
            value = int(lowered)
        except ValueError:
            value = text
    return knob_value(name, value, where=where)


def parse_assignment(text: str, *, option: str) -> tuple[str, str]:
    """``NAME=VALUE`` split in two; ``option`` names the command-line option for the error."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise InputError(f"{option} {text!r}: expected NAME=VALUE")
    return name.strip(), raw


def parse_knobs(pairs: list[str], *, option: str) -> dict[str, KnobValue]:
    """``--knob NAME=VALUE`` options, each checked against the declaration."""
    values: dict[str, KnobValue] = {}
    for text in pairs:
        name, raw = parse_assignment(text, option=option)
        values[name] = parse_knob_text(name, raw, where=f"{option} {name}")
    return values


def knob_table() -> str:
    """spec/SPEC.md's knob table, in Markdown."""
    lines = [
        "| knob | default | values | obeyed by | Kafka | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for knob in KNOBS.values():
        default = str(knob.default).lower() if knob.kind is bool else str(knob.default)
        roles = ", ".join(knob.roles)
        lines.append(
            f"| `{knob.name}` | {default} | {knob.describe_allowed()} | {roles} | {knob.kafka} "
            f"| {knob.doc} |"
        )
    return "\n".join(lines)


__all__ = [
    "KNOBS",
    "Knob",
    "KnobValue",
    "Knobs",
    "Role",
    "knob_table",
    "knob_value",
    "make_knobs",
    "parse_assignment",
    "parse_knob_text",
    "parse_knobs",
]


if __name__ == "__main__":  # python -m kafka_eos.protocol.knobs: the table for spec/SPEC.md
    print(knob_table())
