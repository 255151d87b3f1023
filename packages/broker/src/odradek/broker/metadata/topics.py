"""
Kafka's rules for topics: legal names, and how replicas are assigned to brokers.

These are plain functions so that a request handler can check a request (for
C{validate_only}, or before touching the store) with exactly the rules the metadata
store enforces.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from odradek.client.errors import (
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    TopicExistsError,
)

__all__ = [
    "CONSUMER_OFFSETS_TOPIC",
    "INTERNAL_TOPICS",
    "MAX_TOPIC_NAME_LENGTH",
    "TRANSACTION_STATE_TOPIC",
    "assign_replicas",
    "validate_assignment",
    "validate_topic_name",
]

MAX_TOPIC_NAME_LENGTH: Final = 249
"""The longest legal topic name (a partition's directory name must fit in 255)."""

CONSUMER_OFFSETS_TOPIC: Final = "__consumer_offsets"
"""The internal topic holding consumer groups' committed offsets."""

TRANSACTION_STATE_TOPIC: Final = "__transaction_state"
"""The internal topic holding the transaction coordinator's state."""

INTERNAL_TOPICS: Final = frozenset(
    {CONSUMER_OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC, "__share_group_state"}
)
"""The topics only the broker creates, as Kafka reserves them."""

_LEGAL: Final = re.compile(r"[a-zA-Z0-9._-]+")


def _unified(name: str) -> str:
    return name.replace(".", "_")


def validate_topic_name(
    name: str, existing: Iterable[str], *, internal: bool = False
) -> None:
    """
    Check a name for a new topic against Kafka's rules.

    A name is 1 to 249 characters of ASCII letters, digits, C{.}, C{_} and C{-},
    and is not C{.} or C{..}. It must not name an existing topic, nor differ from
    one only by C{.} in place of C{_} or the other way round (Kafka's metric names
    cannot tell them apart). The internal topics' names are reserved for the broker.

    @param name: the proposed name.
    @param existing: the names of the topics that exist.
    @param internal: whether the broker itself is creating one of
        L{INTERNAL_TOPICS}.
    @raise InvalidTopicError: if the name is illegal, reserved, or collides with an
        existing topic's name.
    @raise TopicExistsError: if a topic of that name exists.
    """
    if not name:
        raise InvalidTopicError("Topic name is invalid: it is empty")
    if name in (".", ".."):
        raise InvalidTopicError(f"Topic name is invalid: {name!r} is not allowed")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicError(
            f"Topic name is invalid: it is {len(name)} characters long, more than "
            f"the {MAX_TOPIC_NAME_LENGTH} allowed"
        )
    if not _LEGAL.fullmatch(name):
        raise InvalidTopicError(
            f"Topic name is invalid: {name!r} has characters other than ASCII "
            f"letters, digits, '.', '_' and '-'"
        )
    names = set(existing)
    if name in names:
        raise TopicExistsError(f"Topic '{name}' already exists.")
    if name in INTERNAL_TOPICS and not internal:
        raise InvalidTopicError(
            f"Topic name {name!r} is reserved for the broker's internal use"
        )
    unified = _unified(name)
    for other in sorted(names):
        if _unified(other) == unified:
            raise InvalidTopicError(
                f"Topic '{name}' collides with the existing topic '{other}' "
                f"('.' and '_' are not told apart)"
            )


def assign_replicas(
    broker_ids: Collection[int],
    partitions: int,
    replication_factor: int,
    *,
    first_partition: int = 0,
) -> tuple[tuple[int, ...], ...]:
    """
    Spread the replicas of new partitions over brokers: the leaders go round the
    brokers in id order, and each partition's followers are the brokers after its
    leader.

    @param broker_ids: the live brokers.
    @param partitions: how many partitions to assign.
    @param replication_factor: replicas per partition.
    @param first_partition: the index of the first new partition (when a topic
        grows), so that leaders keep going round from where they were.
    @return: the replicas of each new partition, leader first.
    @raise InvalidPartitionsError: if C{partitions} is below 1.
    @raise InvalidReplicationFactorError: if C{replication_factor} is below 1 or
        above the number of brokers.
    """
    if partitions < 1:
        raise InvalidPartitionsError("The number of partitions must be at least 1.")
    if replication_factor < 1:
        raise InvalidReplicationFactorError(
            "The replication factor must be at least 1."
        )
    brokers = sorted(broker_ids)
    if replication_factor > len(brokers):
        raise InvalidReplicationFactorError(
            f"The replication factor {replication_factor} is larger than the "
            f"number of live brokers ({len(brokers)})."
        )
    return tuple(
        tuple(
            brokers[(partition + replica) % len(brokers)]
            for replica in range(replication_factor)
        )
        for partition in range(first_partition, first_partition + partitions)
    )


def validate_assignment(
    assignment: Sequence[Sequence[int]],
    broker_ids: Collection[int],
    *,
    replication_factor: int | None = None,
) -> None:
    """
    Check replica assignments given by a client or computed for new partitions.

    @param assignment: the replicas of each partition.
    @param broker_ids: the live brokers.
    @param replication_factor: the number of replicas every partition must have
        (a growing topic's); by default, that of the first partition.
    @raise InvalidPartitionsError: if there are no partitions.
    @raise InvalidReplicaAssignmentError: if a partition has no replicas, names a
        broker twice or names a broker that is not live, or if partitions have
        different numbers of replicas.
    """
    if not assignment:
        raise InvalidPartitionsError("The number of partitions must be at least 1.")
    expected = len(assignment[0]) if replication_factor is None else replication_factor
    live = set(broker_ids)
    for index, replicas in enumerate(assignment):
        if not replicas:
            raise InvalidReplicaAssignmentError(
                f"Partition {index} has an empty replica list."
            )
        if len(set(replicas)) != len(replicas):
            raise InvalidReplicaAssignmentError(
                f"Partition {index} lists a broker more than once: {list(replicas)}"
            )
        unknown = sorted(set(replicas) - live)
        if unknown:
            raise InvalidReplicaAssignmentError(
                f"Partition {index} is assigned to brokers that are not live: {unknown}"
            )
        if len(replicas) != expected:
            raise InvalidReplicaAssignmentError(
                f"Partition {index} has {len(replicas)} replicas; every partition "
                f"must have {expected}."
            )
