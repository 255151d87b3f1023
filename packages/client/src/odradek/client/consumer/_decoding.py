"""
The decode of a record batch's records straight into L{ConsumerRecord}s: the
consumer's hot path, with no intermediate record objects. Two decoders share the
work:

  - runs of records of one shape (the same size of every field, no headers: what a
    producer of fixed-size records writes) are checked and decoded column by
    column, with strided slices of the batch and C{struct}, so that no Python code
    runs per record but the L{ConsumerRecord} constructor;
  - every other record goes through a loop that reads each field inline, with
    table lookups for the one- and two-byte varints most fields take.

Both check what Kafka checks (every length against the data, the records held
against the count declared, no bytes left over) and raise L{InvalidRecordError}
otherwise. Keys and values stay bytes: deserializing is the caller's.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import add, getitem, mul
from typing import Final

import attrs

from odradek.client.errors import InvalidRecordError
from odradek.client.records import DefaultRecordBatch, Header, TimestampType
from odradek.client.structs import ConsumerRecord

__all__ = ["RecordDecoder", "decode_records"]


def _zigzag(raw: int) -> int:
    return (raw >> 1) ^ -(raw & 1)


_ONE_BYTE: Final = tuple(_zigzag(b) for b in range(128))
"""The value of a one-byte varint, by its byte."""
_TWO_BYTES: Final = (0,) * 128 + tuple(_zigzag(i - 128) for i in range(128, 16512))
"""The value of a two-byte varint of bytes C{b}, C{c}, at index C{b + 128 * c}."""

_NO_HEADERS: Final[tuple[Header, ...]] = ()

_MIN_RUN: Final = 4
"""The fewest records of one shape decoded column by column."""

_HIGH: Final = re.compile(b"[\\x80-\\xff]")
_LOW: Final = re.compile(b"[\\x00-\\x7f]")
_ODD: Final = re.compile(b"[%s]" % re.escape(bytes(range(1, 128, 2))))
_HALVES: Final = bytes(b >> 1 for b in range(256))
_EVEN: Final = bytes(range(0, 128, 2))
"""The one-byte varints of 0 to 63, in order."""
_LOW_BYTES: Final = bytes(((d << 1) & 0x7F) | 0x80 for d in range(64, 8192))
_HIGH_BYTES: Final = bytes(d >> 6 for d in range(64, 8192))
"""The first and second bytes of the two-byte varints of 64 to 8191, in order."""

_plans: dict[_Shape, _RunPlan] = {}


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """
    Decode the zigzag varint or varlong at C{pos} in C{data}.

    @return: its value and the position after it.
    @raise ValueError: if it runs over 10 bytes.
    @raise IndexError: if the data ends inside it.
    """
    raw = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if b < 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("a varint runs over 10 bytes")


def decode_records(
    batch: DefaultRecordBatch, data: bytes, topic: str, partition: int
) -> list[ConsumerRecord]:
    """
    Decode all the records of a batch into consumer records whose keys and values
    are still bytes.

    @param batch: the batch, for its offsets, timestamps, count and epoch.
    @param data: its records, uncompressed.
    @param topic: the topic the records belong to.
    @param partition: their partition.
    @return: the records, in order.
    @raise InvalidRecordError: if the records do not decode, or differ from the
        count the batch declares.
    """
    return RecordDecoder(batch, data, topic, partition).decode(batch.records_count)


@attrs.define(eq=False)
class RecordDecoder:
    """
    The decode of a batch's records into consumer records, a slice at a time, so
    that records are made only when they are about to be handed out (and, short
    lived, cost the garbage collector little).

    @ivar batch: the batch, for its offsets, timestamps, count and epoch.
    @ivar data: its records, uncompressed.
    @ivar topic: the topic the records belong to.
    @ivar partition: their partition.
    @ivar decoded: how many records were decoded so far.
    """

    batch: DefaultRecordBatch
    data: bytes
    topic: str
    partition: int
    decoded: int = attrs.field(init=False, default=0)
    _pos: int = attrs.field(init=False, default=0)
    _next_attempt: int = attrs.field(init=False, default=0)
    _misses: int = attrs.field(init=False, default=0)

    @property
    def done(self) -> bool:
        """Whether every record of the batch was decoded."""
        return self.decoded >= self.batch.records_count

    def decode(self, most: int) -> list[ConsumerRecord]:
        """
        Decode the next records.

        @param most: the most records to decode.
        @return: up to C{most} records, in order; none once L{done}.
        @raise InvalidRecordError: if the records do not decode, or differ from
            the count the batch declares.
        """
        batch, data = self.batch, self.data
        count = batch.records_count
        stop = min(count, self.decoded + most)
        records: list[ConsumerRecord] = []
        pos = self._pos
        index = self.decoded
        try:
            while index < stop:
                left = stop - index
                if index >= self._next_attempt and left >= _MIN_RUN:
                    found = _decode_run(
                        batch, data, pos, left, self.topic, self.partition
                    )
                    if found is not None:
                        decoded, pos = found
                        records.extend(decoded)
                        index += len(decoded)
                        self._misses = 0
                        continue
                    # Varied records: try again later, less and less often.
                    self._misses = misses = min(self._misses + 1, 5)
                    self._next_attempt = index + (8 << misses)
                attempt = self._next_attempt
                each = min(stop, attempt) - index if attempt > index else left
                pos = _decode_each(
                    batch, data, pos, each, records, self.topic, self.partition
                )
                index += each
        except (IndexError, ValueError) as e:
            raise InvalidRecordError(
                f"{batch.describe()}: record {self.decoded + len(records)} does not"
                f" decode: {e}"
            ) from None
        self._pos = pos
        self.decoded = index
        if index == count and pos != len(data):
            raise InvalidRecordError(
                f"{batch.describe()}: {len(data) - pos} bytes remain after the"
                f" {count} records it declares"
            )
        return records


def _decode_each(
    batch: DefaultRecordBatch,
    data: bytes,
    pos: int,
    count: int,
    records: list[ConsumerRecord],
    topic: str,
    partition: int,
) -> int:
    """
    Decode C{count} records one at a time, appending them to C{records}.

    @return: the position after the last record decoded.
    """
    append = records.append
    record = ConsumerRecord
    varint = _read_varint
    one = _ONE_BYTE
    two = _TWO_BYTES
    base_offset = batch.base_offset
    first_timestamp = batch.first_timestamp
    timestamp_type = batch.timestamp_type
    epoch = _epoch(batch)
    no_headers = _NO_HEADERS
    first = len(records)
    for _ in range(count):
        b = data[pos]
        if b < 0x80:
            pos += 1
            end = pos + one[b]
        else:
            c = data[pos + 1]
            if c < 0x80:
                pos += 2
                end = pos + two[b + (c << 7)]
            else:
                end, pos = varint(data, pos)
                end += pos
        # pos holds the record's attributes, unused.
        b = data[pos + 1]
        if b < 0x80:
            timestamp = first_timestamp + one[b]
            pos += 2
        else:
            timestamp, pos = varint(data, pos + 1)
            timestamp += first_timestamp
        b = data[pos]
        if b < 0x80:
            offset = base_offset + one[b]
            pos += 1
        else:
            c = data[pos + 1]
            if c < 0x80:
                offset = base_offset + two[b + (c << 7)]
                pos += 2
            else:
                offset, pos = varint(data, pos)
                offset += base_offset
        b = data[pos]
        if b == 1:
            key = None
            key_size = -1
            pos += 1
        else:
            if b < 0x80:
                key_size = one[b]
                pos += 1
            else:
                key_size, pos = varint(data, pos)
            if key_size < 0:
                raise ValueError(f"its key length is {key_size}")
            key = data[pos : pos + key_size]
            pos += key_size
        b = data[pos]
        if b < 0x80:
            value_size = one[b]
            pos += 1
        else:
            c = data[pos + 1]
            if c < 0x80:
                value_size = two[b + (c << 7)]
                pos += 2
            else:
                value_size, pos = varint(data, pos)
        if value_size >= 0:
            value = data[pos : pos + value_size]
            pos += value_size
        elif value_size == -1:
            value = None
        else:
            raise ValueError(f"its value length is {value_size}")
        if data[pos] == 0:
            headers = no_headers
            pos += 1
        else:
            headers, pos = _decode_headers(data, pos)
        if pos != end:
            raise ValueError(f"its length disagrees with its fields by {pos - end}")
        append(
            record(
                topic,
                partition,
                offset,
                timestamp,
                timestamp_type,
                key,
                value,
                headers,
                key_size,
                value_size,
                epoch,
            )
        )
    if timestamp_type is TimestampType.LOG_APPEND_TIME:
        for each in records[first:]:
            each.timestamp = batch.max_timestamp
    return pos


def _epoch(batch: DefaultRecordBatch) -> int | None:
    epoch = batch.partition_leader_epoch
    return epoch if epoch >= 0 else None


def _decode_headers(data: bytes, pos: int) -> tuple[tuple[Header, ...], int]:
    """
    Decode a record's header count and headers.

    @param data: the records.
    @param pos: where the header count starts.
    @return: the headers and the position after them.
    @raise ValueError: for a negative count or key length, or a key that is not
        UTF-8.
    """
    count, pos = _read_varint(data, pos)
    if count < 0:
        raise ValueError(f"a record declares {count} headers")
    headers: list[Header] = []
    for _ in range(count):
        size, pos = _read_varint(data, pos)
        if size < 0:
            raise ValueError(f"a header key has length {size}")
        key = data[pos : pos + size].decode()
        pos += size
        size, pos = _read_varint(data, pos)
        if size >= 0:
            headers.append((key, data[pos : pos + size]))
            pos += size
        else:
            headers.append((key, None))
    return tuple(headers), pos


_Shape = tuple[bytes, int, int, bytes, int, bytes, int]
"""
The layout of a record without headers: its length varint as encoded, the sizes
of its timestamp and offset delta varints, its key length varint as encoded, the
key's size (-1 for null), its value length varint as encoded and the value's size.
Records of one shape differ only in their deltas, key and value bytes.
"""

_CONSTANT, _MORE, _LAST = 0, 1, 2
"""What a byte of a record of a shape must be: as in the shape, a varint byte with
more to come (0x80 or more), or a varint's last byte (below 0x80)."""


@attrs.frozen
class _RunPlan:
    """
    How to check and decode records of one shape.

    @ivar size: the records' size.
    @ivar checks: for each byte the shape fixes, where it is in the record, what
        it must be (C{_CONSTANT}, C{_MORE} or C{_LAST}) and, if constant, itself.
    @ivar timestamp_at: where the timestamp delta is.
    @ivar offset_at: where the offset delta is.
    @ivar key: unpacks a record's key, if not empty.
    @ivar value: unpacks a record's value, if not empty.
    """

    size: int
    checks: tuple[tuple[int, int, bytes], ...]
    timestamp_at: int
    offset_at: int
    key: struct.Struct | None
    value: struct.Struct | None

    @classmethod
    def of(cls, shape: _Shape) -> _RunPlan:
        """@return: the plan for records of C{shape}."""
        length, timestamp_size, offset_size, key_length = shape[:4]
        key_size, value_length, value_size = shape[4:]
        checks: list[tuple[int, int, bytes]] = []
        at = 0

        def constant(encoded: bytes) -> int:
            nonlocal at
            for byte in encoded:
                checks.append((at, _CONSTANT, bytes((byte,))))
                at += 1
            return at

        def varint(size: int) -> int:
            nonlocal at
            for index in range(size):
                checks.append((at, _MORE if index < size - 1 else _LAST, b""))
                at += 1
            return at - size

        constant(length)
        at += 1  # the attributes, unused
        timestamp_at = varint(timestamp_size)
        offset_at = varint(offset_size)
        key_at = constant(key_length)
        at += max(key_size, 0)
        value_at = constant(value_length)
        at += max(value_size, 0)
        constant(b"\x00")

        def field(start: int, size: int) -> struct.Struct | None:
            if size <= 0:
                return None
            return struct.Struct(f"<{start}x{size}s{at - start - size}x")

        key = field(key_at, key_size)
        value = field(value_at, value_size)
        return cls(at, tuple(checks), timestamp_at, offset_at, key, value)


def _shape(data: bytes, pos: int) -> _Shape | None:
    """
    @return: the shape of the record at C{pos}, or C{None} if it has headers, does
        not decode, or the next record's length differs (no run starts here).
    """
    length, body = _read_varint(data, pos)
    following = body + length
    if data[following : following + body - pos] != data[pos:body]:
        return None
    timestamp_at = body + 1
    _, offset_at = _read_varint(data, timestamp_at)
    _, key_length_at = _read_varint(data, offset_at)
    key_size, key_at = _read_varint(data, key_length_at)
    value_length_at = key_at + max(key_size, 0)
    value_size, value_at = _read_varint(data, value_length_at)
    end = value_at + max(value_size, 0)
    if key_size < -1 or value_size < -1 or end + 1 != following or data[end] != 0:
        return None
    return (
        data[pos:body],
        offset_at - timestamp_at,
        key_length_at - offset_at,
        data[key_length_at:key_at],
        key_size,
        data[value_length_at:value_at],
        value_size,
    )


def _run_length(data: bytes, pos: int, plan: _RunPlan, most: int) -> int:
    """
    @return: how many records from C{pos} on, C{most} at most, have the shape of
        C{plan}: each byte the shape fixes is checked for all of them at once, a
        column of bytes at a time.
    """
    count = most
    size = plan.size
    for at, kind, expected in plan.checks:
        column = data[pos + at : pos + count * size : size]
        if kind == _CONSTANT:
            good = count - len(column.lstrip(expected))
        else:
            found = (_LOW if kind == _MORE else _HIGH).search(column)
            good = count if found is None else found.start()
        if good < count:
            count = good
            if count < _MIN_RUN:
                break
    return count


def _column(data: bytes, at: int, stop: int, step: int, size: int) -> Iterable[int]:
    """
    @return: the values of the varints of C{size} bytes at C{at}, C{at + step}
        ... up to C{stop}.
    """
    if size == 1:
        column = data[at:stop:step]
        if _ODD.search(column) is None:  # none negative: each is its byte halved
            return column.translate(_HALVES)
        return map(getitem, repeat(_ONE_BYTE), column)
    if size == 2:
        high = map(mul, data[at + 1 : stop : step], repeat(128))
        return map(getitem, repeat(_TWO_BYTES), map(add, data[at:stop:step], high))
    return [_read_varint(data, where)[0] for where in range(at, stop, step)]


def _offsets(
    data: bytes, at: int, stop: int, step: int, size: int, base_offset: int
) -> Iterable[int]:
    """
    @return: the offsets of the records whose offset delta varints of C{size}
        bytes are at C{at}, C{at + step} ... up to C{stop}: a range when they
        follow each other, as they do unless the log was compacted.
    """
    if size == 1:
        column = data[at:stop:step]
        first = column[0] >> 1
        if column == _EVEN[first : first + len(column)]:
            return range(base_offset + first, base_offset + first + len(column))
    elif size == 2:
        low, high = data[at:stop:step], data[at + 1 : stop : step]
        first = _TWO_BYTES[low[0] + 128 * high[0]] - 64
        end = first + len(low)
        if (
            first >= 0
            and low == _LOW_BYTES[first:end]
            and high == _HIGH_BYTES[first:end]
        ):
            return range(base_offset + first + 64, base_offset + end + 64)
    return map(add, repeat(base_offset), _column(data, at, stop, step, size))


def _field(run: bytes, unpack: struct.Struct | None, size: int) -> Iterator[object]:
    """
    @return: the key or the value of each record of C{run}, read by C{unpack},
        or of C{size} if none: C{None} for -1, empty bytes for 0.
    """
    if unpack is None:
        return repeat(None if size else b"")
    return map(getitem, unpack.iter_unpack(run), repeat(0))


def _decode_run(
    batch: DefaultRecordBatch,
    data: bytes,
    pos: int,
    left: int,
    topic: str,
    partition: int,
) -> tuple[list[ConsumerRecord], int] | None:
    """
    Decode the run of records shaped as the one at C{pos}, column by column.

    @param left: how many records the batch has from C{pos} on.
    @return: the records and the position after them, or C{None} if fewer than
        L{_MIN_RUN} records share the shape.
    """
    shape = _shape(data, pos)
    if shape is None:
        return None
    plan = _plans.get(shape)
    if plan is None:
        if len(_plans) >= 256:  # many shapes: start again
            _plans.clear()
        plan = _plans[shape] = _RunPlan.of(shape)
    size = plan.size
    count = _run_length(data, pos, plan, min(left, (len(data) - pos) // size))
    if count < _MIN_RUN:
        return None
    stop = pos + count * size
    offsets = _offsets(
        data, pos + plan.offset_at, stop, size, shape[2], batch.base_offset
    )
    if batch.timestamp_type is TimestampType.LOG_APPEND_TIME:
        timestamps: Iterable[int] = repeat(batch.max_timestamp)
    else:
        deltas = _column(data, pos + plan.timestamp_at, stop, size, shape[1])
        timestamps = map(add, repeat(batch.first_timestamp), deltas)
    run = data[pos:stop]
    key_size, value_size = shape[4], shape[6]
    keys = _field(run, plan.key, key_size)
    values = _field(run, plan.value, value_size)
    records = list(
        map(
            ConsumerRecord,
            repeat(topic, count),
            repeat(partition),
            offsets,
            timestamps,
            repeat(batch.timestamp_type),
            keys,
            values,
            repeat(_NO_HEADERS),
            repeat(key_size),
            repeat(value_size),
            repeat(_epoch(batch)),
        )
    )
    return records, stop
