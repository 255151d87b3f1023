"""
The client's connections to the brokers of a cluster: L{ConnectionPool} keeps at most
one L{KafkaConnection} per broker node, shares a connection attempt between the
callers waiting for it, and after a failed attempt keeps a node in reconnect backoff
(C{reconnect.backoff.ms} doubling up to C{reconnect.backoff.max.ms}, with 20%
jitter), as Apache Kafka's C{ClusterConnectionStates} does.

L{parse_bootstrap_servers} (from L{odradek.client.network.address}) is re-exported
here for convenience.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol, cast

import attrs
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.interfaces import (
    IReactorThreads,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.logger import Logger
from twisted.python.failure import Failure

from odradek.client import errors
from odradek.client.network.address import (
    DNS_LOOKUPS,
    RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY,
    USE_ALL_DNS_IPS,
    canonical_host_names,
    format_address,
    parse_bootstrap_servers,
)
from odradek.client.network.cluster import Node
from odradek.client.network.connection import KafkaConnection
from odradek.client.protocol import DEFAULT_MAX_FRAME_SIZE

__all__ = ["ConnectionPool", "PoolConfig", "parse_bootstrap_servers"]

_JITTER = 0.2


class PoolConfig(Protocol):
    """
    The settings L{ConnectionPool.from_config} reads, by their snake-case names
    (a C{ProducerConfig} has them all).
    """

    @property
    def client_id(self) -> str: ...
    @property
    def request_timeout_ms(self) -> int: ...
    @property
    def reconnect_backoff_ms(self) -> int: ...
    @property
    def reconnect_backoff_max_ms(self) -> int: ...
    @property
    def socket_connection_setup_timeout_ms(self) -> int: ...
    @property
    def client_dns_lookup(self) -> str: ...


@attrs.define
class _NodeState:
    """
    What the pool knows of one node besides its connection.

    @ivar failures: connection attempts failed in a row.
    @ivar retry_at_ms: when the next attempt may start.
    """

    failures: int = 0
    retry_at_ms: float = 0.0


@attrs.define
class _Attempt:
    """One connection attempt and the callers waiting for it."""

    node: Node
    deferred: Deferred[KafkaConnection] | None = None
    waiters: list[Deferred[KafkaConnection]] = attrs.field(factory=list)

    def wait(self) -> Deferred[KafkaConnection]:
        """@return: a Deferred for the outcome of the attempt, for one caller."""
        waiter: Deferred[KafkaConnection] = Deferred(self._forget)
        self.waiters.append(waiter)
        return waiter

    def _forget(self, waiter: Deferred[KafkaConnection]) -> None:
        # A caller cancelled: stop waiting on its behalf.
        if waiter in self.waiters:
            self.waiters.remove(waiter)


@attrs.define(eq=False)
class ConnectionPool:
    """
    At most one connection per broker node, with reconnect backoff.

    @ivar reactor: the clock for backoff and timeouts. The default endpoint factory
        also needs it to provide C{IReactorTCP} and a name resolver, and the default
        canonical-name resolver C{IReactorThreads}.
    @ivar client_id: the C{client.id} sent with every request.
    @ivar request_timeout_ms: C{request.timeout.ms} of the connections.
    @ivar reconnect_backoff_ms: C{reconnect.backoff.ms}: the wait after a first
        failed attempt.
    @ivar reconnect_backoff_max_ms: C{reconnect.backoff.max.ms}: the longest wait.
    @ivar connection_setup_timeout_ms: C{socket.connection.setup.timeout.ms}: how
        long a TCP connection may take to establish.
    @ivar client_dns_lookup: C{client.dns.lookup}, L{USE_ALL_DNS_IPS} or
        L{RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY}.
    @ivar max_frame_size: the largest response accepted.
    @ivar endpoint_factory: C{(host, port) -> IStreamClientEndpoint}; by default a
        C{HostnameEndpoint}, which tries every address of the name.
    @ivar resolve: C{(host, port) -> Deferred[list of names]} for
        L{RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY}; by default
        L{canonical_host_names}.
    @ivar random: returns a float in [0, 1), for the backoff jitter.
    """

    reactor: IReactorTime
    client_id: str = ""
    request_timeout_ms: int = 30000
    reconnect_backoff_ms: int = 50
    reconnect_backoff_max_ms: int = 1000
    connection_setup_timeout_ms: int = 10000
    client_dns_lookup: str = attrs.field(
        default=USE_ALL_DNS_IPS, validator=attrs.validators.in_(DNS_LOOKUPS)
    )
    max_frame_size: int = DEFAULT_MAX_FRAME_SIZE
    endpoint_factory: Callable[[str, int], IStreamClientEndpoint] | None = None
    resolve: Callable[[str, int], Deferred[list[str]]] | None = None
    random: Callable[[], float] = _random.random
    _connections: dict[int, KafkaConnection] = attrs.field(init=False, factory=dict)
    _attempts: dict[int, _Attempt] = attrs.field(init=False, factory=dict)
    _states: dict[int, _NodeState] = attrs.field(init=False, factory=dict)
    _next_bootstrap: int = attrs.field(init=False, default=0)
    _closed: bool = attrs.field(init=False, default=False)

    _log = Logger()

    @classmethod
    def from_config(cls, reactor: IReactorTime, config: PoolConfig) -> ConnectionPool:
        """
        @param reactor: as for L{ConnectionPool}.
        @param config: the client's configuration.
        @return: a pool with the settings of C{config}.
        """
        return cls(
            reactor,
            client_id=config.client_id,
            request_timeout_ms=config.request_timeout_ms,
            reconnect_backoff_ms=config.reconnect_backoff_ms,
            reconnect_backoff_max_ms=config.reconnect_backoff_max_ms,
            connection_setup_timeout_ms=config.socket_connection_setup_timeout_ms,
            client_dns_lookup=config.client_dns_lookup,
        )

    def _now_ms(self) -> float:
        return self.reactor.seconds() * 1000

    # -- queries

    def connection(self, node_id: int) -> KafkaConnection | None:
        """@return: the open connection to a node, or C{None}."""
        return self._connections.get(node_id)

    def is_ready(self, node_id: int) -> bool:
        """@return: whether a connection to the node is open and negotiated."""
        return node_id in self._connections

    def is_connecting(self, node_id: int) -> bool:
        """@return: whether an attempt to connect to the node is under way."""
        return node_id in self._attempts

    def connection_delay_ms(self, node_id: int, now_ms: float) -> int:
        """
        @param node_id: a node.
        @param now_ms: the current time in milliseconds.
        @return: how long until a connection attempt to the node may start: the
            rest of its reconnect backoff, else 0.
        """
        state = self._states.get(node_id)
        if state is None or node_id in self._connections:
            return 0
        return max(0, int(state.retry_at_ms - now_ms + 0.999))

    def is_blacked_out(self, node_id: int, now_ms: float) -> bool:
        """@return: whether the node is in reconnect backoff."""
        return self.connection_delay_ms(node_id, now_ms) > 0

    def least_loaded(self, nodes: Iterable[Node]) -> Node | None:
        """
        Choose a node to send a request that any broker can answer.

        @param nodes: the candidates.
        @return: the connected node with the fewest requests in flight; failing
            that a node being connected to, or else one not in reconnect backoff;
            C{None} if every node is in backoff.
        """
        now_ms = self._now_ms()
        best: Node | None = None
        best_in_flight = 0
        fallback: Node | None = None
        connecting: Node | None = None
        for node in nodes:
            connection = self._connections.get(node.node_id)
            if connection is not None:
                in_flight = connection.in_flight
                if best is None or in_flight < best_in_flight:
                    best, best_in_flight = node, in_flight
                    if in_flight == 0:
                        break
            elif node.node_id in self._attempts:
                connecting = connecting or node
            elif fallback is None and not self.is_blacked_out(node.node_id, now_ms):
                fallback = node
        return best or connecting or fallback

    # -- connecting

    def get(self, node: Node) -> Deferred[KafkaConnection]:
        """
        Get the connection to a node, connecting and negotiating API versions first
        if needed. Concurrent calls for one node share one attempt.

        @param node: the broker.
        @return: a Deferred firing with a connection whose versions are
            negotiated, or failing with L{NetworkError
            <odradek.client.errors.NetworkError>} when the node is in reconnect
            backoff (saying for how long) or the attempt failed.
        """
        if self._closed:
            return fail(errors.NetworkError("the connection pool is closed"))
        connection = self._connections.get(node.node_id)
        if connection is not None:
            return succeed(connection)
        attempt = self._attempts.get(node.node_id)
        if attempt is not None:
            return attempt.wait()
        delay = self.connection_delay_ms(node.node_id, self._now_ms())
        if delay > 0:
            return fail(
                errors.NetworkError(
                    f"node {node} is in reconnect backoff after a failed "
                    f"connection attempt; retry in {delay} ms"
                )
            )
        attempt = _Attempt(node)
        self._attempts[node.node_id] = attempt
        # The first waiter is registered before the attempt starts, which may
        # complete at once.
        waiter = attempt.wait()
        attempt.deferred = Deferred.fromCoroutine(self._establish(node))
        attempt.deferred.addCallbacks(
            self._connected,
            self._failed,
            callbackArgs=(attempt,),
            errbackArgs=(attempt,),
        )
        return waiter

    async def _establish(self, node: Node) -> KafkaConnection:
        if self.endpoint_factory is not None:
            endpoint = self.endpoint_factory(node.host, node.port)
        else:
            endpoint = HostnameEndpoint(
                self.reactor,
                node.host,
                node.port,
                timeout=self.connection_setup_timeout_ms / 1000,
            )
        connection = KafkaConnection(
            clock=self.reactor,
            client_id=self.client_id,
            request_timeout_ms=self.request_timeout_ms,
            max_frame_size=self.max_frame_size,
            node=node,
        )
        connect: Callable[..., Deferred[KafkaConnection]] = connectProtocol
        connecting = connect(endpoint, connection)
        connecting.addTimeout(self.connection_setup_timeout_ms / 1000, self.reactor)
        try:
            await connecting
        except DeferredTimeoutError:
            raise errors.NetworkError(
                f"connection to node {node} was not established within "
                f"{self.connection_setup_timeout_ms} ms"
            ) from None
        except (CancelledError, errors.KafkaError):
            raise
        except Exception as error:
            raise errors.NetworkError(
                f"connection to node {node} failed: {error}"
            ) from error
        try:
            await connection.negotiate_versions()
        except BaseException:
            connection.close()
            raise
        return connection

    def _connected(self, connection: KafkaConnection, attempt: _Attempt) -> None:
        node_id = attempt.node.node_id
        del self._attempts[node_id]
        self._states.pop(node_id, None)
        self._connections[node_id] = connection
        connection.when_closed().addCallback(self._forget, node_id, connection)
        waiters, attempt.waiters = attempt.waiters, []
        for waiter in waiters:
            waiter.callback(connection)

    def _forget(self, _: None, node_id: int, connection: KafkaConnection) -> None:
        if self._connections.get(node_id) is connection:
            del self._connections[node_id]

    def _failed(self, failure: Failure, attempt: _Attempt) -> None:
        node = attempt.node
        del self._attempts[node.node_id]
        error: Failure | BaseException = failure
        if self._closed and isinstance(failure.value, CancelledError):
            error = errors.NetworkError("the connection pool was closed")
        state = self._states.setdefault(node.node_id, _NodeState())
        state.failures += 1
        backoff = self.reconnect_backoff_ms * 2 ** (state.failures - 1)
        backoff *= 1 - _JITTER + 2 * _JITTER * self.random()
        backoff = min(backoff, self.reconnect_backoff_max_ms)
        state.retry_at_ms = self._now_ms() + backoff
        self._log.info(
            "Connection to node {node} failed ({error}); next attempt in {backoff} ms",
            node=str(node),
            error=failure.getErrorMessage(),
            backoff=int(backoff),
        )
        waiters, attempt.waiters = attempt.waiters, []
        for waiter in waiters:
            waiter.errback(error)

    def bootstrap(
        self, addresses: Sequence[tuple[str, int]]
    ) -> Deferred[KafkaConnection]:
        """
        Connect to one of the bootstrap servers: each in turn, starting after the
        last one that failed, until one connects. The server at position I{i} is
        node C{-(i + 1)}, as in L{ClusterMetadata.bootstrap
        <odradek.client.network.cluster.ClusterMetadata.bootstrap>}. With
        L{RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY} the servers are replaced by the
        canonical names of their addresses first.

        @param addresses: the bootstrap servers' hosts and ports.
        @return: a Deferred firing with a negotiated connection, or failing with
            L{NetworkError <odradek.client.errors.NetworkError>} naming every
            address tried.
        """
        return Deferred.fromCoroutine(self._bootstrap(list(addresses)))

    async def _bootstrap(self, addresses: list[tuple[str, int]]) -> KafkaConnection:
        if self.client_dns_lookup == RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY:
            addresses = await self._canonical(addresses)
        if not addresses:
            raise errors.NetworkError("no bootstrap server to connect to")
        tried: list[str] = []
        count = len(addresses)
        start = self._next_bootstrap % count
        for offset in range(count):
            index = (start + offset) % count
            host, port = addresses[index]
            try:
                return await self.get(Node(-(index + 1), host, port))
            except errors.RetriableError as error:
                tried.append(f"{format_address(host, port)} ({error})")
                self._next_bootstrap = index + 1
        raise errors.NetworkError(
            "could not connect to any bootstrap server: " + "; ".join(tried)
        )

    async def _canonical(
        self, addresses: list[tuple[str, int]]
    ) -> list[tuple[str, int]]:
        resolve = self.resolve
        if resolve is None:
            resolve = canonical_host_names(cast(IReactorThreads, self.reactor))
        expanded: list[tuple[str, int]] = []
        for host, port in addresses:
            try:
                names = await resolve(host, port)
            except Exception as error:
                self._log.warn(
                    "Could not resolve bootstrap server {address}: {error}",
                    address=format_address(host, port),
                    error=str(error),
                )
                continue
            expanded.extend((name, port) for name in names)
        return expanded

    # -- closing

    def close_connection(self, node_id: int) -> None:
        """Close the connection to one node, if there is one."""
        connection = self._connections.pop(node_id, None)
        if connection is not None:
            connection.close()

    def close(self) -> None:
        """
        Close every connection and cancel the attempts under way; later calls to
        L{get} fail.
        """
        self._closed = True
        for attempt in list(self._attempts.values()):
            if attempt.deferred is not None:
                attempt.deferred.cancel()
        connections, self._connections = self._connections, {}
        for connection in connections.values():
            connection.close()
