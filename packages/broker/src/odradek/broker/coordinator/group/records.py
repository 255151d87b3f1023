"""
The keys and values of C{__consumer_offsets} records, in Apache Kafka's own formats.

Kafka defines them as versioned messages (C{OffsetCommitKey}, C{OffsetCommitValue},
C{GroupMetadataKey}, C{GroupMetadataValue} in its C{group-coordinator} module). Each
key or value is a big-endian int16 version followed by the fields of that version::

    key v0, v1   OffsetCommitKey     group string, topic string, partition int32
    key v2       GroupMetadataKey    group string
    key v3+      other coordinators' records (consumer protocol, share groups ...)

    OffsetCommitValue   v0  offset int64, metadata string, commit_timestamp int64
                        v1  v0 + expire_timestamp int64 (-1: none)
                        v2  as v0
                        v3  offset, leader_epoch int32, metadata, commit_timestamp
                        v4  as v3, flexible

    GroupMetadataValue  protocol_type string, generation int32,
                        protocol string?, leader string?,
                        current_state_timestamp int64 (v2+, -1: none),
                        members [member_id string, group_instance_id string? (v3+),
                                 client_id string, client_host string,
                                 rebalance_timeout int32 (v1+), session_timeout int32,
                                 subscription bytes, assignment bytes]
                        v4 is v3, flexible

C{string} is an int16 length (-1 for a null C{string?}) and UTF-8, C{bytes} an int32
length, an array an int32 count. In a flexible version these are compact: an
unsigned varint holding the length (or count) plus one, 0 for null; and every
structure ends with tagged fields, an unsigned varint count of (tag, size, data)
entries. This module writes none and skips any it reads.

Like Kafka 4 (C{GroupCoordinatorRecordHelpers}) it writes offset commit keys as
version 1, group keys as version 2, offsets as value version 3, or version 1 when
the commit carries an explicit expiry, and groups as value version 3. It reads every
version from 0 to 4. A deleted key's value is null (a tombstone); callers handle
that before calling the decoders here.
"""

from __future__ import annotations

from typing import Final

import attrs

from odradek.broker.coordinator.group._recordfields import (
    FIRST_FLEXIBLE_VERSION,
    MAX_VALUE_VERSION,
    CorruptGroupRecordError,
    FieldReader,
    FieldWriter,
)
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    MemberSnapshot,
)
from odradek.client.structs import TopicPartition

__all__ = [
    "GROUP_KEY_VERSION",
    "GROUP_VALUE_VERSION",
    "OFFSET_KEY_VERSION",
    "OFFSET_VALUE_VERSION",
    "OFFSET_VALUE_VERSION_WITH_EXPIRY",
    "CorruptGroupRecordError",
    "GroupKey",
    "OffsetKey",
    "UnknownKey",
    "decode_group_value",
    "decode_key",
    "decode_offset_value",
    "group_key",
    "group_value",
    "offset_key",
    "offset_value",
]

OFFSET_KEY_VERSION: Final = 1
"""The key version of an offset commit record that Kafka writes (0 reads the same)."""

GROUP_KEY_VERSION: Final = 2
"""The key version of a group metadata record."""

OFFSET_VALUE_VERSION: Final = 3
"""The value version of an offset commit without an explicit expiry."""

OFFSET_VALUE_VERSION_WITH_EXPIRY: Final = 1
"""The value version of an offset commit with an explicit expiry (the only one)."""

GROUP_VALUE_VERSION: Final = 3
"""The value version of a group metadata record."""


@attrs.frozen
class OffsetKey:
    """
    The key of an offset commit record.

    @ivar group_id: the group that committed.
    @ivar topic_partition: the partition the offset is for.
    """

    group_id: str
    topic_partition: TopicPartition


@attrs.frozen
class GroupKey:
    """
    The key of a group metadata record.

    @ivar group_id: the group.
    """

    group_id: str


@attrs.frozen
class UnknownKey:
    """
    A key of a record the classic group coordinator does not keep (another
    coordinator's, or a newer Kafka's); loaders skip such records.

    @ivar version: the key's version.
    """

    version: int


def offset_key(group_id: str, tp: TopicPartition) -> bytes:
    """
    Write the key of an offset commit record (version 1).

    @param group_id: the group that commits.
    @param tp: the partition the offset is for.
    @return: the key.
    @raise ValueError: if a name is longer than 32767 bytes of UTF-8 or cannot be
        encoded, or the partition does not fit an int32.
    """
    writer = FieldWriter(OFFSET_KEY_VERSION, flexible=False)
    writer.string(group_id, "group")
    writer.string(tp.topic, "topic")
    writer.int32(tp.partition, "partition")
    return writer.getvalue()


def group_key(group_id: str) -> bytes:
    """
    Write the key of a group metadata record (version 2).

    @param group_id: the group.
    @return: the key.
    @raise ValueError: if the group id is longer than 32767 bytes of UTF-8 or cannot
        be encoded.
    """
    writer = FieldWriter(GROUP_KEY_VERSION, flexible=False)
    writer.string(group_id, "group")
    return writer.getvalue()


def decode_key(data: bytes) -> OffsetKey | GroupKey | UnknownKey:
    """
    Read the key of a C{__consumer_offsets} record.

    @param data: the record's key.
    @return: an L{OffsetKey} (versions 0 and 1), a L{GroupKey} (version 2), or an
        L{UnknownKey} for any other version, whose fields are not read.
    @raise CorruptGroupRecordError: if the key is malformed.
    """
    reader = FieldReader(data, "key")
    version = reader.int16("version")
    result: OffsetKey | GroupKey | UnknownKey
    if version in (0, 1):
        reader = FieldReader(data, f"OffsetCommitKey v{version}")
        reader.int16("version")
        group_id = reader.string("group")
        topic = reader.string("topic")
        partition = reader.int32("partition")
        result = OffsetKey(group_id, TopicPartition(topic, partition))
    elif version == GROUP_KEY_VERSION:
        reader = FieldReader(data, "GroupMetadataKey v2")
        reader.int16("version")
        result = GroupKey(reader.string("group"))
    else:
        return UnknownKey(version)
    reader.finish()
    return result


def offset_value(value: CommittedOffset, *, version: int | None = None) -> bytes:
    """
    Write the value of an offset commit record.

    @param value: the committed offset.
    @param version: the value version to write, 0 to 4; by default the one Kafka 4
        writes: L{OFFSET_VALUE_VERSION_WITH_EXPIRY} if the offset has an explicit
        expiry, else L{OFFSET_VALUE_VERSION}. Fields the version lacks (the leader
        epoch before version 3, the expiry outside version 1) are left out, as
        Kafka does.
    @return: the value.
    @raise ValueError: if the version is unknown, the metadata is longer than 32767
        bytes of UTF-8, or a number does not fit its field.
    """
    if version is None:
        version = (
            OFFSET_VALUE_VERSION
            if value.expire_timestamp_ms is None
            else OFFSET_VALUE_VERSION_WITH_EXPIRY
        )
    if not 0 <= version <= MAX_VALUE_VERSION:
        raise ValueError(f"OffsetCommitValue has no version {version}")
    writer = FieldWriter(version, flexible=version >= FIRST_FLEXIBLE_VERSION)
    writer.int64(value.offset, "offset")
    if version >= 3:
        writer.int32(value.leader_epoch, "leader epoch")
    writer.string(value.metadata, "metadata")
    writer.int64(value.commit_timestamp_ms, "commit timestamp")
    if version == 1:
        expire = value.expire_timestamp_ms
        writer.int64(-1 if expire is None else expire, "expire timestamp")
    writer.tagged_fields()
    return writer.getvalue()


def decode_offset_value(data: bytes) -> CommittedOffset:
    """
    Read the value of an offset commit record, of any version from 0 to 4.

    @param data: the record's value (not a tombstone).
    @return: the committed offset; its leader epoch is -1 before version 3, its
        expiry C{None} unless a version 1 value holds one (not -1).
    @raise CorruptGroupRecordError: if the value is malformed.
    """
    reader = FieldReader(data, "OffsetCommitValue")
    version = reader.value_version()
    offset = reader.int64("offset")
    leader_epoch = reader.int32("leaderEpoch") if version >= 3 else -1
    metadata = reader.string("metadata")
    commit_timestamp_ms = reader.int64("commitTimestamp")
    expire_timestamp_ms: int | None = None
    if version == 1:
        expire_timestamp_ms = reader.int64("expireTimestamp")
        if expire_timestamp_ms == -1:
            expire_timestamp_ms = None
    reader.tagged_fields("OffsetCommitValue")
    reader.finish()
    return CommittedOffset(
        offset=offset,
        leader_epoch=leader_epoch,
        metadata=metadata,
        commit_timestamp_ms=commit_timestamp_ms,
        expire_timestamp_ms=expire_timestamp_ms,
    )


def group_value(snapshot: GroupSnapshot, *, version: int | None = None) -> bytes:
    """
    Write the value of a group metadata record.

    @param snapshot: the group. Its C{group_id} goes in the key, not here.
    @param version: the value version to write, 0 to 4; by default
        L{GROUP_VALUE_VERSION}, the one Kafka 4 writes. Fields the version lacks
        (rebalance timeouts before version 1, the state timestamp before version 2,
        instance ids before version 3) are left out, as Kafka does.
    @return: the value.
    @raise ValueError: if the version is unknown, a string is longer than 32767
        bytes of UTF-8, or a number does not fit its field.
    """
    if version is None:
        version = GROUP_VALUE_VERSION
    if not 0 <= version <= MAX_VALUE_VERSION:
        raise ValueError(f"GroupMetadataValue has no version {version}")
    writer = FieldWriter(version, flexible=version >= FIRST_FLEXIBLE_VERSION)
    writer.string(snapshot.protocol_type, "protocol type")
    writer.int32(snapshot.generation_id, "generation")
    writer.string(snapshot.protocol_name, "protocol")
    writer.string(snapshot.leader_id, "leader")
    if version >= 2:
        timestamp = snapshot.current_state_timestamp_ms
        writer.int64(-1 if timestamp is None else timestamp, "state timestamp")
    writer.array_length(len(snapshot.members))
    for member in snapshot.members:
        writer.string(member.member_id, "member id")
        if version >= 3:
            writer.string(member.group_instance_id, "group instance id")
        writer.string(member.client_id, "client id")
        writer.string(member.client_host, "client host")
        if version >= 1:
            writer.int32(member.rebalance_timeout_ms, "rebalance timeout")
        writer.int32(member.session_timeout_ms, "session timeout")
        writer.blob(member.subscription, "subscription")
        writer.blob(member.assignment, "assignment")
        writer.tagged_fields()
    writer.tagged_fields()
    return writer.getvalue()


def _decode_member(reader: FieldReader, version: int, index: int) -> MemberSnapshot:
    """
    Read one member of a group metadata value.

    @param reader: positioned at the member.
    @param version: the value's version.
    @param index: the member's place in the array, for error messages.
    @return: the member; before version 1 its rebalance timeout is its session
        timeout, as Kafka reads it.
    """
    at = f"members[{index}]."
    member_id = reader.string(at + "memberId")
    instance_id = (
        reader.nullable_string(at + "groupInstanceId") if version >= 3 else None
    )
    client_id = reader.string(at + "clientId")
    client_host = reader.string(at + "clientHost")
    rebalance_timeout_ms = (
        reader.int32(at + "rebalanceTimeout") if version >= 1 else None
    )
    session_timeout_ms = reader.int32(at + "sessionTimeout")
    subscription = reader.blob(at + "subscription")
    assignment = reader.blob(at + "assignment")
    reader.tagged_fields(at[:-1])
    return MemberSnapshot(
        member_id=member_id,
        group_instance_id=instance_id,
        client_id=client_id,
        client_host=client_host,
        rebalance_timeout_ms=(
            session_timeout_ms if rebalance_timeout_ms is None else rebalance_timeout_ms
        ),
        session_timeout_ms=session_timeout_ms,
        subscription=subscription,
        assignment=assignment,
    )


def decode_group_value(group_id: str, data: bytes) -> GroupSnapshot:
    """
    Read the value of a group metadata record, of any version from 0 to 4.

    @param group_id: the group, from the record's key.
    @param data: the record's value (not a tombstone).
    @return: the group; its state timestamp is C{None} before version 2 or when
        stored as -1.
    @raise CorruptGroupRecordError: if the value is malformed.
    """
    reader = FieldReader(data, "GroupMetadataValue")
    version = reader.value_version()
    protocol_type = reader.string("protocolType")
    generation_id = reader.int32("generation")
    protocol_name = reader.nullable_string("protocol")
    leader_id = reader.nullable_string("leader")
    timestamp: int | None = None
    if version >= 2:
        timestamp = reader.int64("currentStateTimestamp")
        if timestamp == -1:
            timestamp = None
    count = reader.array_length("members")
    members = tuple(_decode_member(reader, version, i) for i in range(count))
    reader.tagged_fields("GroupMetadataValue")
    reader.finish()
    return GroupSnapshot(
        group_id=group_id,
        protocol_type=protocol_type,
        generation_id=generation_id,
        protocol_name=protocol_name,
        leader_id=leader_id,
        current_state_timestamp_ms=timestamp,
        members=members,
    )
