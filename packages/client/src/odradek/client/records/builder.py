"""
L{RecordBatchBuilder} encodes records into one record batch v2 (Kafka's
C{MemoryRecordsBuilder} for magic 2).

Each appended record is encoded at once into one growing buffer, so that the builder
always knows how big the batch is; compression and the header with its CRC-32C are
written by L{RecordBatchBuilder.build}.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Final

import attrs
from crc32c import crc32c

from odradek.client.records._fields import encode_headers, payload_size
from odradek.client.records.codecs import CompressionType, compress
from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    CONTROL_FLAG,
    CRC_OFFSET,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    NO_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG,
    TRANSACTIONAL_FLAG,
    Header,
    TimestampType,
)
from odradek.client.records.varint import (
    VARINT_TABLE,
    VARINT_TABLE_SIZE,
    encode_varint,
    varint_size,
)

__all__ = ["MAX_RECORD_OVERHEAD", "RecordBatchBuilder"]

MAX_RECORD_OVERHEAD: Final = 21
"""
The most a record takes beyond its key, value and headers: a 5-byte length, the
attributes byte, a 10-byte timestamp delta and a 5-byte offset delta.
"""

_HALF: Final = VARINT_TABLE_SIZE // 2
_CRC = struct.Struct(">I")


@attrs.define(on_setattr=attrs.setters.NO_OP)
class RecordBatchBuilder:
    """
    Build one record batch v2 by appending records, then calling L{build}.

    Offsets are assigned in order from 0 (the offset delta of each record), unless
    given; the first record's timestamp becomes the batch's base timestamp.

    Settings are converted and checked when the builder is created only: attrs'
    per-assignment hooks would cost more than encoding a record on every append.

    @ivar compression_type: the codec for the records.
    @ivar timestamp_type: L{TimestampType.LOG_APPEND_TIME} only for a leader
        writing the batch itself, with C{log_append_time}.
    @ivar base_offset: the offset of the batch; a producer leaves it 0 and the
        partition leader assigns it.
    @ivar partition_leader_epoch: the leader epoch, -1 when a producer writes the batch.
    @ivar producer_id: the idempotent or transactional producer id, or -1.
    @ivar producer_epoch: the producer's epoch, or -1.
    @ivar base_sequence: the sequence number of the first record, or -1.
    @ivar is_transactional: whether the records belong to a transaction.
    @ivar is_control_batch: whether the records are control records (transaction
        markers), see L{odradek.client.records.control}.
    @ivar write_limit: the size the batch should not grow past (the producer's
        C{batch.size}), which L{has_room_for} checks; C{None} for no limit. The first
        record is always accepted, however big.
    @ivar compression_level: the codec's level, or C{None} for its default.
    @ivar log_append_time: the leader's time in milliseconds, written as the max
        timestamp of a LogAppendTime batch.
    @ivar compression_ratio_estimate: the expected ratio of compressed to uncompressed
        size, used by L{estimated_size_in_bytes} for a compressed batch.
    """

    compression_type: CompressionType = attrs.field(
        default=CompressionType.NONE, converter=CompressionType
    )
    timestamp_type: TimestampType = attrs.field(
        default=TimestampType.CREATE_TIME, converter=TimestampType
    )
    base_offset: int = 0
    partition_leader_epoch: int = NO_PARTITION_LEADER_EPOCH
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH
    base_sequence: int = NO_SEQUENCE
    is_transactional: bool = False
    is_control_batch: bool = False
    write_limit: int | None = None
    compression_level: int | None = None
    log_append_time: int | None = None
    compression_ratio_estimate: float = 1.0
    _buffer: bytearray = attrs.field(
        init=False, factory=lambda: bytearray(RECORD_BATCH_OVERHEAD)
    )
    _records_count: int = attrs.field(init=False, default=0)
    _next_offset_delta: int = attrs.field(init=False, default=0)
    _first_timestamp: int = attrs.field(init=False, default=NO_TIMESTAMP)
    _max_timestamp: int = attrs.field(init=False, default=NO_TIMESTAMP)
    _built: bytes | None = attrs.field(init=False, default=None)
    _uncompressed_size: int = attrs.field(init=False, default=0)
    _compressed: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        """
        Check the settings that no record can fix later.

        @raise ValueError: for a transactional batch without a producer id, or a
            LogAppendTime batch without C{log_append_time}.
        """
        if self.is_transactional and self.producer_id < 0:
            raise ValueError("a transactional batch needs a producer id")
        if (
            self.timestamp_type == TimestampType.LOG_APPEND_TIME
            and self.log_append_time is None
        ):
            raise ValueError("a LogAppendTime batch needs log_append_time")
        self._compressed = self.compression_type != CompressionType.NONE

    def append(
        self,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
        offset_delta: int | None = None,
    ) -> int:
        """
        Encode one record at the end of the batch, however big the batch gets.

        @param timestamp: the record's timestamp, milliseconds since the epoch.
        @param key: the key, or C{None} for a null key.
        @param value: the value, or C{None} for a null value.
        @param headers: the headers, as C{(str key, bytes or None value)} pairs.
        @param offset_delta: the record's offset relative to C{base_offset}; by default
            one more than the previous record's. It must be greater than the previous.
        @return: the record's offset delta.
        @raise ValueError: if the batch was built already, or C{offset_delta} does not
            increase.
        """
        if self._built is not None:
            raise ValueError("the batch was built already: no record can be appended")
        if offset_delta is not None:
            next_delta = self._next_offset_delta
            if offset_delta < next_delta:
                raise ValueError(
                    f"offset delta {offset_delta} does not follow the previous record's"
                    f" {next_delta - 1}"
                )
            self._next_offset_delta = offset_delta
        return self.try_append(timestamp, key, value, headers, force=True)

    def try_append(
        self,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
        *,
        force: bool = False,
    ) -> int:
        """
        Encode one record at the end of the batch if it keeps the batch within
        C{write_limit} (the check L{has_room_for} makes; the first record always
        fits). The record is encoded once, for the check and the batch alike: the
        producer's per-record path.

        @param timestamp: the record's timestamp, milliseconds since the epoch.
        @param key: the key, or C{None} for a null key.
        @param value: the value, or C{None} for a null value.
        @param headers: the headers, as C{(str key, bytes or None value)} pairs.
        @param force: append even past C{write_limit}.
        @return: the record's offset delta, or -1 if it was not appended (no room,
            or the batch was built already).
        """
        if self._built is not None:
            return -1
        offset_delta = self._next_offset_delta
        count = self._records_count
        table = VARINT_TABLE
        if count:
            delta = timestamp - self._first_timestamp
            zigzag = (delta << 1) ^ (delta >> 63)
            timestamp_bytes = (
                table[zigzag] if zigzag < VARINT_TABLE_SIZE else encode_varint(delta)
            )
        else:
            timestamp_bytes = b"\x00"
        if key is None:
            key_length = b"\x01"
            key = b""
        else:
            n = len(key)
            key_length = table[n << 1] if n < _HALF else encode_varint(n)
        if value is None:
            value_length = b"\x01"
            value = b""
        else:
            n = len(value)
            value_length = table[n << 1] if n < _HALF else encode_varint(n)
        body = b"".join(
            (
                b"\x00",
                timestamp_bytes,
                table[offset_delta << 1]
                if offset_delta < _HALF
                else encode_varint(offset_delta),
                key_length,
                key,
                value_length,
                value,
                encode_headers(headers) if headers else b"\x00",
            )
        )
        n = len(body)
        length = table[n << 1] if n < _HALF else encode_varint(n)
        buffer = self._buffer
        limit = self.write_limit
        if count and limit is not None and not force:
            size = self.estimated_size_in_bytes() if self._compressed else len(buffer)
            if size + len(length) + n > limit:
                return -1
        buffer += length
        buffer += body
        if count:
            if timestamp > self._max_timestamp:
                self._max_timestamp = timestamp
        else:
            self._first_timestamp = self._max_timestamp = timestamp
        self._records_count = count + 1
        self._next_offset_delta = offset_delta + 1
        return offset_delta

    @staticmethod
    def record_size_in_bytes(
        offset_delta: int,
        timestamp_delta: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
    ) -> int:
        """
        Compute the encoded size of a record without encoding it.

        @param offset_delta: the record's offset delta.
        @param timestamp_delta: its timestamp minus the batch's base timestamp.
        @param key: the key or C{None}.
        @param value: the value or C{None}.
        @param headers: the headers.
        @return: the record's size in the batch, its length varint included.
        """
        body = (
            1
            + varint_size(timestamp_delta)
            + varint_size(offset_delta)
            + payload_size(key, value, headers)
        )
        return varint_size(body) + body

    @staticmethod
    def estimate_size_upper_bound(
        key: bytes | None, value: bytes | None, headers: Sequence[Header] = ()
    ) -> int:
        """
        Bound the size of a batch holding only this record, uncompressed (Kafka's
        C{estimateSizeInBytesUpperBound}); a producer checks it against
        C{max.request.size} before accepting a record.

        @param key: the key or C{None}.
        @param value: the value or C{None}.
        @param headers: the headers.
        @return: an upper bound in bytes.
        """
        return (
            RECORD_BATCH_OVERHEAD
            + MAX_RECORD_OVERHEAD
            + payload_size(key, value, headers)
        )

    @property
    def records_count(self) -> int:
        """
        @return: how many records were appended.
        """
        return self._records_count

    @property
    def first_timestamp(self) -> int:
        """
        @return: the first record's timestamp, or -1 before any record.
        """
        return self._first_timestamp

    @property
    def max_timestamp(self) -> int:
        """
        @return: the greatest record timestamp so far, or -1 before any record.
        """
        return self._max_timestamp

    @property
    def next_offset_delta(self) -> int:
        """
        @return: the offset delta the next record gets by default.
        """
        return self._next_offset_delta

    def uncompressed_size_in_bytes(self) -> int:
        """
        @return: the size of the batch so far if it were not compressed.
        """
        if self._built is not None:
            return self._uncompressed_size
        return len(self._buffer)

    def estimated_size_in_bytes(self) -> int:
        """
        Estimate the size of the batch so far, cheaply: exact when uncompressed,
        otherwise the header plus the records scaled by C{compression_ratio_estimate};
        exact once built.

        @return: the estimate in bytes.
        """
        if self._built is not None:
            return len(self._built)
        size = len(self._buffer)
        if not self._compressed:
            return size
        records = size - RECORD_BATCH_OVERHEAD
        return RECORD_BATCH_OVERHEAD + int(records * self.compression_ratio_estimate)

    def has_room_for(
        self,
        timestamp: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
    ) -> bool:
        """
        Tell whether one more record keeps the batch within C{write_limit}.

        @param timestamp: the record's timestamp.
        @param key: the key or C{None}.
        @param value: the value or C{None}.
        @param headers: the headers.
        @return: C{False} once built, C{True} for the first record or without a
            limit, otherwise whether the estimated size plus the record's size fits.
        """
        if self._built is not None:
            return False
        if not self._records_count or self.write_limit is None:
            return True
        size = self.record_size_in_bytes(
            self._next_offset_delta,
            timestamp - self._first_timestamp,
            key,
            value,
            headers,
        )
        return self.estimated_size_in_bytes() + size <= self.write_limit

    def is_full(self) -> bool:
        """
        @return: whether the batch is built, or holds records and has reached
            C{write_limit}.
        """
        if self._built is not None:
            return True
        limit = self.write_limit
        if not self._records_count or limit is None:
            return False
        if self._compressed:
            return self.estimated_size_in_bytes() >= limit
        return len(self._buffer) >= limit

    @property
    def attributes(self) -> int:
        """
        @return: the batch attributes these settings give.
        """
        attributes = int(self.compression_type)
        if self.timestamp_type == TimestampType.LOG_APPEND_TIME:
            attributes |= TIMESTAMP_TYPE_FLAG
        if self.is_transactional:
            attributes |= TRANSACTIONAL_FLAG
        if self.is_control_batch:
            attributes |= CONTROL_FLAG
        return attributes

    def build(self) -> bytes:
        """
        Compress the records and write the header: the batch is then complete and takes
        no more records. Calling it again gives the same bytes.

        @return: the encoded batch.
        @raise ValueError: if no record was appended (Kafka writes empty batches only
            when compacting, which copies them whole).
        """
        if self._built is not None:
            return self._built
        if not self._records_count:
            raise ValueError("a record batch needs at least one record")
        if self.timestamp_type == TimestampType.LOG_APPEND_TIME:
            assert self.log_append_time is not None
            max_timestamp = self.log_append_time
        else:
            max_timestamp = self._max_timestamp
        buffer = self._buffer
        if self.compression_type == CompressionType.NONE:
            header = buffer
            compressed = b""
        else:
            compressed = compress(
                self.compression_type,
                memoryview(buffer)[RECORD_BATCH_OVERHEAD:],
                self.compression_level,
            )
            header = bytearray(RECORD_BATCH_OVERHEAD)
        HEADER_STRUCT.pack_into(
            header,
            0,
            self.base_offset,
            len(header) + len(compressed) - LOG_OVERHEAD,
            self.partition_leader_epoch,
            MAGIC,
            0,
            self.attributes,
            self._next_offset_delta - 1,
            self._first_timestamp,
            max_timestamp,
            self.producer_id,
            self.producer_epoch,
            self.base_sequence,
            self._records_count,
        )
        crc = crc32c(memoryview(header)[ATTRIBUTES_OFFSET:])
        if compressed:
            crc = crc32c(compressed, crc)
        _CRC.pack_into(header, CRC_OFFSET, crc)
        self._built = bytes(header) + compressed if compressed else bytes(header)
        self._uncompressed_size = len(buffer)
        self._buffer = bytearray()
        return self._built
