"""
Zigzag variable-length integers, as record batch v2 writes them.

A record's length, timestamp delta, offset delta, key and value lengths and header
counts are signed integers in Protocol Buffers' zigzag encoding: the value is mapped to
an unsigned one (C{0, -1, 1, -2 ...} become C{0, 1, 2, 3 ...}) and written seven
bits a byte, least significant group first, with the high bit set on every byte but
the last. A varint holds a 32-bit value in at most 5 bytes, a varlong a 64-bit value
in at most 10.

Encoding goes through a table of the encoded bytes of every small value, so the hot path
of L{odradek.client.records.builder} is one list index per field. Decoding of multi-byte
values uses kio's native readers.
"""

from __future__ import annotations

from typing import Final

from kio.serial.errors import BufferUnderflow
from kio.serial.readers import read_signed_varint as _kio_read_varint
from kio.serial.readers import read_signed_varlong as _kio_read_varlong

from odradek.client.errors import CorruptRecordError

__all__ = [
    "VARINT_TABLE",
    "VARINT_TABLE_SIZE",
    "encode_varint",
    "read_varint",
    "read_varlong",
    "varint_size",
]

VARINT_TABLE_SIZE: Final = 1 << 14
"""
The number of zigzag values L{VARINT_TABLE} holds: every value whose encoding takes one
or two bytes, that is signed values from C{-8192} to C{8191}.
"""


def _encode_unsigned(value: int) -> bytes:
    """
    Encode an already zigzagged, non-negative value.

    @param value: the unsigned value.
    @return: its varint bytes.
    """
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


VARINT_TABLE: Final[list[bytes]] = [
    _encode_unsigned(z) for z in range(VARINT_TABLE_SIZE)
]
"""
C{VARINT_TABLE[z]} is the encoding of the zigzag value C{z}; for a non-negative C{n}
below C{VARINT_TABLE_SIZE // 2} that is C{VARINT_TABLE[n << 1]}.
"""


def encode_varint(value: int) -> bytes:
    """
    Encode a signed integer as a zigzag varint (or varlong: the encoding is the same).

    @param value: a signed integer that fits in 64 bits.
    @return: the encoded bytes, 1 to 10 of them.
    @raise ValueError: if C{value} does not fit in a signed 64-bit integer.
    """
    if not -(1 << 63) <= value < (1 << 63):
        raise ValueError(f"{value} does not fit in a signed 64-bit varlong")
    z = (value << 1) ^ (value >> 63)
    if z < VARINT_TABLE_SIZE:
        return VARINT_TABLE[z]
    return _encode_unsigned(z)


def varint_size(value: int) -> int:
    """
    Count the bytes of a signed integer's zigzag encoding without encoding it.

    @param value: a signed integer that fits in 64 bits.
    @return: the encoded size, 1 to 10.
    """
    z = (value << 1) ^ (value >> 63)
    size = 1
    while z > 0x7F:
        z >>= 7
        size += 1
    return size


def read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    """
    Read a zigzag varint (at most 5 bytes, a signed 32-bit value).

    @param buffer: read-only bytes holding the varint.
    @param position: where the varint starts.
    @return: the value and the position just after it.
    @raise CorruptRecordError: if the buffer ends inside the varint or the varint is
        longer than 5 bytes.
    """
    try:
        value, size = _kio_read_varint(buffer, position)
    except BufferUnderflow:
        raise CorruptRecordError(
            f"varint at position {position} runs past the end of the data"
        ) from None
    except ValueError as e:
        raise CorruptRecordError(f"varint at position {position}: {e}") from None
    return value, position + size


def read_varlong(buffer: bytes, position: int) -> tuple[int, int]:
    """
    Read a zigzag varlong (at most 10 bytes, a signed 64-bit value).

    @param buffer: read-only bytes holding the varlong.
    @param position: where the varlong starts.
    @return: the value and the position just after it.
    @raise CorruptRecordError: if the buffer ends inside the varlong or the varlong is
        longer than 10 bytes.
    """
    try:
        value, size = _kio_read_varlong(buffer, position)
    except BufferUnderflow:
        raise CorruptRecordError(
            f"varlong at position {position} runs past the end of the data"
        ) from None
    except ValueError as e:
        raise CorruptRecordError(f"varlong at position {position}: {e}") from None
    return value, position + size
