"""
The admin client's values for records, offsets and log directories: which offset
to look up (L{OffsetSpec}) and what the brokers answer (L{ListOffsetsResultInfo},
L{DeletedRecords}, L{LogDirDescription}, L{ReplicaInfo}). Re-exported by
L{odradek.client.admin.types}.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import attrs

from odradek.client.structs import TopicPartition

__all__ = [
    "DeletedRecords",
    "ListOffsetsResultInfo",
    "LogDirDescription",
    "OffsetSpec",
    "ReplicaInfo",
]

#: The timestamps of ListOffsets that ask for a special offset.
LATEST_TIMESTAMP = -1
EARLIEST_TIMESTAMP = -2
MAX_TIMESTAMP = -3


@attrs.frozen
class OffsetSpec:
    """
    Which offset C{list_offsets} looks up for a partition; make one with
    L{earliest}, L{latest}, L{max_timestamp} or L{for_timestamp}.

    @ivar timestamp: the timestamp sent in ListOffsets: -2 for the earliest
        offset, -1 for the latest, -3 for the record with the largest timestamp,
        else milliseconds since the epoch.
    """

    timestamp: int

    def __attrs_post_init__(self) -> None:
        if self.timestamp < MAX_TIMESTAMP:
            raise ValueError(f"not an offset spec timestamp: {self.timestamp}")

    @classmethod
    def earliest(cls) -> OffsetSpec:
        """@return: the spec of the first offset of a partition's log."""
        return cls(EARLIEST_TIMESTAMP)

    @classmethod
    def latest(cls) -> OffsetSpec:
        """@return: the spec of the offset after the last record (the end)."""
        return cls(LATEST_TIMESTAMP)

    @classmethod
    def max_timestamp(cls) -> OffsetSpec:
        """
        @return: the spec of the record with the largest timestamp (ListOffsets
            version 7 and up).
        """
        return cls(MAX_TIMESTAMP)

    @classmethod
    def for_timestamp(cls, timestamp_ms: int) -> OffsetSpec:
        """
        @param timestamp_ms: milliseconds since the epoch.
        @return: the spec of the first record with a timestamp at or after
            C{timestamp_ms}.
        @raise ValueError: if C{timestamp_ms} is negative.
        """
        if timestamp_ms < 0:
            raise ValueError(f"a timestamp must not be negative: {timestamp_ms}")
        return cls(timestamp_ms)


@attrs.frozen
class ListOffsetsResultInfo:
    """
    The offset C{list_offsets} found for a partition.

    @ivar offset: the offset, or -1 when there is none (no record at or after the
        timestamp).
    @ivar timestamp: the timestamp of the record at that offset, or -1.
    @ivar leader_epoch: the leader epoch of that record, or C{None} if unknown.
    """

    offset: int
    timestamp: int
    leader_epoch: int | None


@attrs.frozen
class DeletedRecords:
    """
    What C{delete_records} did to a partition.

    @ivar low_watermark: the partition's new log start offset.
    """

    low_watermark: int


@attrs.frozen
class ReplicaInfo:
    """
    A replica in a log directory.

    @ivar size: its size in bytes.
    @ivar offset_lag: how far it is behind the log end offset of the partition
        (of the current replica, for a future one).
    @ivar is_future: whether it is a future replica, being moved into this
        directory.
    """

    size: int
    offset_lag: int
    is_future: bool


def _replicas(
    value: Mapping[TopicPartition, ReplicaInfo],
) -> Mapping[TopicPartition, ReplicaInfo]:
    return MappingProxyType(dict(value))


@attrs.frozen
class LogDirDescription:
    """
    One log directory of a broker.

    @ivar error: the directory's error (such as L{KafkaStorageError
        <odradek.client.errors.KafkaStorageError>} when offline), or C{None}.
    @ivar replicas: the replicas it holds.
    @ivar total_bytes: the size of its volume, or C{None} if unknown.
    @ivar usable_bytes: the free space on its volume, or C{None} if unknown.
    """

    error: BaseException | None
    replicas: Mapping[TopicPartition, ReplicaInfo] = attrs.field(converter=_replicas)
    total_bytes: int | None = None
    usable_bytes: int | None = None
