"""
The consumer's Twisted face: for code that runs on the reactor, every call that
waits returns a Deferred, and nothing blocks.

The rebalance listener's hooks run on the reactor thread; a hook may return a
Deferred (say, of a commit), and the rebalance waits for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred

from odradek.client import errors
from odradek.client.config import ConsumerConfig
from odradek.client.consumer.core import CommitCallback, ConsumerCore, call_listener
from odradek.client.network.cluster import PartitionInfo
from odradek.client.structs import (
    ConsumerRecord,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    TopicPartition,
)

__all__ = ["TwistedConsumer"]


class TwistedConsumer:
    """
    A Kafka consumer for code running on the Twisted reactor.

    Example::

        consumer = TwistedConsumer({"bootstrap.servers": "localhost:9092",
                                    "group.id": "billing"}, reactor=reactor)
        consumer.subscribe(["orders"])
        while running:
            for record in await consumer.poll(1.0):
                handle(record)
            await consumer.commit()
        await consumer.close()

    @ivar config: the consumer's configuration.
    """

    def __init__(
        self,
        config: Mapping[str, object] | ConsumerConfig | None = None,
        *,
        reactor: Any = None,
        **settings: object,
    ) -> None:
        """
        @param config: settings by Kafka's names, or a L{ConsumerConfig}.
        @param reactor: the reactor to run on; the global one by default.
        @param settings: more settings as keyword arguments.
        @raise odradek.client.config.ConfigError: for an unknown key or a bad value.
        """
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.config = ConsumerConfig.of(config, settings)
        self._reactor = reactor
        self._core = ConsumerCore(
            self.config,
            reactor,
            invoke_listener=self._invoke_listener,
            run_callback=_run_now,
        )
        self._core.on_event = self._event
        self._waiting: Deferred[None] | None = None
        self._woken = False
        self._core.start()

    @property
    def core(self) -> ConsumerCore:
        """The core this face drives."""
        return self._core

    def _invoke_listener(
        self, hook: str, partitions: list[TopicPartition]
    ) -> Deferred[None]:
        listener = self._core.subscriptions.listener
        return maybeDeferred(call_listener, listener, hook, partitions).addCallback(
            lambda _: None
        )

    def _event(self) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.callback(None)

    def _timeout_ms(self, timeout: float | None) -> int:
        if timeout is None:
            return int(self.config.default_api_timeout_ms)
        if timeout < 0:
            raise ValueError(f"Timeout must not be negative: {timeout}")
        return int(timeout * 1000)

    # -- subscribing

    def subscribe(
        self, topics: Iterable[str] | str | re.Pattern[str], listener: object = None
    ) -> None:
        """
        Join the group to consume these topics (or those matching a compiled
        pattern); see L{odradek.client.consumer.consumer.Consumer.subscribe}.
        """
        if isinstance(topics, re.Pattern):
            self._core.subscribe_pattern(topics, listener)
        else:
            self._core.subscribe(topics, listener)

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """Consume exactly these partitions, without a group rebalance."""
        self._core.assign(partitions)

    def assignment(self) -> set[TopicPartition]:
        """@return: the partitions assigned now."""
        return self._core.assignment()

    def subscription(self) -> set[str]:
        """@return: the topics subscribed to."""
        return self._core.subscription()

    def unsubscribe(self) -> Deferred[None]:
        """Drop the subscription or assignment, leaving the group."""
        return self._core.unsubscribe()

    # -- polling

    def poll(self, timeout: float) -> Deferred[list[ConsumerRecord]]:
        """
        @param timeout: seconds to wait at most for records.
        @return: a Deferred firing with the records fetched since the last poll
            (maybe none), or failing with the error the consumer met, or with
            L{WakeupError<odradek.client.errors.WakeupError>} after L{wakeup}.
        """
        if timeout < 0:
            raise ValueError(f"Timeout must not be negative: {timeout}")
        return Deferred.fromCoroutine(self._poll(timeout))

    async def _poll(self, timeout: float) -> list[ConsumerRecord]:
        deadline = self._reactor.seconds() + timeout
        while True:
            self._raise_if_woken()
            records = self._core.poll_once()
            if records:
                return records
            remaining = deadline - self._reactor.seconds()
            if remaining <= 0:
                return records
            waiting: Deferred[None] = Deferred()
            self._waiting = waiting
            # When the time is up, one last round.
            waiting.addTimeout(
                remaining, self._reactor, onTimeoutCancel=lambda result, timeout: None
            )
            try:
                await waiting
            finally:
                if self._waiting is waiting:
                    self._waiting = None

    def _raise_if_woken(self) -> None:
        if self._woken:
            self._woken = False
            raise errors.WakeupError("the consumer was woken up")

    def wakeup(self) -> None:
        """Make the pending (or next) C{poll} fail with C{WakeupError}."""
        self._woken = True
        self._event()

    # -- offsets

    def commit(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None,
        timeout: float | None = None,
    ) -> Deferred[None]:
        """
        Commit C{offsets}, or the positions after the last poll.

        @return: a Deferred firing once the broker stored them, failing with
            C{CommitFailedError} if the consumer left its group's generation.
        """
        return self._core.commit_sync(offsets, self._timeout_ms(timeout))

    def commit_async(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None = None,
        callback: CommitCallback | None = None,
    ) -> None:
        """Send a commit; C{callback(offsets, error)} gets the outcome."""
        self._core.commit_async(offsets, callback)

    def committed(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> Deferred[dict[TopicPartition, OffsetAndMetadata | None]]:
        """The group's last committed offset of each partition."""
        return self._core.committed(partitions, self._timeout_ms(timeout))

    def position(
        self, partition: TopicPartition, timeout: float | None = None
    ) -> Deferred[int]:
        """The offset of the next record that will be fetched from C{partition}."""
        return Deferred.fromCoroutine(
            self._core.position(partition, self._timeout_ms(timeout))
        )

    def seek(self, partition: TopicPartition, offset: int | OffsetAndMetadata) -> None:
        """Fetch C{partition} from C{offset} next."""
        self._core.seek(partition, offset)

    def seek_to_beginning(
        self, partitions: Iterable[TopicPartition] | None = None
    ) -> None:
        """Fetch C{partitions} (all assigned by default) from their start."""
        self._core.seek_to("earliest", partitions)

    def seek_to_end(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Fetch C{partitions} (all assigned by default) from their end."""
        self._core.seek_to("latest", partitions)

    def beginning_offsets(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> Deferred[dict[TopicPartition, int]]:
        """The first offset of each partition."""
        return self._core.beginning_offsets(partitions, self._timeout_ms(timeout))

    def end_offsets(
        self, partitions: Iterable[TopicPartition], timeout: float | None = None
    ) -> Deferred[dict[TopicPartition, int]]:
        """The offset after the last record of each partition."""
        return self._core.end_offsets(partitions, self._timeout_ms(timeout))

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int], timeout: float | None = None
    ) -> Deferred[dict[TopicPartition, OffsetAndTimestamp | None]]:
        """The first offset at or after each time (C{None} where none)."""
        return self._core.offsets_for_times(timestamps, self._timeout_ms(timeout))

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching C{partitions}."""
        self._core.pause(partitions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch C{partitions} again."""
        self._core.resume(partitions)

    def paused(self) -> set[TopicPartition]:
        """@return: the paused partitions."""
        return self._core.paused()

    def partitions_for(
        self, topic: str, timeout: float | None = None
    ) -> Deferred[list[PartitionInfo]]:
        """The partitions of C{topic}."""
        return self._core.partitions_for(topic, self._timeout_ms(timeout))

    def list_topics(
        self, timeout: float | None = None
    ) -> Deferred[dict[str, list[PartitionInfo]]]:
        """Every topic of the cluster with its partitions."""
        return Deferred.fromCoroutine(self._core.list_topics(self._timeout_ms(timeout)))

    def close(self, timeout: float | None = None) -> Deferred[None]:
        """
        Commit (with auto-commit), run the revoked hook, leave the group and
        release the connections.
        """
        timeout_ms = 30000 if timeout is None else int(timeout * 1000)
        self._event()
        return Deferred.fromCoroutine(self._core.close(timeout_ms))

    def __repr__(self) -> str:
        return f"<TwistedConsumer {self._core.client_id} {id(self):#x}>"


def _run_now(call: Callable[[], object]) -> None:
    """Run a commit callback at once, on the reactor thread."""
    call()
