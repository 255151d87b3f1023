"""
Encode and decode whole requests and responses: header plus body, without the size
prefix (see L{odradek.client.protocol.framing}).

Bodies are kio dataclasses, written and read by kio; which class goes with which API
key and version comes from L{odradek.client.protocol.apis}. Where kio's reader breaks
Kafka's rules (it refuses unknown tagged fields and unknown error codes) a pure-Python
reader takes over: unknown tags are skipped, and an error code kio does not know is
kept as a plain C{int} in its C{ErrorCode} field, for L{error_for_code
<odradek.client.errors.error_for_code>}.

Every failure to decode bytes from a peer raises a L{ProtocolError}; passing
something that is not a kio request or response raises C{TypeError} or C{ValueError}.
"""

from __future__ import annotations

import io
import struct
from functools import lru_cache
from typing import TypeVar, cast

import kio.schema.response_header.v0 as response_header_v0
from kio.serial.errors import SerialError
from kio.static.constants import EntityType
from kio.static.protocol import Entity, RequestPayload, ResponsePayload

from odradek.client.protocol._reading import Readable, read_entity, readable
from odradek.client.protocol._writing import entity_writer
from odradek.client.protocol.apis import (
    ApiKey,
    describe_api,
    request_type,
    response_type,
)
from odradek.client.protocol.errors import MalformedMessageError, ProtocolError
from odradek.client.protocol.headers import (
    RequestHeader,
    ResponseHeader,
    read_request_header,
    read_response_header,
    write_request_header,
    write_response_header,
)

__all__ = [
    "decode_request",
    "decode_request_body",
    "decode_request_header",
    "decode_response",
    "encode_request",
    "encode_response",
]

E = TypeVar("E", bound=Entity)


def _check_payload(payload: object, kind: EntityType) -> type[Entity]:
    payload_type = type(payload)
    if getattr(payload_type, "__type__", None) is not kind:
        raise TypeError(
            f"expected a kio {kind.name} dataclass, not {payload_type.__qualname__}"
        )
    return cast(type[Entity], payload_type)


@lru_cache(maxsize=1024)
def _describe(api_key: int, api_version: int, kind: str) -> str:
    # Cached: every request and response is described, for its error messages,
    # and the keys and versions seen are few (bounded, since they come off the wire).
    return f"{describe_api(api_key)} version {api_version} {kind}"


def _write_body(buffer: io.BytesIO, payload: Entity, what: str) -> None:
    try:
        entity_writer(type(payload))(buffer, payload)
    except (TypeError, AttributeError) as exc:
        raise TypeError(f"cannot encode {what}: {exc}") from exc
    except (SerialError, struct.error, ValueError, OverflowError) as exc:
        raise ValueError(f"cannot encode {what}: {exc}") from exc


def encode_request(header: RequestHeader, request: RequestPayload) -> bytes:
    """
    Encode a request with its header.

    @param header: the header; its C{api_key} and C{api_version} must be those of
        C{request}. It is written in its C{header_version}, which L{RequestHeader}
        chooses from the API and version unless told otherwise.
    @param request: a kio request dataclass.
    @return: the message, without the size prefix.
    @raise TypeError: if C{request} is not a kio request, or holds values of the
        wrong type.
    @raise ValueError: if the header does not match the request, or a value does not
        fit its field.
    """
    request_class = _check_payload(request, EntityType.request)
    api_key = cast(RequestPayload, request_class).__api_key__
    api_version = cast(RequestPayload, request_class).__version__
    if (header.api_key, header.api_version) != (api_key, api_version):
        raise ValueError(
            f"header is for {_describe(header.api_key, header.api_version, 'request')}"
            f" but the body is a {_describe(api_key, api_version, 'request')}"
        )
    buffer = io.BytesIO()
    write_request_header(buffer, header)
    _write_body(buffer, request, _describe(api_key, api_version, "request"))
    return buffer.getvalue()


def decode_request_header(data: Readable) -> tuple[RequestHeader, int]:
    """
    Read only the header of a request.

    A broker uses this to learn the API key, version and correlation id of a request
    it may be unable to decode (an API it does not serve, or a version it does not
    know, such as an ApiVersions request newer than itself, which must still be
    answered).

    @param data: the request, without its size prefix.
    @return: the header and the offset where the body starts.
    @raise TruncatedMessageError: if C{data} ends inside the header.
    @raise MalformedMessageError: if the header cannot be decoded.
    """
    return read_request_header(readable(data))


def decode_request_body(
    header: RequestHeader, data: Readable, offset: int, *, allow_trailing: bool = False
) -> RequestPayload:
    """
    Decode the body of a request whose header was read with L{decode_request_header}.

    @param header: the request's header.
    @param data: the request, without its size prefix.
    @param offset: where the body starts.
    @param allow_trailing: whether bytes after the body are ignored rather than an
        error. Apache Kafka's broker reads the fields of a request and ignores what
        follows them, and some clients rely on it: librdkafka 2.x sends a Metadata
        request for all topics with three bytes after the body.
    @return: the kio request dataclass.
    @raise UnknownApiKeyError: if Odradek does not serve the header's API.
    @raise UnsupportedVersionError: if Odradek does not support its version.
    @raise TruncatedMessageError: if C{data} ends before the body does.
    @raise MalformedMessageError: if the body cannot be decoded, or bytes are left
        after it and C{allow_trailing} is false.
    """
    kio_type = request_type(header.api_key, header.api_version)
    what = _describe(header.api_key, header.api_version, "request")
    return _read_body(kio_type, readable(data), offset, what, allow_trailing)


def decode_request(data: Readable) -> tuple[RequestHeader, RequestPayload]:
    """
    Decode a request.

    @param data: the request, without its size prefix.
    @return: the header and the kio request dataclass.
    @raise UnknownApiKeyError: if Odradek does not serve the request's API.
    @raise UnsupportedVersionError: if Odradek does not support its version.
    @raise TruncatedMessageError: if C{data} ends before the request does.
    @raise MalformedMessageError: if the request cannot be decoded, or bytes are left
        after it.
    """
    view = readable(data)
    header, offset = read_request_header(view)
    return header, decode_request_body(header, view, offset)


def _response_header_version(response_class: type[ResponsePayload]) -> int:
    # Kio's schema says which header goes with each response; ApiVersions responses
    # use version 0 at every version.
    if response_class.__header_schema__ is response_header_v0.ResponseHeader:
        return 0
    return 1


def encode_response(correlation_id: int, response: ResponsePayload) -> bytes:
    """
    Encode a response with its header, whose version follows from the response.

    @param correlation_id: the correlation id of the request answered.
    @param response: a kio response dataclass.
    @return: the message, without the size prefix.
    @raise TypeError: if C{response} is not a kio response, or holds values of the
        wrong type.
    @raise ValueError: if C{correlation_id} or another value does not fit its field.
    """
    response_class = cast(
        type[ResponsePayload], _check_payload(response, EntityType.response)
    )
    header = ResponseHeader(correlation_id, _response_header_version(response_class))
    buffer = io.BytesIO()
    write_response_header(buffer, header)
    what = _describe(response_class.__api_key__, response_class.__version__, "response")
    _write_body(buffer, response, what)
    return buffer.getvalue()


def decode_response(
    data: Readable, api_key: int, api_version: int
) -> tuple[int, ResponsePayload]:
    """
    Decode a response to a request of the given API and version.

    ApiVersions responses get Apache Kafka's fallback: a broker that does not know the
    version asked for answers in version 0 (with C{UNSUPPORTED_VERSION} and its own
    range), so when the bytes do not decode as the version asked for they are decoded
    again as version 0 and that version-0 dataclass is returned.

    @param data: the response, without its size prefix.
    @param api_key: the API key of the request answered.
    @param api_version: the version of the request answered.
    @return: the correlation id and the kio response dataclass.
    @raise UnknownApiKeyError: if Odradek does not serve the API.
    @raise UnsupportedVersionError: if Odradek does not support the version.
    @raise TruncatedMessageError: if C{data} ends before the response does.
    @raise MalformedMessageError: if the response cannot be decoded, or bytes are left
        after it.
    """
    view = readable(data)
    kio_type = response_type(api_key, api_version)
    try:
        return _decode_response_as(view, kio_type)
    except ProtocolError as error:
        if api_key != ApiKey.API_VERSIONS or api_version == 0:
            raise
        first_error = error
    try:
        fallback = _decode_response_as(view, response_type(api_key, 0))
    except ProtocolError:
        fallback = None
    if fallback is None:
        raise first_error
    return fallback


def _decode_response_as(
    view: bytes | memoryview, kio_type: type[ResponsePayload]
) -> tuple[int, ResponsePayload]:
    header, offset = read_response_header(view, _response_header_version(kio_type))
    what = _describe(kio_type.__api_key__, kio_type.__version__, "response")
    return header.correlation_id, _read_body(kio_type, view, offset, what)


def _read_body(
    kio_type: type[E],
    view: bytes | memoryview,
    offset: int,
    what: str,
    allow_trailing: bool = False,
) -> E:
    body, end = read_entity(kio_type, view, offset, what)
    left_over = len(view) - end
    if left_over and not allow_trailing:
        unit = "byte" if left_over == 1 else "bytes"
        raise MalformedMessageError(
            f"{what} has {left_over} {unit} left over after its body"
        )
    return body
