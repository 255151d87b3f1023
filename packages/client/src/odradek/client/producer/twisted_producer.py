"""
The producer's Twisted face: for code that runs on the reactor, every call returns
a Deferred and nothing blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.config import ProducerConfig
from odradek.client.network.cluster import PartitionInfo
from odradek.client.producer.core import (
    CLOSED_MESSAGE,
    Callback,
    MissingMetadata,
    ProducerCore,
)
from odradek.client.structs import ProducerRecord, RecordMetadata

__all__ = ["TwistedProducer"]

_log = Logger()


class TwistedProducer:
    """
    A Kafka producer for code running on the Twisted reactor.

    Example::

        producer = TwistedProducer(
            {"bootstrap.servers": "localhost:9092"}, reactor=reactor
        )
        metadata = await producer.send(ProducerRecord("orders", value=b"x"))
        await producer.close()

    @ivar config: the producer's configuration.
    """

    def __init__(
        self,
        config: Mapping[str, object] | ProducerConfig | None = None,
        *,
        reactor: Any = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names (C{"bootstrap.servers"}), or a
            L{ProducerConfig}.
        @param reactor: the reactor to run on; the global one by default.
        @param settings: more settings as keyword arguments (C{linger_ms=5}).
        @raise odradek.client.config.ConfigError: for an unknown key or a bad value.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.config = ProducerConfig.of(config, settings)
        self._core = ProducerCore(self.config, reactor)
        self._core.start()
        self._closing: Deferred[None] | None = None
        self._waiting: set[Deferred[Any]] = set()

    @property
    def core(self) -> ProducerCore:
        """The core this face drives (shared with the blocking face)."""
        return self._core

    def send(
        self, record: ProducerRecord, callback: Callback | None = None
    ) -> Deferred[RecordMetadata]:
        """
        Send a record.

        @param record: the record.
        @param callback: called with C{(metadata, None)} once the broker stored the
            record, or C{(None, error)} if it could not be delivered.
        @return: a Deferred that fires with the record's L{RecordMetadata}, or fails
            with the error that stopped it (an error the broker returned, a
            L{RecordTooLargeError<odradek.client.errors.RecordTooLargeError>}, a
            time-out ...).
        """
        if self._core.closed:
            return self._refused(errors.IllegalStateError(CLOSED_MESSAGE), callback)
        return self._append(record, callback, wait=True)

    def _wait_then_append(
        self, record: ProducerRecord, callback: Callback | None
    ) -> Deferred[RecordMetadata]:
        """Wait (C{max.block.ms} at most) for the record's topic, then append."""
        core = self._core
        waiting: Deferred[Any] = core.metadata.wait_for_topic(
            record.topic, core.config.max_block_ms
        )
        self._waiting.add(waiting)

        def known(_: object) -> Deferred[RecordMetadata]:
            self._waiting.discard(waiting)
            return self._append(record, callback, wait=False)

        def failed(failure: Failure) -> Deferred[RecordMetadata]:
            self._waiting.discard(waiting)
            error = failure.value
            if isinstance(error, CancelledError) and core.closed:
                error = errors.IllegalStateError(CLOSED_MESSAGE)
            assert error is not None
            return self._refused(error, callback)

        return waiting.addCallbacks(known, failed)

    def _refused(
        self, error: BaseException, callback: Callback | None
    ) -> Deferred[RecordMetadata]:
        """Tell the callback, if any, that a record was not taken."""
        if callback is not None:
            try:
                callback(None, error)
            except Exception:
                _log.failure("A send callback raised")
        return fail(error)

    def _append(
        self, record: ProducerRecord, callback: Callback | None, *, wait: bool
    ) -> Deferred[RecordMetadata]:
        """
        Append a record; if its topic's metadata is missing and C{wait}, wait for
        it first.
        """
        d: Deferred[RecordMetadata] = Deferred()

        def completed(
            metadata: RecordMetadata | None, error: BaseException | None
        ) -> None:
            if callback is not None:
                try:
                    callback(metadata, error)
                except Exception:
                    _log.failure("A send callback raised")
            if error is not None:
                d.errback(error)
            else:
                assert metadata is not None
                d.callback(metadata)

        try:
            # On the reactor thread nothing can free buffer.memory while we wait.
            self._core.append(record, completed, max_block_ms=0)
        except MissingMetadata as error:
            if wait:
                return self._wait_then_append(record, callback)
            return self._refused(error, callback)
        except Exception as error:
            return self._refused(error, callback)
        return d

    def flush(self) -> Deferred[None]:
        """
        @return: a Deferred that fires once every record sent so far was delivered
            or failed.
        """
        core = self._core
        return core.flush()

    def partitions_for(self, topic: str) -> Deferred[list[PartitionInfo]]:
        """
        @return: a Deferred firing with the partitions of C{topic} (fetching its
            metadata first if needed).
        """
        core = self._core
        d = core.metadata.wait_for_topic(topic, core.config.max_block_ms)
        return d.addCallback(lambda cluster: list(cluster.partitions_for_topic(topic)))

    def close(self, timeout: float | None = None) -> Deferred[None]:
        """
        Stop taking records, deliver what was sent (for at most C{timeout} seconds;
        C{None} waits as long as it takes) and release the connections. Records not
        delivered in time fail with C{IllegalStateError}. Closing again returns
        the same Deferred; with a C{timeout} of 0 it cuts the first close short.

        @param timeout: seconds to deliver for at most; C{None} waits as long as
            it takes, 0 fails the records not yet delivered at once.
        @return: a Deferred that fires when the producer is closed.
        """
        if self._closing is None:
            self._closing = self._core.close(timeout)
            # Sends still waiting for their topic's metadata fail now.
            for waiting in list(self._waiting):
                waiting.cancel()
        elif timeout is not None and timeout <= 0:
            self._core.close(timeout)
        return self._closing

    def __repr__(self) -> str:
        return f"<TwistedProducer {self._core.client_id} {id(self):#x}>"
