"""
Writing responses to a connection, file regions included, with backpressure.

L{ResponseWriter} is the producer of a connection's output. It is registered with
the transport as a streaming producer, so that the transport tells it when its write
buffer is full (C{pauseProducing}) and when it has drained (C{resumeProducing}); the
server stops reading requests while the writer is paused.

Bytes are handed to the transport. File regions take one of two paths:

  - on a plain TCP transport (a C{twisted.internet.tcp.Connection} without TLS) they
    go from the page cache to the socket with C{os.sendfile}. The transport's own
    write buffer must be empty first, or bytes would be sent out of order, and Twisted
    has no public way to ask whether it is. But a I{pull} producer's
    C{resumeProducing} is called exactly when that buffer has drained (see
    C{FileDescriptor.doWrite}). So for a response with regions the writer registers
    itself again as a pull producer and asks the transport for a write event
    (C{startWriting}); once called back it owns the socket, whose buffer is empty, and
    writes the rest of the response itself: regions with C{os.sendfile} and the bytes
    between them with C{socket.send}. When the socket is full (C{EAGAIN}) it asks for
    the next write event the same way. When everything is sent it registers as a
    streaming producer again and hands bytes to the transport as before.
  - on any other transport (TLS, wrappers, C{StringTransport} in tests) a region is
    read with C{os.pread} a chunk at a time and each chunk written as bytes,
    stopping while the transport is paused, so a large region never sits in memory
    whole.

A region whose file ends before its size is a broken promise from the storage layer:
the frame cannot be completed, so the writer reports a failure and the connection is
closed.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from attrs import define, field
from twisted.internet import tcp
from twisted.internet.interfaces import IPullProducer, IPushProducer, ISSLTransport
from zope.interface import implementer

from odradek.broker.server.response import Part, Region

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ConnectionStats",
    "ConsumingTransport",
    "ResponseWriter",
    "can_sendfile",
]

#: How many bytes of a file region are read at a time when it cannot be sent with
#: C{os.sendfile}.
DEFAULT_CHUNK_SIZE = 256 * 1024


class ConsumingTransport(Protocol):
    """
    What the writer needs of a transport: C{ITransport}'s writes and C{IConsumer}'s
    producer registration. Every Twisted transport has both.
    """

    def write(self, data: bytes) -> Any: ...

    def writeSequence(self, data: Iterable[bytes]) -> Any: ...

    def registerProducer(self, producer: Any, streaming: bool) -> Any: ...

    def unregisterProducer(self) -> Any: ...


@define
class ConnectionStats:
    """
    Counters of one connection.

    @ivar requests: requests received (whose header could be read).
    @ivar responses: responses written.
    @ivar handler_errors: requests whose handler failed.
    @ivar bytes_received: bytes read from the peer.
    @ivar bytes_sent: bytes written to the peer, file regions included.
    @ivar bytes_sent_from_files: bytes of file regions sent with C{os.sendfile}.
    """

    requests: int = 0
    responses: int = 0
    handler_errors: int = 0
    bytes_received: int = 0
    bytes_sent: int = 0
    bytes_sent_from_files: int = 0


def can_sendfile(transport: object) -> bool:
    """
    @param transport: a connection's transport.
    @return: whether file regions can be sent on it with C{os.sendfile}: it is a plain
        TCP (or UNIX) socket connection without TLS.
    """
    return (
        hasattr(os, "sendfile")
        and isinstance(transport, tcp.Connection)
        and not ISSLTransport.providedBy(transport)
        and not getattr(transport, "TLS", False)
    )


def _peer_gone(error: OSError) -> bool:
    """
    @return: whether a failed send means the peer's connection is gone, rather
        than a file that could not be read.
    """
    return isinstance(error, ConnectionError) or error.errno == errno.ENOTCONN


@define
class _Progress:
    """
    How much of a file region is left to send.
    """

    fd: int
    position: int
    remaining: int

    @classmethod
    def of(cls, region: Region) -> _Progress:
        return cls(region.fileno(), int(region.position), int(region.size))


@implementer(IPushProducer, IPullProducer)
@define
class ResponseWriter:
    """
    Write response parts to a transport in order; see the module's description.

    @ivar transport: the connection's transport.
    @ivar on_drained: called when the writer, having been busy because of the
        transport (paused, or sending a file region), has written everything.
    @ivar on_failure: called when a response cannot be completed, with a
        description and whether the peer's connection is to blame (a send failed)
        rather than the file (a region could not be read); the connection must be
        closed.
    @ivar stats: the connection's counters, updated with the bytes sent.
    @ivar chunk_size: the size of the reads of a file region that is copied.
    @ivar sendfile: whether to use C{os.sendfile}; by default, whenever
        L{can_sendfile} says the transport allows it.
    """

    transport: ConsumingTransport
    on_drained: Callable[[], object]
    on_failure: Callable[[str, bool], object]
    stats: ConnectionStats = field(factory=ConnectionStats)
    chunk_size: int = DEFAULT_CHUNK_SIZE
    sendfile: bool | None = None
    _queue: deque[Part] = field(factory=deque, init=False)
    _region: _Progress | None = field(default=None, init=False)
    _unsent: memoryview | None = field(default=None, init=False)
    _paused: bool = field(default=False, init=False)
    _pull: bool = field(default=False, init=False)
    _registered: bool = field(default=False, init=False)
    _registering: bool = field(default=False, init=False)
    _stopped: bool = field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        if self.sendfile is None:
            self.sendfile = can_sendfile(self.transport)

    @property
    def busy(self) -> bool:
        """
        Whether parts are waiting to be written, or the transport asked for a pause.
        """
        return bool(
            self._paused
            or self._pull
            or self._queue
            or self._region is not None
            or self._unsent is not None
        )

    def start(self) -> None:
        """
        Register with the transport as its streaming producer.
        """
        self._register(streaming=True)

    def write(self, parts: Iterable[Part]) -> None:
        """
        Write the parts of a response after everything written before.

        @param parts: bytes and file regions.
        """
        if self._stopped:
            return
        self._queue.extend(parts)
        self._pump()

    def stop(self) -> None:
        """
        Drop everything not yet written and unregister from the transport, so that
        the transport can be closed.
        """
        self._discard()
        if self._registered:
            self._registered = False
            self.transport.unregisterProducer()

    # IPushProducer / IPullProducer, called by the transport.

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: stop writing until L{resumeProducing}.
        """
        if not self._pull:
            self._paused = True

    def resumeProducing(self) -> None:
        """
        The transport's buffer has drained (completely, in pull mode).
        """
        if self._registering or self._stopped:
            return
        if self._pull:
            self._send_directly()
            return
        self._paused = False
        self._pump()
        if not self.busy and not self._stopped:
            self.on_drained()

    def stopProducing(self) -> None:
        """
        The connection is gone: drop everything.
        """
        self._registered = False
        self._discard()

    # Internals.

    def _discard(self) -> None:
        self._stopped = True
        self._paused = self._pull = False
        self._queue.clear()
        self._region = None
        self._unsent = None

    def _register(self, streaming: bool) -> None:
        if self._registered:
            self.transport.unregisterProducer()
        self._registering = True
        try:
            self.transport.registerProducer(self, streaming)
        finally:
            self._registering = False
        self._registered = True

    def _pump(self) -> None:
        """
        Hand parts to the transport until there are none, the transport pauses the
        writer, or a region must wait for the transport's buffer to drain.
        """
        queue = self._queue
        while not (self._stopped or self._paused or self._pull):
            if self._region is not None:
                self._copy_chunk(self._region)
                continue
            if not queue:
                return
            part = queue.popleft()
            if isinstance(part, bytes):
                chunks = [part]
                while queue and isinstance(queue[0], bytes):
                    chunks.append(queue.popleft())  # type: ignore[arg-type]
                self.stats.bytes_sent += sum(map(len, chunks))
                if len(chunks) == 1:
                    self.transport.write(part)
                else:
                    self.transport.writeSequence(chunks)
                continue
            self._region = _Progress.of(part)
            if self.sendfile and not ISSLTransport.providedBy(self.transport):
                self._pull = True
                self._register(streaming=False)
                self.transport.startWriting()  # type: ignore[attr-defined]

    def _copy_chunk(self, progress: _Progress) -> None:
        size = min(self.chunk_size, progress.remaining)
        try:
            data = os.pread(progress.fd, size, progress.position)
        except OSError as error:
            self._fail(f"cannot read a file region: {error}")
            return
        if not data:
            self._fail(
                f"a file region ends {progress.remaining} bytes early at position "
                f"{progress.position}"
            )
            return
        progress.position += len(data)
        progress.remaining -= len(data)
        if not progress.remaining:
            self._region = None
        self.stats.bytes_sent += len(data)
        self.transport.write(data)

    def _send_directly(self) -> None:
        """
        Write the rest of the queue straight to the socket, whose Twisted buffer is
        empty; see the module's description.
        """
        sock = self.transport.getHandle()  # type: ignore[attr-defined]
        out_fd = sock.fileno()
        queue = self._queue
        stats = self.stats
        while True:
            try:
                if self._unsent is not None:
                    sent = sock.send(self._unsent)
                    stats.bytes_sent += sent
                    rest = self._unsent[sent:]
                    self._unsent = rest if rest.nbytes else None
                elif self._region is not None:
                    region = self._region
                    sent = os.sendfile(
                        out_fd, region.fd, region.position, region.remaining
                    )
                    if not sent:
                        self._fail(
                            f"a file region ends {region.remaining} bytes early at "
                            f"position {region.position}"
                        )
                        return
                    region.position += sent
                    region.remaining -= sent
                    stats.bytes_sent += sent
                    stats.bytes_sent_from_files += sent
                    if not region.remaining:
                        self._region = None
                elif not queue:
                    break
                else:
                    part = queue.popleft()
                    if isinstance(part, bytes):
                        chunks = [part]
                        while queue and isinstance(queue[0], bytes):
                            chunks.append(queue.popleft())  # type: ignore[arg-type]
                        self._unsent = memoryview(b"".join(chunks))
                    else:
                        self._region = _Progress.of(part)
            except BlockingIOError:
                self.transport.startWriting()  # type: ignore[attr-defined]
                return
            except OSError as error:
                self._fail(f"cannot send a response: {error}", _peer_gone(error))
                return
        self._pull = False
        self._register(streaming=True)
        self.on_drained()

    def _fail(self, reason: str, peer: bool = False) -> None:
        self.stop()
        self.on_failure(reason, peer)
