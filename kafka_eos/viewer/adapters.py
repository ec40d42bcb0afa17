"""The one place that knows how the model's traces are shaped: its ITF variables (see
kafka_eos.model.variables), its action labels and its network messages.

Labels are ``Name(arg,...)`` text, or a structured label (a mapping with ``name`` and ``args``,
or a ``(name, args)`` pair); network messages are comma-separated text whose first field is the
message kind, or a mapping with a ``kind``. Everything else in the viewer goes through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kafka_eos.checker.text import render
from kafka_eos.model.variables import PARTITION_PREFIX, PRODUCER_PREFIX, grouped

from .diagram import Lane, LogEntry, Role
from .spec_index import SpecIndex

COORDINATOR = "coordinator"
CONSUMER = "consumer"
NETWORK = "network"
#: Actions whose removed message was lost, not delivered.
LOSS_ACTIONS = frozenset({"LoseMessage"})
#: Actions that send again a message sent before (the copy is linked to the original).
RESEND_ACTIONS = frozenset({
    "RetryProduce", "ResendCoordinatorRequest", "ResendTxnMarker",
    # a client whose request timed out re-sends it on a new connection (request_timeouts)
    "TimeoutCoordinatorRequest", "TimeoutProduce",
})  # fmt: skip
#: Actions that read a partition directly (no message): drawn as a read arrow.
READ_ACTIONS = frozenset({"Fetch"})

# SPEC.md §2 groups actions by who takes them; the mixed "Network and consumer" table is split
# by action.
_ROLE_OF_SECTION: tuple[tuple[str, Role], ...] = (
    ("Clients", "producer"),
    ("Partition leaders", "partition"),
    ("Transaction coordinator", "coordinator"),
)
_ROLE_OF_ACTION: dict[str, Role | None] = {"Fetch": "consumer", "LoseMessage": None}
# A message field naming a connection ("c0"): a re-sent copy differs from the original only there.
_CONNECTION = re.compile(r"^c\d+$")


def label_parts(label: Any) -> tuple[str, tuple[str, ...]]:
    """An action label as (name, arguments as text)."""
    if isinstance(label, Mapping):
        name = label.get("name", label.get("action", ""))
        return str(name), tuple(render(arg) for arg in label.get("args", ()))
    if isinstance(label, tuple) and len(label) == 2 and isinstance(label[0], str):
        return label[0], tuple(render(arg) for arg in label[1])
    text = str(label)
    name, _, rest = text.partition("(")
    args = rest[:-1] if rest.endswith(")") else rest
    return name.strip(), tuple(a.strip() for a in args.split(",") if a.strip())


def label_text(label: Any) -> str:
    name, args = label_parts(label)
    return f"{name}({','.join(args)})" if args else name


def lanes_of(variables: Mapping[str, Any]) -> list[Lane]:
    lanes = [Lane(f"producer:{n}", n, "producer") for n in grouped(variables, PRODUCER_PREFIX)]
    lanes.append(Lane(COORDINATOR, COORDINATOR, "coordinator"))
    lanes += [Lane(f"partition:{n}", n, "partition") for n in grouped(variables, PARTITION_PREFIX)]
    if _consumer_partitions(variables):
        lanes.append(Lane(CONSUMER, CONSUMER, "consumer"))
    return lanes


def lane_variable(lane: Lane) -> str:
    """The ITF variable holding ``lane``'s state."""
    if lane.role == "producer":
        return f"{PRODUCER_PREFIX}{lane.name}"
    if lane.role == "partition":
        return f"{PARTITION_PREFIX}{lane.name}"
    return lane.id


def _consumer_partitions(variables: Mapping[str, Any]) -> Mapping[str, Any]:
    consumer = variables.get(CONSUMER)
    partitions = consumer.get("partitions") if isinstance(consumer, Mapping) else None
    return partitions if isinstance(partitions, Mapping) else {}


def role_of_action(action: str, spec: SpecIndex) -> Role | None:
    """Who takes ``action``, from the SPEC.md table it is in (None: the network)."""
    if action in _ROLE_OF_ACTION:
        return _ROLE_OF_ACTION[action]
    row = spec.actions.get(action)
    section = row.section if row is not None else ""
    return next((role for prefix, role in _ROLE_OF_SECTION if section.startswith(prefix)), None)


def messages_of(variables: Mapping[str, Any]) -> list[str]:
    """The messages in flight, as text (a multiset: a message may be there twice)."""
    return [message_text(m) for m in variables.get(NETWORK, ())]


def message_text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if isinstance(message, Mapping):
        return ",".join(render(value) for value in message.values())
    return render(message)


def message_kind(text: str) -> str:
    return text.split(",", 1)[0]


def message_fields(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")[1:])


def message_key(text: str) -> str:
    """The message without its connection: a re-sent copy has the key of its original."""
    return ",".join(f for f in text.split(",") if not _CONNECTION.match(f))


def handler_of(kind: str, spec: SpecIndex) -> Role | None:
    """Who handles a message of this kind: the role of ``Handle<kind>``, else (a response to a
    client's request) the producer."""
    if f"Handle{kind}" in spec.actions:
        return role_of_action(f"Handle{kind}", spec)
    if kind == "VerifyPartitionResponse":  # the coordinator's answer to a leader (KIP-890)
        return role_of_action("AppendVerified", spec)
    return "producer" if kind.endswith("Response") else None


def partition_logs(
    variables: Mapping[str, Any],
) -> dict[str, tuple[tuple[LogEntry, ...], int | None, int | None]]:
    """Each partition's log, high watermark and last stable offset."""
    return {
        name: (
            tuple(_log_entry(entry) for entry in value.get("log", ())),
            _int_or_none(value.get("high_watermark")),
            _int_or_none(value.get("last_stable_offset")),
        )
        for name, value in grouped(variables, PARTITION_PREFIX).items()
    }


def _log_entry(entry: Mapping[str, Any]) -> LogEntry:
    producer = f"pid {entry.get('producer_id')} e{entry.get('producer_epoch')}"
    if entry.get("type") == "control":
        return LogEntry(
            int(entry["offset"]),
            "control",
            "COMMIT" if entry.get("commit") else "ABORT",
            producer,
            True,
        )
    text = str(entry.get("record", ""))
    if "group_offset" in entry:
        text += f" (group offset {entry['group_offset']})"
    return LogEntry(
        int(entry["offset"]), "data", text, producer, bool(entry.get("transactional"))
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
