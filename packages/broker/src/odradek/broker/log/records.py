"""
What a read of the log returns: L{FileRecords}, a region of a segment file to be sent
as is (with C{os.sendfile} on plain TCP), and the values around it.
"""

from __future__ import annotations

import os
from typing import Final

import attrs

__all__ = [
    "EMPTY_RECORDS",
    "FetchDataInfo",
    "FileRecords",
    "LogOffsetMetadata",
    "LogOffsetPosition",
    "TimestampAndOffset",
]


@attrs.frozen
class FileRecords:
    """
    A region of a segment's C{.log} file: record batches, the last one possibly cut
    short by the size limit of the read, as Kafka's fetch responses allow.

    The descriptor belongs to the segment. It stays open until the segment is closed,
    and a segment deleted by retention or truncation is closed only
    C{file.delete.delay.ms} later, so a region handed out is safe to send until then.

    @ivar path: the file's path when the region was taken (for messages and tests).
    @ivar fd: the segment's open file descriptor, for C{os.sendfile} or C{os.pread};
        -1 for an empty region.
    @ivar position: where the region starts in the file.
    @ivar size: how many bytes the region holds.
    """

    path: str
    fd: int
    position: int
    size: int

    def fileno(self) -> int:
        """
        @return: the file descriptor to send from.
        """
        return self.fd

    def read_bytes(self) -> bytes:
        """
        Read the region into memory, for tests and for transports that cannot use
        C{os.sendfile} (TLS).

        @return: the region's bytes; fewer than C{size} if the file was truncated
            since.
        """
        if self.size == 0:
            return b""
        chunks = []
        position, remaining = self.position, self.size
        while remaining > 0:
            chunk = os.pread(self.fd, remaining, position)
            if not chunk:
                break
            chunks.append(chunk)
            position += len(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


EMPTY_RECORDS: Final = FileRecords(path="", fd=-1, position=0, size=0)
"""A region of no bytes."""


@attrs.frozen
class LogOffsetMetadata:
    """
    An offset together with where it lies on disk, when known.

    @ivar message_offset: the offset.
    @ivar segment_base_offset: the base offset of the segment holding it, or -1.
    @ivar relative_position: the byte position of its batch in that segment, or -1.
    """

    message_offset: int
    segment_base_offset: int = -1
    relative_position: int = -1


@attrs.frozen
class LogOffsetPosition:
    """
    Where the batch holding an offset lies in a segment file.

    @ivar offset: the last offset of that batch.
    @ivar position: where the batch starts.
    @ivar size: the batch's size in bytes.
    """

    offset: int
    position: int
    size: int


@attrs.frozen
class FetchDataInfo:
    """
    The result of L{odradek.broker.log.log.Log.read}.

    @ivar fetch_offset_metadata: the offset read from and where it lies.
    @ivar records: the region of the log to send; empty if there is nothing to read
        within the limits.
    @ivar first_entry_incomplete: whether the first batch did not fit C{max_bytes}
        (and C{min_one_message} was false), so nothing was returned for it.
    """

    fetch_offset_metadata: LogOffsetMetadata
    records: FileRecords = EMPTY_RECORDS
    first_entry_incomplete: bool = False


@attrs.frozen
class TimestampAndOffset:
    """
    The answer to a ListOffsets lookup.

    @ivar timestamp: the record's timestamp, or -1 when the lookup was not by time.
    @ivar offset: the offset found.
    @ivar leader_epoch: the partition leader epoch of the batch holding the offset,
        or -1 when unknown.
    """

    timestamp: int
    offset: int
    leader_epoch: int = -1
