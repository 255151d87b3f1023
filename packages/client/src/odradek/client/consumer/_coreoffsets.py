"""
The offset side of L{ConsumerCore<odradek.client.consumer.core.ConsumerCore>}:
commits, committed offsets, positions and seeks, offset lookups, pausing and
topic metadata; and the checks of what applications pass in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer.listener import invoke_rebalance_listener
from odradek.client.network.cluster import PartitionInfo
from odradek.client.structs import (
    OffsetAndMetadata,
    OffsetAndTimestamp,
    TopicPartition,
)

if TYPE_CHECKING:
    from odradek.client.consumer.coordinator import ConsumerCoordinator
    from odradek.client.consumer.fetcher import Fetcher
    from odradek.client.consumer.offset_lookup import OffsetLookup
    from odradek.client.consumer.subscription import SubscriptionState
    from odradek.client.network.metadata import MetadataManager

__all__ = [
    "CommitCallback",
    "ConsumerOffsets",
    "call_listener",
    "check_partitions",
    "check_topics",
]

_log = Logger()

#: What C{commit_async} calls: C{(offsets, None)} or C{(offsets, error)}.
CommitCallback = Callable[
    [Mapping[TopicPartition, OffsetAndMetadata], BaseException | None], object
]


def call_listener(
    listener: object | None, hook: str, partitions: list[TopicPartition]
) -> object:
    """
    Run one hook of the rebalance listener given to C{subscribe}, if any, with
    the partitions sorted (see L{invoke_rebalance_listener}).

    @return: what the hook returned (a Deferred, for the Twisted face).
    """
    if listener is None:
        return None
    return invoke_rebalance_listener(listener, hook, sorted(partitions))


def check_topics(topics: Iterable[str]) -> list[str]:
    """
    @return: the topics as a list.
    @raise ValueError: for a topic that is not a non-empty string.
    """
    names = [topics] if isinstance(topics, str) else list(topics)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(
                f"Topic collection to subscribe to cannot contain null or empty "
                f"topic: {name!r}"
            )
    return names


def check_partitions(partitions: Iterable[TopicPartition]) -> list[TopicPartition]:
    """
    @return: the partitions as a list.
    @raise ValueError: for something that is not a valid L{TopicPartition}.
    """
    checked = list(partitions)
    for tp in checked:
        if not isinstance(tp, TopicPartition):
            raise ValueError(f"Not a TopicPartition: {tp!r}")
        if not tp.topic or not tp.topic.strip() or tp.partition < 0:
            raise ValueError(f"Invalid partition to assign: {tp!r}")
    return checked


class ConsumerOffsets:
    """
    The consumer core's methods about offsets and positions (a part of
    L{ConsumerCore<odradek.client.consumer.core.ConsumerCore>}).
    """

    subscriptions: SubscriptionState
    coordinator: ConsumerCoordinator | None
    offsets: OffsetLookup
    metadata: MetadataManager
    fetcher: Fetcher
    _run_callback: Callable[[Callable[[], object]], None]

    def _check_open(self) -> None:
        raise NotImplementedError

    def _require_group(self) -> ConsumerCoordinator:
        raise NotImplementedError

    def _now_ms(self) -> int:
        raise NotImplementedError

    def _raise_pending(self) -> None:
        raise NotImplementedError

    # -- offsets

    def commit_sync(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None,
        timeout_ms: int,
    ) -> Deferred[None]:
        """
        Commit C{offsets}, or the positions after the last poll, retrying until
        done or C{timeout_ms}.
        """
        self._check_open()
        coordinator = self._require_group()
        to_commit = (
            self.subscriptions.all_consumed() if offsets is None else dict(offsets)
        )
        return coordinator.commit_offsets_sync(to_commit, timeout_ms)

    def commit_async(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata] | None,
        callback: CommitCallback | None,
    ) -> None:
        """
        Send a commit of C{offsets}, or of the positions after the last poll,
        without waiting; C{callback} gets the outcome (run by C{run_callback}).
        """
        self._check_open()
        coordinator = self._require_group()
        to_commit = (
            self.subscriptions.all_consumed() if offsets is None else dict(offsets)
        )

        def completed(
            committed: Mapping[TopicPartition, OffsetAndMetadata],
            error: BaseException | None,
        ) -> None:
            if callback is not None:
                self._run_callback(lambda: callback(committed, error))
            elif error is not None:
                _log.warn("Asynchronous commit failed: {error}", error=str(error))

        coordinator.commit_offsets_async(to_commit, completed)

    def committed(
        self, partitions: Iterable[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, OffsetAndMetadata | None]]:
        """The last committed offsets of C{partitions}, C{None} where none."""
        self._check_open()
        coordinator = self._require_group()
        return coordinator.fetch_committed_offsets(
            check_partitions(partitions), timeout_ms
        )

    def _assigned(self, tp: TopicPartition) -> None:
        if not self.subscriptions.is_assigned(tp):
            raise errors.IllegalStateError(
                f"You can only check the position for partitions assigned to this "
                f"consumer: {tp} is not"
            )

    async def position(self, tp: TopicPartition, timeout_ms: int) -> int:
        """
        The offset of the next record of C{tp} that will be fetched, looking up
        the committed offset or resetting first if there is no position yet.

        @raise errors.IllegalStateError: if C{tp} is not assigned.
        @raise errors.RequestTimedOutError: if no position was found in time.
        """
        self._check_open()
        self._assigned(tp)
        deadline = self._now_ms() + timeout_ms
        subscriptions = self.subscriptions
        while True:
            position = (
                subscriptions.position(tp) if subscriptions.is_assigned(tp) else None
            )
            if position is not None:
                return position.offset
            self._assigned(tp)
            self._raise_pending()
            if self._now_ms() >= deadline:
                raise errors.RequestTimedOutError(
                    f"Timeout of {timeout_ms}ms expired before the position for "
                    f"partition {tp} could be determined"
                )
            if self.coordinator is not None and subscriptions.initializing_partitions():
                committed = await self.coordinator.fetch_committed_offsets(
                    [tp], max(1, deadline - self._now_ms())
                )
                found = committed.get(tp)
                if subscriptions.is_assigned(tp) and subscriptions.position(tp) is None:
                    if found is not None:
                        subscriptions.seek(tp, found.offset, found.leader_epoch)
                    else:
                        subscriptions.request_reset(tp)
            elif subscriptions.initializing_partitions():
                for each in subscriptions.initializing_partitions():
                    subscriptions.request_reset(each)
            else:
                await self.offsets.reset_positions()

    def seek(self, tp: TopicPartition, offset: int | OffsetAndMetadata) -> None:
        """
        Fetch C{tp} from C{offset} next.

        @raise ValueError: for a negative offset.
        @raise errors.IllegalStateError: if C{tp} is not assigned.
        """
        self._check_open()
        if isinstance(offset, OffsetAndMetadata):
            self.subscriptions.seek(tp, offset.offset, offset.leader_epoch)
        else:
            self.subscriptions.seek(tp, offset)
        self.fetcher.wakeup()

    def seek_to(
        self, strategy: str, partitions: Iterable[TopicPartition] | None
    ) -> None:
        """
        Move C{partitions} (all assigned ones by default) to their first
        (C{"earliest"}) or next (C{"latest"}) offset, evaluated lazily at the next
        poll or position.
        """
        self._check_open()
        chosen = (
            self.subscriptions.assigned_partitions()
            if partitions is None
            else check_partitions(partitions)
        )
        for tp in chosen:
            self.subscriptions.request_reset(tp, strategy)
        self.fetcher.wakeup()

    def beginning_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, int]]:
        """The first offset of each partition."""
        self._check_open()
        return self.offsets.beginning_offsets(check_partitions(partitions), timeout_ms)

    def end_offsets(
        self, partitions: Iterable[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, int]]:
        """The offset after the last record of each partition."""
        self._check_open()
        return self.offsets.end_offsets(check_partitions(partitions), timeout_ms)

    def offsets_for_times(
        self, timestamps: Mapping[TopicPartition, int], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, OffsetAndTimestamp | None]]:
        """The first offset at or after each time, C{None} where there is none."""
        self._check_open()
        for tp, timestamp in timestamps.items():
            if timestamp < 0:
                raise ValueError(
                    f"The target time for partition {tp} is {timestamp}. The target "
                    "time cannot be negative."
                )
        return self.offsets.offsets_for_times(dict(timestamps), timeout_ms)

    # -- flow control and metadata

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        """Stop fetching C{partitions}."""
        self._check_open()
        self.subscriptions.pause(check_partitions(partitions))

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        """Fetch C{partitions} again."""
        self._check_open()
        self.subscriptions.resume(check_partitions(partitions))
        self.fetcher.wakeup()

    def paused(self) -> set[TopicPartition]:
        """@return: the paused partitions."""
        self._check_open()
        return set(self.subscriptions.paused_partitions())

    def partitions_for(
        self, topic: str, timeout_ms: int
    ) -> Deferred[list[PartitionInfo]]:
        """The partitions of C{topic}, fetching its metadata if needed."""
        self._check_open()
        check_topics([topic])
        waiting = self.metadata.wait_for_topic(topic, timeout_ms)
        return waiting.addCallback(
            lambda cluster: list(cluster.partitions_for_topic(topic))
        )

    async def list_topics(self, timeout_ms: int) -> dict[str, list[PartitionInfo]]:
        """Every topic of the cluster (internal ones too) with its partitions."""
        self._check_open()
        from odradek.client.network.requests import (
            cluster_from_metadata_response,
            metadata_request,
        )
        from odradek.client.protocol import ApiKey

        connection = await self.metadata.least_loaded_connection()
        version = connection.version_for(ApiKey.METADATA)
        response = await connection.send(
            metadata_request(version, None, False), timeout_ms=timeout_ms
        )
        assert response is not None
        cluster = cluster_from_metadata_response(response)
        return {topic: list(infos) for topic, infos in cluster.partitions.items()}
