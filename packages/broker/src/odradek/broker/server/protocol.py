"""
The broker's side of a Kafka connection: frames in, requests dispatched to handlers,
responses out in request order.

Three layers, as in Twisted's AMP: framing (L{FrameDecoder}, sans-IO), dispatch (the
header names the API; the L{HandlerRegistry} names the handler) and output
(L{ResponseWriter}, which also sends file regions).

Requests are processed one at a time per connection, as Apache Kafka does (its
C{SocketServer} mutes a connection from the moment a request is read until its
response is sent). A handler that answers at once is answered at once, so requests
pipelined in one read are all answered in one go; a handler that returns an unfired
Deferred blocks the connection until it fires, and the frames behind it wait. While
the connection is blocked, by a Deferred or by a full transport buffer, the transport
is paused (C{pauseProducing}), so a client that does not read its responses, or
floods requests, makes the kernel's buffers fill up instead of the broker's memory.
Only the frames of the last read can wait in memory, plus at most one partial frame,
which L{FrameDecoder} never lets grow past C{socket.request.max.bytes}.

What closes the connection, with one log line and nothing sent back (as Kafka's
C{SocketServer} does through C{processChannelException}):

  - a size prefix that is negative or above C{socket.request.max.bytes}; the
    claimed size is never allocated;
  - a header or body that cannot be decoded, or has bytes left over;
  - an API key with no handler;
  - a version outside the handler's range, except for ApiVersions, which is answered
    in version 0 with C{UNSUPPORTED_VERSION} (Kafka's C{ApiKeys.isVersionEnabled}
    accepts every ApiVersions version and nothing outside the range of any other
    API, and C{SocketServer.parseRequestHeader} turns that into an
    C{InvalidRequestException} that closes the connection; this holds for the
    Produce versions 0 to 2 that are advertised but not accepted, see
    L{PRODUCE_ADVERTISED_MIN_VERSION
    <odradek.broker.apis.registry.PRODUCE_ADVERTISED_MIN_VERSION>});
  - a handler's C{CLOSE_CONNECTION}, or a failed handler whose API has no error
    response to give (Kafka's C{RequestHandlerHelper.sendErrorOrCloseConnection});
  - C{connections.max.idle.ms} without a request, a response or a request in
    progress.

A handler that raises or fails is answered with its API's error response (see
L{odradek.broker.apis.errors}); an exception other than a L{KafkaError} is logged
with its traceback here and goes on the wire only as C{UNKNOWN_SERVER_ERROR}.
"""

from __future__ import annotations

from collections import deque
from typing import Any, cast

from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IReactorTime, ITCPTransport
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from odradek.broker.apis.context import ConnectionInfo, RequestContext
from odradek.broker.apis.errors import build_error_response
from odradek.broker.apis.registry import (
    CLOSE_CONNECTION,
    NO_RESPONSE,
    ApiEntry,
    HandlerRegistry,
    Outcome,
)
from odradek.broker.server.output import ConnectionStats, ResponseWriter
from odradek.broker.server.response import encode_response_parts
from odradek.broker.server.settings import ServerSettings
from odradek.client.errors import KafkaError
from odradek.client.protocol import (
    FrameDecoder,
    FrameSizeError,
    ProtocolError,
    RequestHeader,
    decode_request_body,
    decode_request_header,
    response_type,
)
from odradek.client.protocol.apis import describe_api

__all__ = ["KafkaServerProtocol"]


def _current_failure() -> Failure:
    return Failure()  # type: ignore[no-untyped-call]


def _failure_of(error: BaseException) -> Failure:
    return Failure(error)  # type: ignore[no-untyped-call]


def _describe_address(address: IAddress | None) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return str(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class KafkaServerProtocol(Protocol):
    """
    One client connection; see the module's description.

    @ivar connection: what handlers see of the connection; set when it is made.
    @ivar stats: the connection's counters.
    """

    connection: ConnectionInfo

    def __init__(
        self,
        registry: HandlerRegistry,
        settings: ServerSettings,
        reactor: IReactorTime,
        *,
        listener_name: str = "PLAINTEXT",
        security_protocol: str = "PLAINTEXT",
        index: int = 0,
        log: Logger | None = None,
    ) -> None:
        """
        @param registry: the handlers.
        @param settings: the limits and timeouts.
        @param reactor: the reactor, for the time and the idle timer.
        @param listener_name: the name of the listener that accepted the connection.
        @param security_protocol: that listener's security protocol.
        @param index: a number unique to this connection within the listener, the
            last part of its connection id.
        @param log: where to log; a logger of this module's namespace by default.
        """
        self._registry = registry
        self._settings = settings
        self._reactor = reactor
        self._listener_name = listener_name
        self._security_protocol = security_protocol
        self._index = index
        self._log = log if log is not None else Logger()
        self._decoder = FrameDecoder(settings.max_request_size)
        self._frames: deque[bytes] = deque()
        self._pending: Deferred[Outcome] | None = None
        self._processing = False
        self._reading_paused = False
        self._closed = False
        self._draining = False
        self._lost = False
        self._lost_waiters: list[Deferred[None]] = []
        self._idle_call: object = None
        self._last_activity = 0.0
        self.stats = ConnectionStats()
        self._writer: ResponseWriter

    @property
    def _transport(self) -> Any:
        # An ITransport that is also an IProducer and IConsumer, as every Twisted
        # transport is; ITransport alone names none of pauseProducing,
        # resumeProducing or registerProducer.
        return self.transport

    # Twisted's Protocol interface.

    def connectionMade(self) -> None:
        transport = self._transport
        if ITCPTransport.providedBy(transport):
            # As Kafka's Acceptor does: small responses go out at once, and dead
            # peers are found eventually.
            transport.setTcpNoDelay(True)
            transport.setTcpKeepAlive(True)
        peer = transport.getPeer()
        host = transport.getHost()
        self.connection = ConnectionInfo(
            f"{_describe_address(host)}-{_describe_address(peer)}-{self._index}",
            peer,
            host,
            self._listener_name,
            self._security_protocol,
        )
        self._writer = ResponseWriter(
            transport,
            self._writer_drained,
            self._writer_failed,
            self.stats,
        )
        self._writer.start()
        self._last_activity = self._reactor.seconds()
        if self._settings.idle_timeout_ms >= 0:
            self._schedule_idle_check(self._settings.idle_timeout_ms / 1000)
        self._log.debug(
            "Accepted connection {connection_id} on listener {listener}",
            connection_id=self.connection.connection_id,
            listener=self._listener_name,
        )

    def dataReceived(self, data: bytes) -> None:
        if self._closed or self._draining:
            return
        self.stats.bytes_received += len(data)
        self._last_activity = self._reactor.seconds()
        try:
            frames = self._decoder.feed(data)
        except FrameSizeError as error:
            self._close(str(error), frame_size=error.size)
            return
        if frames:
            self._frames.extend(frames)
            self._process_frames()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closed = self._lost = True
        self._frames.clear()
        if self._idle_call is not None:
            self._idle_call.cancel()  # type: ignore[attr-defined]
            self._idle_call = None
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.stopProducing()
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
        if hasattr(self, "connection"):
            stats = self.stats
            self._log.debug(
                "Connection {connection_id} closed after {requests} requests, "
                "{bytes_received} bytes in, {bytes_sent} bytes out",
                connection_id=self.connection.connection_id,
                requests=stats.requests,
                responses=stats.responses,
                bytes_received=stats.bytes_received,
                bytes_sent=stats.bytes_sent,
                bytes_sent_from_files=stats.bytes_sent_from_files,
                handler_errors=stats.handler_errors,
            )
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    # Public.

    def shutdown(self) -> Deferred[None]:
        """
        Close the connection once the request in progress is answered; requests
        not yet started are dropped and no more are read.

        @return: a Deferred that fires when the connection is closed.
        """
        if self._lost or not hasattr(self, "connection"):
            return succeed(None)
        waiter: Deferred[None] = Deferred()
        self._lost_waiters.append(waiter)
        self._draining = True
        self._frames.clear()
        self._update()
        return waiter

    # Dispatch.

    def _process_frames(self) -> None:
        if self._processing:
            return
        self._processing = True
        try:
            frames = self._frames
            while frames and not (
                self._closed or self._pending is not None or self._writer.busy
            ):
                self._process(frames.popleft())
        finally:
            self._processing = False
        self._update()

    def _process(self, frame: bytes) -> None:
        try:
            header, offset = decode_request_header(frame)
        except ProtocolError as error:
            self._close(f"malformed request header: {error}")
            return
        self.stats.requests += 1
        entry = self._registry.get(header.api_key)
        if entry is None:
            self._close(f"{describe_api(header.api_key)} has no handler", header)
            return
        context = RequestContext(header, self.connection, self._reactor)
        if header.api_version not in entry.versions:
            self._answer_unsupported_version(entry, context)
            return
        try:
            # Kafka ignores bytes after a request's fields; librdkafka sends some.
            request = decode_request_body(header, frame, offset, allow_trailing=True)
        except ProtocolError as error:
            self._close(f"malformed request: {error}", header)
            return
        try:
            result = entry.handler(context, request)
        except Exception:
            self._handler_failed(entry, context, request, _current_failure())
            return
        if isinstance(result, Deferred):
            self._pending = result
            result.addBoth(self._handler_fired, entry, context, request, result)
            return
        self._handler_done(entry, context, request, result)

    def _answer_unsupported_version(
        self, entry: ApiEntry, context: RequestContext
    ) -> None:
        header = context.header
        reason = (
            f"{describe_api(header.api_key)} version {header.api_version} is not "
            f"supported; supported versions are {entry.versions}"
        )
        if entry.unsupported_version is None:
            self._close(reason, header)
            return
        try:
            response = entry.unsupported_version(context)
            self._send(header, response)
        except Exception:
            self._log.failure(
                "Answering {api} version {api_version} failed",
                api=describe_api(header.api_key),
                api_version=header.api_version,
                connection_id=self.connection.connection_id,
            )
            self._close(reason, header)

    def _handler_fired(
        self,
        result: Outcome | Failure,
        entry: ApiEntry,
        context: RequestContext,
        request: object,
        deferred: Deferred[Outcome],
    ) -> None:
        if self._pending is not deferred:
            return None  # the connection is gone; a cancellation lands here too
        self._pending = None
        if isinstance(result, Failure):
            self._handler_failed(entry, context, request, result)
        else:
            self._handler_done(entry, context, request, result)
        self._process_frames()
        return None

    def _handler_done(
        self,
        entry: ApiEntry,
        context: RequestContext,
        request: object,
        outcome: Outcome,
    ) -> None:
        if self._closed:
            return
        if outcome is NO_RESPONSE:
            return
        if outcome is CLOSE_CONNECTION:
            self._close(
                "the handler closed the connection", context.header, level=LogLevel.info
            )
            return
        expected = response_type(context.api_key, context.api_version)
        if type(outcome) is not expected:
            error = TypeError(
                f"the handler returned {outcome!r}, not a {expected.__qualname__}"
            )
            self._handler_failed(entry, context, request, _failure_of(error))
            return
        try:
            self._send(context.header, outcome)
        except (TypeError, ValueError):
            self._handler_failed(entry, context, request, _current_failure())

    def _handler_failed(
        self,
        entry: ApiEntry,
        context: RequestContext,
        request: object,
        failure: Failure,
    ) -> None:
        if self._closed:
            return
        self.stats.handler_errors += 1
        header = context.header
        fields = self._fields(header)
        error = cast(BaseException, failure.value)
        if isinstance(error, KafkaError):
            self._log.debug(
                "{api} version {api_version} answered with {error_name}: {error}",
                error_name=error.name,
                error=error,
                **fields,
            )
        else:
            self._log.failure(
                "Handler of {api} version {api_version} failed on connection "
                "{connection_id}; answering UNKNOWN_SERVER_ERROR",
                failure,
                **fields,
            )
        try:
            response = build_error_response(entry, context, request, error)
            if response is None:
                self._close(f"{fields['api']} has no error response", header)
                return
            self._send(header, response)
        except Exception:
            self._log.failure(
                "Building the error response of {api} version {api_version} failed",
                **fields,
            )
            self._close(f"no error response could be built for {fields['api']}", header)

    def _send(self, header: RequestHeader, response: ResponsePayload) -> None:
        parts = encode_response_parts(header.correlation_id, response)
        self.stats.responses += 1
        self._last_activity = self._reactor.seconds()
        self._writer.write(parts.parts)

    # Flow control, closing and idleness.

    def _writer_drained(self) -> None:
        self._last_activity = self._reactor.seconds()
        self._process_frames()

    def _writer_failed(self, reason: str, peer: bool) -> None:
        self._close(reason, level=LogLevel.info if peer else LogLevel.warn)

    def _update(self) -> None:
        """
        Pause reading while the connection is blocked, resume it when not, and end
        a graceful shutdown once nothing is left to do.
        """
        if self._closed:
            return
        blocked = self._pending is not None or self._writer.busy
        if self._draining and not blocked:
            self._closed = True
            self._writer.stop()
            self._transport.loseConnection()
            return
        if blocked != self._reading_paused:
            self._reading_paused = blocked
            if blocked:
                self._transport.pauseProducing()
            else:
                self._transport.resumeProducing()

    def _fields(self, header: RequestHeader | None) -> dict[str, Any]:
        connection = self.connection
        fields: dict[str, Any] = {
            "connection_id": connection.connection_id,
            "peer": _describe_address(connection.client_address),
            "listener": connection.listener_name,
            "client_software": connection.describe_client_software(),
        }
        if header is not None:
            fields.update(
                api=describe_api(header.api_key),
                api_key=header.api_key,
                api_version=header.api_version,
                correlation_id=header.correlation_id,
                client_id=header.client_id,
            )
        return fields

    def _close(
        self,
        reason: str,
        header: RequestHeader | None = None,
        *,
        level: LogLevel = LogLevel.warn,
        **extra: object,
    ) -> None:
        """
        Close the connection with one log line, sending nothing more.
        """
        if self._closed:
            return
        self._closed = True
        self._frames.clear()
        self._log.emit(
            level,
            "Closing connection {connection_id} from {peer} on listener {listener}: "
            "{reason}",
            reason=reason,
            **self._fields(header),
            **extra,
        )
        self._writer.stop()
        self._transport.loseConnection()

    def _schedule_idle_check(self, delay: float) -> None:
        self._idle_call = self._reactor.callLater(delay, self._check_idle)

    def _check_idle(self) -> None:
        self._idle_call = None
        if self._closed:
            return
        timeout = self._settings.idle_timeout_ms / 1000
        now = self._reactor.seconds()
        if self._pending is not None or self._writer.busy or self._frames:
            self._last_activity = now
        idle = now - self._last_activity
        if idle >= timeout:
            self._close(
                f"idle for {self._settings.idle_timeout_ms} ms "
                "(connections.max.idle.ms)",
                level=LogLevel.info,
            )
            return
        self._schedule_idle_check(timeout - idle)
