"""
Request and response headers: the values, and their encoding in every header version.

Request header versions::

    v0  api_key int16, api_version int16, correlation_id int32
    v1  v0 + client_id (nullable string, int16 length)
    v2  v1 + tagged fields

Version 2 keeps the int16-length client_id of version 1 although the rest of a
flexible message uses compact strings; Apache Kafka never changed it. Response header
version 0 is the correlation_id (int32) alone; version 1 adds tagged fields.

Versions 1 and 2 of the request header and both response headers are written with
kio's schema classes. Kio has no request header version 0, so that one (8 fixed bytes)
is done here. When reading, the tagged fields of a header are skipped rather than
handed to kio, which fails on tags it has no schema for.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import IO

import kio.schema.request_header.v1 as request_header_v1
import kio.schema.request_header.v2 as request_header_v2
import kio.schema.response_header.v0 as response_header_v0
import kio.schema.response_header.v1 as response_header_v1
from attrs import Attribute, field, frozen
from kio.serial import entity_reader
from kio.serial.readers import read_int32

from odradek.client.protocol._reading import read_with, skip_tagged_fields
from odradek.client.protocol._writing import entity_writer
from odradek.client.protocol.apis import request_header_version
from odradek.client.protocol.errors import TruncatedMessageError, UnknownApiKeyError

__all__ = [
    "RequestHeader",
    "ResponseHeader",
    "read_request_header",
    "read_response_header",
    "write_request_header",
    "write_response_header",
]

_INT16 = (-(2**15), 2**15 - 1)
_INT32 = (-(2**31), 2**31 - 1)
_V0_REQUEST_HEADER = struct.Struct(">hhi")


def _in_range(bounds: tuple[int, int]) -> Callable[[object, Attribute[int], int], None]:
    low, high = bounds

    def check(instance: object, attribute: Attribute[int], value: int) -> None:
        name = attribute.name
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be between {low} and {high}, not {value}")

    return check


def _check_client_id(
    instance: RequestHeader, attribute: Attribute[str | None], value: str | None
) -> None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"client_id must be a str or None, not {type(value).__name__}")


def _check_request_header_version(
    instance: RequestHeader, attribute: object, value: int
) -> None:
    if value not in (0, 1, 2):
        raise ValueError(f"request header version must be 0, 1 or 2, not {value}")
    if value == 0 and instance.client_id is not None:
        raise ValueError("request header version 0 has no client_id; pass None")


@frozen
class RequestHeader:
    """
    The header that precedes every request.

    @ivar api_key: the API of the request.
    @ivar api_version: the version of that API the request is written in.
    @ivar correlation_id: the number the response will carry back.
    @ivar client_id: the client's self-chosen name, or C{None}. Always C{None} in
        header version 0, which has no such field.
    @ivar header_version: 0, 1 or 2; when not given, the version Kafka prescribes for
        this API and version (see L{request_header_version}).
    """

    api_key: int = field(validator=_in_range(_INT16))
    api_version: int = field(validator=_in_range(_INT16))
    correlation_id: int = field(validator=_in_range(_INT32))
    client_id: str | None = field(default=None, validator=_check_client_id)
    header_version: int = field(validator=_check_request_header_version)

    @header_version.default
    def _default_header_version(self) -> int:
        try:
            return request_header_version(self.api_key, self.api_version)
        except UnknownApiKeyError:
            raise ValueError(
                f"cannot choose a header version for unknown API key {self.api_key}; "
                "pass header_version"
            ) from None


def _check_response_header_version(
    instance: ResponseHeader, attribute: object, value: int
) -> None:
    if value not in (0, 1):
        raise ValueError(f"response header version must be 0 or 1, not {value}")


@frozen
class ResponseHeader:
    """
    The header that precedes every response.

    @ivar correlation_id: the correlation id of the request answered.
    @ivar header_version: 0 or 1 (see L{response_header_version
        <odradek.client.protocol.apis.response_header_version>}).
    """

    correlation_id: int = field(validator=_in_range(_INT32))
    header_version: int = field(default=0, validator=_check_response_header_version)


def write_request_header(buffer: IO[bytes], header: RequestHeader) -> None:
    """
    Encode a request header.

    @param buffer: where to write the bytes.
    @param header: the header, written in its C{header_version}.
    """
    if header.header_version == 0:
        buffer.write(
            _V0_REQUEST_HEADER.pack(
                header.api_key, header.api_version, header.correlation_id
            )
        )
        return
    kio_type = (
        request_header_v1.RequestHeader
        if header.header_version == 1
        else request_header_v2.RequestHeader
    )
    entity_writer(kio_type)(
        buffer,
        kio_type(
            request_api_key=header.api_key,  # type: ignore[arg-type]
            request_api_version=header.api_version,  # type: ignore[arg-type]
            correlation_id=header.correlation_id,  # type: ignore[arg-type]
            client_id=header.client_id,
        ),
    )


def read_request_header(
    data: bytes | memoryview, offset: int = 0
) -> tuple[RequestHeader, int]:
    """
    Decode a request header, choosing its version from the API key and version it
    starts with.

    This works for API versions Odradek does not support, so that a broker can answer
    them. A key that kio does not know is read as header version 1, which is enough
    to find its correlation id.

    @param data: the request, without its size prefix.
    @param offset: where the header starts.
    @return: the header and the offset where the request body starts.
    @raise TruncatedMessageError: if C{data} ends inside the header.
    @raise MalformedMessageError: if the client id is not valid UTF-8 or a tagged
        field is malformed.
    """
    if len(data) - offset < _V0_REQUEST_HEADER.size:
        raise TruncatedMessageError(
            f"request header is truncated: {len(data) - offset} bytes, "
            f"at least {_V0_REQUEST_HEADER.size} needed"
        )
    api_key, api_version, correlation_id = _V0_REQUEST_HEADER.unpack_from(data, offset)
    try:
        header_version = request_header_version(api_key, api_version)
    except UnknownApiKeyError:
        header_version = 1
    if header_version == 0:
        return (
            RequestHeader(api_key, api_version, correlation_id, None, header_version),
            offset + _V0_REQUEST_HEADER.size,
        )
    what = f"request header version {header_version}"
    kio_header, offset = read_with(
        entity_reader(request_header_v1.RequestHeader), data, offset, what
    )
    if header_version == 2:
        offset = skip_tagged_fields(data, offset, what)
    header = RequestHeader(
        api_key, api_version, correlation_id, kio_header.client_id, header_version
    )
    return header, offset


def write_response_header(buffer: IO[bytes], header: ResponseHeader) -> None:
    """
    Encode a response header.

    @param buffer: where to write the bytes.
    @param header: the header, written in its C{header_version}.
    """
    kio_type = (
        response_header_v0.ResponseHeader
        if header.header_version == 0
        else response_header_v1.ResponseHeader
    )
    entity_writer(kio_type)(
        buffer,
        kio_type(correlation_id=header.correlation_id),  # type: ignore[arg-type]
    )


def read_response_header(
    data: bytes | memoryview, header_version: int, offset: int = 0
) -> tuple[ResponseHeader, int]:
    """
    Decode a response header.

    @param data: the response, without its size prefix.
    @param header_version: 0 or 1, as the request's API and version prescribe.
    @param offset: where the header starts.
    @return: the header and the offset where the response body starts.
    @raise TruncatedMessageError: if C{data} ends inside the header.
    @raise MalformedMessageError: if a tagged field is malformed.
    @raise ValueError: if C{header_version} is not 0 or 1.
    """
    if header_version not in (0, 1):
        raise ValueError(
            f"response header version must be 0 or 1, not {header_version}"
        )
    what = f"response header version {header_version}"
    correlation_id, offset = read_with(read_int32, data, offset, what)
    if header_version == 1:
        offset = skip_tagged_fields(data, offset, what)
    return ResponseHeader(correlation_id, header_version), offset
