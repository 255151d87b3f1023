"""
Committing offsets to a consumer group and reading them back: the offset half of
Kafka's C{ConsumerCoordinator}, used by
L{ConsumerCoordinator <odradek.client.consumer.coordinator.ConsumerCoordinator>}.

L{OffsetCommitter.commit_sync} retries what may succeed when sent again (the
coordinator moved or is loading, the connection dropped) until its time runs out;
L{OffsetCommitter.commit_async} sends once and reports the outcome to a callback;
L{OffsetCommitter.fetch_committed} reads committed offsets, retrying likewise.

A consumer that subscribed commits as the member of its group's current generation,
and only while that generation is stable; one that assigned its partitions itself
commits outside the membership (generation -1, member id C{""}), as Java's consumer
does. Without C{group.id} nothing can be committed.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.consumer._membership import (
    NO_GENERATION,
    Generation,
    GroupMembership,
    MemberState,
)
from odradek.client.consumer.subscription import SubscriptionState
from odradek.client.network.group_requests import (
    group_request_version,
    offset_commit_request,
    offset_fetch_request,
    parse_offset_commit,
    parse_offset_fetch,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "COMMIT_FAILED_MESSAGE",
    "NO_GROUP_ID_MESSAGE",
    "CommitCallback",
    "OffsetCommitter",
    "bounded",
]

_T = TypeVar("_T")

_log = Logger()

#: What L{errors.CommitFailedError} says when the member was no longer in the
#: group's current generation (Java's message).
COMMIT_FAILED_MESSAGE = (
    "Commit cannot be completed since the group has already rebalanced and assigned "
    "the partitions to another member. This means that the time between subsequent "
    "calls to poll() was longer than the configured max.poll.interval.ms, which "
    "typically implies that the poll loop is spending too much time message "
    "processing. You can address this either by increasing max.poll.interval.ms or "
    "by reducing the maximum size of batches returned in poll() with "
    "max.poll.records."
)

#: What L{errors.InvalidGroupIdError} says without C{group.id}.
NO_GROUP_ID_MESSAGE = (
    "To use the group management or offset commit APIs, you must provide a valid "
    "group.id in the consumer configuration."
)

_REBALANCING_MESSAGE = (
    "Offset commit cannot be completed since the consumer is undergoing a rebalance "
    "for auto partition assignment. You can try completing the rebalance by calling "
    "poll() and then retry the operation."
)
_GROUP_REBALANCING_MESSAGE = (
    "Offset commit cannot be completed since the consumer group is executing a "
    "rebalance at the moment. You can try completing the rebalance by calling "
    "poll() and then retry commit again."
)
_STALE_GENERATION_MESSAGE = (
    "Offset commit cannot be completed since the consumer member's generation is "
    "already stale, meaning it has already participated another rebalance and got "
    "a new generation. You can try completing the rebalance by calling poll() and "
    "then retry commit again."
)
_NOT_ACTIVE_MESSAGE = (
    "Offset commit cannot be completed since the consumer is not part of an active "
    "group for auto partition assignment; it is likely that the consumer was kicked "
    "out of the group."
)

#: What L{OffsetCommitter.commit_async} reports to: C{(offsets, None)} when
#: committed, C{(offsets, error)} otherwise.
CommitCallback = Callable[
    [Mapping[TopicPartition, OffsetAndMetadata], BaseException | None], object
]

#: Errors after which the coordinator must be looked up again.
_COORDINATOR_GONE = (
    errors.NotCoordinatorError,
    errors.CoordinatorNotAvailableError,
    errors.NetworkError,
    errors.RequestTimedOutError,
)


class _Expired(Exception):
    """A wait bounded by L{bounded} ran out of time."""


def bounded(
    clock: IReactorTime, waited: Deferred[_T], timeout_ms: float
) -> Deferred[_T]:
    """
    Wait for a Deferred at most C{timeout_ms}, without cancelling it: it may be
    shared (a coordinator lookup, a join) or its answer still useful.

    @param clock: the source of time.
    @param waited: the Deferred waited for; its result is not changed, and a failure
        arriving after the wait ended is dropped.
    @param timeout_ms: how long to wait.
    @return: a Deferred with C{waited}'s result, or failing with a private
        C{_Expired} error after C{timeout_ms}. Cancelling it ends the wait only.
    """
    call: IDelayedCall | None = None

    def stop_timer(_: object) -> None:
        if call is not None and call.active():
            call.cancel()

    result: Deferred[_T] = Deferred(stop_timer)

    def expire() -> None:
        if not result.called:
            result.errback(_Expired())

    call = clock.callLater(max(0.0, timeout_ms) / 1000, expire)

    def arrived(value: object) -> None:
        stop_timer(None)
        if not result.called:
            if isinstance(value, Failure):
                result.errback(value)
            else:
                result.callback(value)  # type: ignore[arg-type]

    waited.addBoth(arrived)
    return result


@attrs.define(eq=False)
class OffsetCommitter:
    """
    Commits and fetches a group's offsets through its coordinator.

    @ivar clock: the source of time.
    @ivar membership: the group membership (finds the coordinator, sends to it),
        or C{None} without C{group.id}.
    @ivar subscriptions: tells whether the group assigns the partitions.
    @ivar retry_backoff_ms: C{retry.backoff.ms}: the first wait before a retry.
    @ivar retry_backoff_max_ms: C{retry.backoff.max.ms}: the longest wait.
    @ivar fatal_error: a L{FencedInstanceIdError
        <odradek.client.errors.FencedInstanceIdError>} an asynchronous commit met,
        for the coordinator's next poll to raise, or C{None}.
    @ivar in_flight: how many asynchronous commits await their answer.
    """

    clock: IReactorTime
    membership: GroupMembership | None
    subscriptions: SubscriptionState
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    fatal_error: BaseException | None = None
    in_flight: int = 0
    _async_done: list[Deferred[None]] = attrs.field(factory=list)

    def _now_ms(self) -> float:
        return self.clock.seconds() * 1000

    def _backoff_ms(self, attempts: int) -> float:
        return float(
            min(self.retry_backoff_ms * 2**attempts, self.retry_backoff_max_ms)
        )

    def _group(self) -> GroupMembership:
        if self.membership is None:
            raise errors.InvalidGroupIdError(NO_GROUP_ID_MESSAGE)
        return self.membership

    # -- committing

    def _commit_generation(
        self, group: GroupMembership
    ) -> tuple[Generation, str | None]:
        if not self.subscriptions.has_auto_assigned_partitions():
            return NO_GENERATION, None
        instance_id = group.settings.group_instance_id
        if group.state is MemberState.STABLE:
            return group.generation, instance_id
        if group.state in (
            MemberState.PREPARING_REBALANCE,
            MemberState.COMPLETING_REBALANCE,
        ):
            raise errors.RebalanceInProgressError(_REBALANCING_MESSAGE)
        raise errors.CommitFailedError(_NOT_ACTIVE_MESSAGE)

    async def _send(
        self, api_key: ApiKey, build: Callable[[int], RequestPayload]
    ) -> ResponsePayload:
        group = self._group()
        await group.ensure_coordinator_ready()
        try:
            return await group.send_to_coordinator(
                lambda connection: build(group_request_version(connection, api_key))
            )
        except _COORDINATOR_GONE as error:
            group.mark_coordinator_unknown(str(error))
            raise

    async def commit_once(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata]
    ) -> None:
        """
        Send one OffsetCommit (after finding the coordinator), without retrying.

        @param offsets: the offsets; an empty map commits nothing.
        @raise errors.KafkaError: why the commit failed (see L{commit_sync}).
        """
        group = self._group()
        if not offsets:
            return
        generation, instance_id = self._commit_generation(group)
        group_id = group.group_id

        def build(version: int) -> RequestPayload:
            return offset_commit_request(
                version,
                group_id=group_id,
                generation_id=generation.generation_id,
                member_id=generation.member_id,
                group_instance_id=instance_id,
                offsets=offsets,
            )

        response = await self._send(ApiKey.OFFSET_COMMIT, build)
        self._check_committed(group, offsets, parse_offset_commit(response), generation)

    def _check_committed(
        self,
        group: GroupMembership,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        results: Mapping[TopicPartition, BaseException | None],
        sent: Generation,
    ) -> None:
        unauthorized: set[str] = set()
        for tp, error in results.items():
            if error is None:
                continue
            offset = offsets[tp].offset if tp in offsets else -1
            _log.info(
                "Offset commit failed on partition {tp} at offset {offset}: {error}",
                tp=str(tp),
                offset=offset,
                error=str(error),
            )
            if isinstance(error, errors.GroupAuthorizationError):
                raise errors.GroupAuthorizationError(
                    f"Not authorized to access group: {group.group_id}"
                )
            if isinstance(error, errors.TopicAuthorizationError):
                unauthorized.add(tp.topic)
                continue
            if isinstance(
                error,
                errors.OffsetMetadataTooLargeError
                | errors.InvalidCommitOffsetSizeError,
            ):
                raise type(error)(
                    f"Offset commit failed on partition {tp} at offset {offset}"
                )
            if isinstance(
                error,
                errors.CoordinatorLoadInProgressError
                | errors.UnknownTopicOrPartitionError,
            ):
                raise error
            if isinstance(error, _COORDINATOR_GONE):
                group.mark_coordinator_unknown(str(error))
                raise error
            if not isinstance(error, errors.KafkaError):
                raise error
            self._member_error(group, error, sent)
        if unauthorized:
            raise errors.TopicAuthorizationError(
                f"Not authorized to access topics: {sorted(unauthorized)}"
            )

    def _member_error(
        self, group: GroupMembership, error: errors.KafkaError, sent: Generation
    ) -> None:
        unchanged = group.generation == sent
        preparing = group.state is MemberState.PREPARING_REBALANCE
        if isinstance(error, errors.FencedInstanceIdError):
            if unchanged:
                raise error
            if preparing:
                raise errors.RebalanceInProgressError(_STALE_GENERATION_MESSAGE)
            raise errors.CommitFailedError(COMMIT_FAILED_MESSAGE)
        if isinstance(error, errors.RebalanceInProgressError):
            group.request_rejoin(
                "offset commit failed since group is already rebalancing"
            )
            raise errors.RebalanceInProgressError(_GROUP_REBALANCING_MESSAGE)
        if isinstance(
            error, errors.UnknownMemberIdError | errors.IllegalGenerationError
        ):
            if not unchanged and preparing:
                raise errors.RebalanceInProgressError(_STALE_GENERATION_MESSAGE)
            if sent.generation_id >= 0 and unchanged:
                # ILLEGAL_GENERATION leaves the member id valid.
                group.reset_generation(
                    f"encountered {error.name} from OFFSET_COMMIT response",
                    reset_member_id=isinstance(error, errors.UnknownMemberIdError),
                )
            raise errors.CommitFailedError(COMMIT_FAILED_MESSAGE)
        raise errors.KafkaError(f"Unexpected error in commit: {error}")

    def commit_sync(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], timeout_ms: int
    ) -> Deferred[None]:
        """
        Commit offsets, retrying retriable errors (finding the coordinator again
        when it moved) with exponential backoff until committed or C{timeout_ms}
        passed. With no offsets, wait only for the asynchronous commits under way,
        so that their callbacks ran when this fires, as Java's C{commitSync} does.

        @param offsets: the offset to commit for each partition.
        @param timeout_ms: how long to try.
        @return: a Deferred firing when committed, or failing with
            L{errors.InvalidGroupIdError} without C{group.id};
            L{errors.CommitFailedError} if the member is no longer in the group's
            generation; L{errors.RebalanceInProgressError} if the group is
            rebalancing (poll, then commit again); L{errors.RequestTimedOutError}
            if C{timeout_ms} passed; or the error of a partition that cannot be
            committed (L{errors.OffsetMetadataTooLargeError},
            L{errors.TopicAuthorizationError} ...).
        """
        return Deferred.fromCoroutine(self._commit_sync(dict(offsets), timeout_ms))

    async def _commit_sync(
        self, offsets: dict[TopicPartition, OffsetAndMetadata], timeout_ms: int
    ) -> None:
        self._group()
        deadline = self._now_ms() + timeout_ms
        if not offsets:
            pending = list(self._async_done)
            for waited in pending:
                try:
                    await bounded(self.clock, waited, deadline - self._now_ms())
                except _Expired:
                    break
            return
        await self._retrying(
            lambda: self.commit_once(offsets),
            deadline,
            lambda: (
                f"Timeout of {timeout_ms}ms expired before successfully committing "
                f"offsets {_describe(offsets)}"
            ),
        )

    async def _retrying(
        self,
        attempt: Callable[[], Coroutine[Any, Any, _T]],
        deadline: float,
        timed_out: Callable[[], str],
        retry_unknown_topic: bool = True,
    ) -> _T:
        attempts = 0
        while True:
            remaining = deadline - self._now_ms()
            if remaining <= 0:
                raise errors.RequestTimedOutError(timed_out())
            try:
                return await bounded(
                    self.clock, Deferred.fromCoroutine(attempt()), remaining
                )
            except _Expired:
                raise errors.RequestTimedOutError(timed_out()) from None
            except errors.UnknownTopicOrPartitionError:
                if not retry_unknown_topic:
                    raise
                error_text = "unknown topic or partition"
            except errors.KafkaError as error:
                if not error.retriable:
                    raise
                error_text = str(error)
            _log.debug("Retrying after {error}", error=error_text)
            wait = min(self._backoff_ms(attempts), deadline - self._now_ms())
            attempts += 1
            if wait > 0:
                await deferLater(self.clock, wait / 1000)

    def commit_async(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        callback: CommitCallback | None = None,
    ) -> Deferred[None]:
        """
        Send one commit without retrying; C{callback} learns the outcome, on the
        reactor thread, in the order the commits were sent.

        @param offsets: the offset to commit for each partition; an empty map
            completes at once.
        @param callback: called with C{(offsets, None)} once committed, or
            C{(offsets, error)}; its exceptions are logged. Without one, failures
            are logged.
        @return: a Deferred firing (with C{None}, never failing) after the
            callback ran.
        @raise errors.InvalidGroupIdError: without C{group.id}.
        """
        self._group()
        sent = dict(offsets)
        attempt = Deferred.fromCoroutine(self.commit_once(sent))
        done: Deferred[None] = Deferred()
        self.in_flight += 1
        self._async_done.append(done)

        def finished(result: object) -> None:
            self.in_flight -= 1
            self._async_done.remove(done)
            error = result.value if isinstance(result, Failure) else None
            if isinstance(error, errors.FencedInstanceIdError):
                self.fatal_error = self.fatal_error or error
            if callback is not None:
                try:
                    callback(sent, error)
                except Exception:
                    _log.failure("An offset commit callback failed")
            elif error is not None:
                _log.error(
                    "Offset commit with offsets {offsets} failed: {error}",
                    offsets=_describe(sent),
                    error=str(error),
                )
            done.callback(None)

        attempt.addBoth(finished)
        return done

    # -- reading committed offsets

    def fetch_committed(
        self, partitions: Sequence[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, OffsetAndMetadata | None]]:
        """
        Read the committed offsets of partitions, retrying retriable errors
        (C{UNSTABLE_OFFSET_COMMIT} while a transaction's offsets are pending,
        coordinator moves, lost connections) until C{timeout_ms} passed.

        @param partitions: the partitions.
        @param timeout_ms: how long to try.
        @return: a Deferred firing with the committed offset of each partition
            asked for (C{None} where nothing was committed), or failing with
            L{errors.InvalidGroupIdError} without C{group.id},
            L{errors.RequestTimedOutError} after C{timeout_ms}, or the error that
            cannot be retried (L{errors.GroupAuthorizationError} ...).
        """
        return Deferred.fromCoroutine(
            self._fetch_committed(list(partitions), timeout_ms)
        )

    async def _fetch_committed(
        self, partitions: list[TopicPartition], timeout_ms: int
    ) -> dict[TopicPartition, OffsetAndMetadata | None]:
        group = self._group()
        wanted = list(dict.fromkeys(partitions))
        if not wanted:
            return {}
        group_id = group.group_id

        def build(version: int) -> RequestPayload:
            return offset_fetch_request(
                version, group_id=group_id, partitions=wanted, require_stable=True
            )

        async def attempt() -> dict[TopicPartition, OffsetAndMetadata | None]:
            response = await self._send(ApiKey.OFFSET_FETCH, build)
            try:
                found = parse_offset_fetch(response, group_id)
            except _COORDINATOR_GONE as error:
                group.mark_coordinator_unknown(str(error))
                raise
            except errors.GroupAuthorizationError:
                raise errors.GroupAuthorizationError(
                    f"Not authorized to access group: {group_id}"
                ) from None
            return {tp: found.get(tp) for tp in wanted}

        return await self._retrying(
            attempt,
            self._now_ms() + timeout_ms,
            lambda: (
                f"Timeout of {timeout_ms}ms expired before the last committed offset "
                f"for partitions {_describe(wanted)} could be determined. Try tuning "
                "default.api.timeout.ms larger to relax the threshold."
            ),
            retry_unknown_topic=False,
        )


def _describe(
    partitions: Mapping[TopicPartition, object] | Sequence[TopicPartition],
) -> str:
    return "[" + ", ".join(str(tp) for tp in sorted(partitions)) + "]"
