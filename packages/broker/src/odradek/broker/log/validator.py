"""
L{LogValidator}: checking the record batches of a produce request and assigning their
offsets, as a partition leader does, from the batch headers alone.

Records are decoded only where Kafka's rules cannot be checked otherwise: for a
compacted topic (every record needs a key) and when the topic's C{compression.type}
differs from the producer's codec (the batch is recompressed).

Errors are Kafka's, each message naming the partition, the batch (position and base
offset in the request) and the bad value:

  - L{CorruptRecordError} (C{CORRUPT_MESSAGE}): a CRC-32C mismatch, a length below
    the minimum, a batch cut short (Kafka silently drops a partial trailing batch; we
    refuse the request rather than acknowledge records we did not write), a bad
    magic other than 0 or 1;
  - L{InvalidRecordError} (C{INVALID_RECORD}): magic 0 or 1, a base offset other than
    0, a records count that disagrees with the last offset delta or cannot fit the
    bytes, a control batch, a producer id without a sequence, a record without a key
    in a compacted topic;
  - L{RecordTooLargeError} (C{MESSAGE_TOO_LARGE}): a batch over C{max.message.bytes};
  - L{RecordBatchTooLargeError} (C{RECORD_LIST_TOO_LARGE}): the whole payload over
    C{segment.bytes}, which is where Kafka raises it;
  - L{InvalidTimestampError} (C{INVALID_TIMESTAMP}): a CreateTime timestamp outside
    C{message.timestamp.before.max.ms} / C{message.timestamp.after.max.ms}, or a
    producer setting LogAppendTime. Only the batch's first and max timestamps are
    checked, so a record earlier than the first one inside a batch is not caught.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Final, NoReturn

import attrs
from crc32c import crc32c

from odradek.broker.log.config import LogConfig
from odradek.client.errors import (
    CorruptRecordError,
    InvalidRecordError,
    InvalidTimestampError,
    RecordBatchTooLargeError,
    RecordTooLargeError,
    UnsupportedCompressionTypeError,
)
from odradek.client.records import (
    CompressionType,
    DefaultRecordBatch,
    RecordBatchBuilder,
    assign_offsets,
)
from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    COMPRESSION_MASK,
    CONTROL_FLAG,
    HEADER_STRUCT,
    LOG_OVERHEAD,
    MAGIC,
    NO_SEQUENCE,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG,
    TRANSACTIONAL_FLAG,
)

__all__ = ["BatchInfo", "LogAppendInfo", "LogValidator"]

_LENGTH: Final = struct.Struct(">qi")
_LEGACY_RECORD_OVERHEAD: Final = 14
_MIN_RECORD_SIZE: Final = 7
"""The smallest encoded record: length, attributes, two deltas, null key and value,
no headers, one byte each."""
_INT32_MAX: Final = 0x7FFFFFFF
_NO_TIMESTAMP: Final = -1


@attrs.define
class BatchInfo:
    """
    One appended batch, after offset assignment. Treat it as read-only: it is not
    frozen because one is made per appended batch, and frozen attrs classes cost
    several times as much to create.

    @ivar position: where the batch starts in the appended bytes.
    @ivar size: its size in bytes.
    @ivar base_offset: the offset of its first record.
    @ivar last_offset: the offset of its last record.
    @ivar max_timestamp: its max timestamp (the LogAppendTime if stamped).
    @ivar records_count: how many records it holds.
    @ivar producer_id: the producer id, or -1.
    @ivar producer_epoch: the producer epoch, or -1.
    @ivar base_sequence: the first record's sequence, or -1.
    @ivar last_sequence: the last record's sequence, or -1.
    @ivar is_transactional: whether it belongs to a transaction.
    """

    position: int
    size: int
    base_offset: int
    last_offset: int
    max_timestamp: int
    records_count: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    last_sequence: int
    is_transactional: bool

    @property
    def has_producer_id(self) -> bool:
        """
        @return: whether an idempotent or transactional producer wrote the batch.
        """
        return self.producer_id >= 0


@attrs.define
class LogAppendInfo:
    """
    The outcome of an append, as the produce response reports it. Treat it as
    read-only (not frozen, for the same reason as L{BatchInfo}).

    @ivar first_offset: the offset of the first record appended.
    @ivar last_offset: the offset of the last record appended.
    @ivar max_timestamp: the largest batch timestamp.
    @ivar offset_of_max_timestamp: the last offset of the batch holding it.
    @ivar log_append_time: the time stamped on the batches, or -1 for CreateTime.
    @ivar record_count: how many records were appended.
    @ivar valid_bytes: how many bytes were appended.
    @ivar batches: each batch appended.
    @ivar log_start_offset: the log start offset after the append, or -1.
    @ivar duplicate: whether the batch repeats one already in the log (a producer
        retry); the offsets are then the original ones and nothing was written.
    """

    first_offset: int
    last_offset: int
    max_timestamp: int
    offset_of_max_timestamp: int
    log_append_time: int
    record_count: int
    valid_bytes: int
    batches: list[BatchInfo]
    log_start_offset: int = -1
    duplicate: bool = False


@attrs.define
class LogValidator:
    """
    The checks and offset assignment of one partition's appends. Make a new one when
    the config changes: the settings the hot path reads are copied at creation.

    @ivar topic_partition: the partition's name (C{topic-partition}), for messages.
    @ivar config: the partition's settings.
    @ivar now_ms: the clock, for timestamp bounds and LogAppendTime.
    """

    topic_partition: str
    config: LogConfig
    now_ms: Callable[[], int]
    _log_append_time: bool = attrs.field(init=False)
    _compacted: bool = attrs.field(init=False)
    _max_message_bytes: int = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._log_append_time = self.config.log_append_time
        self._compacted = "compact" in self.config.cleanup_policy
        self._max_message_bytes = self.config.max_message_bytes

    def _where(self, position: int, base_offset: int) -> str:
        return (
            f"record batch at position {position} (base offset {base_offset}) in the"
            f" append to {self.topic_partition}"
        )

    def validate_and_assign_offsets(
        self,
        records: bytearray,
        next_offset: int,
        leader_epoch: int,
        *,
        now_ms: int | None = None,
        log_start_offset: int = -1,
    ) -> tuple[bytearray, LogAppendInfo]:
        """
        Check a produce request's batches for this partition and assign their offsets,
        rewriting C{records} in place.

        @param records: the request's record batches; rewritten in place.
        @param next_offset: the offset the first record gets (the log end offset).
        @param leader_epoch: the leader epoch to write in each batch.
        @param now_ms: the time to check timestamps against and to stamp as
            LogAppendTime; read from C{self.now_ms} if not given.
        @param log_start_offset: copied into the result.
        @return: the bytes to append (C{records} itself, unless batches had to be
            recompressed) and what was appended.
        @raise CorruptRecordError: see the module docstring.
        @raise InvalidRecordError: see the module docstring.
        @raise RecordTooLargeError: see the module docstring.
        @raise RecordBatchTooLargeError: see the module docstring.
        @raise InvalidTimestampError: see the module docstring.
        @raise UnsupportedCompressionTypeError: for compression ids 5 to 7.
        """
        config = self.config
        if len(records) > config.segment_bytes:
            raise RecordBatchTooLargeError(
                f"the record batches in the append to {self.topic_partition} are"
                f" {len(records)} bytes, more than the segment size"
                f" (segment.bytes) {config.segment_bytes}"
            )
        if not records:
            raise InvalidRecordError(
                f"the append to {self.topic_partition} holds no record batch"
            )
        now = self.now_ms() if now_ms is None else now_ms
        if config.compression_type != "producer":
            records = self._maybe_recompress(records, now)
        stamp = now if self._log_append_time else None
        batches: list[BatchInfo] = []
        position = 0
        offset = next_offset
        max_timestamp, offset_of_max = _NO_TIMESTAMP, -1
        record_count = 0
        end = len(records)
        with memoryview(records) as view:
            while position < end:
                fields = self._check_batch(view, position, now)
                size = fields[1] + LOG_OVERHEAD
                last_offset_delta = fields[6]
                assign_offsets(
                    view,
                    position,
                    offset,
                    partition_leader_epoch=leader_epoch,
                    log_append_time=stamp,
                )
                base_sequence = fields[11]
                if base_sequence == NO_SEQUENCE:
                    last_sequence = NO_SEQUENCE
                elif base_sequence > _INT32_MAX - last_offset_delta:
                    last_sequence = last_offset_delta - (_INT32_MAX - base_sequence) - 1
                else:
                    last_sequence = base_sequence + last_offset_delta
                batch_max = fields[8] if stamp is None else stamp
                last = offset + last_offset_delta
                batches.append(
                    BatchInfo(
                        position,
                        size,
                        offset,
                        last,
                        batch_max,
                        fields[12],
                        fields[9],
                        fields[10],
                        base_sequence,
                        last_sequence,
                        bool(fields[5] & TRANSACTIONAL_FLAG),
                    )
                )
                if batch_max > max_timestamp:
                    max_timestamp, offset_of_max = batch_max, last
                record_count += fields[12]
                offset = last + 1
                position += size
        info = LogAppendInfo(
            next_offset,
            offset - 1,
            max_timestamp,
            offset_of_max if offset_of_max >= 0 else offset - 1,
            _NO_TIMESTAMP if stamp is None else stamp,
            record_count,
            end,
            batches,
            log_start_offset,
        )
        return records, info

    def _check_batch(
        self, view: memoryview, position: int, now: int
    ) -> tuple[int, ...]:
        """
        Check the batch at C{position} without decoding its records.

        @return: the header's fields, as C{HEADER_STRUCT} unpacks them.
        """
        remaining = len(view) - position
        if remaining < LOG_OVERHEAD:
            raise CorruptRecordError(
                f"the append to {self.topic_partition} ends with {remaining} bytes at"
                f" position {position}, a partial record batch"
            )
        base_offset, batch_length = _LENGTH.unpack_from(view, position)
        size = batch_length + LOG_OVERHEAD
        if (
            batch_length < _LEGACY_RECORD_OVERHEAD
            or size > remaining
            or size < RECORD_BATCH_OVERHEAD
            or view[position + 16] != MAGIC
        ):
            self._bad_frame(view, position, base_offset, batch_length)
        fields = HEADER_STRUCT.unpack_from(view, position)
        (_, _, _, _, crc, attributes, last_offset_delta) = fields[:7]
        producer_id, base_sequence, records_count = fields[9], fields[11], fields[12]
        if base_offset != 0:
            raise InvalidRecordError(
                f"{self._where(position, base_offset)}: the base offset should be 0,"
                f" not {base_offset}"
            )
        if size > self._max_message_bytes:
            raise RecordTooLargeError(
                f"{self._where(position, base_offset)} is {size} bytes, more than the"
                f" maximum configured (max.message.bytes) {self._max_message_bytes}"
            )
        computed = crc32c(view[position + ATTRIBUTES_OFFSET : position + size])
        if computed != crc:
            raise CorruptRecordError(
                f"{self._where(position, base_offset)} is corrupt: stored crc ="
                f" {crc:#010x}, computed crc = {computed:#010x}"
            )
        codec = attributes & COMPRESSION_MASK
        if (
            codec > 4
            or records_count <= 0
            or last_offset_delta + 1 != records_count
            or (codec == 0 and records_count * _MIN_RECORD_SIZE > size - 61)
            or attributes & (CONTROL_FLAG | TIMESTAMP_TYPE_FLAG)
            or (producer_id >= 0 and base_sequence < 0)
        ):
            self._bad_header(self._where(position, base_offset), fields, size)
        if not self._log_append_time:
            self._check_timestamps(position, base_offset, fields[7], fields[8], now)
        if self._compacted:
            self._check_keys(self._where(position, base_offset), view, position, size)
        return fields

    def _bad_frame(
        self, view: memoryview, position: int, base_offset: int, batch_length: int
    ) -> NoReturn:
        where = self._where(position, base_offset)
        remaining = len(view) - position
        size = batch_length + LOG_OVERHEAD
        if batch_length < _LEGACY_RECORD_OVERHEAD:
            raise CorruptRecordError(
                f"{where} declares a length of {batch_length}, less than the minimum"
                f" {_LEGACY_RECORD_OVERHEAD}"
            )
        magic = view[position + 16] if remaining > 16 else MAGIC
        if magic in (0, 1):
            raise InvalidRecordError(
                f"{where} has magic {magic}; only magic 2 (message format v2) is"
                " accepted"
            )
        if magic != MAGIC:
            raise CorruptRecordError(f"{where} has invalid magic {magic}")
        if size > remaining:
            raise CorruptRecordError(
                f"{where} is cut short: {size} bytes declared, {remaining} present"
            )
        raise CorruptRecordError(
            f"{where} is {size} bytes, less than a v2 batch header"
        )

    def _bad_header(self, where: str, fields: tuple[int, ...], size: int) -> NoReturn:
        attributes, last_offset_delta = fields[5], fields[6]
        producer_id, base_sequence, records_count = fields[9], fields[11], fields[12]
        codec = attributes & COMPRESSION_MASK
        if codec > 4:
            raise UnsupportedCompressionTypeError(
                f"{where} has unknown compression type id {codec}"
            )
        if records_count <= 0 or last_offset_delta + 1 != records_count:
            raise InvalidRecordError(
                f"{where}: the offset range [0, {last_offset_delta}] does not match"
                f" the records count {records_count}"
            )
        if attributes & CONTROL_FLAG:
            raise InvalidRecordError(
                f"{where} is a control batch: clients may not write one"
            )
        if attributes & TIMESTAMP_TYPE_FLAG:
            raise InvalidTimestampError(
                f"{where} has timestamp type LogAppendTime: a producer may not set it"
            )
        if producer_id >= 0 and base_sequence < 0:
            raise InvalidRecordError(
                f"{where} has producer id {producer_id} but the invalid sequence"
                f" {base_sequence}"
            )
        raise InvalidRecordError(
            f"{where} declares {records_count} records, more than its"
            f" {size - RECORD_BATCH_OVERHEAD} bytes of records can hold"
        )

    def _check_timestamps(
        self, position: int, base_offset: int, first: int, largest: int, now: int
    ) -> None:
        config = self.config
        earliest = now - config.message_timestamp_before_max_ms
        latest = now + config.message_timestamp_after_max_ms
        for timestamp in (first, largest):
            if timestamp != _NO_TIMESTAMP and not earliest <= timestamp <= latest:
                raise InvalidTimestampError(
                    f"{self._where(position, base_offset)} has timestamp {timestamp},"
                    " out of range: it should be"
                    f" within [{earliest}, {latest}] (message.timestamp.before.max.ms,"
                    " message.timestamp.after.max.ms)"
                )

    def _check_keys(
        self, where: str, view: memoryview, position: int, size: int
    ) -> None:
        batch = DefaultRecordBatch.from_buffer(
            view[position : position + size].tobytes()
        )
        for record in batch:
            if record.key is None:
                raise InvalidRecordError(
                    f"{where}: the record at offset delta"
                    f" {record.offset - batch.base_offset} has no key, which a"
                    " compacted topic requires"
                )

    def _maybe_recompress(self, records: bytearray, now: int) -> bytearray:
        """
        Re-encode the batches whose codec differs from the topic's
        C{compression.type}, as Kafka does.
        """
        name = self.config.compression_type
        target = (
            CompressionType.NONE
            if name == "uncompressed"
            else (CompressionType.from_kafka_name(name))
        )
        out = bytearray()
        position = 0
        while position < len(records):
            with memoryview(records) as view:
                self._check_batch(view, position, now)
            batch = DefaultRecordBatch.from_buffer(records, position)
            size = batch.size_in_bytes
            if batch.compression_type == target:
                out += records[position : position + size]
            else:
                builder = RecordBatchBuilder(
                    compression_type=target,
                    producer_id=batch.producer_id,
                    producer_epoch=batch.producer_epoch,
                    base_sequence=batch.base_sequence,
                    is_transactional=batch.is_transactional,
                )
                for record in batch:
                    builder.append(
                        record.timestamp,
                        record.key,
                        record.value,
                        record.headers,
                        offset_delta=record.offset - batch.base_offset,
                    )
                out += builder.build()
            position += size
        return out
