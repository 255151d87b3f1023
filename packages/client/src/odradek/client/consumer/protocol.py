"""
The consumer protocol: what a consumer puts in the metadata of a JoinGroup request
(its L{Subscription}) and what the group leader hands each member in SyncGroup (its
L{Assignment}), when the group's protocol type is C{"consumer"}.

Both blobs are an int16 version followed by Kafka's C{ConsumerProtocolSubscription}
or C{ConsumerProtocolAssignment} of that version, written and read with kio's
schemas, so that Apache Kafka's Java consumer, librdkafka and kafka-python read what
we write and we read what they write. Kafka only ever appends fields to these
schemas: a blob of a version newer than the newest kio knows is read as that newest
version, and bytes after the known fields are ignored, as Java's C{ConsumerProtocol}
does.

Sans-IO: nothing here touches a reactor or a socket.
"""

from __future__ import annotations

import enum
import io
import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import attrs
from kio.schema.consumer_protocol_assignment.v0 import data as assignment_v0
from kio.schema.consumer_protocol_assignment.v1 import data as assignment_v1
from kio.schema.consumer_protocol_assignment.v2 import data as assignment_v2
from kio.schema.consumer_protocol_assignment.v3 import data as assignment_v3
from kio.schema.consumer_protocol_subscription.v0 import data as subscription_v0
from kio.schema.consumer_protocol_subscription.v1 import data as subscription_v1
from kio.schema.consumer_protocol_subscription.v2 import data as subscription_v2
from kio.schema.consumer_protocol_subscription.v3 import data as subscription_v3
from kio.serial import entity_reader, entity_writer
from kio.serial.errors import BufferUnderflow
from kio.static.primitive import i32

from odradek.client.structs import TopicPartition

__all__ = [
    "CONSUMER_PROTOCOL_TYPE",
    "CONSUMER_PROTOCOL_VERSION",
    "Assignment",
    "RebalanceProtocol",
    "Subscription",
    "decode_assignment",
    "decode_subscription",
    "encode_assignment",
    "encode_subscription",
]

#: The protocol type of consumer groups in JoinGroup (Kafka's C{PROTOCOL_TYPE}).
CONSUMER_PROTOCOL_TYPE: Final = "consumer"

#: The newest version of both blobs this module knows, and the one it writes.
CONSUMER_PROTOCOL_VERSION: Final = 3

_VERSION = struct.Struct(">h")

_SUBSCRIPTIONS: Final[tuple[Any, ...]] = (
    subscription_v0,
    subscription_v1,
    subscription_v2,
    subscription_v3,
)
_ASSIGNMENTS: Final[tuple[Any, ...]] = (
    assignment_v0,
    assignment_v1,
    assignment_v2,
    assignment_v3,
)


class RebalanceProtocol(enum.Enum):
    """
    How a group moves partitions between members (KIP-429).

    @cvar EAGER: every member gives up all its partitions before rejoining; the
        leader's assignment takes effect at once.
    @cvar COOPERATIVE: members keep their partitions while rejoining; a partition
        changing owner is first revoked by the old owner, then handed to the new
        owner in a follow-up rebalance.
    """

    EAGER = 0
    COOPERATIVE = 1


def _topics(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"topics must be a sequence of names, not the string {value!r}")
    return tuple(value)


def _topic_partitions(value: Iterable[TopicPartition]) -> tuple[TopicPartition, ...]:
    return tuple(value)


@attrs.frozen
class Subscription:
    """
    What a member tells the group leader in JoinGroup.

    @ivar topics: the topics the member wants to consume.
    @ivar user_data: the assignor's own data (C{None} when it has none).
    @ivar owned_partitions: the partitions the member owns now (version 1 and later;
        the cooperative protocol relies on it).
    @ivar generation_id: the generation of the group in which the member got
        C{owned_partitions}, -1 when unknown (version 2 and later).
    @ivar rack_id: the member's C{client.rack}, or C{None} (version 3 and later).
    """

    topics: tuple[str, ...] = attrs.field(converter=_topics)
    user_data: bytes | None = None
    owned_partitions: tuple[TopicPartition, ...] = attrs.field(
        default=(), converter=_topic_partitions
    )
    generation_id: int = -1
    rack_id: str | None = None


@attrs.frozen
class Assignment:
    """
    What the group leader hands one member in SyncGroup.

    @ivar partitions: the partitions assigned to the member.
    @ivar user_data: the assignor's own data, or C{None}.
    """

    partitions: tuple[TopicPartition, ...] = attrs.field(converter=_topic_partitions)
    user_data: bytes | None = None


def _check_version(version: int, what: str) -> None:
    if not 0 <= version <= CONSUMER_PROTOCOL_VERSION:
        raise ValueError(
            f"cannot write a consumer protocol {what} of version {version}: the "
            f"versions are 0 to {CONSUMER_PROTOCOL_VERSION}"
        )


def _grouped(
    partitions: Iterable[TopicPartition],
) -> list[tuple[str, tuple[i32, ...]]]:
    """
    Group partitions by topic, topics in the order they first appear, as Kafka's
    keyed C{TopicPartition} collections do.
    """
    by_topic: dict[str, list[i32]] = {}
    for tp in partitions:
        by_topic.setdefault(tp.topic, []).append(i32(tp.partition))
    return [(topic, tuple(ids)) for topic, ids in by_topic.items()]


def _write(version: int, entity: Any) -> bytes:
    buffer = io.BytesIO()
    buffer.write(_VERSION.pack(version))
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def encode_subscription(
    subscription: Subscription, version: int = CONSUMER_PROTOCOL_VERSION
) -> bytes:
    """
    Write a subscription as Java's C{ConsumerProtocol.serializeSubscription} does:
    topics sorted, owned partitions sorted and grouped by topic. Fields the version
    lacks are left out (all of them are "ignorable" in Kafka's schema).

    @param subscription: what to write.
    @param version: the schema version, 0 to L{CONSUMER_PROTOCOL_VERSION}.
    @return: the int16 version followed by the subscription.
    @raise ValueError: for a version out of that range.
    """
    _check_version(version, "subscription")
    schema = _SUBSCRIPTIONS[version]
    fields: dict[str, Any] = {
        "topics": tuple(sorted(subscription.topics)),
        "user_data": subscription.user_data,
    }
    if version >= 1:
        fields["owned_partitions"] = tuple(
            schema.TopicPartition(topic=topic, partitions=ids)
            for topic, ids in _grouped(sorted(subscription.owned_partitions))
        )
    if version >= 2:
        fields["generation_id"] = i32(subscription.generation_id)
    if version >= 3:
        fields["rack_id"] = subscription.rack_id
    return _write(version, schema.ConsumerProtocolSubscription(**fields))


def encode_assignment(
    assignment: Assignment, version: int = CONSUMER_PROTOCOL_VERSION
) -> bytes:
    """
    Write an assignment: partitions grouped by topic, topics in the order they first
    appear in C{assignment.partitions}, as Java does.

    @param assignment: what to write.
    @param version: the schema version, 0 to L{CONSUMER_PROTOCOL_VERSION} (all four
        have the same layout).
    @return: the int16 version followed by the assignment.
    @raise ValueError: for a version out of that range.
    """
    _check_version(version, "assignment")
    schema = _ASSIGNMENTS[version]
    entity = schema.ConsumerProtocolAssignment(
        assigned_partitions=tuple(
            schema.TopicPartition(topic=topic, partitions=ids)
            for topic, ids in _grouped(assignment.partitions)
        ),
        user_data=assignment.user_data,
    )
    return _write(version, entity)


def _read(
    data: bytes | bytearray | memoryview,
    schemas: Sequence[Any],
    entity_name: str,
    what: str,
) -> tuple[int, Any]:
    """
    Read the version prefix, then the entity of that version (or of the newest
    version known, for a newer one).

    @return: the version read from the blob and the kio entity.
    @raise ValueError: naming what is wrong with the bytes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"expected a bytes-like {what}, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) < _VERSION.size:
        raise ValueError(
            f"consumer protocol {what} is truncated: {len(raw)} byte(s) cannot "
            "hold its int16 version"
        )
    (version,) = _VERSION.unpack_from(raw, 0)
    if version < 0:
        raise ValueError(f"unsupported consumer protocol {what} version: {version}")
    schema = schemas[min(version, len(schemas) - 1)]
    reader: Callable[[bytes, int], tuple[Any, int]] = entity_reader(
        getattr(schema, entity_name)
    )
    try:
        entity, _size = reader(raw, _VERSION.size)
    except BufferUnderflow:
        raise ValueError(
            f"consumer protocol {what} (version {version}) is truncated: its "
            f"{len(raw)} bytes end before the {what} does"
        ) from None
    except Exception as error:
        raise ValueError(
            f"consumer protocol {what} (version {version}) could not be decoded: "
            f"{error}"
        ) from None
    return version, entity


def _flatten(groups: Iterable[Any]) -> tuple[TopicPartition, ...]:
    return tuple(
        TopicPartition(group.topic, int(partition))
        for group in groups
        for partition in group.partitions
    )


def decode_subscription(data: bytes | bytearray | memoryview) -> Subscription:
    """
    Read a subscription another consumer (of any client) wrote.

    Fields its version lacks take Kafka's defaults: no owned partitions, generation
    -1, no rack; an empty rack id reads as C{None}, as in Java.

    @param data: the member's protocol metadata from JoinGroup.
    @return: the subscription.
    @raise ValueError: if C{data} is truncated, has a negative version or cannot be
        decoded; the message says which.
    @raise TypeError: if C{data} is not bytes-like.
    """
    _version, entity = _read(
        data, _SUBSCRIPTIONS, "ConsumerProtocolSubscription", "subscription"
    )
    return Subscription(
        topics=tuple(entity.topics),
        user_data=entity.user_data,
        owned_partitions=_flatten(getattr(entity, "owned_partitions", ())),
        generation_id=int(getattr(entity, "generation_id", -1)),
        rack_id=getattr(entity, "rack_id", None) or None,
    )


def decode_assignment(data: bytes | bytearray | memoryview) -> Assignment:
    """
    Read the assignment the group leader (of any client) wrote.

    An empty blob, which the coordinator sends when a SyncGroup fails or the leader
    gave the member nothing, reads as an empty assignment.

    @param data: the member's assignment from SyncGroup.
    @return: the assignment.
    @raise ValueError: if C{data} is truncated, has a negative version or cannot be
        decoded; the message says which.
    @raise TypeError: if C{data} is not bytes-like.
    """
    if isinstance(data, bytes | bytearray | memoryview) and len(data) == 0:
        return Assignment(())
    _version, entity = _read(
        data, _ASSIGNMENTS, "ConsumerProtocolAssignment", "assignment"
    )
    return Assignment(_flatten(entity.assigned_partitions), entity.user_data)
