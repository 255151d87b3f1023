"""
A client connection to one broker: L{KafkaConnection}, a Twisted protocol.

Three layers, as in Twisted's AMP: framing (L{FrameDecoder
<odradek.client.protocol.FrameDecoder>}), correlation (each request gets the next
correlation id and a Deferred; Kafka answers the requests of a connection in the
order they were sent, so every response must answer the oldest request still
waiting) and the codecs (L{encode_request <odradek.client.protocol.encode_request>},
L{decode_response <odradek.client.protocol.decode_response>}).

Whatever ends a connection (the peer closing it, L{KafkaConnection.close}, a request
timing out, a response that breaks the protocol) fails every request still waiting
with L{NetworkError <odradek.client.errors.NetworkError>}, except the one that timed
out, which fails with L{RequestTimedOutError
<odradek.client.errors.RequestTimedOutError>}.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.cluster import Node
from odradek.client.network.requests import api_versions_request, client_versions
from odradek.client.protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    SUPPORTED_VERSIONS,
    ApiKey,
    FrameDecoder,
    ProtocolError,
    RequestHeader,
    UnsupportedVersionError,
    decode_response,
    encode_frame,
    encode_request,
)
from odradek.client.protocol.apis import describe_api

__all__ = ["KafkaConnection"]

_CORRELATION_ID = struct.Struct(">i")
_MAX_CORRELATION_ID = 2**31 - 1
_API_VERSIONS_MAX = SUPPORTED_VERSIONS[ApiKey.API_VERSIONS].max_version


class _Pending:
    """
    A request waiting for its response. C{deferred} is C{None} once the caller
    cancelled it: the response is still expected (it keeps the order) but dropped.
    """

    __slots__ = ("api_key", "api_version", "deferred", "timer")

    def __init__(
        self,
        deferred: Deferred[ResponsePayload | None],
        api_key: int,
        api_version: int,
        timer: IDelayedCall,
    ) -> None:
        self.deferred: Deferred[ResponsePayload | None] | None = deferred
        self.api_key = api_key
        self.api_version = api_version
        self.timer: IDelayedCall | None = timer


@attrs.define(eq=False)
class KafkaConnection(Protocol):
    """
    One connection to a broker, sending requests and matching their responses.

    Build it, connect it with an endpoint, call L{negotiate_versions}, then L{send}
    requests built for the versions in L{versions}.

    @ivar clock: where timeouts are scheduled.
    @ivar client_id: the C{client.id} sent in every request header.
    @ivar request_timeout_ms: how long a request may wait for its response unless
        L{send} is given another timeout (C{request.timeout.ms}).
    @ivar max_frame_size: the largest response accepted, in bytes.
    @ivar node: the broker this connection goes to, for error messages; when
        C{None} the transport's peer address is named.
    """

    clock: IReactorTime = attrs.field(repr=False)
    client_id: str
    request_timeout_ms: int = attrs.field(repr=False)
    max_frame_size: int = attrs.field(default=DEFAULT_MAX_FRAME_SIZE, repr=False)
    node: Node | None = None
    _decoder: FrameDecoder = attrs.field(init=False, repr=False)
    _pending: dict[int, _Pending] = attrs.field(init=False, factory=dict, repr=False)
    _next_correlation_id: int = attrs.field(init=False, default=0, repr=False)
    _closed: bool = attrs.field(init=False, default=False)
    _close_reason: str | None = attrs.field(init=False, default=None, repr=False)
    _versions: Mapping[ApiKey, int] | None = attrs.field(
        init=False, default=None, repr=False
    )
    _close_waiters: list[Deferred[None]] = attrs.field(
        init=False, factory=list, repr=False
    )

    _log = Logger()

    def __attrs_post_init__(self) -> None:
        self._decoder = FrameDecoder(self.max_frame_size)

    # -- state

    @property
    def in_flight(self) -> int:
        """The number of requests sent and still waiting for a response."""
        return len(self._pending)

    @property
    def is_closed(self) -> bool:
        """Whether the connection was closed or lost."""
        return self._closed

    @property
    def versions(self) -> Mapping[ApiKey, int]:
        """
        The version of each API to use with this broker, chosen by
        L{negotiate_versions}; empty until then.
        """
        return self._versions if self._versions is not None else MappingProxyType({})

    def version_for(self, api_key: ApiKey) -> int:
        """
        @param api_key: an API.
        @return: the version of it to send on this connection.
        @raise UnsupportedVersionError: if this broker and client share no version
            of the API.
        @raise IllegalStateError: if versions were not negotiated yet.
        """
        if self._versions is None:
            raise errors.IllegalStateError(
                f"API versions with {self._peer()} are not negotiated yet"
            )
        version = self._versions.get(api_key)
        if version is None:
            raise UnsupportedVersionError(
                api_key,
                f"{describe_api(api_key)} is not supported by {self._peer()}",
            )
        return version

    def when_closed(self) -> Deferred[None]:
        """
        @return: a Deferred that fires with C{None} once the connection is closed or
            lost (at once if it already is).
        """
        if self._closed:
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._close_waiters.append(waiter)
        return waiter

    def _peer(self) -> str:
        if self.node is not None:
            return f"node {self.node}"
        if self.transport is not None:
            return f"broker at {self.transport.getPeer()}"
        return "an unconnected broker"

    # -- sending

    def send(
        self,
        request: RequestPayload,
        *,
        expect_response: bool = True,
        timeout_ms: int | None = None,
    ) -> Deferred[ResponsePayload | None]:
        """
        Send a request.

        @param request: a kio request in a version this broker supports.
        @param expect_response: C{False} for requests the broker does not answer
            (Produce with C{acks=0}): the Deferred fires with C{None} once written.
        @param timeout_ms: how long to wait for the response; by default
            C{request_timeout_ms}.
        @return: a Deferred that fires with the decoded kio response, or fails with
            L{NetworkError <odradek.client.errors.NetworkError>} when the
            connection ends first, or L{RequestTimedOutError
            <odradek.client.errors.RequestTimedOutError>} after the timeout.
        @raise TypeError: if C{request} is not a kio request.
        @raise ValueError: if C{request} holds values its fields cannot encode.
        """
        if self._closed or self.transport is None:
            return fail(self._network_error())
        request_class = type(request)
        api_key = int(request_class.__api_key__)
        api_version = int(request_class.__version__)
        correlation_id = self._next_correlation_id
        frame = encode_frame(
            encode_request(
                RequestHeader(api_key, api_version, correlation_id, self.client_id),
                request,
            )
        )
        self._next_correlation_id = (
            correlation_id + 1 if correlation_id < _MAX_CORRELATION_ID else 0
        )
        if not expect_response:
            self.transport.write(frame)
            return succeed(None)
        deferred: Deferred[ResponsePayload | None] = Deferred(self._cancel)
        timeout = self.request_timeout_ms if timeout_ms is None else timeout_ms
        timer = self.clock.callLater(
            timeout / 1000, self._timed_out, correlation_id, timeout
        )
        self._pending[correlation_id] = _Pending(deferred, api_key, api_version, timer)
        self.transport.write(frame)
        return deferred

    def _cancel(self, deferred: Deferred[ResponsePayload | None]) -> None:
        # The response will still come, in its turn: keep the slot, drop the answer.
        # Deferred.cancel then fails the Deferred with CancelledError.
        for pending in self._pending.values():
            if pending.deferred is deferred:
                pending.deferred = None
                if pending.timer is not None:
                    pending.timer.cancel()
                    pending.timer = None
                break

    def _timed_out(self, correlation_id: int, timeout_ms: int) -> None:
        pending = self._pending.pop(correlation_id)
        pending.timer = None
        error = errors.RequestTimedOutError(
            f"{describe_api(pending.api_key)} version {pending.api_version} request "
            f"(correlation id {correlation_id}) to {self._peer()} got no response "
            f"within {timeout_ms} ms"
        )
        self._abort(f"a request timed out after {timeout_ms} ms")
        if pending.deferred is not None:
            pending.deferred.errback(error)

    # -- version negotiation

    def negotiate_versions(self) -> Deferred[Mapping[ApiKey, int]]:
        """
        Ask the broker which API versions it supports and choose the ones to use.

        The newest ApiVersions version is sent first; a broker that does not know
        it answers C{UNSUPPORTED_VERSION} in version 0 with the ApiVersions range it
        does support, and the request is sent again in the newest version of that
        range. Versions are capped by L{CLIENT_MAX_VERSIONS
        <odradek.client.network.requests.CLIENT_MAX_VERSIONS>}.

        @return: a Deferred firing with L{versions}, or failing with the
            L{KafkaError <odradek.client.errors.KafkaError>} of the answer's error
            code, or with the connection's errors.
        """
        return Deferred.fromCoroutine(self._negotiate())

    async def _negotiate(self) -> Mapping[ApiKey, int]:
        version = _API_VERSIONS_MAX
        while True:
            response: Any = await self.send(api_versions_request(version))
            if (
                int(response.error_code) != errors.UnsupportedVersionError.code
                or version == 0
            ):
                break
            advertised = [
                int(entry.max_version)
                for entry in response.api_keys
                if int(entry.api_key) == ApiKey.API_VERSIONS
            ]
            retry = min(advertised[0] if advertised else 0, version - 1)
            self._log.debug(
                "{peer} does not support ApiVersions version {version}; "
                "retrying with version {retry}",
                peer=self._peer(),
                version=version,
                retry=retry,
            )
            version = max(retry, 0)
        self._versions = MappingProxyType(client_versions(response))
        return self._versions

    # -- receiving

    def dataReceived(self, data: bytes) -> None:
        """
        Decode the responses in C{data} and fire their Deferreds, in order.
        """
        if self._closed:
            return
        try:
            frames = self._decoder.feed(data)
        except ProtocolError as error:
            self._protocol_violation(str(error))
            return
        for frame in frames:
            self._frame_received(frame)

    def _frame_received(self, frame: bytes) -> None:
        if self._closed:
            # An earlier frame of the same chunk ended the connection.
            return
        if len(frame) < _CORRELATION_ID.size:
            self._protocol_violation(f"a {len(frame)}-byte response has no header")
            return
        (correlation_id,) = _CORRELATION_ID.unpack_from(frame)
        expected = next(iter(self._pending), None)
        if correlation_id != expected:
            if expected is None:
                problem = f"correlation id {correlation_id} answers no request"
            else:
                problem = (
                    f"correlation id {correlation_id} arrived while the oldest "
                    f"request waiting has correlation id {expected}"
                )
            self._protocol_violation(problem)
            return
        pending = self._pending.pop(correlation_id)
        if pending.timer is not None:
            pending.timer.cancel()
        try:
            _, response = decode_response(frame, pending.api_key, pending.api_version)
        except ProtocolError as error:
            self._protocol_violation(str(error))
            if pending.deferred is not None:
                pending.deferred.errback(error)
            return
        if pending.deferred is not None:
            pending.deferred.callback(response)

    def _protocol_violation(self, problem: str) -> None:
        self._log.warn(
            "Closing the connection to {peer}: {problem}",
            peer=self._peer(),
            problem=problem,
        )
        self._abort(f"protocol violation: {problem}")

    # -- closing

    def close(self) -> None:
        """
        Close the connection; every request still waiting fails with
        L{NetworkError <odradek.client.errors.NetworkError>}.
        """
        self._shut("the connection was closed by the client")
        if self.transport is not None:
            self.transport.loseConnection()

    def _abort(self, reason: str) -> None:
        self._shut(reason)
        if self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()
            else:
                self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Fail every request still waiting.
        """
        self._shut(f"the connection was lost: {reason.getErrorMessage()}")
        Protocol.connectionLost(self, reason)

    def _shut(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            if entry.timer is not None:
                entry.timer.cancel()
                entry.timer = None
        for entry in pending.values():
            if entry.deferred is not None:
                entry.deferred.errback(self._network_error())
        waiters, self._close_waiters = self._close_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _network_error(self) -> errors.NetworkError:
        reason = self._close_reason or "the connection is not open"
        return errors.NetworkError(f"connection to {self._peer()}: {reason}")
