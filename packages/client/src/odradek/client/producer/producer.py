"""
The producer's blocking face, for ordinary (threaded) applications.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType

from odradek.client.blocking import ReactorThread
from odradek.client.config import ProducerConfig
from odradek.client.network.cluster import PartitionInfo
from odradek.client.producer.core import Callback, MissingMetadata, ProducerCore
from odradek.client.producer.future import FutureRecordMetadata
from odradek.client.structs import ProducerRecord

__all__ = ["Producer"]


class Producer:
    """
    A Kafka producer for ordinary Python code; every method is thread-safe.

    The network I/O runs on a reactor in a background thread the SDK owns (or on
    the application's running reactor). C{send} does not hop to that thread: it
    serializes, partitions and appends the record on the caller's thread and
    returns at once; batches go out when full or after C{linger.ms}.

    Example::

        producer = Producer({"bootstrap.servers": "localhost:9092",
                             "value.serializer": "str"})
        producer.send(ProducerRecord("orders", value="fire and forget"))
        metadata = producer.send(ProducerRecord("orders", value="sync")).get(10)
        producer.send(ProducerRecord("orders", value="async"),
                      callback=lambda metadata, error: ...)
        producer.close()

    @ivar config: the producer's configuration.
    """

    def __init__(
        self,
        config: Mapping[str, object] | ProducerConfig | None = None,
        *,
        reactor_thread: ReactorThread | None = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names (C{"bootstrap.servers"}), or a
            L{ProducerConfig}.
        @param reactor_thread: the reactor thread to run I/O on; the SDK's shared
            one by default.
        @param settings: more settings as keyword arguments (C{linger_ms=5}).
        @raise odradek.client.config.ConfigError: for an unknown key or a bad value.
        """
        self.config = ProducerConfig.of(config, settings)
        self._thread = reactor_thread or ReactorThread.shared()
        self._core: ProducerCore = self._thread.call(self._make_core)
        self._closed = False

    def _make_core(self) -> ProducerCore:
        core = ProducerCore(self.config, self._thread.reactor)
        core.start()
        return core

    def send(
        self, record: ProducerRecord, callback: Callback | None = None
    ) -> FutureRecordMetadata:
        """
        Send a record: return at once with a future of its metadata.

        Block on C{send(record).get(timeout)} for a synchronous send; pass a
        C{callback} for an asynchronous one; ignore the result to fire and forget.
        C{send} itself blocks only while the topic's metadata is fetched the first
        time, or while C{buffer.memory} is full, for at most C{max.block.ms}.

        @param record: the record.
        @param callback: called on the producer's I/O thread with
            C{(metadata, None)} once the broker stored the record, or
            C{(None, error)}; keep it short.
        @return: the record's future.
        @raise odradek.client.errors.IllegalStateError: after C{close()}.
        @raise odradek.client.errors.RecordTooLargeError: if the serialized record
            exceeds C{max.request.size} or C{buffer.memory}.
        @raise odradek.client.errors.RequestTimedOutError: if the topic's metadata
            or room in the buffer did not come within C{max.block.ms}.
        """
        try:
            return self._core.append(record, callback)
        except MissingMetadata:
            # Wait (max.block.ms at most) for the topic, then try once more.
            self._wait_for_topic(record.topic)
        return self._core.append(record, callback)

    def _wait_for_topic(self, topic: str) -> None:
        core = self._core
        max_block_ms = core.config.max_block_ms
        self._thread.call(
            core.metadata.wait_for_topic,
            topic,
            max_block_ms,
            timeout=max_block_ms / 1000 + 5,
        )

    def flush(self, timeout: float | None = None) -> None:
        """
        Send every waiting record now and block until each was delivered or failed.

        @param timeout: seconds to wait at most; C{None} waits as long as it takes.
        @raise odradek.client.errors.RequestTimedOutError: if records are still in
            flight after C{timeout}.
        """
        self._thread.call(self._core.flush, timeout=timeout)

    def partitions_for(self, topic: str) -> list[PartitionInfo]:
        """@return: the partitions of C{topic}, fetching its metadata if needed."""
        self._wait_for_topic(topic)
        return list(self._core.metadata.current.partitions_for_topic(topic))

    def close(self, timeout: float | None = None) -> None:
        """
        Stop taking records, deliver those sent (for at most C{timeout} seconds;
        C{None} waits as long as it takes), fail the rest, release connections.
        Closing twice is harmless.
        """
        if self._closed:
            return
        wait = None if timeout is None else timeout + 5
        self._thread.call(self._core.close, timeout, timeout=wait)
        self._closed = True

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Producer {self._core.client_id} {id(self):#x}>"
