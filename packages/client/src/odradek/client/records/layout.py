"""
The wire layout of record batch v2 (magic 2), shared by the builder and the reader.

A record batch, as Apache Kafka's C{DefaultRecordBatch} defines it (big-endian)::

    offset  size  field
         0     8  baseOffset            int64   offset of the first record
         8     4  batchLength           int32   bytes after this field
        12     4  partitionLeaderEpoch  int32
        16     1  magic                 int8    2
        17     4  crc                   uint32  CRC-32C of bytes 21 to the end
        21     2  attributes            int16
        23     4  lastOffsetDelta       int32
        27     8  baseTimestamp         int64   "first timestamp"
        35     8  maxTimestamp          int64
        43     8  producerId            int64
        51     2  producerEpoch         int16
        53     4  baseSequence          int32
        57     4  recordsCount          int32
        61     -  records               compressed as one block, per the attributes

Attributes: bits 0-2 compression type, bit 3 timestamp type (set for LogAppendTime),
bit 4 transactional, bit 5 control batch, bit 6 delete horizon set (the base timestamp
then holds the delete horizon). The CRC does not cover the base offset, the length or
the partition leader epoch, so a leader can assign those without recomputing it.

A record, with zigzag varints and varlongs (L{odradek.client.records.varint})::

    length          varint   bytes after this field
    attributes      int8     unused, 0
    timestampDelta  varlong  from the batch's base timestamp
    offsetDelta     varint   from the batch's base offset
    keyLength       varint   -1 for a null key
    key             bytes
    valueLength     varint   -1 for a null value
    value           bytes
    headerCount     varint
    headers         headerKeyLength varint, headerKey (UTF-8), headerValueLength
                    varint (-1 for null), headerValue
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import Final

import attrs

__all__ = [
    "ATTRIBUTES_OFFSET",
    "COMPRESSION_MASK",
    "CONTROL_FLAG",
    "CRC_OFFSET",
    "DELETE_HORIZON_FLAG",
    "HEADER_STRUCT",
    "LOG_OVERHEAD",
    "MAGIC",
    "MAGIC_OFFSET",
    "NO_PARTITION_LEADER_EPOCH",
    "NO_PRODUCER_EPOCH",
    "NO_PRODUCER_ID",
    "NO_SEQUENCE",
    "NO_TIMESTAMP",
    "RECORD_BATCH_OVERHEAD",
    "TIMESTAMP_TYPE_FLAG",
    "TRANSACTIONAL_FLAG",
    "Header",
    "Record",
    "TimestampType",
]

HEADER_STRUCT: Final = struct.Struct(">qiibIhiqqqhii")
"""The 61-byte batch header, base offset to records count."""

RECORD_BATCH_OVERHEAD: Final = HEADER_STRUCT.size
"""The size of a batch with no records: 61."""

LOG_OVERHEAD: Final = 12
"""The base offset and batch length, which the batch length does not count."""

MAGIC_OFFSET: Final = 16
CRC_OFFSET: Final = 17
ATTRIBUTES_OFFSET: Final = 21
MAGIC: Final = 2

COMPRESSION_MASK: Final = 0x07
TIMESTAMP_TYPE_FLAG: Final = 0x08
TRANSACTIONAL_FLAG: Final = 0x10
CONTROL_FLAG: Final = 0x20
DELETE_HORIZON_FLAG: Final = 0x40

NO_PRODUCER_ID: Final = -1
NO_PRODUCER_EPOCH: Final = -1
NO_SEQUENCE: Final = -1
NO_PARTITION_LEADER_EPOCH: Final = -1
NO_TIMESTAMP: Final = -1

Header = tuple[str, bytes | None]
"""A record header: a UTF-8 key and a value that may be null."""


class TimestampType(IntEnum):
    """
    What a batch's timestamps mean: bit 3 of its attributes.
    """

    CREATE_TIME = 0
    """The producer's clock when the record was created."""

    LOG_APPEND_TIME = 1
    """
    The leader's clock when it appended the batch; every record of the batch then
    has the batch's max timestamp.
    """


@attrs.define(eq=True)
class Record:
    """
    One record decoded from a batch.

    Records are created by the thousand on the consumer's hot path, so this class is a
    slotted attrs class without C{frozen} (which costs more than twice as much to
    create); treat its attributes as read-only all the same.

    @ivar offset: the record's offset: the batch's base offset plus its offset delta.
    @ivar timestamp: milliseconds since the epoch: the batch's base timestamp plus the
        record's delta, or the batch's max timestamp for a LogAppendTime batch.
    @ivar key: the key, or C{None} for a null key (distinct from an empty one).
    @ivar value: the value, or C{None} for a null value (a tombstone).
    @ivar headers: the headers in order, as C{(key, value)} pairs.
    @ivar size_in_bytes: the encoded size of the record, its length varint included.
    """

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    size_in_bytes: int

    @property
    def key_size(self) -> int:
        """
        @return: the key's length, or -1 for a null key (Kafka's C{serializedKeySize}).
        """
        return -1 if self.key is None else len(self.key)

    @property
    def value_size(self) -> int:
        """
        @return: the value's length, or -1 for a null value.
        """
        return -1 if self.value is None else len(self.value)
