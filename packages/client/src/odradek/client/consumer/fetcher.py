"""
The consumer's L{Fetcher}: it keeps one Fetch request in flight per broker for the
partitions that broker leads (or the replica it prefers the consumer to read from),
buffers what comes back, and hands records out at each poll (Kafka's C{Fetcher} and
C{FetchCollector}).

A partition is fetched again as soon as its buffered data has been handed out, so
that the next records are on their way while the application processes the ones it
got: the prefetch. Records are decoded only when handed out
(L{CompletedFetch <odradek.client.consumer._completed.CompletedFetch>}).

Everything here runs on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.consumer._completed import (
    CompletedFetch,
    FetchBuffer,
    RecordDeserializationError,
    has_complete_batch,
    record_too_large,
)
from odradek.client.consumer._fetchrequests import (
    FetchConfig,
    FetchedPartition,
    FetchSettings,
    PartitionFetch,
    fetch_request,
    parse_fetch_response,
)
from odradek.client.consumer.subscription import SubscriptionState
from odradek.client.network.cluster import ClusterMetadata, Node
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey
from odradek.client.serialization import IDeserializer
from odradek.client.structs import ConsumerRecord, TopicPartition

__all__ = ["FetchConfig", "FetchSettings", "Fetcher", "RecordDeserializationError"]

_log = Logger()

#: Partition errors after which the partition's leader is looked up again and the
#: fetch retried after C{retry.backoff.ms}.
_METADATA_ERRORS = (
    errors.NotLeaderOrFollowerError,
    errors.UnknownTopicOrPartitionError,
    errors.FencedLeaderEpochError,
    errors.UnknownLeaderEpochError,
    errors.KafkaStorageError,
    errors.OffsetNotAvailableError,
    errors.ReplicaNotAvailableError,
    errors.LeaderNotAvailableError,
)


@attrs.define(eq=False)
class Fetcher:
    """
    Fetches records for the consumer's fetchable partitions and buffers them until
    L{collect} hands them out.

    @ivar reactor: the clock for backoffs.
    @ivar metadata: the cluster's metadata: who leads each partition.
    @ivar pool: the connections to the brokers.
    @ivar subscriptions: the assignment and positions.
    @ivar settings: the fetch settings.
    @ivar key_deserializer: turns keys into objects; C{None} or the bytes
        deserializer hand them out as bytes.
    @ivar value_deserializer: the same for values.
    @ivar on_data: called when records or an error become available to
        L{collect}, or C{None}.
    """

    reactor: IReactorTime
    metadata: MetadataManager
    pool: ConnectionPool
    subscriptions: SubscriptionState
    settings: FetchSettings
    key_deserializer: IDeserializer | None = None
    value_deserializer: IDeserializer | None = None
    on_data: Callable[[], None] | None = None
    _started: bool = attrs.field(init=False, default=False)
    _buffer: FetchBuffer = attrs.field(init=False)
    _in_flight: dict[int, frozenset[TopicPartition]] = attrs.field(
        init=False, factory=dict
    )
    _connecting: set[int] = attrs.field(init=False, factory=set)
    _node_backoff: dict[int, float] = attrs.field(init=False, factory=dict)
    _partition_backoff: dict[TopicPartition, float] = attrs.field(
        init=False, factory=dict
    )
    _timer: IDelayedCall | None = attrs.field(init=False, default=None)
    _generation: int = attrs.field(init=False, default=0)
    _sending: bool = attrs.field(init=False, default=False)
    _again: bool = attrs.field(init=False, default=False)

    def __attrs_post_init__(self) -> None:
        self._buffer = FetchBuffer(self.subscriptions)

    def _now_ms(self) -> float:
        return self.reactor.seconds() * 1000

    # -- running

    def start(self) -> None:
        """Fetch for the fetchable partitions from now on, until L{stop}."""
        if self._started:
            return
        self._started = True
        self.metadata.listeners.append(self._metadata_updated)
        self.wakeup()

    def stop(self) -> None:
        """
        Stop fetching and drop what is buffered; answers to fetches in flight are
        ignored.
        """
        self._started = False
        self._generation += 1
        self._in_flight.clear()
        self._partition_backoff.clear()
        self._node_backoff.clear()
        if self._metadata_updated in self.metadata.listeners:
            self.metadata.listeners.remove(self._metadata_updated)
        self._cancel_timer()
        self._buffer.clear()

    def wakeup(self) -> None:
        """
        Look at once for partitions to fetch: after a seek, an assignment, a
        resume, new metadata.
        """
        if not self._started:
            return
        if self._sending:
            self._again = True
            return
        self._sending = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._send_fetches()
        finally:
            self._sending = False

    def _metadata_updated(self, cluster: ClusterMetadata) -> None:
        self.wakeup()

    def _cancel_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _schedule(self, delay_ms: float) -> None:
        """Wake up after C{delay_ms} unless something wakes the fetcher earlier."""
        due = self.reactor.seconds() + delay_ms / 1000
        timer = self._timer
        if timer is not None and timer.active():
            if timer.getTime() <= due:
                return
            timer.cancel()
        self._timer = self.reactor.callLater(max(delay_ms, 0) / 1000, self._timed)

    def _timed(self) -> None:
        self._timer = None
        self.wakeup()

    # -- sending fetches

    def _send_fetches(self) -> None:
        now = self._now_ms()
        cluster = self.metadata.current
        subscriptions = self.subscriptions
        buffered = self._buffer.buffered_partitions()
        skip: set[TopicPartition] = set()
        for asked in self._in_flight.values():
            skip |= asked
        wake_at: float | None = None
        leaderless = False
        requests: dict[int, dict[TopicPartition, PartitionFetch]] = {}
        # Partitions drained most recently go last, so that one busy partition
        # cannot fill every response (Kafka's movePartitionToEnd).
        fetchable = sorted(
            subscriptions.fetchable_partitions(), key=self._buffer.drain_order
        )
        for tp in fetchable:
            if tp in skip:
                continue
            ahead = None
            if tp in buffered:
                # Fetch what follows the buffered data while it is handed out,
                # so that the next poll does not wait for a round trip.
                ahead = self._buffer.ahead_offset(tp)
                if ahead is None:
                    continue
            until = self._partition_backoff.get(tp)
            if until is not None:
                if until > now:
                    wake_at = until if wake_at is None else min(wake_at, until)
                    continue
                del self._partition_backoff[tp]
            node = self._read_replica(tp, cluster, now)
            if node is None:
                leaderless = True
                continue
            node_id = node.node_id
            if node_id in self._in_flight:
                continue
            until = self._node_backoff.get(node_id)
            if until is not None:
                if until > now:
                    wake_at = until if wake_at is None else min(wake_at, until)
                    continue
                del self._node_backoff[node_id]
            if not self.pool.is_ready(node_id):
                self._connect(node)
                if not self.pool.is_ready(node_id):
                    continue
            position = subscriptions.position(tp)
            if position is None:
                continue
            info = cluster.partition(tp)
            requests.setdefault(node_id, {})[tp] = PartitionFetch(
                position.offset if ahead is None else ahead,
                self.settings.max_partition_fetch_bytes,
                info.leader_epoch if info is not None else -1,
            )
        if leaderless and not self.metadata.update_requested:
            self.metadata.request_update()
        for node_id, fetches in requests.items():
            self._send(node_id, fetches)
        if wake_at is not None:
            self._schedule(wake_at - now)

    def _read_replica(
        self, tp: TopicPartition, cluster: ClusterMetadata, now: float
    ) -> Node | None:
        """
        @return: the replica the broker said to read C{tp} from (KIP-392), while
            known and reachable; else its leader, or C{None} if unknown.
        """
        replica = self.subscriptions.preferred_read_replica(tp, now)
        if replica is not None:
            node = cluster.node(replica)
            if node is not None and not self.pool.is_blacked_out(replica, now):
                return node
            self.subscriptions.clear_preferred_read_replica(tp)
        return cluster.leader_for(tp)

    def _connect(self, node: Node) -> None:
        if node.node_id in self._connecting:
            return
        self._connecting.add(node.node_id)

        def connected(_: object) -> None:
            self._connecting.discard(node.node_id)
            self.wakeup()

        def failed(failure: Failure) -> None:
            self._connecting.discard(node.node_id)
            _log.debug(
                "Cannot connect to {node}: {error}", node=node, error=failure.value
            )
            self.metadata.request_update()
            now = self._now_ms()
            delay = max(
                self.pool.connection_delay_ms(node.node_id, now),
                self.settings.retry_backoff_ms,
            )
            self._node_backoff[node.node_id] = now + delay
            if self._started:
                self._schedule(delay)

        self.pool.get(node).addCallbacks(connected, failed)

    def _send(
        self, node_id: int, partitions: dict[TopicPartition, PartitionFetch]
    ) -> None:
        settings = self.settings
        connection = self.pool.connection(node_id)
        try:
            if connection is None:
                raise errors.NetworkError(f"no connection to node {node_id}")
            version = connection.version_for(ApiKey.FETCH)
        except errors.KafkaError as error:
            self._node_failed(node_id, error)
            return
        request = fetch_request(
            version,
            max_wait_ms=settings.fetch_max_wait_ms,
            min_bytes=settings.fetch_min_bytes,
            max_bytes=settings.fetch_max_bytes,
            isolation_level=settings.isolation_level_id,
            partitions=partitions,
            rack_id=settings.client_rack,
        )
        self._in_flight[node_id] = frozenset(partitions)
        sent = connection.send(
            request,
            timeout_ms=settings.request_timeout_ms + settings.fetch_max_wait_ms,
        )
        sent.addCallbacks(
            self._fetched,
            self._fetch_failed,
            callbackArgs=(node_id, partitions, self._generation),
            errbackArgs=(node_id, partitions, self._generation),
        )

    def _node_failed(self, node_id: int, error: object) -> None:
        _log.debug(
            "Fetch from node {node_id} failed: {error}", node_id=node_id, error=error
        )
        self.metadata.request_update()
        self._node_backoff[node_id] = self._now_ms() + self.settings.retry_backoff_ms
        self._schedule(self.settings.retry_backoff_ms)

    def _fetch_failed(
        self,
        failure: Failure,
        node_id: int,
        partitions: dict[TopicPartition, PartitionFetch],
        generation: int,
    ) -> None:
        if generation != self._generation:
            return  # sent before a stop
        del self._in_flight[node_id]
        self._node_failed(node_id, failure.value or failure)
        self.wakeup()

    # -- answers

    def _fetched(
        self,
        response: Any,
        node_id: int,
        partitions: dict[TopicPartition, PartitionFetch],
        generation: int,
    ) -> None:
        if generation != self._generation:
            return  # sent before a stop
        del self._in_flight[node_id]
        top_error, results = parse_fetch_response(response)
        if top_error:
            self._node_failed(node_id, errors.error_for_code(top_error)())
            self.wakeup()
            return
        now = self._now_ms()
        available = False
        for tp, fetch in partitions.items():
            result = results.get(tp)
            if result is None:
                continue
            # A fetch sent ahead of buffered data is kept if it still follows
            # that data; its errors wait for a fetch at the position.
            if not self._buffer.is_current(tp, fetch.fetch_offset) and (
                result.error_code or self._buffer.ahead_offset(tp) != fetch.fetch_offset
            ):
                continue
            if result.error_code:
                available = self._partition_failed(tp, fetch, result, now) or available
            elif result.records:
                self._update_offsets(tp, result, now)
                self._buffer.add(self._completed_fetch(tp, fetch, result))
                available = True
            else:
                self._update_offsets(tp, result, now)
        if available and self.on_data is not None:
            try:
                self.on_data()
            except Exception:
                _log.failure("The fetcher's on_data callback failed")
        self.wakeup()

    def _update_offsets(
        self, tp: TopicPartition, result: FetchedPartition, now: float
    ) -> None:
        subscriptions = self.subscriptions
        if result.high_watermark >= 0:
            subscriptions.update_high_watermark(tp, result.high_watermark)
        if result.log_start_offset >= 0:
            subscriptions.update_log_start_offset(tp, result.log_start_offset)
        if result.last_stable_offset >= 0:
            subscriptions.update_last_stable_offset(tp, result.last_stable_offset)
        if result.preferred_read_replica >= 0:
            subscriptions.update_preferred_read_replica(
                tp,
                result.preferred_read_replica,
                now + self.metadata.metadata_max_age_ms,
            )

    def _completed_fetch(
        self, tp: TopicPartition, fetch: PartitionFetch, result: FetchedPartition
    ) -> CompletedFetch:
        if not has_complete_batch(result.records):
            error = record_too_large(tp, fetch.fetch_offset, fetch.max_bytes)
            return CompletedFetch(tp, fetch.fetch_offset, error=error)
        aborted = None
        if self.settings.read_committed:
            aborted = result.aborted_transactions or ()
        return CompletedFetch(
            tp,
            fetch.fetch_offset,
            result.records,
            key_deserializer=self.key_deserializer,
            value_deserializer=self.value_deserializer,
            check_crcs=self.settings.check_crcs,
            aborted_transactions=aborted,
        )

    def _partition_failed(
        self,
        tp: TopicPartition,
        fetch: PartitionFetch,
        result: FetchedPartition,
        now: float,
    ) -> bool:
        """
        Act on a partition's error: look its leader up again, reset its position,
        or keep the error for L{collect} to raise.

        @return: whether an error was kept for L{collect}.
        """
        error_class = errors.error_for_code(result.error_code)
        subscriptions = self.subscriptions
        if error_class is not errors.OffsetOutOfRangeError:
            self._partition_backoff[tp] = now + self.settings.retry_backoff_ms
        if issubclass(error_class, _METADATA_ERRORS):
            _log.debug(
                "Fetch of {tp} failed with {error}: refreshing metadata",
                tp=tp,
                error=error_class.name,
            )
            self.metadata.request_update()
            subscriptions.clear_preferred_read_replica(tp)
            return False
        if error_class is errors.OffsetOutOfRangeError:
            if subscriptions.preferred_read_replica(tp) is not None:
                # The follower may lag: ask the leader before resetting.
                subscriptions.clear_preferred_read_replica(tp)
                return False
            if subscriptions.default_reset != "none":
                _log.info(
                    "Fetch position {offset} is out of range for partition {tp},"
                    " resetting offset",
                    offset=fetch.fetch_offset,
                    tp=tp,
                )
                subscriptions.request_reset(tp)
                return False
            self._partition_backoff[tp] = now + self.settings.retry_backoff_ms
            error: errors.KafkaError = errors.OffsetOutOfRangeError(
                f"Fetch position FetchPosition(offset={fetch.fetch_offset}) is out of"
                f" range for partition {tp}"
            )
        elif error_class is errors.TopicAuthorizationError:
            error = errors.TopicAuthorizationError(
                f"Not authorized to access topics: [{tp.topic}]"
            )
        elif error_class is errors.UnknownServerError:
            _log.warn("Unknown server error while fetching {tp}", tp=tp)
            return False
        else:
            error = error_class(
                f"Unexpected error {error_class.name} while fetching partition {tp}"
                f" at offset {fetch.fetch_offset}"
            )
        self._buffer.add(CompletedFetch(tp, fetch.fetch_offset, error=error))
        return True

    # -- handing records out

    def has_available(self) -> bool:
        """
        @return: whether L{collect} has records or an error to give (possibly
            records of partitions since paused or sought, which it keeps or drops).
        """
        return self._buffer.has_available()

    def collect(self, max_records: int) -> list[ConsumerRecord]:
        """
        Hand out up to C{max_records} buffered records, one partition's fetched
        data after the other, and move each partition's position past them; then
        fetch again for the partitions drained. Data fetched for a position that
        is no longer the partition's (after a seek or a revocation) is dropped;
        paused partitions keep theirs for when they are resumed.

        An error met on the way is raised once no records come before it: the
        records before it are returned and the next call raises.

        @param max_records: the most records to return (C{max.poll.records}).
        @return: the records, maybe none.
        @raise errors.OffsetOutOfRangeError: for a position out of range when
            C{auto.offset.reset} is C{none}.
        @raise errors.CorruptRecordError: for a batch whose CRC-32C does not match
            (with C{check.crcs}) or that does not decompress.
        @raise errors.InvalidRecordError: for records that do not decode.
        @raise RecordDeserializationError: for a key or value the deserializer
            refused; the position stays at that record.
        @raise errors.TopicAuthorizationError: for a topic the consumer may not
            read.
        @raise errors.RecordTooLargeError: for a fetch that returned no complete
            batch.
        """
        try:
            return self._buffer.collect(max_records)
        finally:
            self.wakeup()
