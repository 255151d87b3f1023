"""
Keeping a client's view of the cluster current: L{MetadataManager}, Apache Kafka's
C{Metadata} together with the refresh logic of its C{NetworkClient}.

The manager holds the current L{ClusterMetadata} snapshot and the topics the client
cares about, and replaces the snapshot with the answer of a Metadata request sent to
the least loaded broker (a bootstrap server while no broker is known or reachable):

  - when asked to (L{MetadataManager.refresh}, or L{MetadataManager.request_update}
    once C{retry.backoff.ms} has passed since the last attempt),
  - every C{metadata.max.age.ms} while started,
  - until a topic appears, in L{MetadataManager.wait_for_topic}.

Concurrent refreshes share one request.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from types import MappingProxyType
from typing import Any, NoReturn, Protocol

import attrs
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.pool import ConnectionPool
from odradek.client.network.requests import (
    cluster_from_metadata_response,
    metadata_request,
)
from odradek.client.protocol import ApiKey

__all__ = ["MetadataConfig", "MetadataManager"]


class MetadataConfig(Protocol):
    """
    The settings L{MetadataManager.from_config} reads, by their snake-case names
    (a C{ProducerConfig} has them all).
    """

    @property
    def metadata_max_age_ms(self) -> int: ...
    @property
    def retry_backoff_ms(self) -> int: ...


def _addresses(value: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple((host, port) for host, port in value)


@attrs.define(eq=False)
class MetadataManager:
    """
    The current metadata of a cluster, and when and how to refresh it.

    @ivar pool: the connections to send Metadata requests on.
    @ivar clock: the source of time and of delayed calls.
    @ivar bootstrap_servers: the C{bootstrap.servers} addresses.
    @ivar metadata_max_age_ms: C{metadata.max.age.ms}: the age after which the
        metadata is refreshed even if nothing asked for it (while started).
    @ivar retry_backoff_ms: C{retry.backoff.ms}: the least time between two
        refreshes that were asked for, and between the attempts of
        L{wait_for_topic}.
    @ivar allow_auto_topic_creation: whether Metadata requests let the broker
        create the topics they name (the producer: C{True}, as Java's producer).
    @ivar all_topics: whether to ask for every topic of the cluster rather than the
        topics of interest (a consumer subscribed to a pattern needs them all).
    @ivar listeners: callables given each new snapshot after it replaced
        L{current}; exceptions they raise are logged.
    @ivar current: the latest snapshot; at first only the bootstrap servers.
    """

    pool: ConnectionPool
    clock: IReactorTime
    bootstrap_servers: tuple[tuple[str, int], ...] = attrs.field(converter=_addresses)
    metadata_max_age_ms: int = 300000
    retry_backoff_ms: int = 100
    allow_auto_topic_creation: bool = True
    all_topics: bool = False
    listeners: list[Callable[[ClusterMetadata], object]] = attrs.field(factory=list)
    current: ClusterMetadata = attrs.field(init=False)
    _topics: set[str] = attrs.field(init=False, factory=set)
    _need_update: bool = attrs.field(init=False, default=True)
    _update_version: int = attrs.field(init=False, default=0)
    _last_attempt_ms: float = attrs.field(init=False, default=-math.inf)
    _last_success_ms: float = attrs.field(init=False, default=-math.inf)
    _in_flight: Deferred[tuple[ClusterMetadata, int]] | None = attrs.field(
        init=False, default=None
    )
    _waiters: list[Deferred[ClusterMetadata]] = attrs.field(init=False, factory=list)
    _timer: IDelayedCall | None = attrs.field(init=False, default=None)
    _started: bool = attrs.field(init=False, default=False)

    _log = Logger()

    def __attrs_post_init__(self) -> None:
        self.current = ClusterMetadata.bootstrap(self.bootstrap_servers)

    @classmethod
    def from_config(
        cls,
        clock: IReactorTime,
        pool: ConnectionPool,
        bootstrap_servers: Iterable[tuple[str, int]],
        config: MetadataConfig,
        *,
        allow_auto_topic_creation: bool = True,
    ) -> MetadataManager:
        """
        @param clock: as for L{MetadataManager}.
        @param pool: as for L{MetadataManager}.
        @param bootstrap_servers: the parsed C{bootstrap.servers}.
        @param config: the client's configuration.
        @param allow_auto_topic_creation: as for L{MetadataManager}.
        @return: a manager with the settings of C{config}.
        """
        return cls(
            pool,
            clock,
            bootstrap_servers,
            metadata_max_age_ms=config.metadata_max_age_ms,
            retry_backoff_ms=config.retry_backoff_ms,
            allow_auto_topic_creation=allow_auto_topic_creation,
        )

    def _now_ms(self) -> float:
        return self.clock.seconds() * 1000

    # -- topics of interest and staleness

    @property
    def topics(self) -> frozenset[str]:
        """The topics whose metadata is kept."""
        return frozenset(self._topics)

    def add_topics(self, topics: Iterable[str]) -> None:
        """
        Keep the metadata of more topics; asks for an update if any is new.

        @param topics: topic names.
        """
        new = set(topics) - self._topics
        if new:
            self._topics |= new
            self.request_update()

    @property
    def update_requested(self) -> bool:
        """Whether the metadata is known to be stale."""
        return self._need_update

    def request_update(self) -> None:
        """
        Mark the metadata stale: while started, a refresh is sent as soon as
        C{retry_backoff_ms} has passed since the last attempt.
        """
        self._need_update = True
        self._update_version += 1
        self._schedule()

    def time_to_next_update_ms(self, now_ms: float) -> float:
        """
        @param now_ms: the current time in milliseconds.
        @return: how long until the next refresh is due: at once when stale, else
            when the snapshot reaches C{metadata_max_age_ms}; never sooner than
            C{retry_backoff_ms} after the last attempt.
        """
        if self._need_update:
            expires = 0.0
        else:
            expires = self._last_success_ms + self.metadata_max_age_ms - now_ms
        allowed = self._last_attempt_ms + self.retry_backoff_ms - now_ms
        return max(expires, allowed, 0.0)

    # -- refreshing

    def refresh(self, topics: Sequence[str] | None = None) -> Deferred[ClusterMetadata]:
        """
        Send a Metadata request now, unless one is already under way, whose answer
        is then shared. The answer replaces L{current}; when C{topics} is given,
        the topics of interest it does not name keep their earlier metadata.

        @param topics: the topics to ask for; by default every topic of interest.
        @return: a Deferred firing with the new snapshot, or failing with the
            error that stopped the request.
        """
        waiter: Deferred[ClusterMetadata] = Deferred(self._forget_waiter)
        self._waiters.append(waiter)
        if self._in_flight is None:
            self._cancel_timer()
            in_flight = Deferred.fromCoroutine(self._update(topics))
            self._in_flight = in_flight
            in_flight.addCallbacks(self._updated, self._refresh_failed)
        return waiter

    def _forget_waiter(self, waiter: Deferred[ClusterMetadata]) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    def least_loaded_connection(self) -> Deferred[KafkaConnection]:
        """
        Get a connection for a request any broker can answer: to the least loaded
        known broker (see L{ConnectionPool.least_loaded}), or to a bootstrap server
        when every known broker is in reconnect backoff.

        @return: a Deferred firing with a negotiated connection, or failing with
            L{NetworkError <odradek.client.errors.NetworkError>}.
        """
        node = self.pool.least_loaded(self.current.nodes.values())
        if node is None:
            return self.pool.bootstrap(self.bootstrap_servers)
        return self.pool.get(node)

    async def _update(
        self, topics: Sequence[str] | None
    ) -> tuple[ClusterMetadata, int]:
        requested_version = self._update_version
        self._last_attempt_ms = self._now_ms()
        connection = await self.least_loaded_connection()
        version = connection.version_for(ApiKey.METADATA)
        names = sorted(self._topics) if topics is None else list(topics)
        if self.all_topics and topics is None:
            asked: list[str] | None = None
        else:
            # Version 0 cannot ask for no topic; all of them will do.
            asked = names if names or version > 0 else None
        response: Any = await connection.send(
            metadata_request(version, asked, self.allow_auto_topic_creation)
        )
        cluster = cluster_from_metadata_response(response)
        if topics is not None:
            cluster = self._merge(cluster, set(topics))
        return cluster, requested_version

    def _merge(self, cluster: ClusterMetadata, asked: set[str]) -> ClusterMetadata:
        # A partial answer: keep what is known of the other topics of interest.
        keep = self._topics - asked
        previous = self.current
        partitions = {
            topic: infos
            for topic, infos in previous.partitions.items()
            if topic in keep
        }
        partitions.update(cluster.partitions)
        topic_errors = {
            topic: code
            for topic, code in previous.topic_errors.items()
            if topic in keep
        }
        topic_errors.update(cluster.topic_errors)
        return attrs.evolve(
            cluster,
            partitions=MappingProxyType(partitions),
            topic_errors=MappingProxyType(topic_errors),
            internal_topics=cluster.internal_topics | (previous.internal_topics & keep),
        )

    def _updated(self, result: tuple[ClusterMetadata, int]) -> None:
        cluster, requested_version = result
        self._in_flight = None
        self.current = cluster
        self._last_success_ms = self._now_ms()
        self._need_update = requested_version < self._update_version
        for listener in list(self.listeners):
            try:
                listener(cluster)
            except Exception:
                self._log.failure("A metadata listener failed")
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(cluster)
        self._schedule()

    def _refresh_failed(self, failure: Failure) -> None:
        self._in_flight = None
        self._need_update = True
        self._log.debug(
            "Metadata refresh failed: {error}", error=failure.getErrorMessage()
        )
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.errback(failure)
        self._schedule()

    def wait_for_topic(self, topic: str, timeout_ms: int) -> Deferred[ClusterMetadata]:
        """
        Wait until the metadata has partitions for a topic, refreshing it every
        C{retry_backoff_ms} while the topic is missing, unknown
        (C{UNKNOWN_TOPIC_OR_PARTITION}), leaderless (C{LEADER_NOT_AVAILABLE}) or
        the refreshes fail with a retriable error.

        @param topic: the topic; it becomes a topic of interest.
        @param timeout_ms: how long to wait.
        @return: a Deferred firing with a snapshot that has partitions for the
            topic, or failing with L{RequestTimedOutError
            <odradek.client.errors.RequestTimedOutError>} after C{timeout_ms}, or
            at once with the error the broker reported for the topic when it is
            not retriable (such as L{InvalidTopicError
            <odradek.client.errors.InvalidTopicError>} or
            L{TopicAuthorizationError
            <odradek.client.errors.TopicAuthorizationError>}).
        """
        self.add_topics([topic])
        if self.current.partitions_for_topic(topic):
            return succeed(self.current)

        def timed_out(result: object, timeout: float) -> NoReturn:
            raise errors.RequestTimedOutError(
                f"Topic {topic} not present in metadata after {timeout_ms} ms."
            )

        waiting = Deferred.fromCoroutine(self._wait_for_topic(topic))
        waiting.addTimeout(timeout_ms / 1000, self.clock, onTimeoutCancel=timed_out)
        return waiting

    async def _wait_for_topic(self, topic: str) -> ClusterMetadata:
        while True:
            try:
                cluster = await self.refresh()
            except errors.RetriableError as error:
                self._log.debug(
                    "Metadata refresh for topic {topic} failed: {error}",
                    topic=topic,
                    error=str(error),
                )
            else:
                if cluster.partitions_for_topic(topic):
                    return cluster
                code = cluster.topic_errors.get(topic)
                if code:
                    error_class = errors.error_for_code(code)
                    if not error_class.retriable:
                        raise error_class(f"topic {topic}")
            await deferLater(self.clock, self.retry_backoff_ms / 1000)

    # -- periodic refresh

    def start(self) -> None:
        """
        Refresh whenever the metadata is stale or older than
        C{metadata_max_age_ms}, until L{stop}.
        """
        self._started = True
        self._schedule()

    def stop(self) -> None:
        """Stop the periodic refresh; a refresh under way still completes."""
        self._started = False
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _schedule(self) -> None:
        if not self._started or self._in_flight is not None:
            return
        self._cancel_timer()
        delay = self.time_to_next_update_ms(self._now_ms())
        self._timer = self.clock.callLater(delay / 1000, self._scheduled_refresh)

    def _scheduled_refresh(self) -> None:
        self._timer = None
        self.refresh().addErrback(lambda failure: None)
