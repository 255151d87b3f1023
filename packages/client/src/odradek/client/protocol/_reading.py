"""
Helpers for reading with kio's native readers while keeping kio's exceptions inside
this package: every failure to read bytes from a peer becomes a L{ProtocolError}.

Entities are read by kio's native reader first; when it fails on bytes that Kafka's
rules accept (an unknown tagged field or error code), by the pure-Python reader of
L{odradek.client.protocol._fallback}.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias, TypeVar, cast

from kio.serial import entity_reader
from kio.serial.errors import BufferUnderflow
from kio.serial.readers import read_unsigned_varint
from kio.static.protocol import Entity

from odradek.client.protocol._fallback import (
    TaggedFieldOverrun,
    fallback_reader,
    is_kio_limitation,
)
from odradek.client.protocol.errors import (
    MalformedMessageError,
    ProtocolError,
    TruncatedMessageError,
)

__all__ = [
    "Readable",
    "read_entity",
    "read_with",
    "readable",
    "skip_tagged_fields",
]

#: What the decoders accept: any bytes-like object holding one message.
Readable: TypeAlias = bytes | bytearray | memoryview

T = TypeVar("T")
E = TypeVar("E", bound=Entity)


def readable(data: Readable) -> bytes | memoryview:
    """
    Give kio a buffer it can read: kio's native readers refuse writable buffers, so a
    C{bytearray} or writable C{memoryview} is copied once; C{bytes} and read-only views
    are passed through.

    @param data: the message.
    @return: C{data} or a read-only copy of it.
    @raise TypeError: if C{data} is not bytes-like.
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, memoryview):
        return data if data.readonly else bytes(data)
    if isinstance(data, bytearray):
        return bytes(data)
    raise TypeError(f"expected a bytes-like message, not {type(data).__name__}")


def read_with(
    reader: Callable[[bytes | memoryview, int], tuple[T, int]],
    data: bytes | memoryview,
    offset: int,
    what: str,
) -> tuple[T, int]:
    """
    Call a kio reader, turning any failure into a L{ProtocolError}.

    Kio's readers return the value and the number of bytes it took up, not the offset
    after it; this returns the offset after it.

    @param reader: a kio reader, C{reader(buffer, offset) -> (value, size)}.
    @param data: the message.
    @param offset: where to start reading.
    @param what: a description of what is being read, for the error message, such as
        C{"PRODUCE (API key 0) version 9 request"}.
    @return: the value read and the offset just after it.
    @raise TruncatedMessageError: if the message ends too early.
    @raise MalformedMessageError: if the bytes cannot be decoded.
    """
    try:
        value, size = reader(data, offset)
    except ProtocolError:
        raise
    except TaggedFieldOverrun as exc:
        raise TruncatedMessageError(f"{what} is truncated: {exc}") from exc
    except BufferUnderflow as exc:
        raise TruncatedMessageError(
            f"{what} is truncated: {len(data)} bytes end before the message does"
        ) from exc
    except KeyError as exc:
        # str() of a KeyError is the repr of its argument; use the argument.
        raise MalformedMessageError(
            f"{what} could not be decoded: {exc.args[0] if exc.args else exc}"
        ) from exc
    except Exception as exc:
        raise MalformedMessageError(f"{what} could not be decoded: {exc}") from exc
    return value, offset + size


def read_entity(
    entity_type: type[E], data: bytes | memoryview, offset: int, what: str
) -> tuple[E, int]:
    """
    Read a kio entity (a request or response body), natively if kio can.

    When kio's native reader fails on an unknown tagged field or an unknown error
    code, which Kafka's rules accept, the bytes are read again by the pure-Python
    L{fallback_reader}, which skips the field or keeps the code as an C{int}. Any
    other failure, of either reader, is a L{ProtocolError}.

    @param entity_type: the kio dataclass to read.
    @param data: the message.
    @param offset: where the entity starts.
    @param what: a description of what is being read, for the error message.
    @return: the entity and the offset just after it.
    @raise TruncatedMessageError: if the message ends too early.
    @raise MalformedMessageError: if the bytes cannot be decoded.
    """
    reader = cast(
        Callable[[bytes | memoryview, int], tuple[E, int]], entity_reader(entity_type)
    )
    try:
        return read_with(reader, data, offset, what)
    except MalformedMessageError as error:
        if not is_kio_limitation(error.__cause__):
            raise
    # Outside the except clause, so that a failure here is not chained to kio's.
    return read_with(fallback_reader(entity_type), data, offset, what)


def skip_tagged_fields(data: bytes | memoryview, offset: int, what: str) -> int:
    """
    Step over a tagged-field section (KIP-482) without interpreting it.

    Headers define no tagged fields of their own, but a newer peer may send some, and
    Kafka requires unknown tags to be ignored.

    @param data: the message.
    @param offset: where the section starts.
    @param what: a description of what is being read, for error messages.
    @return: the offset just after the section.
    @raise TruncatedMessageError: if the message ends inside the section.
    @raise MalformedMessageError: if a length in the section is not a valid varint.
    """
    count, offset = read_with(read_unsigned_varint, data, offset, what)
    for _ in range(count):
        _tag, offset = read_with(read_unsigned_varint, data, offset, what)
        size, offset = read_with(read_unsigned_varint, data, offset, what)
        offset += size
        if offset > len(data):
            raise TruncatedMessageError(
                f"{what} is truncated: a tagged field of {size} bytes runs past "
                f"the end of the {len(data)}-byte message"
            )
    return offset
