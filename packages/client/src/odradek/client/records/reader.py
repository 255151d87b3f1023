"""
Reading record batches v2 out of a buffer: L{RecordBatchReader} walks the batches,
L{DefaultRecordBatch} gives one batch's header and decodes its records on iteration.

Batches are memoryview slices of the buffer, never copies. Walking checks only what is
cheap: the length, the magic, the records count; the CRC-32C is checked by
L{DefaultRecordBatch.validate}. Records are decoded (and decompressed) only when a batch
is iterated, and checked as they are.

Errors follow what Apache Kafka's broker answers:

  - L{CorruptRecordError} (C{CORRUPT_MESSAGE}) for a damaged batch: a CRC mismatch
    (L{ChecksumMismatchError}), a magic other than 0, 1 or 2, a batch length below the
    minimum, data that does not decompress;
  - L{InvalidRecordError} (C{INVALID_RECORD}) for a batch in message format v0 or v1
    (magic 0 or 1: Kafka refuses them in produce requests from version 3 on, and
    Odradek reads nothing else), a negative records count, and records that do not
    decode: bad lengths, a records count that differs from the records held, bytes
    left after the last record;
  - L{RecordTooLargeError} (C{MESSAGE_TOO_LARGE}) for a batch over the reader's
    C{max_batch_size};
  - L{UnsupportedCompressionTypeError} for compression ids 5 to 7.

A buffer that ends inside a batch is not an error: a fetch response may be cut at any
byte. The reader stops before that batch and tells how many bytes it left.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Final

import attrs
from crc32c import crc32c

from odradek.client.errors import (
    CorruptRecordError,
    InvalidRecordError,
    RecordTooLargeError,
)
from odradek.client.records._decode import decode_records
from odradek.client.records._errors import ChecksumMismatchError
from odradek.client.records.codecs import CompressionType, decompress
from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CONTROL_FLAG,
    DELETE_HORIZON_FLAG,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    MAGIC_OFFSET,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG,
    TRANSACTIONAL_FLAG,
    Record,
    TimestampType,
)

__all__ = ["DefaultRecordBatch", "RecordBatchReader", "iter_batches"]

_LENGTH_PREFIX = struct.Struct(">qi")
_LEGACY_RECORD_OVERHEAD: Final = 14
"""Kafka's smallest legal batch length, whatever the magic (a v0 message)."""
_HEADER_SIZE_UP_TO_MAGIC: Final = MAGIC_OFFSET + 1
_INT32_MAX: Final = 0x7FFFFFFF

Buffer = bytes | bytearray | memoryview


@attrs.frozen(eq=False)
class DefaultRecordBatch:
    """
    One complete record batch v2, over a slice of the buffer it was read from.

    The header fields are read once; the records are decoded each time the batch is
    iterated (C{for record in batch}), so a broker can pass batches along without ever
    decoding them.

    @ivar base_offset: the offset of the batch's first record.
    @ivar batch_length: the batch's size less the 12 bytes of base offset and length.
    @ivar partition_leader_epoch: the epoch of the leader that appended the batch.
    @ivar magic: the message format, 2.
    @ivar crc: the stored CRC-32C of the bytes from the attributes to the end.
    @ivar attributes: the attribute bits, see L{odradek.client.records.layout}.
    @ivar last_offset_delta: the offset delta of the last record.
    @ivar first_timestamp: the base timestamp records' deltas are relative to.
    @ivar max_timestamp: the greatest record timestamp, or the LogAppendTime.
    @ivar producer_id: the producer id, or -1.
    @ivar producer_epoch: the producer epoch, or -1.
    @ivar base_sequence: the first record's sequence number, or -1.
    @ivar records_count: how many records the batch declares.
    @ivar buffer: the batch's bytes, exactly C{size_in_bytes} of them.
    @ivar position: where the batch starts in the buffer it was read from.
    """

    base_offset: int
    batch_length: int
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
    buffer: memoryview = attrs.field(repr=False)
    position: int = 0

    @classmethod
    def from_buffer(
        cls,
        buffer: Buffer,
        position: int = 0,
        max_batch_size: int | None = None,
    ) -> DefaultRecordBatch:
        """
        Read the batch that starts at C{position}, which must be complete.

        @param buffer: the bytes holding the batch.
        @param position: where the batch starts.
        @param max_batch_size: the largest batch accepted, or C{None}.
        @return: the batch.
        @raise CorruptRecordError: if the buffer ends inside the batch, or see
            L{RecordBatchReader}.
        """
        view = memoryview(buffer)
        batch = _read_batch(view, position, max_batch_size)
        if batch is None:
            raise CorruptRecordError(
                f"record batch at position {position} is cut short: the buffer holds"
                f" {len(view) - position} of its bytes"
            )
        return batch

    def describe(self) -> str:
        """
        @return: the batch's position and base offset, for error messages.
        """
        return (
            f"record batch at position {self.position} (base offset {self.base_offset})"
        )

    @property
    def size_in_bytes(self) -> int:
        """
        @return: the batch's total size.
        """
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        """
        @return: the offset of the last record (as first written: compaction may have
            removed it).
        """
        return self.base_offset + self.last_offset_delta

    @property
    def next_offset(self) -> int:
        """
        @return: the offset just after the batch.
        """
        return self.base_offset + self.last_offset_delta + 1

    @property
    def compression_type(self) -> CompressionType:
        """
        @return: the codec of the records.
        @raise UnsupportedCompressionTypeError: for the unassigned ids 5 to 7.
        """
        return CompressionType.from_id(self.attributes & COMPRESSION_MASK)

    @property
    def timestamp_type(self) -> TimestampType:
        """
        @return: whether timestamps are the producer's or the leader's.
        """
        if self.attributes & TIMESTAMP_TYPE_FLAG:
            return TimestampType.LOG_APPEND_TIME
        return TimestampType.CREATE_TIME

    @property
    def is_transactional(self) -> bool:
        """
        @return: whether the records belong to a transaction.
        """
        return bool(self.attributes & TRANSACTIONAL_FLAG)

    @property
    def is_control_batch(self) -> bool:
        """
        @return: whether the batch holds control records (transaction markers).
        """
        return bool(self.attributes & CONTROL_FLAG)

    @property
    def delete_horizon_ms(self) -> int | None:
        """
        @return: the time after which the log cleaner may drop the batch's tombstones
            and markers (the base timestamp when attribute bit 6 is set), or C{None}.
        """
        if self.attributes & DELETE_HORIZON_FLAG:
            return self.first_timestamp
        return None

    @property
    def has_producer_id(self) -> bool:
        """
        @return: whether an idempotent or transactional producer wrote the batch.
        """
        return self.producer_id > NO_PRODUCER_ID

    @property
    def last_sequence(self) -> int:
        """
        @return: the sequence number of the last record, wrapping past 2**31 - 1 to 0
            as sequence numbers do, or -1 without a base sequence.
        """
        if self.base_sequence == NO_SEQUENCE:
            return NO_SEQUENCE
        if self.base_sequence > _INT32_MAX - self.last_offset_delta:
            return self.last_offset_delta - (_INT32_MAX - self.base_sequence) - 1
        return self.base_sequence + self.last_offset_delta

    def compute_checksum(self) -> int:
        """
        @return: the CRC-32C of the batch's bytes from the attributes to the end.
        """
        return crc32c(self.buffer[ATTRIBUTES_OFFSET:])

    def is_valid(self) -> bool:
        """
        @return: whether the stored CRC matches the batch's bytes.
        """
        return self.crc == self.compute_checksum()

    def validate(self) -> None:
        """
        Check the batch's CRC-32C.

        @raise ChecksumMismatchError: if it does not match.
        """
        computed = self.compute_checksum()
        if computed != self.crc:
            raise ChecksumMismatchError(
                self.base_offset, self.position, self.crc, computed
            )

    def __iter__(self) -> Iterator[Record]:
        """
        Decode the records, decompressing them first if need be.

        @return: an iterator of the records in order.
        @raise InvalidRecordError: while iterating, at the first record that does not
            decode, or if the records held differ from the declared count.
        @raise CorruptRecordError: if the records do not decompress.
        """
        compression_type = self.compression_type
        body = self.buffer[RECORD_BATCH_OVERHEAD:]
        if compression_type == CompressionType.NONE:
            data = body.tobytes()
        else:
            try:
                data = decompress(compression_type, body)
            except CorruptRecordError as e:
                raise CorruptRecordError(f"{self.describe()}: {e.message}") from None
        if self.attributes & TIMESTAMP_TYPE_FLAG:
            log_append_time: int | None = self.max_timestamp
        else:
            log_append_time = None
        return decode_records(self, data, log_append_time)


def _read_batch(
    view: memoryview, position: int, max_batch_size: int | None
) -> DefaultRecordBatch | None:
    """
    Read the batch header at C{position}, checking what is cheap to check.

    @param view: the buffer.
    @param position: where the batch starts.
    @param max_batch_size: the largest batch accepted, or C{None}.
    @return: the batch, or C{None} if the buffer ends inside it.
    @raise CorruptRecordError: for a length below the minimum or a bad magic.
    @raise InvalidRecordError: for magic 0 or 1 or a negative records count.
    @raise RecordTooLargeError: for a batch larger than C{max_batch_size}.
    """
    remaining = len(view) - position
    if remaining < LOG_OVERHEAD:
        return None
    base_offset, batch_length = _LENGTH_PREFIX.unpack_from(view, position)
    where = f"record batch at position {position} (base offset {base_offset})"
    if batch_length < _LEGACY_RECORD_OVERHEAD:
        raise CorruptRecordError(
            f"{where} declares a length of {batch_length}, less than the minimum"
            f" {_LEGACY_RECORD_OVERHEAD}"
        )
    size = batch_length + LOG_OVERHEAD
    if max_batch_size is not None and size > max_batch_size:
        raise RecordTooLargeError(
            f"{where} is {size} bytes, more than the largest allowed {max_batch_size}"
        )
    if remaining < _HEADER_SIZE_UP_TO_MAGIC:
        return None
    magic = view[position + MAGIC_OFFSET]
    if magic != MAGIC:
        if magic in (0, 1):
            raise InvalidRecordError(
                f"{where} has magic {magic} (message format v{magic}); only magic 2 is"
                " supported"
            )
        signed = magic - 256 if magic > 127 else magic
        raise CorruptRecordError(f"{where} has invalid magic {signed}")
    if size < RECORD_BATCH_OVERHEAD:
        raise CorruptRecordError(
            f"{where} is {size} bytes, less than the {RECORD_BATCH_OVERHEAD}-byte"
            " header of a v2 batch"
        )
    if remaining < size:
        return None
    (
        _,
        _,
        partition_leader_epoch,
        _,
        crc,
        attributes,
        last_offset_delta,
        first_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        records_count,
    ) = HEADER_STRUCT.unpack_from(view, position)
    if records_count < 0:
        raise InvalidRecordError(f"{where} declares {records_count} records")
    return DefaultRecordBatch(
        base_offset=base_offset,
        batch_length=batch_length,
        partition_leader_epoch=partition_leader_epoch,
        magic=magic,
        crc=crc,
        attributes=attributes,
        last_offset_delta=last_offset_delta,
        first_timestamp=first_timestamp,
        max_timestamp=max_timestamp,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
        records_count=records_count,
        buffer=view[position : position + size],
        position=position,
    )


@attrs.define
class RecordBatchReader:
    """
    Walk the record batches of a buffer, such as the records of a partition in a fetch
    or produce message, or a log segment.

    Iterating yields each complete batch once, from where the previous iteration
    stopped. If the buffer ends inside a batch, iteration stops before it and
    C{truncated_bytes} tells how many bytes were left; a fetch response is cut like
    that, so it is no error unless C{allow_partial} is false.

    @ivar buffer: the bytes to read.
    @ivar allow_partial: whether a buffer ending inside a batch is accepted.
    @ivar max_batch_size: the largest batch accepted, or C{None}.
    @ivar position: where the next batch starts.
    @ivar truncated_bytes: how many bytes of an incomplete last batch were left.
    """

    buffer: Buffer
    allow_partial: bool = True
    max_batch_size: int | None = None
    position: int = attrs.field(default=0, init=False)
    truncated_bytes: int = attrs.field(default=0, init=False)

    @property
    def partial(self) -> bool:
        """
        @return: whether the buffer ended inside a batch.
        """
        return self.truncated_bytes > 0

    def __iter__(self) -> Iterator[DefaultRecordBatch]:
        """
        @return: an iterator of the batches.
        @raise CorruptRecordError: while iterating, see L{_read_batch}; also if the
            buffer ends inside a batch and C{allow_partial} is false.
        """
        view = memoryview(self.buffer)
        end = len(view)
        while self.position < end:
            batch = _read_batch(view, self.position, self.max_batch_size)
            if batch is None:
                self.truncated_bytes = end - self.position
                if not self.allow_partial:
                    raise CorruptRecordError(
                        f"the buffer ends inside the record batch at position"
                        f" {self.position}: {self.truncated_bytes} bytes are left"
                    )
                return
            self.position += batch.size_in_bytes
            yield batch


def iter_batches(buffer: Buffer) -> Iterator[DefaultRecordBatch]:
    """
    Walk the complete record batches of a buffer, ignoring an incomplete last one.

    @param buffer: the bytes to read.
    @return: an iterator of the batches.
    """
    return iter(RecordBatchReader(buffer))
