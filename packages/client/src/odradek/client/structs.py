"""
The value types the producer, the consumer and the admin client share: a partition
of a topic, a record to produce, what the broker says of a record it stored, a
record consumed, and an offset to commit or found by time.

All but L{ConsumerRecord} are frozen attrs classes: compare by value, hash, and never
change. Consumer records are made by the thousand per poll, so that class is slotted
but not frozen (which would cost twice as much to create); treat it as read-only.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from odradek.client.records.layout import NO_TIMESTAMP, Header, TimestampType

__all__ = [
    "ConsumerRecord",
    "OffsetAndMetadata",
    "OffsetAndTimestamp",
    "ProducerRecord",
    "RecordMetadata",
    "TopicPartition",
]


@attrs.frozen(order=True)
class TopicPartition:
    """
    One partition of a topic.

    @ivar topic: the topic's name.
    @ivar partition: the partition's index, from 0.
    """

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"


def _headers(value: Sequence[tuple[str, bytes | None]] | None) -> tuple[Header, ...]:
    if not value:
        return ()
    return tuple((key, header_value) for key, header_value in value)


@attrs.frozen(init=False, slots=False)
class ProducerRecord:
    """
    A record to send, before serialization.

    @ivar topic: the topic to send it to (required).
    @ivar value: the value (required; C{None} is a null value, a tombstone on a
        compacted topic).
    @ivar key: the key, or C{None}; records with the same key go to the same
        partition.
    @ivar partition: the partition to send to; C{None} lets the partitioner choose.
    @ivar timestamp: milliseconds since the epoch; C{None} means now, when sent.
    @ivar headers: C{(str key, bytes or None value)} pairs, in order; keys may repeat.
    """

    topic: str
    value: object
    key: object = None
    partition: int | None = None
    timestamp: int | None = None
    headers: tuple[Header, ...] = ()

    def __init__(
        self,
        topic: str,
        value: object,
        key: object = None,
        partition: int | None = None,
        timestamp: int | None = None,
        headers: Sequence[tuple[str, bytes | None]] | None = (),
    ) -> None:
        """
        @raise ValueError: for a negative partition or timestamp.
        """
        # One record is made per send: filling the instance dictionary directly
        # takes half the time of attrs' frozen __init__ (which goes through
        # object.__setattr__ for each field); assignment stays refused.
        if partition is not None and partition < 0:
            raise ValueError(
                f"Invalid partition: {partition}. Partition number should always "
                "be non-negative or None."
            )
        if timestamp is not None and timestamp < 0:
            raise ValueError(
                f"Invalid timestamp: {timestamp}. Timestamp should always be "
                "non-negative or None."
            )
        fields = self.__dict__
        fields["topic"] = topic
        fields["value"] = value
        fields["key"] = key
        fields["partition"] = partition
        fields["timestamp"] = timestamp
        fields["headers"] = _headers(headers) if headers else ()


@attrs.frozen
class RecordMetadata:
    """
    What the broker acknowledged for one record.

    @ivar topic: the record's topic.
    @ivar partition: the record's partition.
    @ivar offset: the record's offset, or -1 when it is unknown (C{acks=0}).
    @ivar timestamp: the record's timestamp in milliseconds since the epoch: the
        broker's append time for topics with C{message.timestamp.type=LogAppendTime},
        the record's create time otherwise.
    @ivar serialized_key_size: the key's size after serialization, -1 for a null key.
    @ivar serialized_value_size: the value's size after serialization, -1 for a null
        value.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int = NO_TIMESTAMP
    serialized_key_size: int = -1
    serialized_value_size: int = -1

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}@{self.offset}"

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's topic and partition."""
        return TopicPartition(self.topic, self.partition)


@attrs.define(eq=True)
class ConsumerRecord:
    """
    A record the consumer fetched, after deserialization.

    @ivar topic: the record's topic.
    @ivar partition: the record's partition.
    @ivar offset: the record's offset in its partition.
    @ivar timestamp: milliseconds since the epoch (see L{timestamp_type}).
    @ivar timestamp_type: whether L{timestamp} is the producer's create time or the
        broker's log append time.
    @ivar key: the deserialized key (C{None} for a null key).
    @ivar value: the deserialized value (C{None} for a null value, a tombstone).
    @ivar headers: C{(str key, bytes or None value)} pairs, in order.
    @ivar serialized_key_size: the key's size before deserialization, -1 for a
        null key.
    @ivar serialized_value_size: the value's size before deserialization, -1 for a
        null value.
    @ivar leader_epoch: the partition leader's epoch when the record was written,
        or C{None} if unknown.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: TimestampType
    key: object
    value: object
    headers: tuple[Header, ...] = ()
    serialized_key_size: int = -1
    serialized_value_size: int = -1
    leader_epoch: int | None = None

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}@{self.offset}"

    @property
    def topic_partition(self) -> TopicPartition:
        """The record's topic and partition."""
        return TopicPartition(self.topic, self.partition)


@attrs.frozen
class OffsetAndMetadata:
    """
    An offset to commit for a partition, or one that was committed: the offset of
    the I{next} record to consume (the last processed record's offset plus one).

    @ivar offset: the offset, 0 or more.
    @ivar metadata: a string stored with the offset.
    @ivar leader_epoch: the leader epoch of the last consumed record, or C{None}.
    """

    offset: int = attrs.field()
    metadata: str = ""
    leader_epoch: int | None = None

    @offset.validator
    def _check_offset(self, attribute: object, value: int) -> None:
        if value < 0:
            raise ValueError(f"Invalid negative offset {value}")


@attrs.frozen
class OffsetAndTimestamp:
    """
    The first offset whose timestamp is at or after a time asked for.

    @ivar offset: the offset.
    @ivar timestamp: that record's timestamp, in milliseconds since the epoch.
    @ivar leader_epoch: the leader epoch of the record, or C{None} if unknown.
    """

    offset: int
    timestamp: int
    leader_epoch: int | None = None
