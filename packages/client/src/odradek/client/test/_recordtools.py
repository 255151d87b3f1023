"""
Helpers for the record format's tests: hand-made batches, including broken ones.
"""

from __future__ import annotations

import struct

from crc32c import crc32c

from odradek.client.records.layout import HEADER_STRUCT, LOG_OVERHEAD
from odradek.client.records.varint import encode_varint


def encode_record(
    offset_delta: int,
    timestamp_delta: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[bytes | None, bytes | None]] | None = None,
    length_adjust: int = 0,
    header_count: int | None = None,
) -> bytes:
    """
    Encode a record by hand, with room for mistakes.

    @param offset_delta: the offset delta.
    @param timestamp_delta: the timestamp delta.
    @param key: the key or C{None}.
    @param value: the value or C{None}.
    @param headers: header keys and values as bytes, C{None} for null.
    @param length_adjust: added to the true length in the length prefix.
    @param header_count: the header count to write instead of the true one.
    @return: the record's bytes.
    """
    headers = headers or []

    def field(data: bytes | None) -> bytes:
        return encode_varint(-1) if data is None else encode_varint(len(data)) + data

    body = b"".join(
        [
            b"\x00",
            encode_varint(timestamp_delta),
            encode_varint(offset_delta),
            field(key),
            field(value),
            encode_varint(len(headers) if header_count is None else header_count),
            *(field(k) + field(v) for k, v in headers),
        ]
    )
    return encode_varint(len(body) + length_adjust) + body


def make_batch(
    records: bytes,
    count: int,
    *,
    base_offset: int = 0,
    attributes: int = 0,
    last_offset_delta: int | None = None,
    first_timestamp: int = 1000,
    max_timestamp: int = 1000,
    magic: int = 2,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    length_adjust: int = 0,
) -> bytes:
    """
    Wrap an already encoded (and compressed, if so) records body in a batch header
    with a correct CRC.

    @param records: the records body.
    @param count: the records count to declare.
    @param base_offset: the base offset.
    @param attributes: the attributes.
    @param last_offset_delta: the last offset delta, C{count - 1} by default.
    @param first_timestamp: the base timestamp.
    @param max_timestamp: the max timestamp.
    @param magic: the magic byte.
    @param producer_id: the producer id.
    @param producer_epoch: the producer epoch.
    @param base_sequence: the base sequence.
    @param length_adjust: added to the true batch length.
    @return: the batch.
    """
    header = bytearray(HEADER_STRUCT.size)
    HEADER_STRUCT.pack_into(
        header,
        0,
        base_offset,
        HEADER_STRUCT.size + len(records) - LOG_OVERHEAD + length_adjust,
        -1,
        magic,
        0,
        attributes,
        count - 1 if last_offset_delta is None else last_offset_delta,
        first_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        count,
    )
    crc = crc32c(records, crc32c(bytes(header[21:])))
    struct.pack_into(">I", header, 17, crc)
    return bytes(header) + records


def recompute_crc(batch: bytes | bytearray) -> bytes:
    """
    @param batch: one whole batch, perhaps edited.
    @return: the batch with its CRC made right again.
    """
    edited = bytearray(batch)
    struct.pack_into(">I", edited, 17, crc32c(bytes(edited[21:])))
    return bytes(edited)
