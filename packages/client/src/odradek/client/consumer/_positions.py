"""
The settings of L{ConsumerCoordinator
<odradek.client.consumer.coordinator.ConsumerCoordinator>} (L{CoordinatorSettings},
re-exported by its module) and its offset work at each poll, besides joining the
group: L{AutoCommit} commits the consumed positions every
C{auto.commit.interval.ms} (Kafka's C{maybeAutoCommitOffsetsAsync}), and
L{CommittedPositions} starts newly assigned partitions from their committed offsets
(Kafka's C{initWithCommittedOffsetsIfNeeded}).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.consumer._commits import OffsetCommitter
from odradek.client.consumer._membership import (
    Generation,
    MembershipConfig,
    MembershipSettings,
)
from odradek.client.consumer.subscription import FetchState, SubscriptionState
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "AutoCommit",
    "CommittedPositions",
    "CoordinatorConfig",
    "CoordinatorSettings",
]

_log = Logger()


class CoordinatorConfig(MembershipConfig, Protocol):
    """The settings L{CoordinatorSettings.from_config} reads (a C{ConsumerConfig})."""

    @property
    def enable_auto_commit(self) -> bool: ...
    @property
    def auto_commit_interval_ms(self) -> int: ...
    @property
    def default_api_timeout_ms(self) -> int: ...
    @property
    def exclude_internal_topics(self) -> bool: ...


@attrs.frozen
class CoordinatorSettings:
    """
    How a consumer takes part in its group and commits.

    @ivar membership: the group membership's settings, or C{None} without
        C{group.id} (then nothing can be committed).
    @ivar enable_auto_commit: C{enable.auto.commit}.
    @ivar auto_commit_interval_ms: C{auto.commit.interval.ms}.
    @ivar retry_backoff_ms: C{retry.backoff.ms}.
    @ivar retry_backoff_max_ms: C{retry.backoff.max.ms}.
    @ivar default_api_timeout_ms: C{default.api.timeout.ms}: how long a poll's
        lookup of committed offsets may retry.
    @ivar exclude_internal_topics: C{exclude.internal.topics}: whether a pattern
        subscription leaves out internal topics.
    """

    membership: MembershipSettings | None
    enable_auto_commit: bool = False
    auto_commit_interval_ms: int = 5000
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    default_api_timeout_ms: int = 60000
    exclude_internal_topics: bool = True

    @classmethod
    def from_config(cls, config: CoordinatorConfig) -> CoordinatorSettings:
        """
        @param config: a consumer's configuration.
        @return: the settings it gives.
        """
        return cls(
            MembershipSettings.from_config(config) if config.group_id else None,
            enable_auto_commit=config.enable_auto_commit,
            auto_commit_interval_ms=config.auto_commit_interval_ms,
            retry_backoff_ms=config.retry_backoff_ms,
            retry_backoff_max_ms=config.retry_backoff_max_ms,
            default_api_timeout_ms=config.default_api_timeout_ms,
            exclude_internal_topics=config.exclude_internal_topics,
        )


def _described(offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> dict[str, int]:
    return {str(tp): offset.offset for tp, offset in offsets.items()}


@attrs.define(eq=False)
class AutoCommit:
    """
    The C{enable.auto.commit} timer.

    @ivar clock: the source of time.
    @ivar committer: sends the commits.
    @ivar subscriptions: gives the consumed positions.
    @ivar interval_ms: C{auto.commit.interval.ms}.
    @ivar retry_backoff_ms: C{retry.backoff.ms}: how soon a commit that failed
        with a retriable error is tried again.
    @ivar next_ms: when the next commit is due.
    """

    clock: IReactorTime
    committer: OffsetCommitter
    subscriptions: SubscriptionState
    interval_ms: int = 5000
    retry_backoff_ms: int = 100
    next_ms: float = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Make the next commit due one interval from now (a join completed)."""
        self.next_ms = self.clock.seconds() * 1000 + self.interval_ms

    def maybe_commit(self, now_ms: float, force: bool = False) -> None:
        """
        Commit the consumed positions asynchronously if due (or C{force}); the
        outcome is logged.

        @param now_ms: the current time.
        @param force: commit whatever the timer says.
        """
        if not force and now_ms < self.next_ms:
            return
        self.next_ms = now_ms + self.interval_ms
        offsets = self.subscriptions.all_consumed()
        if offsets:
            self.committer.commit_async(offsets, self._committed)

    def _committed(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        error: BaseException | None,
    ) -> None:
        if error is None:
            _log.debug(
                "Completed asynchronous auto-commit of offsets {offsets}",
                offsets=_described(offsets),
            )
        elif isinstance(error, errors.KafkaError) and error.retriable:
            _log.debug(
                "Asynchronous auto-commit of offsets {offsets} failed due to "
                "retriable error: {error}",
                offsets=_described(offsets),
                error=str(error),
            )
            self.next_ms = self.clock.seconds() * 1000 + self.retry_backoff_ms
        else:
            _log.warn(
                "Asynchronous auto-commit of offsets {offsets} failed: {error}",
                offsets=_described(offsets),
                error=str(error),
            )


class _Outcome:
    """
    The outcome of one operation, for any number of waiters, each with its own
    Deferred (cancelling one stops that wait only).

    @ivar done: whether the operation ended.
    """

    def __init__(self, operation: Deferred[None], on_done: Callable[[], None]) -> None:
        self.done = False
        self._failure: Failure | None = None
        self._waiters: list[Deferred[None]] = []
        self._on_done = on_done
        operation.addBoth(self._fire)

    def _fire(self, result: object) -> None:
        self.done = True
        self._failure = result if isinstance(result, Failure) else None
        self._on_done()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            self._deliver(waiter)

    def _deliver(self, waiter: Deferred[None]) -> None:
        if self._failure is None:
            waiter.callback(None)
        else:
            waiter.errback(self._failure)

    def wait(self) -> Deferred[None]:
        """@return: a Deferred with the operation's outcome."""
        waiter: Deferred[None] = Deferred(self._forget)
        if self.done:
            self._deliver(waiter)
        else:
            self._waiters.append(waiter)
        return waiter

    def _forget(self, waiter: Deferred[None]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)


@attrs.define(eq=False)
class CommittedPositions:
    """
    Gives partitions without a position (just assigned) their committed offset,
    or asks for a reset by C{auto.offset.reset} when none was committed.

    @ivar committer: reads the committed offsets.
    @ivar subscriptions: the assignment and positions.
    @ivar timeout_ms: how long one lookup may retry (C{default.api.timeout.ms}).
    """

    committer: OffsetCommitter
    subscriptions: SubscriptionState
    timeout_ms: int = 60000
    _pending: tuple[frozenset[TopicPartition], Generation, _Outcome] | None = None

    def initialize(self, generation: Generation) -> Deferred[None]:
        """
        Look up the committed offsets of the initializing partitions and start
        them there. As in Java's consumer, a lookup a poll gave up waiting for is
        used again by the next, if it is for the same partitions and generation.

        @param generation: the member's generation.
        @return: a Deferred firing when done (at once if no partition needs it),
            or failing with the lookup's error; cancelling it stops the wait only.
        """
        partitions = self.subscriptions.initializing_partitions()
        if not partitions:
            return succeed(None)
        wanted = frozenset(partitions)
        pending = self._pending
        if pending is None or (pending[0], pending[1]) != (wanted, generation):
            outcome = _Outcome(
                Deferred.fromCoroutine(self._fetch_and_seek(partitions)),
                lambda: self._done(wanted, generation),
            )
            pending = (wanted, generation, outcome)
            if not outcome.done:
                self._pending = pending
        return pending[2].wait()

    def _done(self, wanted: frozenset[TopicPartition], generation: Generation) -> None:
        pending = self._pending
        if pending is not None and (pending[0], pending[1]) == (wanted, generation):
            self._pending = None

    async def _fetch_and_seek(self, partitions: list[TopicPartition]) -> None:
        committed = await self.committer.fetch_committed(partitions, self.timeout_ms)
        subscriptions = self.subscriptions
        for tp in partitions:
            if not subscriptions.is_assigned(tp):
                continue
            if subscriptions.fetch_state(tp) is not FetchState.INITIALIZING:
                continue
            found = committed.get(tp)
            if found is None:
                _log.info("Found no committed offset for partition {tp}", tp=str(tp))
                subscriptions.request_reset(tp)
            else:
                _log.info(
                    "Setting offset for partition {tp} to the committed offset "
                    "{offset}",
                    tp=str(tp),
                    offset=found.offset,
                )
                subscriptions.seek(tp, found.offset, found.leader_epoch)
