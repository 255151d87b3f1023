"""
The Kafka wire protocol, sans-IO: framing, request and response headers, the table of
APIs and versions Odradek speaks, version negotiation, and codecs that turn kio's
request and response dataclasses into bytes and back.

Nothing here performs I/O or touches a reactor; connections live in
C{odradek.client.network} and the broker's server.
"""

from odradek.client.protocol._writing import entity_writer
from odradek.client.protocol.apis import (
    SUPPORTED_VERSIONS,
    ApiKey,
    VersionRange,
    request_header_version,
    request_type,
    response_header_version,
    response_type,
)
from odradek.client.protocol.codec import (
    decode_request,
    decode_request_body,
    decode_request_header,
    decode_response,
    encode_request,
    encode_response,
)
from odradek.client.protocol.errors import (
    FrameSizeError,
    MalformedMessageError,
    ProtocolError,
    TruncatedMessageError,
    UnknownApiKeyError,
    UnsupportedVersionError,
)
from odradek.client.protocol.framing import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    encode_frame,
)
from odradek.client.protocol.headers import RequestHeader, ResponseHeader
from odradek.client.protocol.negotiation import negotiate, pick_version

__all__ = [
    "DEFAULT_MAX_FRAME_SIZE",
    "SUPPORTED_VERSIONS",
    "ApiKey",
    "FrameDecoder",
    "FrameSizeError",
    "MalformedMessageError",
    "ProtocolError",
    "RequestHeader",
    "ResponseHeader",
    "TruncatedMessageError",
    "UnknownApiKeyError",
    "UnsupportedVersionError",
    "VersionRange",
    "decode_request",
    "decode_request_body",
    "decode_request_header",
    "decode_response",
    "encode_frame",
    "encode_request",
    "encode_response",
    "entity_writer",
    "negotiate",
    "pick_version",
    "request_header_version",
    "request_type",
    "response_header_version",
    "response_type",
]
