"""
The lines of C{odradek-dump-log}, sans-IO: each function takes the bytes of a log
segment file (C{.log}) or of one of its indexes (C{.index}, C{.timeindex}) and
yields the lines Kafka's C{DumpLogSegments} prints for it, collecting the problems
it finds (offsets that do not follow, index entries that do not match the log) for
the tool to report on standard error.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from typing import Final

import attrs

from odradek.client.errors import KafkaError
from odradek.client.records import (
    NO_SEQUENCE,
    ControlRecordType,
    DefaultRecordBatch,
    EndTransactionMarker,
    Record,
    RecordBatchReader,
    TimestampType,
)

__all__ = [
    "DumpOptions",
    "IndexProblems",
    "batch_line",
    "check_offset_index",
    "check_time_index",
    "log_lines",
    "offset_index_entries",
    "record_line",
    "time_index_entries",
]

_OFFSET_ENTRY: Final = struct.Struct(">ii")
_TIME_ENTRY: Final = struct.Struct(">qi")
_INT32_MAX: Final = 0x7FFFFFFF
_TIMESTAMP_TYPE_NAMES: Final = {
    TimestampType.CREATE_TIME: "CreateTime",
    TimestampType.LOG_APPEND_TIME: "LogAppendTime",
}


@attrs.frozen
class DumpOptions:
    """
    What to print of a C{.log} file.

    @ivar print_data_log: print each record's key and payload (implies
        C{deep_iteration}).
    @ivar deep_iteration: print a line for each record, not only each batch.
    @ivar skip_record_metadata: leave the offset, sizes ... out of record lines.
    @ivar max_bytes: read only this many bytes of the file, or C{None} for all.
    """

    print_data_log: bool = False
    deep_iteration: bool = False
    skip_record_metadata: bool = False
    max_bytes: int | None = None

    @property
    def deep(self) -> bool:
        """@return: whether records are printed."""
        return self.deep_iteration or self.print_data_log


@attrs.define
class IndexProblems:
    """
    What the dump of a file found wrong, to report once all files are dumped.

    @ivar non_consecutive: pairs of record offsets of a C{.log} where the second
        does not follow the first.
    @ivar mismatches: C{(index offset, log offset)} pairs of a C{.index} whose
        entry names a batch that does not end at the indexed offset.
    @ivar time_mismatches: C{(index timestamp, log timestamp)} pairs of a
        C{.timeindex}.
    @ivar out_of_order: C{(index timestamp, previous timestamp)} pairs of a
        C{.timeindex} whose timestamps do not increase.
    @ivar not_found: C{(index offset, log offset)} pairs of a C{.timeindex} whose
        offset no batch ends at (log offset -1: past the log's end).
    """

    non_consecutive: list[tuple[int, int]] = attrs.field(factory=list)
    mismatches: list[tuple[int, int]] = attrs.field(factory=list)
    time_mismatches: list[tuple[int, int]] = attrs.field(factory=list)
    out_of_order: list[tuple[int, int]] = attrs.field(factory=list)
    not_found: list[tuple[int, int]] = attrs.field(factory=list)


def _java_bool(value: bool) -> str:
    """@return: C{true} or C{false}, as Java prints a boolean."""
    return "true" if value else "false"


def _codec_name(batch: DefaultRecordBatch) -> str:
    """@return: Kafka's name of the batch's codec, or C{unknown(N)}."""
    try:
        return batch.compression_type.kafka_name
    except KafkaError:
        return f"unknown({batch.attributes & 0x07})"


def batch_line(batch: DefaultRecordBatch, position: int) -> str:
    """
    @param batch: a batch of the log.
    @param position: where it starts in the file.
    @return: Kafka's line for the batch.
    """
    horizon = batch.delete_horizon_ms
    delete_horizon = (
        "OptionalLong.empty" if horizon is None else f"OptionalLong[{horizon}]"
    )
    return (
        f"baseOffset: {batch.base_offset} lastOffset: {batch.last_offset}"
        f" count: {batch.records_count} baseSequence: {batch.base_sequence}"
        f" lastSequence: {batch.last_sequence} producerId: {batch.producer_id}"
        f" producerEpoch: {batch.producer_epoch}"
        f" partitionLeaderEpoch: {batch.partition_leader_epoch}"
        f" isTransactional: {_java_bool(batch.is_transactional)}"
        f" isControl: {_java_bool(batch.is_control_batch)}"
        f" deleteHorizonMs: {delete_horizon} position: {position}"
        f" {_TIMESTAMP_TYPE_NAMES[batch.timestamp_type]}: {batch.max_timestamp}"
        f" size: {batch.size_in_bytes} magic: {batch.magic}"
        f" compresscodec: {_codec_name(batch)} crc: {batch.crc}"
        f" isvalid: {_java_bool(batch.is_valid())}"
    )


def _sequence(batch: DefaultRecordBatch, record: Record) -> int:
    """@return: the record's sequence number, as Kafka's C{DefaultRecord} gives it."""
    if batch.base_sequence < 0:
        return NO_SEQUENCE
    return (batch.base_sequence + record.offset - batch.base_offset) % (_INT32_MAX + 1)


def _text(data: bytes) -> str:
    """@return: the bytes as Kafka's C{StringDecoder} shows them (UTF-8)."""
    return data.decode("utf-8", errors="replace")


def _control_text(record: Record) -> str:
    """@return: what Kafka prints of a control record."""
    try:
        control_type = ControlRecordType.parse(record.key)
        if control_type in (ControlRecordType.COMMIT, ControlRecordType.ABORT):
            marker = EndTransactionMarker.from_record(record)
            return (
                f" endTxnMarker: {marker.control_type.name}"
                f" coordinatorEpoch: {marker.coordinator_epoch}"
            )
    except KafkaError as e:
        return f" controlType: invalid ({e.message})"
    type_id = int.from_bytes((record.key or b"\0\0\0\0")[2:4], "big", signed=True)
    return f" controlType: {control_type.name}({type_id})"


def record_line(batch: DefaultRecordBatch, record: Record, options: DumpOptions) -> str:
    """
    @param batch: the record's batch.
    @param record: a record of it.
    @param options: what to print.
    @return: Kafka's line for the record, C{| offset: ...}.
    """
    parts = ["|"]
    separator = " "
    if not options.skip_record_metadata:
        header_keys = ",".join(key for key, _ in record.headers)
        parts.append(
            f" offset: {record.offset}"
            f" {_TIMESTAMP_TYPE_NAMES[batch.timestamp_type]}: {record.timestamp}"
            f" keySize: {record.key_size} valueSize: {record.value_size}"
            f" sequence: {_sequence(batch, record)} headerKeys: [{header_keys}]"
        )
        if batch.is_control_batch:
            parts.append(_control_text(record))
    if options.print_data_log and not batch.is_control_batch:
        if record.key is not None:
            parts.append(f"{separator}key: {_text(record.key)}")
            separator = " "
        if record.value is not None:
            parts.append(f" payload: {_text(record.value)}")
    return "".join(parts)


def log_lines(
    data: bytes, name: str, options: DumpOptions, problems: IndexProblems
) -> Iterator[str]:
    """
    The lines of a C{.log} file's batches (and records), after C{Log starting
    offset}, which the caller prints.

    A damaged batch header stops the walk; records that do not decode are
    reported and the walk goes on with the next batch. The bytes after the last
    readable batch are reported when the whole file was read.

    @param data: the file's bytes (its first C{max_bytes}).
    @param name: the file's name, for the messages.
    @param options: what to print.
    @param problems: where non-consecutive offsets are collected.
    @return: the lines.
    """
    reader = RecordBatchReader(data)
    valid_bytes = 0
    last_offset: int | None = None
    batches = iter(reader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except KafkaError as e:
            yield f"Found a corrupt batch at position {reader.position}: {e.message}"
            break
        yield batch_line(batch, valid_bytes)
        if options.deep:
            try:
                for record in batch:
                    if last_offset is not None and record.offset != last_offset + 1:
                        problems.non_consecutive.append((last_offset, record.offset))
                    last_offset = record.offset
                    yield record_line(batch, record, options)
            except KafkaError as e:
                yield f"| cannot read the records of this batch: {e.message}"
        valid_bytes += batch.size_in_bytes
    trailing = len(data) - valid_bytes
    if trailing > 0 and options.max_bytes is None:
        yield f"Found {trailing} invalid bytes at the end of {name}"


def _entries(data: bytes, entry: struct.Struct) -> Iterator[tuple[int, int]]:
    """
    @return: the entries of an index, stopping at the zero tail of a preallocated
        file (an entry with relative offset 0 after the first).
    """
    usable = len(data) - len(data) % entry.size
    for index, fields in enumerate(entry.iter_unpack(memoryview(data)[:usable])):
        relative = fields[0] if entry is _OFFSET_ENTRY else fields[1]
        if index > 0 and relative == 0:
            return
        yield fields


def offset_index_entries(data: bytes, base_offset: int) -> Iterator[tuple[int, int]]:
    """
    The entries of an offset index (C{.index}: int32 relative offset, int32
    position).

    @param data: the file's bytes.
    @param base_offset: the segment's base offset (from the file's name).
    @return: C{(offset, position)} pairs, offsets absolute.
    """
    for relative, position in _entries(data, _OFFSET_ENTRY):
        yield base_offset + relative, position


def time_index_entries(data: bytes, base_offset: int) -> Iterator[tuple[int, int]]:
    """
    The entries of a time index (C{.timeindex}: int64 timestamp, int32 relative
    offset).

    @param data: the file's bytes.
    @param base_offset: the segment's base offset (from the file's name).
    @return: C{(timestamp, offset)} pairs, offsets absolute.
    """
    for timestamp, relative in _entries(data, _TIME_ENTRY):
        yield timestamp, base_offset + relative


def check_offset_index(
    log_data: bytes, offset: int, position: int, problems: IndexProblems
) -> None:
    """
    Check an offset index entry against the log, as Kafka does: the batch at
    C{position} must end at C{offset}.

    @param log_data: the segment's C{.log} bytes.
    @param offset: the entry's offset.
    @param position: the entry's position.
    @param problems: where a mismatch is recorded (log offset -1 when no batch
        can be read there).
    """
    try:
        found = DefaultRecordBatch.from_buffer(log_data, position).last_offset
    except (KafkaError, IndexError, struct.error):
        found = -1
    if found != offset:
        problems.mismatches.append((offset, found))


def check_time_index(
    log_data: bytes,
    entries: list[tuple[int, int]],
    problems: IndexProblems,
) -> None:
    """
    Check time index entries against the log, as Kafka does: a batch must end at
    each entry's offset, with the entry's timestamp as its max timestamp, and
    the timestamps must increase.

    @param log_data: the segment's C{.log} bytes.
    @param entries: the C{(timestamp, offset)} entries.
    @param problems: where problems are recorded.
    """
    last_offsets: list[int] = []
    max_timestamps: list[int] = []
    try:
        for batch in RecordBatchReader(log_data):
            last_offsets.append(batch.last_offset)
            max_timestamps.append(batch.max_timestamp)
    except KafkaError:
        pass
    previous = -1
    for timestamp, offset in entries:
        at = bisect.bisect_left(last_offsets, offset)
        if at == len(last_offsets):
            problems.not_found.append((offset, -1))
        elif last_offsets[at] != offset:
            problems.not_found.append((offset, last_offsets[at]))
        else:
            if max_timestamps[at] != timestamp:
                problems.time_mismatches.append((timestamp, max_timestamps[at]))
            if previous >= timestamp:
                problems.out_of_order.append((timestamp, previous))
        previous = timestamp
