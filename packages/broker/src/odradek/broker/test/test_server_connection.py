"""
Tests for L{odradek.broker.server.protocol}'s handling of the connection itself:
request order, flow control, loss, idleness, shutdown and counters.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from odradek.broker.apis import HandlerRegistry
from odradek.broker.server import KafkaServerProtocol, ServerSettings
from odradek.broker.test._servertools import (
    METADATA,
    api_versions_frame,
    connect,
    handler_returning,
    metadata_request,
    metadata_response,
    registry_with,
    request_frame,
    responses,
)


class OrderingTests(SynchronousTestCase):
    """
    Requests are processed one at a time, and answered in order.
    """

    def test_later_deferred_keeps_order(self) -> None:
        """
        Requests pipelined behind a handler's unfired Deferred wait for it; the
        responses come out in request order and reading is paused meanwhile.
        """
        waiting: Deferred[Any] = Deferred()
        calls: list[int] = []

        def handler(context: Any, request: Any) -> Any:
            calls.append(context.correlation_id)
            return waiting if context.correlation_id == 1 else metadata_response()

        connection = connect(registry_with(handler))
        connection.feed(
            request_frame(metadata_request(), 1)
            + request_frame(metadata_request(), 2)
            + api_versions_frame(0, 3)
        )
        self.assertEqual(calls, [1])
        self.assertEqual(connection.transport.value(), b"")
        self.assertTrue(connection.paused)
        waiting.callback(metadata_response())
        self.assertEqual(calls, [1, 2])
        answered = responses(
            connection.transport.value(), (METADATA, 5), (METADATA, 5), (18, 0)
        )
        self.assertEqual([cid for cid, _ in answered], [1, 2, 3])
        self.assertFalse(connection.paused)

    def test_transport_backpressure(self) -> None:
        """
        While the transport has paused the connection's writer, no request is
        processed and reading is paused; resuming it continues.
        """
        connection = connect()
        connection.writer.pauseProducing()
        connection.feed(api_versions_frame(0, 1))
        self.assertEqual(connection.transport.value(), b"")
        self.assertTrue(connection.paused)
        connection.writer.resumeProducing()
        self.assertEqual(len(responses(connection.transport.value(), (18, 0))), 1)
        self.assertFalse(connection.paused)


class ConnectionLostTests(SynchronousTestCase):
    """
    A connection lost with a request in progress cleans up after itself.
    """

    def test_cancels_pending_request(self) -> None:
        """
        The in-flight Deferred is cancelled and its C{CancelledError} consumed.
        """
        cancelled: list[object] = []
        waiting: Deferred[Any] = Deferred(cancelled.append)
        connection = connect(registry_with(handler_returning(waiting)))
        connection.feed(request_frame(metadata_request()))
        connection.lose()
        self.assertEqual(cancelled, [waiting])
        # The CancelledError reached the connection, which consumed it.
        self.assertIsNone(self.successResultOf(waiting))
        self.assertEqual(connection.transport.value(), b"")

    def test_result_after_loss_is_dropped(self) -> None:
        """
        A response the cancelled Deferred still fires with is not written.
        """
        waiting: Deferred[Any] = Deferred(lambda d: d.callback(metadata_response()))
        connection = connect(registry_with(handler_returning(waiting)))
        connection.feed(request_frame(metadata_request()))
        connection.lose()
        self.assertIsNone(self.successResultOf(waiting))
        self.assertEqual(connection.transport.value(), b"")

    def test_no_timer_left(self) -> None:
        """
        No delayed call is left behind.
        """
        connection = connect()
        self.assertEqual(len(connection.clock.getDelayedCalls()), 1)
        connection.lose()
        self.assertEqual(connection.clock.getDelayedCalls(), [])


class IdleTests(SynchronousTestCase):
    """
    Connections idle for C{connections.max.idle.ms} are closed.
    """

    def test_idle_closes(self) -> None:
        """
        A connection without traffic is closed after the timeout, with an info line.
        """
        connection = connect(settings=ServerSettings(idle_timeout_ms=10_000))
        connection.clock.advance(9.999)
        self.assertFalse(connection.closed)
        connection.clock.advance(0.001)
        self.assertTrue(connection.closed)
        [event] = [e for e in connection.events if "reason" in e]
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertIn("connections.max.idle.ms", event["reason"])

    def test_traffic_postpones(self) -> None:
        """
        A request restarts the idle time.
        """
        connection = connect(settings=ServerSettings(idle_timeout_ms=10_000))
        connection.clock.advance(6)
        connection.feed(api_versions_frame(0))
        connection.clock.advance(6)
        self.assertFalse(connection.closed)
        connection.clock.advance(4)
        self.assertTrue(connection.closed)

    def test_request_in_progress_is_not_idle(self) -> None:
        """
        A connection waiting for a handler is not idle.
        """
        waiting: Deferred[Any] = Deferred()
        connection = connect(
            registry_with(handler_returning(waiting)),
            ServerSettings(idle_timeout_ms=1000),
        )
        connection.feed(request_frame(metadata_request()))
        connection.clock.pump([1] * 5)
        self.assertFalse(connection.closed)
        waiting.callback(metadata_response())
        connection.clock.advance(1)
        self.assertTrue(connection.closed)

    def test_negative_disables(self) -> None:
        """
        A negative timeout schedules nothing.
        """
        connection = connect(settings=ServerSettings(idle_timeout_ms=-1))
        self.assertEqual(connection.clock.getDelayedCalls(), [])


class ShutdownTests(SynchronousTestCase):
    """
    L{KafkaServerProtocol.shutdown} finishes the request in progress, then closes.
    """

    def test_waits_for_request(self) -> None:
        """
        The connection closes after the in-flight request is answered; requests
        behind it are dropped.
        """
        waiting: Deferred[Any] = Deferred()
        connection = connect(registry_with(handler_returning(waiting)))
        connection.feed(request_frame(metadata_request(), 1) + api_versions_frame(0))
        done = connection.protocol.shutdown()
        self.assertNoResult(done)
        self.assertFalse(connection.closed)
        waiting.callback(metadata_response())
        self.assertTrue(connection.closed)
        self.assertEqual(len(responses(connection.transport.value(), (3, 5))), 1)
        connection.lose()
        self.successResultOf(done)

    def test_idle_connection(self) -> None:
        """
        An idle connection closes at once and ignores further bytes.
        """
        connection = connect()
        done = connection.protocol.shutdown()
        self.assertTrue(connection.closed)
        connection.feed(api_versions_frame(0))
        self.assertEqual(connection.transport.value(), b"")
        connection.lose()
        self.successResultOf(done)
        self.successResultOf(connection.protocol.shutdown())


@implementer(ITCPTransport)
class TCPStringTransport(StringTransport):
    """
    A C{StringTransport} that records the TCP options set on it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.options: dict[str, bool] = {}

    def setTcpNoDelay(self, enabled: bool) -> None:
        self.options["nodelay"] = enabled

    def setTcpKeepAlive(self, enabled: bool) -> None:
        self.options["keepalive"] = enabled

    def getTcpNoDelay(self) -> bool:
        return self.options.get("nodelay", False)

    def getTcpKeepAlive(self) -> bool:
        return self.options.get("keepalive", False)

    def loseWriteConnection(self) -> None:
        pass


class SocketOptionsTests(SynchronousTestCase):
    """
    TCP connections get Kafka's socket options.
    """

    def test_nodelay_and_keepalive(self) -> None:
        """
        C{TCP_NODELAY} and C{SO_KEEPALIVE} are set on TCP transports.
        """
        protocol = KafkaServerProtocol(HandlerRegistry(), ServerSettings(), Clock())
        transport = TCPStringTransport()
        protocol.makeConnection(transport)
        self.assertEqual(transport.options, {"nodelay": True, "keepalive": True})
        protocol.connectionLost()


class StatsTests(SynchronousTestCase):
    """
    Each connection counts its traffic.
    """

    def test_counts(self) -> None:
        """
        Requests, responses and bytes both ways are counted.
        """
        connection = connect()
        frames = api_versions_frame(0, 1) + api_versions_frame(3, 2)
        connection.feed(frames)
        stats = connection.protocol.stats
        self.assertEqual((stats.requests, stats.responses), (2, 2))
        self.assertEqual(stats.bytes_received, len(frames))
        self.assertEqual(stats.bytes_sent, len(connection.transport.value()))
        self.assertEqual(stats.bytes_sent_from_files, 0)
