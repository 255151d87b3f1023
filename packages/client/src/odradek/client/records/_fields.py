"""
The encoding of a record's key, value and headers, shared by the builder's size
estimates and its encoder.
"""

from __future__ import annotations

from collections.abc import Sequence

from odradek.client.records.layout import Header
from odradek.client.records.varint import encode_varint, varint_size

__all__ = ["encode_headers", "payload_size"]


def payload_size(
    key: bytes | None, value: bytes | None, headers: Sequence[Header]
) -> int:
    """
    Count the bytes of a record's key, value and headers, with their length varints.

    @param key: the key or C{None}.
    @param value: the value or C{None}.
    @param headers: the headers.
    @return: the encoded size of those fields.
    """
    size = 1 if key is None else varint_size(len(key)) + len(key)
    size += 1 if value is None else varint_size(len(value)) + len(value)
    size += varint_size(len(headers))
    for header_key, header_value in headers:
        encoded_key_length = len(header_key.encode())
        size += varint_size(encoded_key_length) + encoded_key_length
        if header_value is None:
            size += 1
        else:
            size += varint_size(len(header_value)) + len(header_value)
    return size


def encode_headers(headers: Sequence[Header]) -> bytes:
    """
    Encode a record's header count and headers.

    @param headers: the headers, as C{(str key, bytes or None value)} pairs.
    @return: their encoding.
    """
    parts = [encode_varint(len(headers))]
    for header_key, header_value in headers:
        encoded_key = header_key.encode()
        parts.append(encode_varint(len(encoded_key)))
        parts.append(encoded_key)
        if header_value is None:
            parts.append(b"\x01")
        else:
            parts.append(encode_varint(len(header_value)))
            parts.append(header_value)
    return b"".join(parts)
