"""
Decoding the records of a batch, the consumer's hot path.

Each field's varint is read inline when it takes one byte, as most do, and by kio's
native reader otherwise. Every length is checked against the data, and the records
held against the count the batch declares.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from kio.serial.errors import BufferUnderflow
from kio.serial.readers import read_signed_varint, read_signed_varlong

from odradek.client.errors import InvalidRecordError
from odradek.client.records.layout import Header, Record

if TYPE_CHECKING:
    from odradek.client.records.reader import DefaultRecordBatch

__all__ = ["decode_records"]


def decode_records(
    batch: DefaultRecordBatch, data: bytes, log_append_time: int | None
) -> Iterator[Record]:
    """
    Decode the records of a batch one at a time.

    @param batch: the batch, for its offsets, timestamps, count and error messages.
    @param data: the uncompressed records.
    @param log_append_time: the timestamp of every record for a LogAppendTime batch.
    @return: an iterator of the records.
    """
    end = len(data)
    count = batch.records_count
    base_offset = batch.base_offset
    first_timestamp = batch.first_timestamp
    read_varint = read_signed_varint
    read_varlong = read_signed_varlong
    no_headers: tuple[Header, ...] = ()
    pos = 0
    index = 0
    record_start = 0
    try:
        for index in range(count):
            if pos >= end:
                raise InvalidRecordError(
                    f"{batch.describe()} declares {count} records but holds {index}"
                )
            record_start = pos
            b = data[pos]
            if b < 0x80:
                length = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                length, n = read_varint(data, pos)
                pos += n
            body_start = pos
            if length < 0 or pos + length > end:
                raise InvalidRecordError(
                    f"{batch.describe()}: record {index} at position {record_start}"
                    f" declares {length} bytes but {end - pos} remain"
                )
            # pos holds the record's attributes, unused.
            b = data[pos + 1]
            if b < 0x80:
                timestamp_delta = (b >> 1) ^ -(b & 1)
                pos += 2
            else:
                timestamp_delta, n = read_varlong(data, pos + 1)
                pos += n + 1
            b = data[pos]
            if b < 0x80:
                offset_delta = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                offset_delta, n = read_varint(data, pos)
                pos += n
            b = data[pos]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                n, size = read_varint(data, pos)
                pos += size
            if n >= 0:
                key: bytes | None = data[pos : pos + n]
                pos += n
            elif n == -1:
                key = None
            else:
                raise InvalidRecordError(
                    f"{batch.describe()}: record {index} has key length {n}"
                )
            b = data[pos]
            if b < 0x80:
                n = (b >> 1) ^ -(b & 1)
                pos += 1
            else:
                n, size = read_varint(data, pos)
                pos += size
            if n >= 0:
                value: bytes | None = data[pos : pos + n]
                pos += n
            elif n == -1:
                value = None
            else:
                raise InvalidRecordError(
                    f"{batch.describe()}: record {index} has value length {n}"
                )
            if data[pos] == 0:
                headers = no_headers
                pos += 1
            else:
                headers, pos = _decode_headers(batch, index, data, pos)
            if pos != body_start + length:
                raise InvalidRecordError(
                    f"{batch.describe()}: record {index} at position {record_start}"
                    f" declares {length} bytes but its fields take {pos - body_start}"
                )
            yield Record(
                base_offset + offset_delta,
                first_timestamp + timestamp_delta
                if log_append_time is None
                else log_append_time,
                key,
                value,
                headers,
                pos - record_start,
            )
    except (IndexError, ValueError, BufferUnderflow) as e:
        raise InvalidRecordError(
            f"{batch.describe()}: record {index} at position {record_start} does not"
            f" decode: {e}"
        ) from None
    if pos != end:
        raise InvalidRecordError(
            f"{batch.describe()}: {end - pos} bytes remain after the {count} records"
            " it declares"
        )


def _decode_headers(
    batch: DefaultRecordBatch, index: int, data: bytes, pos: int
) -> tuple[tuple[Header, ...], int]:
    """
    Decode a record's header count and headers.

    @param batch: the batch, for error messages.
    @param index: the record's index in the batch, for error messages.
    @param data: the uncompressed records.
    @param pos: where the header count starts.
    @return: the headers and the position after them.
    @raise InvalidRecordError: for a negative count or key length.
    """
    count, size = read_signed_varint(data, pos)
    pos += size
    if count < 0:
        raise InvalidRecordError(
            f"{batch.describe()}: record {index} has {count} headers"
        )
    headers: list[Header] = []
    for _ in range(count):
        n, size = read_signed_varint(data, pos)
        pos += size
        if n < 0:
            raise InvalidRecordError(
                f"{batch.describe()}: record {index} has a header key of length {n}"
            )
        header_key = data[pos : pos + n].decode()
        pos += n
        n, size = read_signed_varint(data, pos)
        pos += size
        if n >= 0:
            headers.append((header_key, data[pos : pos + n]))
            pos += n
        else:
            headers.append((header_key, None))
    return tuple(headers), pos
