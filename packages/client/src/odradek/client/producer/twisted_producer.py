"""
The producer's Twisted face: for code that runs on the reactor, every call returns
a Deferred and nothing blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from odradek.client.config import ProducerConfig
from odradek.client.network.cluster import PartitionInfo
from odradek.client.producer.core import Callback, ProducerCore
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
        self.config = _as_config(config, settings)
        self._core = ProducerCore(self.config, reactor)
        self._core.start()
        self._closing: Deferred[None] | None = None

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
        core = self._core
        count = core.partition_count(record.topic)
        if count is None or (
            record.partition is not None and record.partition >= count
        ):
            waiting = core.metadata.wait_for_topic(
                record.topic, core.config.max_block_ms
            )
            return waiting.addCallback(lambda _: self._append(record, callback))
        return self._append(record, callback)

    def _append(
        self, record: ProducerRecord, callback: Callback | None
    ) -> Deferred[RecordMetadata]:
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
            self._core.append(record, completed)
        except Exception as error:
            if callback is not None:
                callback(None, error)
            return fail(error)
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
        delivered in time fail with C{IllegalStateError}.

        @return: a Deferred that fires when the producer is closed.
        """
        if self._closing is None:
            self._closing = self._core.close(timeout)
        return self._closing

    def __repr__(self) -> str:
        return f"<TwistedProducer {self.config.client_id or ''} {id(self):#x}>"


def _as_config(
    config: Mapping[str, object] | ProducerConfig | None, settings: Mapping[str, object]
) -> ProducerConfig:
    if isinstance(config, ProducerConfig):
        if settings:
            return ProducerConfig({**config.originals, **_dotted(settings)})
        return config
    return ProducerConfig(config or {}, **settings)


def _dotted(settings: Mapping[str, object]) -> dict[str, object]:
    return {key.replace("_", "."): value for key, value in settings.items()}
