"""
The consumer's core, shared by its two faces: the subscription, the fetcher, the
offset lookups and the group coordinator, driven from the reactor thread.

A face calls L{ConsumerCore.poll_once} for each round of its C{poll}: it runs the
coordinator's per-poll step (heartbeat bookkeeping, auto-commit, joining the group,
looking up committed offsets), starts the offset resets that are due, and hands out
the records the fetcher has buffered. When there are none, the face waits for
L{ConsumerCore.on_event}, which the core calls whenever something a poll could use
happened (records arrived, the group settled, a position was found, an error), and
polls once more.

Where the rebalance listener and the commit callbacks run is the face's business:
the core is given C{invoke_listener} and C{run_callback} and never calls application
code itself.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.config import ConsumerConfig
from odradek.client.consumer._coreoffsets import (
    CommitCallback,
    ConsumerOffsets,
    call_listener,
    check_partitions,
    check_topics,
)
from odradek.client.consumer.assignors import resolve_assignors
from odradek.client.consumer.coordinator import ConsumerCoordinator, CoordinatorSettings
from odradek.client.consumer.fetcher import Fetcher, FetchSettings
from odradek.client.consumer.listener import as_rebalance_listener
from odradek.client.consumer.offset_lookup import OffsetLookup
from odradek.client.consumer.subscription import SubscriptionState, SubscriptionType
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool, parse_bootstrap_servers
from odradek.client.structs import (
    ConsumerRecord,
    TopicPartition,
)

__all__ = [
    "CLOSED_MESSAGE",
    "NO_GROUP_MESSAGE",
    "CommitCallback",
    "ConsumerCore",
    "InvokeListener",
    "call_listener",
]

_log = Logger()

#: Numbers the consumers of this process that have no C{client.id}.
_client_numbers = itertools.count(1)

#: What a closed consumer says when used.
CLOSED_MESSAGE = "This consumer has already been closed."

#: What a consumer without C{group.id} says when asked for group features.
NO_GROUP_MESSAGE = (
    "To use the group management or offset commit APIs, you must provide a valid "
    "group.id in the consumer configuration."
)

#: Runs one rebalance listener hook: C{(hook name, partitions)}; fires when done.
InvokeListener = Callable[[str, list[TopicPartition]], Deferred[None]]


class ConsumerCore(ConsumerOffsets):
    """
    Everything a consumer is, but the face it shows; used on the reactor thread.

    @ivar config: the configuration.
    @ivar client_id: the C{client.id} sent with every request.
    @ivar reactor: the reactor the I/O runs on.
    @ivar pool: the connections to the brokers.
    @ivar metadata: the cluster's metadata.
    @ivar subscriptions: what is subscribed and assigned, and the positions.
    @ivar fetcher: fetches and buffers records.
    @ivar offsets: looks up offsets by time and resets positions.
    @ivar coordinator: the group coordinator, or C{None} without C{group.id}.
    @ivar on_event: called (on the reactor thread) when a poll might now find
        something: records, an error, a settled group.
    @ivar closed: whether L{close} was called.
    """

    def __init__(
        self,
        config: ConsumerConfig,
        reactor: Any,
        *,
        invoke_listener: InvokeListener,
        run_callback: Callable[[Callable[[], object]], None],
    ) -> None:
        """
        @param config: the consumer's configuration.
        @param reactor: the reactor (time, TCP) the I/O runs on.
        @param invoke_listener: runs a rebalance listener hook where the face wants
            it run.
        @param run_callback: runs a commit callback where the face wants it run.
        """
        self.config = config
        self.reactor = reactor
        self.closed = False
        self._closing = False
        self.on_event: Callable[[], None] | None = None
        self._run_callback = run_callback
        self._pending_error: BaseException | None = None
        self._resetting: Deferred[None] | None = None
        self._reset_timer: IDelayedCall | None = None
        group = config.group_id
        self.client_id = config.client_id or (
            f"consumer-{group or ''}-{next(_client_numbers)}"
        )
        self.pool = ConnectionPool.from_config(reactor, config)
        self.pool.client_id = self.client_id
        self.metadata = MetadataManager.from_config(
            reactor,
            self.pool,
            parse_bootstrap_servers(config.bootstrap_servers),
            config,
            allow_auto_topic_creation=config.allow_auto_create_topics,
        )
        self.subscriptions = SubscriptionState(config.auto_offset_reset)
        self.fetcher = Fetcher(
            reactor,
            self.metadata,
            self.pool,
            self.subscriptions,
            FetchSettings.from_config(config),
            config.key_deserializer,
            config.value_deserializer,
        )
        self.fetcher.on_data = self._event
        self.offsets = OffsetLookup(
            reactor,
            self.metadata,
            self.pool,
            self.subscriptions,
            isolation_level=config.isolation_level,
            retry_backoff_ms=config.retry_backoff_ms,
            request_timeout_ms=config.request_timeout_ms,
        )
        self.coordinator: ConsumerCoordinator | None = None
        if group:
            self.coordinator = ConsumerCoordinator(
                reactor,
                self.metadata,
                self.pool,
                self.subscriptions,
                CoordinatorSettings.from_config(config),
                resolve_assignors(config.partition_assignment_strategy),
                invoke_listener,
            )

    def start(self) -> None:
        """Start the metadata refreshes and the fetcher."""
        self.metadata.listeners.append(self._metadata_updated)
        self.metadata.start()
        self.fetcher.start()

    def _now_ms(self) -> int:
        return int(self.reactor.seconds() * 1000)

    def _event(self) -> None:
        if self.on_event is not None:
            self.on_event()

    def _check_open(self) -> None:
        if self.closed:
            raise errors.IllegalStateError(CLOSED_MESSAGE)

    def _require_group(self) -> ConsumerCoordinator:
        if self.coordinator is None:
            raise errors.InvalidGroupIdError(NO_GROUP_MESSAGE)
        return self.coordinator

    # -- subscribing

    def subscribe(self, topics: Iterable[str], listener: object | None = None) -> None:
        """
        Subscribe to topics (an empty list unsubscribes).

        @raise errors.InvalidGroupIdError: without C{group.id}.
        @raise ValueError: for an empty or non-string topic name.
        """
        self._check_open()
        names = check_topics(topics)
        if listener is not None:
            as_rebalance_listener(listener)  # refused now, not at the rebalance
        if not names:
            self.unsubscribe()
            return
        coordinator = self._require_group()
        if self.subscriptions.subscribe(names, listener):
            self.metadata.add_topics(names)
            coordinator.request_rejoin("subscription changed")
        self.fetcher.wakeup()

    def subscribe_pattern(
        self, pattern: str | re.Pattern[str], listener: object | None = None
    ) -> None:
        """
        Subscribe to every topic whose whole name matches C{pattern}, now and as
        topics are created.

        @raise errors.InvalidGroupIdError: without C{group.id}.
        @raise ValueError: for a pattern that does not compile.
        """
        self._check_open()
        try:
            compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
        except re.error as error:
            raise ValueError(f"Invalid topic pattern {pattern!r}: {error}") from None
        self._require_group()
        if listener is not None:
            as_rebalance_listener(listener)
        self.subscriptions.subscribe_pattern(compiled, listener)
        self.metadata.all_topics = True
        self.metadata.request_update()

    def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """
        Assign partitions by hand (no group rebalancing); an empty list
        unsubscribes.

        @raise ValueError: for something that is not a valid partition.
        @raise errors.IllegalStateError: if the consumer subscribed to topics.
        """
        self._check_open()
        wanted = check_partitions(partitions)
        if not wanted:
            self.unsubscribe()
            return
        if self.coordinator is not None and self.config.enable_auto_commit:
            # Java commits what was consumed before the assignment changes.
            self.coordinator.maybe_auto_commit_async(self._now_ms(), force=True)
        self.subscriptions.assign_from_user(wanted)
        self.metadata.add_topics({tp.topic for tp in wanted})
        self.fetcher.wakeup()

    def unsubscribe(self) -> Deferred[None]:
        """
        Drop the subscription and the assignment, leaving the group (after the
        listener's revoked hook).
        """
        self._check_open()
        left: Deferred[None] = succeed(None)
        if (
            self.coordinator is not None
            and self.subscriptions.has_auto_assigned_partitions()
        ):
            left = self.coordinator.leave("the consumer unsubscribed")
        self.subscriptions.unsubscribe()
        self.metadata.all_topics = False
        self.fetcher.wakeup()
        return left

    def assignment(self) -> set[TopicPartition]:
        """@return: the partitions assigned now."""
        self._check_open()
        return set(self.subscriptions.assigned_partitions())

    def subscription(self) -> set[str]:
        """@return: the topics subscribed to (matched, for a pattern)."""
        self._check_open()
        if self.subscriptions.has_auto_assigned_partitions():
            return set(self.subscriptions.subscription)
        return set()

    # -- polling

    def _store_error(self, failure: Failure) -> None:
        error = failure.value
        if isinstance(error, errors.RetriableError):
            _log.debug("Consumer step failed, will retry: {error}", error=str(error))
        elif self._pending_error is None and error is not None:
            self._pending_error = error
        self._event()

    def _raise_pending(self) -> None:
        error, self._pending_error = self._pending_error, None
        if error is not None:
            raise error

    def poll_once(self) -> list[ConsumerRecord]:
        """
        One round of C{poll}: update the group and the positions, then hand out
        buffered records (up to C{max.poll.records}).

        @return: the records; an empty list when none are buffered yet.
        @raise errors.IllegalStateError: if the consumer is closed or neither
            subscribed nor assigned.
        @raise errors.KafkaError: an error a previous step met (no offset for a
            partition and C{auto.offset.reset=none}, a fatal group error, a
            failed rebalance listener, a corrupt record ...).
        """
        self._check_open()
        subscriptions = self.subscriptions
        if subscriptions.subscription_type is SubscriptionType.NONE:
            raise errors.IllegalStateError(
                "Consumer is not subscribed to any topics or assigned any partitions"
            )
        self._raise_pending()
        now_ms = self._now_ms()
        if self.coordinator is not None:
            # Each poll counts for max.poll.interval.ms; steps still under way
            # (a join, a committed offsets lookup) are shared, not repeated.
            step = self.coordinator.poll(now_ms)
            if not step.called:
                step.addBoth(self._stepped)
            step.addErrback(self._store_error)
        else:
            for tp in subscriptions.initializing_partitions():
                subscriptions.request_reset(tp)
        self._reset_positions()
        return self.fetcher.collect(self.config.max_poll_records)

    def _stepped(self, result: object) -> object:
        self._event()
        return result

    def _reset_positions(self) -> None:
        if self._resetting is not None:
            return
        if not self.subscriptions.partitions_needing_reset(self._now_ms()):
            self._retry_resets_later()  # those backing off, if any
            return
        resetting = self.offsets.reset_positions()
        self._resetting = resetting

        def done(result: object) -> object:
            self._resetting = None
            self.fetcher.wakeup()
            self._event()
            self._retry_resets_later()
            return result

        resetting.addBoth(done).addErrback(self._store_error)

    def _metadata_updated(self, cluster: Any) -> None:
        """
        Partitions whose reset waited for their leader are reset at once when
        the metadata names it, rather than after their backoff.
        """
        waiting = [
            tp
            for tp in self.subscriptions.assigned_partitions()
            if self.subscriptions.reset_strategy(tp) is not None
            and cluster.leader_for(tp) is not None
        ]
        if waiting and not self.closed:
            self.subscriptions.set_reset_backoff(waiting, 0)
            self._reset_positions()

    def _retry_resets_later(self) -> None:
        """
        Partitions whose reset failed back off: retry when the backoff ends,
        even if no poll comes meanwhile (a blocked poll waits for this).
        """
        if self._reset_timer is not None and self._reset_timer.active():
            return
        if not any(
            self.subscriptions.reset_strategy(tp) is not None
            for tp in self.subscriptions.assigned_partitions()
        ):
            return

        def retry() -> None:
            self._reset_timer = None
            if not self.closed:
                self._reset_positions()

        # A little after the backoff ends: times are compared in whole ms.
        self._reset_timer = self.reactor.callLater(
            (self.config.retry_backoff_ms + 2) / 1000, retry
        )

    # -- closing

    async def close(self, timeout_ms: int) -> None:
        """
        Commit (with auto-commit), run the revoked hook, leave the group and
        release the connections. Errors on the way are logged, not raised.
        """
        if self.closed or self._closing:
            return
        # The revoked hook may still commit: the consumer is closed only after.
        self._closing = True
        try:
            if self.coordinator is not None:
                await self.coordinator.close(timeout_ms)
        except Exception:
            _log.failure("Closing the consumer's group membership failed")
        finally:
            self.closed = True
            if self._reset_timer is not None and self._reset_timer.active():
                self._reset_timer.cancel()
            self.fetcher.stop()
            self.metadata.stop()
            self.pool.close()
