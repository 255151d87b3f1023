"""
Tests for L{odradek.client.network.pool} and L{odradek.client.network.address}.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs
from kio.schema.errors import ErrorCode
from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.network.address import (
    RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY,
    format_address,
    parse_bootstrap_servers,
)
from odradek.client.network.cluster import Node
from odradek.client.network.pool import ConnectionPool
from odradek.client.network.requests import metadata_request
from odradek.client.protocol import ApiKey
from odradek.client.test._networktools import (
    FakeBroker,
    FakeNetwork,
    api_versions_response,
)

B1 = Node(1, "b1", 9092)
B2 = Node(2, "b2", 9093)
B3 = Node(3, "b3", 9094)


class ParseBootstrapServersTests(SynchronousTestCase):
    """
    L{parse_bootstrap_servers} reads C{bootstrap.servers}.
    """

    def test_comma_separated(self) -> None:
        """
        Entries are split at commas, blanks and empty entries ignored.
        """
        self.assertEqual(
            parse_bootstrap_servers(" h1:9092, h2.example.com:9093,, "),
            [("h1", 9092), ("h2.example.com", 9093)],
        )

    def test_list(self) -> None:
        """
        A list of entries (as the configuration holds it) is read the same way.
        """
        self.assertEqual(
            parse_bootstrap_servers(["h1:1", " 10.0.0.1:2 "]),
            [("h1", 1), ("10.0.0.1", 2)],
        )

    def test_ipv6(self) -> None:
        """
        IPv6 addresses come in brackets, which are removed.
        """
        self.assertEqual(
            parse_bootstrap_servers("[::1]:9092,[fe80::1%eth0]:9093"),
            [("::1", 9092), ("fe80::1%eth0", 9093)],
        )

    def test_bad_entries(self) -> None:
        """
        A bad entry raises ValueError naming it.
        """
        for entry in (
            "h1",
            "h1:",
            "h1:abc",
            ":9092",
            "h1:-1",
            "h1:70000",
            "::1:9092",
            "[::1]9092",
            "[::1:9092",
            "[]:9092",
        ):
            with self.assertRaises(ValueError) as caught:
                parse_bootstrap_servers(f"good:1,{entry}")
            self.assertIn(repr(entry), str(caught.exception))

    def test_nothing(self) -> None:
        """
        A setting without any entry is refused.
        """
        self.assertRaises(ValueError, parse_bootstrap_servers, " , ")
        self.assertRaises(ValueError, parse_bootstrap_servers, [])

    def test_format_address(self) -> None:
        """
        L{format_address} puts IPv6 hosts back in brackets.
        """
        self.assertEqual(format_address("::1", 9092), "[::1]:9092")
        self.assertEqual(format_address("h", 1), "h:1")


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


class _PoolTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.network = FakeNetwork(self.clock)
        for node in (B1, B2, B3):
            self.network.brokers[(node.host, node.port)] = FakeBroker([B1, B2, B3])
        self.pool = ConnectionPool(
            self.clock,
            client_id="pool-test",
            request_timeout_ms=1000,
            endpoint_factory=self.network.endpoint,
            random=lambda: 0.5,
        )

    def hold(self, node: Node) -> None:
        """Leave connection attempts to C{node} pending until accepted."""
        self.network.auto_accept[(node.host, node.port)] = False

    def down(self, node: Node) -> None:
        """Refuse connections to C{node}."""
        del self.network.brokers[(node.host, node.port)]


class GetTests(_PoolTestCase):
    """
    L{ConnectionPool.get} keeps one negotiated connection per node.
    """

    def test_connects_and_negotiates(self) -> None:
        """
        The connection returned has its versions negotiated and the pool's
        client id.
        """
        connection = self.successResultOf(self.pool.get(B1))
        self.assertEqual(connection.version_for(ApiKey.METADATA), 12)
        self.assertEqual(connection.client_id, "pool-test")
        self.assertEqual(connection.node, B1)
        self.assertTrue(self.pool.is_ready(1))
        self.assertIs(self.pool.connection(1), connection)
        self.assertEqual(self.network.connects, [("b1", 9092)])

    def test_reuses_connection(self) -> None:
        """
        A second call returns the same connection without connecting again.
        """
        first = self.successResultOf(self.pool.get(B1))
        second = self.successResultOf(self.pool.get(B1))
        self.assertIs(first, second)
        self.assertEqual(len(self.network.connects), 1)

    def test_concurrent_calls_share_attempt(self) -> None:
        """
        Calls made while an attempt is under way wait for that attempt.
        """
        self.hold(B1)
        first = self.pool.get(B1)
        second = self.pool.get(B1)
        self.assertTrue(self.pool.is_connecting(1))
        self.assertEqual(len(self.network.attempts), 1)
        self.assertNoResult(first)
        self.network.accept(("b1", 9092))
        self.assertIs(self.successResultOf(first), self.successResultOf(second))
        self.assertFalse(self.pool.is_connecting(1))

    def test_cancel_one_waiter(self) -> None:
        """
        Cancelling one caller's Deferred leaves the attempt to the others.
        """
        self.hold(B1)
        first = self.pool.get(B1)
        second = self.pool.get(B1)
        first.cancel()
        self.failureResultOf(first, CancelledError)
        self.network.accept(("b1", 9092))
        self.successResultOf(second)

    def test_dropped_connection_forgotten(self) -> None:
        """
        A connection that closes is forgotten; the next call reconnects.
        """
        connection = self.successResultOf(self.pool.get(B1))
        connection.close()
        self.network.flush()
        self.assertFalse(self.pool.is_ready(1))
        again = self.successResultOf(self.pool.get(B1))
        self.assertIsNot(again, connection)
        self.assertEqual(len(self.network.connects), 2)

    def test_negotiation_failure(self) -> None:
        """
        A broker refusing ApiVersions fails the attempt with its error and closes
        the connection.
        """
        broker = self.network.brokers[("b1", 9092)]
        broker.handlers[ApiKey.API_VERSIONS] = lambda header, request: (
            api_versions_response(
                header.api_version, error=ErrorCode.cluster_authorization_failed
            )
        )
        self.failureResultOf(self.pool.get(B1), errors.ClusterAuthorizationError)
        self.assertFalse(self.pool.is_ready(1))
        self.assertTrue(self.pool.is_blacked_out(1, self.clock.seconds() * 1000))
        self.network.flush()
        self.assertTrue(broker.transport.disconnected)  # type: ignore[union-attr]


class BackoffTests(_PoolTestCase):
    """
    A failed attempt puts the node in exponential reconnect backoff.
    """

    def test_refused(self) -> None:
        """
        A refused connection fails with NetworkError naming the node.
        """
        self.down(B1)
        failure = self.failureResultOf(self.pool.get(B1), errors.NetworkError)
        self.assertIn("b1:9092", str(failure.value))
        self.assertIn("refused", str(failure.value))
        self.assertFalse(self.pool.is_ready(1))

    def test_fails_fast_during_backoff(self) -> None:
        """
        During the backoff a call fails at once, saying when to retry, without
        a connection attempt.
        """
        self.down(B1)
        self.pool.get(B1).addErrback(lambda _: None)
        self.assertEqual(self.pool.connection_delay_ms(1, 0), 50)
        self.clock.advance(0.02)
        failure = self.failureResultOf(self.pool.get(B1), errors.NetworkError)
        self.assertIn("retry in 30 ms", str(failure.value))
        self.assertEqual(len(self.network.connects), 1)
        self.clock.advance(0.03)
        self.assertEqual(self.pool.connection_delay_ms(1, 50), 0)
        self.failureResultOf(self.pool.get(B1), errors.NetworkError)
        self.assertEqual(len(self.network.connects), 2)

    def test_exponential_and_capped(self) -> None:
        """
        The backoff doubles from C{reconnect_backoff_ms} after each failure up
        to C{reconnect_backoff_max_ms}, and resets after a success.
        """
        self.down(B1)
        delays = []
        for _ in range(7):
            self.pool.get(B1).addErrback(lambda _: None)
            now_ms = self.clock.seconds() * 1000
            delay = self.pool.connection_delay_ms(1, now_ms)
            delays.append(delay)
            self.clock.advance(delay / 1000)
        self.assertEqual(delays, [50, 100, 200, 400, 800, 1000, 1000])
        self.network.brokers[("b1", 9092)] = FakeBroker()
        self.successResultOf(self.pool.get(B1))
        self.assertEqual(self.pool.connection_delay_ms(1, 0), 0)

    def test_jitter(self) -> None:
        """
        The backoff varies by up to 20% either way with the random source.
        """
        self.down(B1)
        for value, expected in ((0.0, 40), (0.999999, 60)):
            pool = attrs.evolve(self.pool, random=_constant(value))
            pool.get(B1).addErrback(lambda _: None)
            now_ms = self.clock.seconds() * 1000
            self.assertEqual(pool.connection_delay_ms(1, now_ms), expected)

    def test_setup_timeout(self) -> None:
        """
        A connection not established within C{connection_setup_timeout_ms}
        fails with NetworkError and leaves no delayed call behind.
        """
        self.hold(B1)
        getting = self.pool.get(B1)
        self.clock.advance(9.999)
        self.assertNoResult(getting)
        self.clock.advance(0.001)
        failure = self.failureResultOf(getting, errors.NetworkError)
        self.assertIn("not established within 10000 ms", str(failure.value))
        self.assertTrue(self.pool.is_blacked_out(1, self.clock.seconds() * 1000))
        self.assertEqual(self.clock.getDelayedCalls(), [])


class LeastLoadedTests(_PoolTestCase):
    """
    L{ConnectionPool.least_loaded} picks the node for a request any broker can
    answer.
    """

    def test_fewest_in_flight(self) -> None:
        """
        Among connected nodes, the one with the fewest requests in flight.
        """
        one = self.successResultOf(self.pool.get(B1))
        self.successResultOf(self.pool.get(B2))
        self.network.brokers[("b1", 9092)].handlers[ApiKey.METADATA] = (
            lambda header, request: None
        )
        one.send(metadata_request(12, ["x"], False))
        self.assertEqual(self.pool.least_loaded([B1, B2, B3]), B2)

    def test_connected_first(self) -> None:
        """
        A connected node beats one not connected.
        """
        self.successResultOf(self.pool.get(B2))
        self.assertEqual(self.pool.least_loaded([B1, B2]), B2)

    def test_connecting_next(self) -> None:
        """
        Without connected nodes, one being connected to is preferred.
        """
        self.hold(B2)
        self.pool.get(B2)
        self.assertEqual(self.pool.least_loaded([B1, B2]), B2)

    def test_skips_backoff(self) -> None:
        """
        Nodes in backoff are skipped; when all are, there is none.
        """
        self.down(B1)
        self.pool.get(B1).addErrback(lambda _: None)
        self.assertEqual(self.pool.least_loaded([B1, B3]), B3)
        self.down(B3)
        self.pool.get(B3).addErrback(lambda _: None)
        self.assertIsNone(self.pool.least_loaded([B1, B3]))
        self.assertIsNone(self.pool.least_loaded([]))


class BootstrapTests(_PoolTestCase):
    """
    L{ConnectionPool.bootstrap} connects to the first bootstrap server that
    answers.
    """

    addresses = [("b1", 9092), ("b2", 9093), ("b3", 9094)]

    def test_first(self) -> None:
        """
        The first server is node -1.
        """
        connection = self.successResultOf(self.pool.bootstrap(self.addresses))
        self.assertEqual(connection.node, Node(-1, "b1", 9092))
        self.assertTrue(self.pool.is_ready(-1))

    def test_in_turn(self) -> None:
        """
        Servers that fail are skipped; the next bootstrap starts after the last
        one that failed.
        """
        self.down(B1)
        connection = self.successResultOf(self.pool.bootstrap(self.addresses))
        self.assertEqual(connection.node, Node(-2, "b2", 9093))
        connection.close()
        self.network.flush()
        self.clock.advance(1)
        self.network.connects.clear()
        connection = self.successResultOf(self.pool.bootstrap(self.addresses))
        self.assertEqual(self.network.connects, [("b2", 9093)])

    def test_all_fail(self) -> None:
        """
        When every server fails, the error names each address tried.
        """
        for node in (B1, B2, B3):
            self.down(node)
        failure = self.failureResultOf(
            self.pool.bootstrap(self.addresses), errors.NetworkError
        )
        for host, port in self.addresses:
            self.assertIn(f"{host}:{port}", str(failure.value))

    def test_canonical_names(self) -> None:
        """
        With C{resolve_canonical_bootstrap_servers_only} each server is replaced
        by the canonical names of its addresses.
        """
        asked: list[tuple[str, int]] = []

        def resolve(host: str, port: int) -> Deferred[list[str]]:
            asked.append((host, port))
            return succeed(["b3", "b2"])

        pool = attrs.evolve(
            self.pool,
            client_dns_lookup=RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY,
            resolve=resolve,
        )
        self.down(B3)
        connection = self.successResultOf(pool.bootstrap([("alias", 9093)]))
        self.assertEqual(asked, [("alias", 9093)])
        self.assertEqual(self.network.connects, [("b3", 9093), ("b2", 9093)])
        self.assertEqual(connection.node, Node(-2, "b2", 9093))

    def test_bad_lookup_setting(self) -> None:
        """
        An unknown C{client.dns.lookup} is refused.
        """
        self.assertRaises(
            ValueError, ConnectionPool, self.clock, client_dns_lookup="default"
        )


class CloseTests(_PoolTestCase):
    """
    L{ConnectionPool.close} ends every connection and attempt.
    """

    def test_close(self) -> None:
        """
        Connections are closed, attempts cancelled with NetworkError, and later
        calls fail; no delayed call is left.
        """
        connection = self.successResultOf(self.pool.get(B1))
        self.hold(B2)
        waiting = self.pool.get(B2)
        self.pool.close()
        self.assertTrue(connection.is_closed)
        failure = self.failureResultOf(waiting, errors.NetworkError)
        self.assertIn("closed", str(failure.value))
        self.failureResultOf(self.pool.get(B1), errors.NetworkError)
        self.assertFalse(self.pool.is_ready(1))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_close_connection(self) -> None:
        """
        L{ConnectionPool.close_connection} closes one node's connection.
        """
        connection = self.successResultOf(self.pool.get(B1))
        self.pool.close_connection(1)
        self.pool.close_connection(2)
        self.assertTrue(connection.is_closed)
        self.assertFalse(self.pool.is_ready(1))


@attrs.frozen
class _Config:
    client_id: str = "configured"
    request_timeout_ms: int = 5000
    reconnect_backoff_ms: int = 10
    reconnect_backoff_max_ms: int = 20
    socket_connection_setup_timeout_ms: int = 3000
    client_dns_lookup: str = RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY


class FromConfigTests(SynchronousTestCase):
    """
    L{ConnectionPool.from_config} takes the client's settings.
    """

    def test_settings(self) -> None:
        """
        Each setting lands on its attribute.
        """
        pool = ConnectionPool.from_config(Clock(), _Config())
        self.assertEqual(
            (
                pool.client_id,
                pool.request_timeout_ms,
                pool.reconnect_backoff_ms,
                pool.reconnect_backoff_max_ms,
                pool.connection_setup_timeout_ms,
                pool.client_dns_lookup,
            ),
            (
                "configured",
                5000,
                10,
                20,
                3000,
                RESOLVE_CANONICAL_BOOTSTRAP_SERVERS_ONLY,
            ),
        )
