"""
Errors raised when bytes from a peer break the Kafka protocol.

As in h11, these mean "the peer sent something we cannot accept"; calling this package
with arguments of the wrong type or value (our own mistake, not the peer's) raises a
plain C{TypeError} or C{ValueError} instead.

Only L{UnsupportedVersionError} has a Kafka error code: it is also
L{odradek.client.errors.UnsupportedVersionError} (code 35, C{UNSUPPORTED_VERSION}), so
a broker can answer it on the wire like any other L{KafkaError
<odradek.client.errors.KafkaError>}. Every other L{ProtocolError} leaves the byte stream
in a state nobody can answer in; as Apache Kafka does, the connection should be closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odradek.client import errors as _kafka_errors

if TYPE_CHECKING:
    from odradek.client.protocol.apis import VersionRange

__all__ = [
    "FrameSizeError",
    "MalformedMessageError",
    "ProtocolError",
    "TruncatedMessageError",
    "UnknownApiKeyError",
    "UnsupportedVersionError",
]


class ProtocolError(Exception):
    """
    The peer sent bytes that break the Kafka protocol.
    """

    def __init__(self, message: str) -> None:
        """
        @param message: what was wrong, naming the values involved.
        """
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class FrameSizeError(ProtocolError):
    """
    A frame's size prefix is negative or larger than the receiver accepts.

    @ivar size: the size the prefix announced.
    @ivar limit: the largest frame the receiver accepts.
    """

    def __init__(self, size: int, limit: int) -> None:
        """
        @param size: the size the prefix announced.
        @param limit: the largest frame the receiver accepts.
        """
        if size < 0:
            problem = f"invalid frame size {size}: the size must not be negative"
        else:
            problem = f"frame size {size} exceeds the maximum of {limit} bytes"
        super().__init__(problem)
        self.size = size
        self.limit = limit


class TruncatedMessageError(ProtocolError):
    """
    A message ended before everything its schema requires could be read.
    """


class MalformedMessageError(ProtocolError):
    """
    A message could not be decoded: invalid values, a malformed tagged field, or
    bytes left over after the body. (Unknown tagged fields are skipped and unknown
    error codes kept as ints, as Kafka requires.)
    """


class UnknownApiKeyError(ProtocolError):
    """
    A message names an API key that Odradek does not serve.

    @ivar api_key: the API key from the message.
    """

    def __init__(self, api_key: int, message: str) -> None:
        """
        @param api_key: the API key from the message.
        @param message: what was wrong, naming the key.
        """
        super().__init__(message)
        self.api_key = api_key


# ProtocolError's message is always a str where KafkaError's may be None; mypy
# flags the narrower attribute type when the two are combined.
class UnsupportedVersionError(  # type: ignore[misc]
    ProtocolError, _kafka_errors.UnsupportedVersionError
):
    """
    A message uses a version of an API outside the range this side supports, or the two
    sides of a connection share no version of an API.

    This is Kafka's C{UNSUPPORTED_VERSION} (code 35) as well as a L{ProtocolError}:
    C{except odradek.client.errors.UnsupportedVersionError} catches it too.

    @ivar api_key: the API key concerned.
    @ivar api_version: the version that was asked for, or C{None} when two ranges were
        compared.
    @ivar supported: the versions this side supports, or C{None} if it has no range
        for the API.
    @ivar peer: the versions the peer supports, when known.
    """

    def __init__(
        self,
        api_key: int,
        message: str,
        *,
        api_version: int | None = None,
        supported: VersionRange | None = None,
        peer: VersionRange | None = None,
    ) -> None:
        """
        @param api_key: the API key concerned.
        @param message: what was wrong, naming the key, versions and ranges.
        @param api_version: the version that was asked for, if one was.
        @param supported: the versions this side supports.
        @param peer: the versions the peer supports.
        """
        ProtocolError.__init__(self, message)
        self.api_key = api_key
        self.api_version = api_version
        self.supported = supported
        self.peer = peer

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"
