"""
Walking the record batches of a segment file by their headers, in chunks read with
C{os.pread}, never holding the whole file and never decoding a record.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Final, Protocol

import attrs
from crc32c import crc32c

from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    NO_SEQUENCE,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG,
    TRANSACTIONAL_FLAG,
)

__all__ = ["AppendedBatch", "BatchHeader", "SegmentScanner"]

_INT32_MAX: Final = 0x7FFFFFFF
_CONTROL_FLAG: Final = 0x20


class AppendedBatch(Protocol):
    """
    What a segment needs to know of each batch it indexes: L{BatchHeader} when
    recovering, L{odradek.broker.log.validator.BatchInfo} when appending.
    """

    @property
    def position(self) -> int:
        """Where the batch starts, in the appended bytes or the file."""

    @property
    def size(self) -> int:
        """The batch's size in bytes."""

    @property
    def last_offset(self) -> int:
        """The offset of the batch's last record."""

    @property
    def max_timestamp(self) -> int:
        """The batch's max timestamp."""


@attrs.define
class BatchHeader:
    """
    The header of one batch of a segment file. Treat it as read-only (it is not
    frozen only because scans create one per batch).

    @ivar position: where the batch starts in the file.
    @ivar size: the batch's total size in bytes.
    """

    position: int
    size: int
    base_offset: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    first_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def last_offset(self) -> int:
        """
        @return: the offset of the batch's last record.
        """
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        """
        @return: the offset after the batch.
        """
        return self.base_offset + self.last_offset_delta + 1

    @property
    def last_sequence(self) -> int:
        """
        @return: the sequence of the last record, wrapping past 2**31 - 1, or -1.
        """
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        if self.base_sequence > _INT32_MAX - self.last_offset_delta:
            return self.last_offset_delta - (_INT32_MAX - self.base_sequence) - 1
        return self.base_sequence + self.last_offset_delta

    @property
    def is_control_batch(self) -> bool:
        """
        @return: whether the batch holds control records.
        """
        return bool(self.attributes & _CONTROL_FLAG)

    @property
    def is_transactional(self) -> bool:
        """
        @return: whether the batch belongs to a transaction.
        """
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_log_append_time(self) -> bool:
        """
        @return: whether the batch's timestamps are the leader's.
        """
        return bool(self.attributes & TIMESTAMP_TYPE_FLAG)


@attrs.define
class SegmentScanner:
    """
    Iterate the batches of a file region, stopping at its end or at the first batch
    that is cut short or damaged.

    After iteration, C{position} is where valid data ends and C{error} says why the
    scan stopped early, or is C{None} if it reached C{end}.

    @ivar fd: the open file.
    @ivar position: where the next batch starts.
    @ivar end: where the region ends (the file's size).
    @ivar validate: whether to check each batch's CRC-32C, which reads whole batches.
    @ivar chunk_size: how many bytes to read at a time.
    @ivar error: why the scan stopped before C{end}, or C{None}.
    """

    fd: int
    position: int
    end: int
    validate: bool = False
    chunk_size: int = 1 << 20
    error: str | None = attrs.field(default=None, init=False)
    _buffer: bytes = attrs.field(default=b"", init=False, repr=False)
    _buffer_start: int = attrs.field(default=0, init=False, repr=False)

    def _window(self, needed: int) -> tuple[bytes, int]:
        """
        @return: a buffer holding at least C{needed} bytes from C{position} (unless
            the file ends first) and the index of C{position} in it.
        """
        index = self.position - self._buffer_start
        if index >= 0 and index + needed <= len(self._buffer):
            return self._buffer, index
        self._buffer = os.pread(
            self.fd,
            min(max(self.chunk_size, needed), self.end - self.position),
            self.position,
        )
        self._buffer_start = self.position
        return self._buffer, 0

    def _stop(self, message: str) -> None:
        self.error = f"at position {self.position}: {message}"

    def __iter__(self) -> Iterator[BatchHeader]:
        """
        @return: an iterator of the batch headers, in file order.
        """
        end = self.end
        while self.position < end:
            remaining = end - self.position
            if remaining < RECORD_BATCH_OVERHEAD:
                self._stop(f"{remaining} bytes are too few for a batch header")
                return
            buffer, index = self._window(RECORD_BATCH_OVERHEAD)
            if len(buffer) - index < RECORD_BATCH_OVERHEAD:
                self._stop("the file ends inside a batch header")
                return
            fields = HEADER_STRUCT.unpack_from(buffer, index)
            size = fields[1] + LOG_OVERHEAD
            if fields[3] != MAGIC:
                self._stop(f"bad magic {fields[3]}")
                return
            if size < RECORD_BATCH_OVERHEAD or fields[6] < 0 or fields[12] < 0:
                self._stop(
                    f"bad batch header (size {size}, last offset delta {fields[6]},"
                    f" records count {fields[12]})"
                )
                return
            if size > remaining:
                self._stop(f"the batch of {size} bytes is cut short at {remaining}")
                return
            if self.validate:
                buffer, index = self._window(size)
                view = memoryview(buffer)[index + ATTRIBUTES_OFFSET : index + size]
                computed = crc32c(view)
                view.release()
                if computed != fields[4]:
                    self._stop(
                        f"the batch of base offset {fields[0]} is corrupt: stored"
                        f" crc = {fields[4]:#010x}, computed crc = {computed:#010x}"
                    )
                    return
            yield BatchHeader(self.position, size, fields[0], *fields[2:])
            self.position += size
