"""
Rewriting a batch's header in place without decoding its records: as a partition
leader does on append (L{assign_offsets}), and as an idempotent producer does when it
gives a batch it must retry a new epoch and sequence (L{restamp_producer_state}).

The base offset and the partition leader epoch lie outside the CRC, so assigning them
costs two writes. Stamping a LogAppendTime changes the attributes and the max
timestamp, and the producer state lies inside the CRC too, so the CRC is recomputed
then.
"""

from __future__ import annotations

import struct

from crc32c import crc32c

from odradek.client.errors import CorruptRecordError
from odradek.client.records.layout import (
    ATTRIBUTES_OFFSET,
    CRC_OFFSET,
    LOG_OVERHEAD,
    MAGIC,
    MAGIC_OFFSET,
    RECORD_BATCH_OVERHEAD,
    TIMESTAMP_TYPE_FLAG,
)

__all__ = ["assign_offsets", "restamp_producer_state"]

_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_UINT32 = struct.Struct(">I")
_INT16 = struct.Struct(">h")
_PARTITION_LEADER_EPOCH_OFFSET = 12
_LAST_OFFSET_DELTA_OFFSET = 23
_MAX_TIMESTAMP_OFFSET = 35
_PRODUCER_ID_OFFSET = 43
_PRODUCER_EPOCH_OFFSET = 51
_BASE_SEQUENCE_OFFSET = 53


def _batch_size(view: memoryview, position: int, caller: str) -> int:
    """
    @return: the size of the v2 batch at C{position}, all of which C{view} holds.
    @raise CorruptRecordError: if no complete v2 batch starts at C{position}.
    @raise TypeError: if C{view} is read-only.
    """
    if view.readonly:
        raise TypeError(f"{caller} needs a writable buffer")
    remaining = len(view) - position
    if remaining < RECORD_BATCH_OVERHEAD:
        raise CorruptRecordError(
            f"no record batch header at position {position}: {remaining} bytes remain"
        )
    (batch_length,) = _INT32.unpack_from(view, position + 8)
    size: int = batch_length + LOG_OVERHEAD
    magic = view[position + MAGIC_OFFSET]
    if magic != MAGIC or size < RECORD_BATCH_OVERHEAD or size > remaining:
        raise CorruptRecordError(
            f"no complete v2 record batch at position {position}: magic {magic},"
            f" {size} bytes declared, {remaining} remain"
        )
    return size


def _write_crc(view: memoryview, position: int, size: int) -> None:
    """Store the CRC-32C of the batch's bytes from its attributes to its end."""
    crc = crc32c(view[position + ATTRIBUTES_OFFSET : position + size])
    _UINT32.pack_into(view, position + CRC_OFFSET, crc)


def assign_offsets(
    buffer: bytearray | memoryview,
    position: int,
    base_offset: int,
    *,
    partition_leader_epoch: int | None = None,
    log_append_time: int | None = None,
) -> int:
    """
    Set the base offset of the batch at C{position}, and optionally its partition
    leader epoch and a LogAppendTime, keeping its CRC valid.

    The batch's CRC is not checked first: validate it before if it came from outside.

    @param buffer: a writable buffer holding the whole batch.
    @param position: where the batch starts.
    @param base_offset: the offset of the batch's first record.
    @param partition_leader_epoch: the leader's epoch to write, or C{None} to leave it.
    @param log_append_time: if given, mark the batch LogAppendTime and write this
        time, in milliseconds, as its max timestamp (every record's timestamp then).
    @return: the next offset after the batch: C{base_offset} plus its last offset
        delta plus one.
    @raise CorruptRecordError: if no complete v2 batch starts at C{position}.
    @raise TypeError: if C{buffer} is read-only.
    """
    view = memoryview(buffer)
    size = _batch_size(view, position, "assign_offsets")
    _INT64.pack_into(view, position, base_offset)
    if partition_leader_epoch is not None:
        _INT32.pack_into(
            view, position + _PARTITION_LEADER_EPOCH_OFFSET, partition_leader_epoch
        )
    if log_append_time is not None:
        (attributes,) = _INT16.unpack_from(view, position + ATTRIBUTES_OFFSET)
        _INT16.pack_into(
            view, position + ATTRIBUTES_OFFSET, attributes | TIMESTAMP_TYPE_FLAG
        )
        _INT64.pack_into(view, position + _MAX_TIMESTAMP_OFFSET, log_append_time)
        _write_crc(view, position, size)
    last_offset_delta: int = _INT32.unpack_from(
        view, position + _LAST_OFFSET_DELTA_OFFSET
    )[0]
    return base_offset + last_offset_delta + 1


def restamp_producer_state(
    buffer: bytearray | memoryview,
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    *,
    position: int = 0,
) -> None:
    """
    Give the batch at C{position} another producer id, epoch and base sequence, and
    a new CRC: what Kafka's C{ProducerBatch.resetProducerState} does when an
    idempotent producer bumps its epoch and numbers its unacknowledged batches from 0
    again. The attributes (the transactional flag among them) and the records stay.

    The batch's CRC is not checked first: only rewrite a batch built here.

    @param buffer: a writable buffer holding the whole batch.
    @param producer_id: the producer id to write.
    @param producer_epoch: the producer epoch to write.
    @param base_sequence: the sequence number of the batch's first record.
    @param position: where the batch starts.
    @raise CorruptRecordError: if no complete v2 batch starts at C{position}.
    @raise TypeError: if C{buffer} is read-only.
    """
    view = memoryview(buffer)
    size = _batch_size(view, position, "restamp_producer_state")
    _INT64.pack_into(view, position + _PRODUCER_ID_OFFSET, producer_id)
    _INT16.pack_into(view, position + _PRODUCER_EPOCH_OFFSET, producer_epoch)
    _INT32.pack_into(view, position + _BASE_SEQUENCE_OFFSET, base_sequence)
    _write_crc(view, position, size)
