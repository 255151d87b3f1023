"""
Responses as sequences of parts: bytes, and regions of files whose bytes the server
sends without reading them into memory (with C{os.sendfile} where it can).

A Fetch response carries record batches straight from log segments. Its handler puts
a marker made by L{records_region} in each C{records} field instead of bytes, and
L{encode_response_parts} encodes the response with the protocol's entity writer
(which writes what kio's writes) into a buffer that cuts the output at each marker::

    size prefix + header + fields ... | region 1 | fields ... | region 2 | fields ...

The writer writes a C{records} field as its length (from C{len(value)}, which a marker
answers with the region's size) followed by C{buffer.write(value)}. The splicing
buffer sees the marker object itself arrive in C{write}, ends the current bytes part
there and appends the region. Nothing of the size of a region is ever allocated, the
offsets need no second pass over the schema, and no placeholder bytes can be
confused with real ones.

A marker is not bytes: written anywhere other than the splicing buffer (a tagged
field, which is written into a scratch buffer first, or L{encode_response}) it makes
the writer fail with C{TypeError} instead of sending a wrong frame.

Responses of APIs without C{records} fields take the fast path: the codec writes them
into one C{BytesIO}.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import typing
from collections.abc import Callable
from typing import IO, Any, Protocol, cast

from attrs import field, frozen
from kio.static.primitive import Records
from kio.static.protocol import ResponsePayload
from zope.interface import Attribute, Interface, implementer

from odradek.client.protocol import (
    ResponseHeader,
    encode_frame,
    encode_response,
    entity_writer,
    response_header_version,
)
from odradek.client.protocol.headers import write_response_header

__all__ = [
    "FileRegion",
    "IFileRegion",
    "Part",
    "Region",
    "ResponseParts",
    "encode_response_parts",
    "records_region",
]

_SIZE = struct.Struct(">i")
_MAX_FRAME = 2**31 - 1


class IFileRegion(Interface):
    """
    A run of bytes in an open file, to be sent as it is.

    The file descriptor must stay open, and the bytes unchanged, until the region
    has been written out or its connection is lost.
    """

    position = Attribute("The offset in the file of the region's first byte (int).")
    size = Attribute("The number of bytes in the region (int).")

    def fileno() -> int:
        """
        @return: an open file descriptor from which the bytes can be read with
            C{os.pread} and C{os.sendfile}.
        """


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


class Region(Protocol):
    """
    The static type of a file region: anything with C{fileno()}, C{position} and
    C{size}, such as a L{FileRegion} or the storage layer's C{FileRecords}, whether
    or not it declares L{IFileRegion} (the storage layer cannot import this
    package).
    """

    @property
    def position(self) -> int: ...

    @property
    def size(self) -> int: ...

    def fileno(self) -> int: ...


def _non_negative(instance: object, attribute: Any, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{attribute.name} must be an int >= 0, not {value!r}")


@implementer(IFileRegion)
@frozen
class FileRegion:
    """
    A region of a file, given by an open file (or file descriptor), an offset and a
    size.

    @ivar file: an object with a C{fileno()} method, such as an open file, or a file
        descriptor; the caller keeps it open until the region is sent.
    @ivar position: the offset of the first byte.
    @ivar size: the number of bytes.
    """

    file: _HasFileno | int
    position: int = field(validator=_non_negative)
    size: int = field(validator=_non_negative)

    def fileno(self) -> int:
        """
        @return: the file descriptor.
        """
        if isinstance(self.file, int):
            return self.file
        return self.file.fileno()


#: One part of a response: bytes to write, or a file region to send.
Part = bytes | Region


@frozen
class ResponseParts:
    """
    A whole response frame, size prefix included, as parts to write in order.

    @ivar parts: bytes and file regions, never two bytes parts in a row and never an
        empty one.
    @ivar size: the number of bytes of the frame, prefix and regions included.
    """

    parts: tuple[Part, ...]
    size: int

    @property
    def regions(self) -> tuple[Region, ...]:
        """
        The file regions among the parts.
        """
        return tuple(part for part in self.parts if not isinstance(part, bytes))


class _RegionMarker:
    """
    Stands in for the bytes of a C{records} field; see the module's description.
    """

    __slots__ = ("region",)

    def __init__(self, region: Region) -> None:
        self.region = region

    def __len__(self) -> int:
        return int(self.region.size)

    def __repr__(self) -> str:
        return f"<records from {self.region!r}>"


def records_region(region: Region) -> Records:
    """
    Make a value for a C{records} field of a kio response that stands for the bytes
    of a file region.

    The value only works with L{encode_response_parts} (the server's encoder); it is
    typed as C{Records} so that it fits kio's dataclasses.

    @param region: the region: an L{IFileRegion}, or any object with C{fileno()},
        C{position} and C{size}.
    @return: the marker.
    @raise TypeError: if C{region} lacks one of those.
    """
    for name in ("fileno", "position", "size"):
        if not hasattr(region, name):
            raise TypeError(f"a file region needs {name!r}; {region!r} has none")
    return cast(Records, _RegionMarker(region))


class _SplicingBuffer:
    """
    A write-only buffer for kio's writer that cuts its output at region markers.
    """

    __slots__ = ("_bytes", "_parts", "_write")

    def __init__(self) -> None:
        self._parts: list[Part] = []
        self._bytes = io.BytesIO()
        self._write: Callable[[bytes], int] = self._bytes.write

    def write(self, data: Any) -> int:
        if type(data) is _RegionMarker:
            region = data.region
            if region.size:
                self._cut()
                self._parts.append(region)
            return 0
        return self._write(data)

    def _cut(self) -> None:
        if self._bytes.tell():
            self._parts.append(self._bytes.getvalue())
            self._bytes = io.BytesIO()
            self._write = self._bytes.write

    def parts(self) -> list[Part]:
        self._cut()
        return self._parts


_HAS_RECORDS: dict[type[Any], bool] = {}


def _has_records(entity_class: type[Any]) -> bool:
    """
    @return: whether a kio schema has a C{records} field anywhere inside it.
    """
    cached = _HAS_RECORDS.get(entity_class)
    if cached is None:
        _HAS_RECORDS[entity_class] = False  # cuts cycles while walking
        cached = any(
            schema_field.metadata.get("kafka_type") == "records"
            or any(_has_records(nested) for nested in _entities(schema_field.type))
            for schema_field in dataclasses.fields(entity_class)
        )
        _HAS_RECORDS[entity_class] = cached
    return cached


def _entities(annotation: object) -> list[type[Any]]:
    """
    @return: the kio entity classes an annotation mentions: C{E}, C{E | None},
        C{tuple[E, ...]} or C{tuple[E, ...] | None}.
    """
    members = [annotation, *typing.get_args(annotation)]
    for member in list(members):
        members.extend(typing.get_args(member))
    return [
        member
        for member in members
        if isinstance(member, type) and dataclasses.is_dataclass(member)
    ]


def encode_response_parts(
    correlation_id: int, response: ResponsePayload
) -> ResponseParts:
    """
    Encode a response frame: size prefix, header and body, with the file regions of
    its C{records} fields (see L{records_region}) as parts of their own.

    @param correlation_id: the correlation id of the request answered.
    @param response: a kio response dataclass.
    @return: the frame's parts.
    @raise TypeError: if C{response} is not a kio response, or holds values of the
        wrong type (such as a region marker outside a C{records} field).
    @raise ValueError: if a value does not fit its field, or the frame is larger
        than an int32 size allows.
    """
    response_class = type(response)
    if not _has_records(response_class):
        frame = encode_frame(encode_response(correlation_id, response))
        return ResponseParts((frame,), len(frame))
    header = io.BytesIO()
    header_version = response_header_version(
        response_class.__api_key__, response_class.__version__
    )
    write_response_header(header, ResponseHeader(correlation_id, header_version))
    buffer = _SplicingBuffer()
    buffer.write(header.getvalue())
    what = response_class.__qualname__
    try:
        entity_writer(response_class)(cast(IO[bytes], buffer), response)
    except (TypeError, AttributeError) as exc:
        raise TypeError(f"cannot encode {what}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"cannot encode {what}: {exc}") from exc
    parts = buffer.parts()
    body_size = sum(
        len(part) if isinstance(part, bytes) else int(part.size) for part in parts
    )
    if body_size > _MAX_FRAME:
        raise ValueError(f"a response of {body_size} bytes does not fit an int32 size")
    parts[0] = _SIZE.pack(body_size) + cast(bytes, parts[0])
    return ResponseParts(tuple(parts), body_size + _SIZE.size)
