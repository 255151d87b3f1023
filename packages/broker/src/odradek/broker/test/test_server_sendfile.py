"""
Tests for L{odradek.broker.server.output}: responses with file regions written by
copying (on a C{StringTransport}) or with C{os.sendfile} (on a real non-blocking
socket of a C{socketpair}, driven by hand through a C{MemoryReactorClock}).
"""

from __future__ import annotations

import os
import socket
from typing import Any, cast

from kio.static.primitive import Records
from twisted.internet import tcp
from twisted.internet.interfaces import ISSLTransport
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import directlyProvides

from odradek.broker.apis import HandlerRegistry, register_api_versions
from odradek.broker.server import (
    ConnectionStats,
    KafkaServerProtocol,
    ResponseWriter,
    ServerSettings,
    can_sendfile,
    records_region,
)
from odradek.broker.test._servertools import (
    CLIENT_ADDRESS,
    SERVER_ADDRESS,
    TempFile,
    api_versions_frame,
    connect,
    fetch_registry,
    fetch_request_frame,
    fetch_response,
    read_frames,
)
from odradek.client.protocol import decode_response, encode_frame, encode_response


class CopyingWriterTests(SynchronousTestCase):
    """
    Without C{os.sendfile} (here, on a C{StringTransport}) regions are read and
    written as bytes, a chunk at a time.
    """

    def writer_failed(self, reason: str, peer: bool) -> None:
        self.fail(f"the writer failed: {reason}")

    def test_response_with_regions(self) -> None:
        """
        A handler's response with regions of a real file is written whole.
        """
        temp = TempFile(self, os.urandom(5000))
        regions = [temp.region(0, 1000), temp.region(1000, 4000)]
        response = fetch_response(12, [records_region(r) for r in regions])
        connection = connect(fetch_registry(response))
        connection.feed(fetch_request_frame(4))
        real = fetch_response(
            12, [Records(temp.content[:1000]), Records(temp.content[1000:])]
        )
        self.assertEqual(
            connection.transport.value(), encode_frame(encode_response(4, real))
        )
        self.assertEqual(connection.protocol.stats.bytes_sent_from_files, 0)
        self.assertEqual(
            connection.protocol.stats.bytes_sent, len(connection.transport.value())
        )

    def test_chunks_and_pause(self) -> None:
        """
        A paused transport stops the copy after the current chunk; resuming goes
        on from there.
        """
        temp = TempFile(self, bytes(range(256)) * 40)
        transport = StringTransport()
        drained: list[bool] = []
        writer = ResponseWriter(
            transport, lambda: drained.append(True), self.writer_failed, chunk_size=1000
        )
        writer.start()
        writer.write([b"head", temp.region(100, 9000), b"tail"])
        self.assertEqual(transport.value(), b"head" + temp.content[100:9100] + b"tail")
        transport.clear()
        writer.pauseProducing()
        writer.write([temp.region(0, 2500), b"end"])
        self.assertEqual(transport.value(), b"")
        self.assertTrue(writer.busy)
        writer.resumeProducing()
        self.assertEqual(transport.value(), temp.content[:2500] + b"end")
        self.assertEqual(drained, [True])

    def test_pause_during_copy(self) -> None:
        """
        A transport that pauses the writer during a write stops the copy at that
        chunk.
        """
        temp = TempFile(self, b"z" * 3000)

        class PausingTransport(StringTransport):
            def write(self, data: bytes) -> None:
                super().write(data)
                cast(Any, self.producer).pauseProducing()

        transport = PausingTransport()
        writer = ResponseWriter(
            transport, lambda: None, self.writer_failed, chunk_size=1000
        )
        writer.start()
        writer.write([temp.region(0, 3000)])
        self.assertEqual(len(transport.value()), 1000)
        writer.resumeProducing()
        self.assertEqual(len(transport.value()), 2000)

    def test_truncated_file(self) -> None:
        """
        A region past the end of its file closes the connection with one log line.
        """
        temp = TempFile(self, b"short")
        response = fetch_response(12, [records_region(temp.region(0, 50))])
        connection = connect(fetch_registry(response))
        connection.feed(fetch_request_frame())
        self.assertTrue(connection.closed)
        [warning] = connection.warnings()
        self.assertIn("ends 45 bytes early", warning["reason"])


class _SocketServer(tcp.Server):
    """
    A TCP server connection on one end of a UNIX socketpair, with made-up
    addresses.
    """

    def getHost(self) -> Any:
        return SERVER_ADDRESS

    def getPeer(self) -> Any:
        return CLIENT_ADDRESS

    def setTcpNoDelay(self, enabled: bool) -> None:
        pass  # a UNIX socket has no such option

    def setTcpKeepAlive(self, enabled: bool) -> None:
        pass  # a UNIX socket has no such option


class SendfileTests(SynchronousTestCase):
    """
    On a plain socket transport, regions are sent with C{os.sendfile} once the
    transport's buffer has drained, waiting for writability when the socket is full.
    """

    def writer_failed(self, reason: str, peer: bool) -> None:
        self.fail(f"the writer failed: {reason}")

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        server_socket, self.peer = socket.socketpair()
        self.addCleanup(self.peer.close)
        self.addCleanup(server_socket.close)
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.peer.setblocking(False)
        self.received = bytearray()
        self.server_socket = server_socket

    def connect(self, registry: HandlerRegistry) -> KafkaServerProtocol:
        self.events: list[dict[str, Any]] = []
        protocol = KafkaServerProtocol(
            registry,
            ServerSettings(),
            self.reactor,
            log=Logger(observer=cast(ILogObserver, self.events.append)),
        )
        self.transport = _SocketServer(
            self.server_socket,
            protocol,
            ("10.0.0.7", 51234),
            cast(Any, None),
            1,
            self.reactor,
        )
        protocol.makeConnection(self.transport)
        return protocol

    def drain(self) -> int:
        """
        Read what the peer can, and run the transport's write events, until it has
        none pending or the connection ends.

        @return: how many write events were run.
        """
        events = 0
        while True:
            while True:
                try:
                    data = self.peer.recv(65536)
                except BlockingIOError:
                    break
                self.received += data
            if self.transport not in self.reactor.writers:
                return events
            events += 1
            why = self.transport.doWrite()
            if why is not None:
                # What the reactor does when a write event ends the connection.
                self.reactor.removeWriter(self.transport)
                self.transport.connectionLost(Failure(why))
                return events

    def test_can_sendfile(self) -> None:
        """
        Socket transports can use C{os.sendfile}; TLS and test transports cannot.
        """
        self.connect(HandlerRegistry())
        self.assertTrue(can_sendfile(self.transport))
        self.assertFalse(can_sendfile(StringTransport()))
        directlyProvides(self.transport, ISSLTransport)
        self.assertFalse(can_sendfile(self.transport))

    def test_large_region(self) -> None:
        """
        A response with a region far larger than the socket's buffer is sent whole
        with C{os.sendfile}, over many write events, and the connection goes back to
        plain writes afterwards.
        """
        temp = TempFile(self, os.urandom(2_000_000))
        regions = [temp.region(0, 1_500_000), temp.region(1_500_000, 500_000)]
        response = fetch_response(12, [records_region(r) for r in regions])
        registry = fetch_registry(response)
        register_api_versions(registry)
        protocol = self.connect(registry)
        protocol.dataReceived(fetch_request_frame(6))
        self.assertTrue(protocol._writer.busy)
        self.assertGreater(self.drain(), 2)
        real = fetch_response(
            12, [Records(temp.content[:1_500_000]), Records(temp.content[1_500_000:])]
        )
        expected = encode_frame(encode_response(6, real))
        self.assertEqual(bytes(self.received), expected)
        self.assertEqual(protocol.stats.bytes_sent_from_files, 2_000_000)
        self.assertEqual(protocol.stats.bytes_sent, len(expected))
        self.assertFalse(protocol._writer.busy)
        self.assertTrue(self.transport.streamingProducer)

        self.received.clear()
        protocol.dataReceived(api_versions_frame(0, 7))
        self.drain()
        self.assertEqual(len(read_frames(bytes(self.received))), 1)

    def test_pipelined_behind_region(self) -> None:
        """
        Requests behind a response with regions are answered after it, in order.
        """
        temp = TempFile(self, os.urandom(300_000))
        response = fetch_response(12, [records_region(temp.region(0, 300_000))])
        registry = fetch_registry(response)
        register_api_versions(registry)
        protocol = self.connect(registry)

        protocol.dataReceived(fetch_request_frame(1) + api_versions_frame(0, 2))
        self.drain()
        frames = read_frames(bytes(self.received))
        self.assertEqual(len(frames), 2)
        self.assertEqual(decode_response(frames[1], 18, 0)[0], 2)
        self.assertEqual(protocol.stats.bytes_sent_from_files, 300_000)

    def test_truncated_file(self) -> None:
        """
        A region past the end of its file stops the response and closes the
        connection.
        """
        temp = TempFile(self, b"tiny")
        response = fetch_response(12, [records_region(temp.region(0, 100))])
        protocol = self.connect(fetch_registry(response))
        protocol.dataReceived(fetch_request_frame())
        self.drain()
        self.assertTrue(self.transport.disconnected)
        self.assertIsNone(self.transport.producer)
        [frame_start] = [bytes(self.received)]
        self.assertLess(len(frame_start), 100)

    def test_writer_stats(self) -> None:
        """
        A writer made without stats counts in its own.
        """
        writer = ResponseWriter(StringTransport(), lambda: None, self.writer_failed)
        writer.start()
        writer.write([b"abc"])
        self.assertEqual(writer.stats, ConnectionStats(bytes_sent=3))

    def test_peer_gone(self) -> None:
        """
        A peer that went away while a region was being sent closes the connection
        with an info line, not a warning. (Twisted's empty write usually notices
        first; here the writer is called back as if it had not.)
        """
        temp = TempFile(self, os.urandom(500_000))
        response = fetch_response(12, [records_region(temp.region(0, 500_000))])
        protocol = self.connect(fetch_registry(response))
        protocol.dataReceived(fetch_request_frame())
        self.assertIsNone(self.transport.doWrite())  # the header, then sendfile
        self.assertGreater(protocol.stats.bytes_sent_from_files, 0)
        self.assertTrue(protocol._writer.busy)
        self.peer.close()
        cast(Any, self.transport.producer).resumeProducing()
        self.assertTrue(self.transport.disconnecting)
        self.drain_without_peer()
        self.assertTrue(self.transport.disconnected)
        [event] = [e for e in self.events if "reason" in e]
        self.assertEqual(event["log_level"], LogLevel.info)
        self.assertIn("cannot send a response", event["reason"])

    def drain_without_peer(self) -> None:
        """
        Run write events until none is pending or the connection ends.
        """
        while self.transport in self.reactor.writers:
            why = self.transport.doWrite()
            if why is not None:
                self.reactor.removeWriter(self.transport)
                self.transport.connectionLost(Failure(why))

    def test_backpressure(self) -> None:
        """
        Responses larger than the transport's buffer pause the connection's
        reading until they are written; then the next request is read.
        """
        big = fetch_response(12, [Records(b"m" * 200_000)])
        registry = fetch_registry(big)
        register_api_versions(registry)
        protocol = self.connect(registry)
        protocol.dataReceived(fetch_request_frame(1) + api_versions_frame(0, 2))
        self.assertTrue(protocol._writer.busy)
        self.assertNotIn(self.transport, self.reactor.readers)
        self.drain()
        self.assertIn(self.transport, self.reactor.readers)
        frames = read_frames(bytes(self.received))
        self.assertEqual(
            [
                decode_response(frame, *key)[0]
                for frame, key in zip(frames, [(1, 12), (18, 0)], strict=True)
            ],
            [1, 2],
        )
