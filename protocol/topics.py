"""Kafka's topic names: which names are legal, and which topics belong to the broker itself.

One rule for every path a name comes in by (CreateTopics, auto-creation by Metadata and
Produce, the topic log of a data directory): a topic name becomes a file name in a data
directory, so a name that is not legal must never reach storage.
"""

from __future__ import annotations

import re

#: The topics the broker writes itself (org.apache.kafka.common.internals.Topic.isInternal:
#: GROUP_METADATA_TOPIC_NAME and TRANSACTION_STATE_TOPIC_NAME).
CONSUMER_OFFSETS_TOPIC = "__consumer_offsets"
TRANSACTION_STATE_TOPIC = "__transaction_state"
INTERNAL_TOPICS = frozenset({CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC})

#: Topic.MAX_NAME_LENGTH
MAX_NAME_LENGTH = 249
_LEGAL_CHARACTERS = re.compile(r"[a-zA-Z0-9._-]+")


def topic_name_problem(name: str) -> str | None:
    """Why ``name`` is not a legal topic name, or None when it is (Topic.validate: not empty,
    not "." or "..", at most 249 characters, only ASCII alphanumerics, '.', '_' and '-')."""
    if not name:
        return "a topic name cannot be empty"
    if name in (".", ".."):
        return 'a topic name cannot be "." or ".."'
    if len(name) > MAX_NAME_LENGTH:
        return f"a topic name cannot be longer than {MAX_NAME_LENGTH} characters"
    if not _LEGAL_CHARACTERS.fullmatch(name):
        return f"topic name {name!r} contains a character other than a-z A-Z 0-9 . _ -"
    return None


def legal_topic_name(name: str) -> bool:
    return topic_name_problem(name) is None


def is_internal_topic(name: str) -> bool:
    """A topic only the broker appends to (ReplicaManager.appendToLocalLog refuses clients'
    appends to it with InvalidTopicException: "Cannot append to internal topic")."""
    return name in INTERNAL_TOPICS
