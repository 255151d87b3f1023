"""
Tests for L{odradek.client.config.AdminClientConfig}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import config as config_module
from odradek.client.config import (
    AdminClientConfig,
    CommonClientConfig,
    ConfigError,
    config_reference,
)

BOOTSTRAP = {"bootstrap.servers": "localhost:9092"}


def admin(**kwargs: object) -> AdminClientConfig:
    """An admin client configuration with a bootstrap server and C{kwargs}."""
    return AdminClientConfig(BOOTSTRAP, **kwargs)


class AdminDefaultsTests(SynchronousTestCase):
    """
    Keys left out take the Java admin client's 4.x defaults.
    """

    def test_defaults(self) -> None:
        """Each admin client key has Kafka's default value."""
        config = admin()
        expected = {
            "client.id": "",
            "default.api.timeout.ms": 60000,
            "request.timeout.ms": 30000,
            "retries": 2147483647,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 1000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 1000,
            "metadata.max.age.ms": 300000,
            "connections.max.idle.ms": 300000,
            "send.buffer.bytes": 131072,
            "receive.buffer.bytes": 65536,
            "socket.connection.setup.timeout.ms": 10000,
            "socket.connection.setup.timeout.max.ms": 30000,
            "security.protocol": "PLAINTEXT",
        }
        self.assertEqual({name: config[name] for name in expected}, expected)

    def test_keys(self) -> None:
        """The admin client has the shared keys plus its own two, nothing more."""
        self.assertEqual(
            set(AdminClientConfig.definition()),
            set(CommonClientConfig.definition())
            | {"default.api.timeout.ms", "retries"},
        )


class AdminParsingTests(SynchronousTestCase):
    """
    Values may be given typed or as strings, by dotted or underscored name.
    """

    def test_dotted_and_keywords(self) -> None:
        """Dotted names in a mapping and underscored keywords combine."""
        config = AdminClientConfig(
            {"bootstrap.servers": "h:9092", "retries": "3"}, request_timeout_ms=5000
        )
        self.assertEqual(
            (config.bootstrap_servers, config.retries, config.request_timeout_ms),
            (["h:9092"], 3, 5000),
        )

    def test_attributes(self) -> None:
        """Each key reads as an attribute named with underscores."""
        config = admin(default_api_timeout_ms=90000)
        self.assertEqual(config.default_api_timeout_ms, 90000)
        self.assertEqual(config.connections_max_idle_ms, 300000)


class AdminRuleTests(SynchronousTestCase):
    """
    The Java admin client's checks.
    """

    def test_retries_range(self) -> None:
        """retries may not be negative."""
        error = self.assertRaises(ConfigError, admin, retries=-1)
        self.assertEqual(error.name, "retries")
        self.assertEqual(admin(retries=0).retries, 0)

    def test_default_api_timeout_raised(self) -> None:
        """A default api timeout below the request timeout is raised to it."""
        config = admin(request_timeout_ms=120000)
        self.assertEqual(config.default_api_timeout_ms, 120000)

    def test_default_api_timeout_given_too_small(self) -> None:
        """A given api timeout below the request timeout is an error naming it."""
        error = self.assertRaises(
            ConfigError, admin, default_api_timeout_ms=1000, request_timeout_ms=2000
        )
        self.assertEqual(error.name, "default.api.timeout.ms")
        self.assertIn("request.timeout.ms", str(error))

    def test_default_api_timeout_equal(self) -> None:
        """An api timeout equal to the request timeout is accepted."""
        config = admin(default_api_timeout_ms=2000, request_timeout_ms=2000)
        self.assertEqual(config.default_api_timeout_ms, 2000)

    def test_unknown_key(self) -> None:
        """An unknown key, such as a consumer's, is an error naming it."""
        error = self.assertRaises(
            ConfigError, AdminClientConfig, {**BOOTSTRAP, "group.id": "g"}
        )
        self.assertEqual(error.name, "group.id")
        self.assertIn("'group.id'", str(error))

    def test_unknown_keyword_suggestion(self) -> None:
        """An unknown keyword suggests the dotted name it resembles."""
        error = self.assertRaises(ConfigError, admin, retrys=1)
        self.assertEqual(error.name, "retrys")
        self.assertIn("did you mean 'retries'", str(error))


class AdminReferenceTests(SynchronousTestCase):
    """
    L{config_reference} and L{odradek.client.config} know the admin client.
    """

    def test_public(self) -> None:
        """odradek.client.config exports AdminClientConfig."""
        self.assertIn("AdminClientConfig", config_module.__all__)
        self.assertIs(config_module.AdminClientConfig, AdminClientConfig)

    def test_rows(self) -> None:
        """The reference lists every admin client key with its default."""
        rows = {row[0]: row for row in config_reference(AdminClientConfig)}
        self.assertEqual(set(rows), set(AdminClientConfig.definition()))
        self.assertEqual(rows["retries"][1:3], ("int", 2**31 - 1))
        self.assertEqual(rows["connections.max.idle.ms"][2], 300000)
        self.assertTrue(all(row[3] for row in rows.values()))
