"""
The part of the admin core that every call uses: its connections and metadata,
where each kind of request goes, the calls in flight, and closing.

Routing, as Kafka's C{KafkaAdminClient}:

  - the controller (L{AdminCoreBase._controller}): the node the latest metadata
    names as controller, else the least loaded node; a C{NOT_CONTROLLER} answer
    refreshes the metadata before the next try;
  - one broker by id (L{AdminCoreBase._broker}): waits (refreshing the metadata)
    until the broker is known, within the call's deadline;
  - any broker (L{AdminCoreBase._least_loaded}).
"""

from __future__ import annotations

import itertools
import random as _random
from collections.abc import Callable, Coroutine, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from kio.static.protocol import RequestPayload, ResponsePayload
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.admin._calls import CallContext, Outcomes, gather, run_batch
from odradek.client.admin._requests import TopicMetadata
from odradek.client.admin.results import ItemResults
from odradek.client.config import AdminClientConfig
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool, parse_bootstrap_servers
from odradek.client.network.requests import metadata_request
from odradek.client.protocol import ApiKey

__all__ = ["CLOSED_MESSAGE", "AdminCoreBase", "BrokerNotKnownError"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_log = Logger()

#: Numbers the admin clients of this process that have no C{client.id}.
_client_numbers = itertools.count(1)

#: What a closed admin client says when called.
CLOSED_MESSAGE = "the admin client is closed"


class BrokerNotKnownError(errors.RetriableError):
    """
    A call must go to a broker that the cluster's metadata does not list (yet):
    the call refreshes the metadata and tries again until its deadline.
    """

    name = "BROKER_NOT_KNOWN"


class AdminCoreBase:
    """
    The connections, metadata and calls of an admin client. Runs on the reactor
    thread.

    @ivar config: the configuration.
    @ivar reactor: the reactor the I/O runs on.
    @ivar client_id: the C{client.id} sent with every request: the configured one,
        or C{"adminclient-N"}.
    @ivar pool: the connections to the brokers.
    @ivar metadata: the cluster's metadata (brokers and controller; topics are
        asked for by each call that needs them).
    @ivar closed: whether L{close} was called: new calls fail.
    """

    def __init__(
        self,
        config: AdminClientConfig,
        reactor: Any,
        *,
        random: Callable[[], float] | None = None,
    ) -> None:
        """
        @param config: the configuration.
        @param reactor: the reactor (time, TCP) the I/O runs on.
        @param random: returns floats in [0, 1) for the retry backoff's jitter;
            by default Python's C{random}.
        """
        self.config = config
        self.reactor = reactor
        self._random = random or _random.random
        self.client_id = config.client_id or f"adminclient-{next(_client_numbers)}"
        self.pool = ConnectionPool.from_config(reactor, config)
        self.pool.client_id = self.client_id
        self.metadata = MetadataManager.from_config(
            reactor,
            self.pool,
            parse_bootstrap_servers(config.bootstrap_servers),
            config,
            allow_auto_topic_creation=False,
        )
        self.closed = False
        self._calls: set[Deferred[Any]] = set()
        self._idle_waiters: list[Deferred[None]] = []
        self._closing: Deferred[None] | None = None
        self._released = False

    # -- calls

    def _context(self, name: str, timeout: float | None) -> CallContext:
        """
        @param name: the call's name, for error messages.
        @param timeout: the call's timeout in seconds; C{None} for
            C{default.api.timeout.ms}.
        @return: a new call's context.
        @raise ValueError: if C{timeout} is negative.
        """
        config = self.config
        if timeout is None:
            timeout_ms = float(config.default_api_timeout_ms)
        elif timeout < 0:
            raise ValueError(f"a timeout must not be negative: {timeout}")
        else:
            timeout_ms = timeout * 1000
        return CallContext(
            name=name,
            reactor=self.reactor,
            deadline=self.reactor.seconds() + timeout_ms / 1000,
            timeout_ms=timeout_ms,
            request_timeout_ms=config.request_timeout_ms,
            retries=config.retries,
            retry_backoff_ms=config.retry_backoff_ms,
            retry_backoff_max_ms=config.retry_backoff_max_ms,
            random=self._random,
        )

    def _call(
        self,
        name: str,
        timeout: float | None,
        body: Callable[[CallContext], Coroutine[Any, Any, T]],
    ) -> Deferred[T]:
        """
        Start a call.

        @param name: the call's name, for error messages.
        @param timeout: its timeout in seconds, or C{None} for the default.
        @param body: runs the call in its context.
        @return: a Deferred of the call's result; it fails with
            L{IllegalStateError<errors.IllegalStateError>} if the client is
            closed, or is closed before the call completes.
        @raise ValueError: if C{timeout} is negative.
        """
        context = self._context(name, timeout)
        if self.closed:
            return fail(errors.IllegalStateError(CLOSED_MESSAGE))
        call = Deferred.fromCoroutine(body(context))
        if call.called:
            return call
        self._calls.add(call)
        result: Deferred[T] = Deferred(lambda _: call.cancel())

        def finished(outcome: object) -> None:
            self._calls.discard(call)
            if isinstance(outcome, Failure):
                error = outcome.value
                if self.closed and isinstance(error, CancelledError):
                    error = errors.IllegalStateError(
                        f"the admin client was closed before {name} completed"
                    )
                    result.errback(error)
                else:
                    result.errback(outcome)
            else:
                result.callback(outcome)  # type: ignore[arg-type]
            if not self._calls:
                waiters, self._idle_waiters = self._idle_waiters, []
                for waiter in waiters:
                    waiter.callback(None)

        call.addBoth(finished)
        return result

    def _empty(self, value: T) -> Deferred[T]:
        """@return: C{value} at once, or a failure if the client is closed."""
        if self.closed:
            return fail(errors.IllegalStateError(CLOSED_MESSAGE))
        return succeed(value)

    # -- routing

    async def _cluster(self, context: CallContext) -> ClusterMetadata:
        """
        @return: the cluster's metadata, refreshed first if it is stale, too old
            or the call found it out of date.
        """
        metadata = self.metadata
        now_ms = self.reactor.seconds() * 1000
        if context.stale_metadata or metadata.time_to_next_update_ms(now_ms) <= 0:
            context.stale_metadata = False
            return await context.wait(metadata.refresh())
        return metadata.current

    async def _least_loaded(self, context: CallContext) -> KafkaConnection:
        """@return: a connection to the least loaded broker."""
        return await context.wait(self.metadata.least_loaded_connection())

    async def _controller(self, context: CallContext) -> KafkaConnection:
        """
        @return: a connection to the controller, or to the least loaded broker
            when no controller is known.
        """
        cluster = await self._cluster(context)
        node = (
            cluster.node(cluster.controller_id) if cluster.controller_id >= 0 else None
        )
        if node is None:
            return await self._least_loaded(context)
        return await context.wait(self.pool.get(node))

    async def _broker(self, context: CallContext, node_id: int) -> KafkaConnection:
        """
        @return: a connection to broker C{node_id}.
        @raise BrokerNotKnownError: if the metadata does not list that broker.
        """
        cluster = await self._cluster(context)
        node = cluster.node(node_id)
        if node is None:
            context.stale_metadata = True
            raise BrokerNotKnownError(
                f"broker {node_id} is not in the cluster's metadata"
            )
        return await context.wait(self.pool.get(node))

    async def _topic_metadata(
        self, context: CallContext, topics: Sequence[str] | None
    ) -> TopicMetadata:
        """
        Ask the least loaded broker for topics' metadata (never creating them).

        @param topics: the topics, or C{None} for all; Metadata version 0 cannot
            ask for none and asks for all instead.
        @return: the answer.
        """
        connection = await self._least_loaded(context)
        version = connection.version_for(ApiKey.METADATA)
        if version == 0 and topics is not None and not topics:
            topics = None
        request = metadata_request(version, topics, False)
        response: Any = await context.wait(
            connection.send(request, timeout_ms=context.response_timeout_ms())
        )
        return TopicMetadata(response)

    async def _per_broker(
        self,
        context: CallContext,
        keys: Sequence[K],
        broker_of: Callable[[K], int | None],
        build: Callable[[KafkaConnection, Sequence[K]], RequestPayload],
        parse: Callable[[ResponsePayload], Mapping[K, V | BaseException]],
    ) -> ItemResults[K, V]:
        """
        Send items to the brokers that must answer for them, one request per
        broker, all at once; items any broker can answer go to the least loaded
        one together.

        @param context: the call.
        @param keys: the items, in order.
        @param broker_of: the broker id an item must go to, or C{None}.
        @param build: makes the request for some items, in a connection's version.
        @param parse: reads a response: each item's value or error.
        @return: each item's outcome.
        """
        groups: dict[int | None, list[K]] = {}
        for key in keys:
            groups.setdefault(broker_of(key), []).append(key)
        parts: list[Outcomes[K, V]] = []
        running = []
        for broker, members in groups.items():
            outcomes: Outcomes[K, V] = Outcomes(members)
            part = context.fork()
            if broker is None:
                connect = self._connect_least_loaded(part)
            else:
                connect = self._connect_broker(part, broker)
            parts.append(outcomes)
            running.append(
                Deferred.fromCoroutine(run_batch(part, outcomes, connect, build, parse))
            )
        await gather(running)
        merged: dict[K, V | BaseException] = {}
        for outcomes in parts:
            merged.update(outcomes.done)
        return ItemResults.of(keys, merged)

    def _connect_least_loaded(
        self, context: CallContext
    ) -> Callable[[], Coroutine[Any, Any, KafkaConnection]]:
        return lambda: self._least_loaded(context)

    def _connect_broker(
        self, context: CallContext, node_id: int
    ) -> Callable[[], Coroutine[Any, Any, KafkaConnection]]:
        return lambda: self._broker(context, node_id)

    # -- closing

    def close(self, timeout: float | None = None) -> Deferred[None]:
        """
        Refuse new calls, let the calls in flight finish (for at most C{timeout}
        seconds; then they fail with L{IllegalStateError
        <errors.IllegalStateError>}) and release the connections. Closing again
        returns the same Deferred.

        @param timeout: seconds to wait for the calls in flight; C{None} waits
            until each ends (every call has a deadline), 0 fails them at once.
        @return: a Deferred that fires once closed.
        """
        if self._closing is not None:
            if timeout is not None and timeout <= 0:
                self._abandon()
            return self._closing
        self.closed = True
        closing: Deferred[None] = Deferred()
        self._closing = closing
        if self._calls:
            idle: Deferred[None] = Deferred()
            self._idle_waiters.append(idle)
            if timeout is not None:
                if timeout <= 0:
                    self._abandon()
                else:
                    timer = self.reactor.callLater(timeout, self._abandon)
                    idle.addBoth(
                        lambda result: (timer.active() and timer.cancel(), result)[1]
                    )
            idle.addCallback(lambda _: self._release())
        else:
            self._release()
        return closing

    def _abandon(self) -> None:
        for call in list(self._calls):
            call.cancel()

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        self.metadata.stop()
        self.pool.close()
        _log.debug("Admin client {client_id} closed", client_id=self.client_id)
        assert self._closing is not None
        self._closing.callback(None)
