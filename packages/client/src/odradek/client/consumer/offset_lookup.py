"""
Offset lookups with ListOffsets requests to the partitions' leaders (Kafka's
C{OffsetFetcher}): resetting positions by C{auto.offset.reset}, and the
consumer's C{beginning_offsets}, C{end_offsets} and C{offsets_for_times}.

Runs on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import attrs
from twisted.internet.defer import Deferred, FirstError, fail, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer._fetchrequests import (
    EARLIEST_TIMESTAMP,
    ISOLATION_LEVELS,
    LATEST_TIMESTAMP,
    ListedOffset,
    list_offsets_request,
    parse_list_offsets_response,
)
from odradek.client.consumer.subscription import SubscriptionState
from odradek.client.network.cluster import ClusterMetadata, Node
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndTimestamp, TopicPartition

__all__ = ["OffsetLookup"]

_log = Logger()

_RESET_TIMESTAMPS = {"earliest": EARLIEST_TIMESTAMP, "latest": LATEST_TIMESTAMP}


@attrs.define
class _Round:
    """
    What one round of ListOffsets requests found.

    @ivar found: the answers for the partitions that succeeded.
    @ivar retry: the partitions to ask again (no leader, retriable errors).
    @ivar error: the first error that cannot be retried, if any.
    """

    found: dict[TopicPartition, ListedOffset] = attrs.field(factory=dict)
    retry: set[TopicPartition] = attrs.field(factory=set)
    error: errors.KafkaError | None = None


@attrs.define(eq=False)
class OffsetLookup:
    """
    Looks offsets up with ListOffsets requests to the partitions' leaders.

    @ivar reactor: the clock for backoffs and timeouts.
    @ivar metadata: the cluster's metadata: who leads each partition.
    @ivar pool: the connections to the brokers.
    @ivar subscriptions: the positions that L{reset_positions} resets.
    @ivar isolation_level: C{isolation.level}; C{"read_committed"} makes the end
        offset the last stable offset.
    @ivar retry_backoff_ms: C{retry.backoff.ms}: the wait before asking again.
    @ivar request_timeout_ms: C{request.timeout.ms} of each request.
    """

    reactor: IReactorTime
    metadata: MetadataManager
    pool: ConnectionPool
    subscriptions: SubscriptionState
    isolation_level: str = "read_uncommitted"
    retry_backoff_ms: int = 100
    request_timeout_ms: int = 30000

    def _now_ms(self) -> float:
        return self.reactor.seconds() * 1000

    # -- resetting positions

    def reset_positions(self) -> Deferred[None]:
        """
        Reset the positions of the partitions awaiting a reset (and not backing
        off) to their earliest or latest offset, by each one's strategy: one round
        of requests. Partitions that failed with a retriable error back off for
        C{retry_backoff_ms} and are tried at a later call.

        @return: a Deferred that fires once the answers are in, or fails with
            L{NoOffsetForPartitionError <errors.NoOffsetForPartitionError>} (and
            no request sent) when a partition's strategy is C{"none"}, or with the
            error of a partition that cannot be retried.
        """
        subscriptions = self.subscriptions
        now = self._now_ms()
        timestamps: dict[TopicPartition, int] = {}
        undefined: list[TopicPartition] = []
        for tp in subscriptions.partitions_needing_reset(now):
            strategy = subscriptions.reset_strategy(tp)
            if strategy in _RESET_TIMESTAMPS:
                timestamps[tp] = _RESET_TIMESTAMPS[strategy]
            else:
                undefined.append(tp)
        if undefined:
            return fail(
                errors.NoOffsetForPartitionError(
                    "Undefined offset with no reset policy for partitions:"
                    f" {_names(undefined)}",
                    partitions=undefined,
                )
            )
        if not timestamps:
            return succeed(None)
        # No second reset of these until this one is answered.
        subscriptions.set_reset_backoff(timestamps, now + self.request_timeout_ms)
        return Deferred.fromCoroutine(self._reset(timestamps))

    async def _reset(self, timestamps: dict[TopicPartition, int]) -> None:
        done = await self._round(timestamps)
        subscriptions = self.subscriptions
        for tp, listed in done.found.items():
            strategy = subscriptions.reset_strategy(tp)
            if (
                strategy is not None
                and _RESET_TIMESTAMPS.get(strategy) == (timestamps[tp])
            ):
                _log.info(
                    "Resetting offset for partition {tp} to position {offset}",
                    tp=tp,
                    offset=listed.offset,
                )
                subscriptions.seek(tp, listed.offset, listed.leader_epoch)
        failed = [tp for tp in timestamps if tp not in done.found]
        if failed:
            subscriptions.set_reset_backoff(
                failed, self._now_ms() + self.retry_backoff_ms
            )
        if done.error is not None:
            raise done.error

    # -- lookups for the application

    def beginning_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, int]]:
        """
        @param partitions: the partitions.
        @param timeout_ms: how long to keep trying.
        @return: a Deferred firing with each partition's first offset (its log
            start offset), or failing as L{offsets_for_times} does.
        """
        return self._offsets(partitions, EARLIEST_TIMESTAMP, timeout_ms)

    def end_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, int]]:
        """
        @param partitions: the partitions.
        @param timeout_ms: how long to keep trying.
        @return: a Deferred firing with each partition's end offset: the offset
            the next record will take (the high watermark), or for
            C{read_committed} the last stable offset; or failing as
            L{offsets_for_times} does.
        """
        return self._offsets(partitions, LATEST_TIMESTAMP, timeout_ms)

    def _offsets(
        self, partitions: Iterable[TopicPartition], timestamp: int, timeout_ms: int
    ) -> Deferred[dict[TopicPartition, int]]:
        def offsets(
            found: dict[TopicPartition, ListedOffset],
        ) -> dict[TopicPartition, int]:
            return {tp: listed.offset for tp, listed in found.items()}

        timestamps = dict.fromkeys(partitions, timestamp)
        return self._lookup(timestamps, timeout_ms).addCallback(offsets)

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, OffsetAndTimestamp | None]]:
        """
        Find, for each partition, the first record whose timestamp is at or after
        the time given.

        @param timestamps: the time to look for in each partition, milliseconds
            since the epoch.
        @param timeout_ms: how long to keep trying.
        @return: a Deferred firing with each partition's first offset at or after
            its time and that record's timestamp, or C{None} when there is no
            such record; or failing with L{RequestTimedOutError
            <errors.RequestTimedOutError>} naming the partitions still unknown
            after C{timeout_ms}, or with the error of a partition that cannot be
            retried (such as L{UnknownTopicOrPartitionError
            <errors.UnknownTopicOrPartitionError>} for a partition the metadata
            does not know, once refreshed).
        @raise ValueError: for a negative time (through the Deferred).
        """
        for tp, timestamp in timestamps.items():
            if timestamp < 0:
                return fail(
                    ValueError(
                        f"The target time for partition {tp} is {timestamp}. The"
                        " target time cannot be negative."
                    )
                )

        def found_offsets(
            found: dict[TopicPartition, ListedOffset],
        ) -> dict[TopicPartition, OffsetAndTimestamp | None]:
            return {
                tp: None
                if listed.offset < 0
                else OffsetAndTimestamp(
                    listed.offset, listed.timestamp, listed.leader_epoch
                )
                for tp, listed in found.items()
            }

        return self._lookup(dict(timestamps), timeout_ms).addCallback(found_offsets)

    def _lookup(
        self, timestamps: dict[TopicPartition, int], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, ListedOffset]]:
        """
        Ask until every partition is answered, an error cannot be retried, or
        C{timeout_ms} passes.
        """
        if not timestamps:
            return succeed({})
        pending = dict(timestamps)

        def timed_out(result: object, timeout: float) -> NoReturn:
            raise errors.RequestTimedOutError(
                f"Failed to get offsets by times in {timeout_ms}ms: no answer for"
                f" {_names(pending)}"
            )

        looking = Deferred.fromCoroutine(self._look_up(pending))
        looking.addTimeout(timeout_ms / 1000, self.reactor, onTimeoutCancel=timed_out)
        return looking

    async def _look_up(
        self, pending: dict[TopicPartition, int]
    ) -> dict[TopicPartition, ListedOffset]:
        found: dict[TopicPartition, ListedOffset] = {}
        while True:
            cluster = self.metadata.current
            if any(cluster.leader_for(tp) is None for tp in pending):
                cluster = await self._refresh({tp.topic for tp in pending})
                _check_known(cluster, pending)
            done = await self._round(pending)
            if done.error is not None:
                raise done.error
            found.update(done.found)
            for tp in done.found:
                del pending[tp]
            if not pending:
                return found
            await deferLater(self.reactor, self.retry_backoff_ms / 1000)

    async def _refresh(self, topics: set[str]) -> ClusterMetadata:
        try:
            return await self.metadata.refresh(sorted(topics))
        except errors.RetriableError as error:
            _log.debug("Metadata refresh failed: {error}", error=error)
            return self.metadata.current

    # -- one round of requests

    async def _round(self, timestamps: Mapping[TopicPartition, int]) -> _Round:
        """
        Send one ListOffsets request to each leader of the partitions, at once.

        @return: what the answers say.
        """
        done = _Round()
        cluster = self.metadata.current
        by_leader: dict[Node, dict[TopicPartition, tuple[int, int]]] = {}
        for tp, timestamp in timestamps.items():
            leader = cluster.leader_for(tp)
            info = cluster.partition(tp)
            if leader is None or info is None:
                _log.debug("Leader for partition {tp} is unknown", tp=tp)
                done.retry.add(tp)
                continue
            by_leader.setdefault(leader, {})[tp] = (timestamp, info.leader_epoch)
        if done.retry:
            self.metadata.request_update()
        asked = [
            Deferred.fromCoroutine(self._ask(node, partitions, done))
            for node, partitions in by_leader.items()
        ]
        try:
            await gatherResults(asked, consumeErrors=True)
        except FirstError as e:
            e.subFailure.raiseException()
        return done

    async def _ask(
        self,
        node: Node,
        partitions: dict[TopicPartition, tuple[int, int]],
        done: _Round,
    ) -> None:
        try:
            connection = await self.pool.get(node)
            version = connection.version_for(ApiKey.LIST_OFFSETS)
            request = list_offsets_request(
                version,
                isolation_level=ISOLATION_LEVELS[self.isolation_level],
                partitions=partitions,
                timeout_ms=self.request_timeout_ms,
            )
            response: Any = await connection.send(
                request, timeout_ms=self.request_timeout_ms
            )
        except errors.KafkaError as error:
            if not error.retriable:
                done.error = done.error or error
                return
            _log.debug("ListOffsets to {node} failed: {error}", node=node, error=error)
            self.metadata.request_update()
            done.retry.update(partitions)
            return
        answers = parse_list_offsets_response(response)
        for tp in partitions:
            listed = answers.get(tp)
            if listed is None:
                done.retry.add(tp)
            elif not listed.error_code:
                done.found[tp] = listed
            else:
                error_class = errors.error_for_code(listed.error_code)
                if error_class.retriable:
                    _log.debug(
                        "ListOffsets for {tp} failed with {error}: retrying",
                        tp=tp,
                        error=error_class.name,
                    )
                    self.metadata.request_update()
                    done.retry.add(tp)
                else:
                    done.error = done.error or error_class(
                        f"ListOffsets failed for partition {tp}"
                    )


def _check_known(cluster: ClusterMetadata, pending: Iterable[TopicPartition]) -> None:
    """
    @raise errors.KafkaError: the error the metadata gives for a partition's topic,
        or L{UnknownTopicOrPartitionError <errors.UnknownTopicOrPartitionError>}
        for a partition the topic does not have.
    """
    for tp in pending:
        code = cluster.topic_errors.get(tp.topic)
        if code and code != errors.LeaderNotAvailableError.code:
            raise errors.error_for_code(code)(f"topic {tp.topic} ({tp})")
        count = cluster.partition_count(tp.topic)
        if count is not None and not 0 <= tp.partition < count:
            raise errors.UnknownTopicOrPartitionError(
                f"topic {tp.topic} has {count} partitions, not {tp}"
            )


def _names(partitions: Iterable[TopicPartition]) -> str:
    return "[" + ", ".join(str(tp) for tp in sorted(partitions)) + "]"
