"""
The log side of L{OffsetsTopicStore
<odradek.broker.coordinator.group.store.OffsetsTopicStore>}: reading a partition of
C{__consumer_offsets} back into a L{LoadedPartition}, and packing records into
batches and appends that the partition accepts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from twisted.logger import Logger

from odradek.broker.coordinator.group.records import (
    CorruptGroupRecordError,
    GroupKey,
    OffsetKey,
    decode_group_value,
    decode_key,
    decode_offset_value,
)
from odradek.broker.coordinator.group.values import LoadedPartition
from odradek.broker.log import Log
from odradek.client.records import (
    DefaultRecordBatch,
    RecordBatchBuilder,
    RecordBatchReader,
)

__all__ = ["pack_appends", "read_partition"]

_log = Logger()

Entry = tuple[bytes, bytes | None]


def read_partition(log: Log, partition: int, buffer_size: int) -> LoadedPartition:
    """
    Read a partition of C{__consumer_offsets} from its log start offset to its log
    end offset, keeping the latest value of every key. Control batches, records
    without a key, records of unknown key versions and records that do not decode
    are skipped (and logged).

    @param log: the partition's log.
    @param partition: the partition's index.
    @param buffer_size: how many bytes to read at a time (a batch larger than that
        is read whole).
    @return: what the partition holds.
    """
    loaded = LoadedPartition(partition)
    for key, value in _entries(log, buffer_size):
        _apply(loaded, key, value)
    return loaded


def _entries(log: Log, buffer_size: int) -> Iterator[Entry]:
    offset = log.log_start_offset
    end = log.log_end_offset
    while offset < end:
        data = log.read(offset, buffer_size, end, True).records.read_bytes()
        progress = offset
        for batch in RecordBatchReader(data):
            if batch.next_offset <= offset:
                continue
            if not batch.is_control_batch:
                yield from _batch_entries(log, batch, offset, end)
            offset = batch.next_offset
        if offset == progress:
            _log.error(
                "Loading {partition} stopped at offset {offset}: no complete record"
                " batch there",
                partition=str(log.topic_partition),
                offset=offset,
            )
            return


def _batch_entries(
    log: Log, batch: DefaultRecordBatch, start: int, end: int
) -> Iterator[Entry]:
    for record in batch:
        if not start <= record.offset < end:
            continue
        if record.key is None:
            _log.warn(
                "Skipped a record without a key at offset {offset} of {partition}",
                offset=record.offset,
                partition=str(log.topic_partition),
            )
            continue
        yield record.key, record.value


def _apply(loaded: LoadedPartition, key: bytes, value: bytes | None) -> None:
    """
    Apply one record to what was loaded so far.
    """
    try:
        decoded = decode_key(key)
        if isinstance(decoded, OffsetKey):
            group_offsets = loaded.offsets.get(decoded.group_id)
            if value is not None:
                committed = decode_offset_value(value)
                loaded.offsets.setdefault(decoded.group_id, {})[
                    decoded.topic_partition
                ] = committed
            elif group_offsets is not None:
                group_offsets.pop(decoded.topic_partition, None)
                if not group_offsets:
                    del loaded.offsets[decoded.group_id]
        elif isinstance(decoded, GroupKey):
            if value is None:
                loaded.groups.pop(decoded.group_id, None)
            else:
                loaded.groups[decoded.group_id] = decode_group_value(
                    decoded.group_id, value
                )
        else:
            _log.warn(
                "Skipped a record of unknown key version {version} in partition"
                " {partition} of __consumer_offsets",
                version=decoded.version,
                partition=loaded.partition,
            )
    except CorruptGroupRecordError as e:
        _log.error(
            "Skipped a corrupt record in partition {partition} of"
            " __consumer_offsets: {error}",
            partition=loaded.partition,
            error=str(e),
        )


def pack_appends(
    entries: Sequence[Entry], timestamp: int, batch_limit: int, append_limit: int
) -> list[bytes]:
    """
    Pack records into batches (CreateTime, no producer id, uncompressed) of at
    most C{batch_limit} bytes, and those into appends of at most C{append_limit}
    bytes (a record or batch larger than its limit goes alone).

    @param entries: the records' keys and values.
    @param timestamp: every record's timestamp.
    @param batch_limit: the partition's C{max.message.bytes}.
    @param append_limit: the partition's C{segment.bytes}.
    @return: the appends, in order.
    """
    return list(_chunks(_batches(entries, timestamp, batch_limit), append_limit))


def _batches(entries: Iterable[Entry], timestamp: int, limit: int) -> Iterator[bytes]:
    builder = RecordBatchBuilder(write_limit=limit)
    for key, value in entries:
        if builder.records_count and not builder.has_room_for(timestamp, key, value):
            yield builder.build()
            builder = RecordBatchBuilder(write_limit=limit)
        builder.append(timestamp, key, value)
    if builder.records_count:
        yield builder.build()


def _chunks(batches: Iterable[bytes], limit: int) -> Iterator[bytes]:
    chunk: list[bytes] = []
    size = 0
    for batch in batches:
        if chunk and size + len(batch) > limit:
            yield b"".join(chunk)
            chunk, size = [], 0
        chunk.append(batch)
        size += len(batch)
    if chunk:
        yield b"".join(chunk)
