"""
Tests for L{odradek.client.admin._configrequests}: DescribeConfigs, AlterConfigs
and IncrementalAlterConfigs in every version the client supports.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin._configrequests import (
    alter_configs_request,
    describe_configs_request,
    incremental_alter_configs_request,
    parse_alter_configs,
    parse_describe_configs,
    parse_incremental_alter_configs,
)
from odradek.client.admin.types import (
    AlterConfigOp,
    AlterConfigOpType,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
    ConfigSynonym,
    ConfigType,
)
from odradek.client.protocol import ApiKey
from odradek.client.test._admintools import entity, reply
from odradek.client.test._networktools import round_trip
from odradek.client.test.test_admin_requests import versions

TOPIC = ConfigResource(ConfigResourceType.TOPIC, "orders")
BROKER = ConfigResource(ConfigResourceType.BROKER, "1")


class DescribeConfigsTests(SynchronousTestCase):
    """
    DescribeConfigs asks for every key; its answer becomes L{Config}s.
    """

    def test_request_every_version(self) -> None:
        """Resources go by type id and name; documentation only from version 3."""
        for version in versions(ApiKey.DESCRIBE_CONFIGS):
            request: Any = round_trip(
                describe_configs_request(
                    version,
                    [TOPIC, BROKER],
                    include_synonyms=True,
                    include_documentation=True,
                )
            )
            self.assertEqual(
                [
                    (r.resource_type, r.resource_name, r.configuration_keys)
                    for r in request.resources
                ],
                [(2, "orders", None), (4, "1", None)],
            )
            self.assertTrue(request.include_synonyms)
            if version >= 3:
                self.assertTrue(request.include_documentation)

    def _response(self, version: int) -> Any:
        synonym = entity(
            ApiKey.DESCRIBE_CONFIGS,
            version,
            "DescribeConfigsSynonym",
            name="log.retention.ms",
            value="5",
            source=4,
        )
        extra: dict[str, object] = {}
        if version >= 3:
            extra = {"config_type": 5, "documentation": "How long."}
        config = entity(
            ApiKey.DESCRIBE_CONFIGS,
            version,
            "DescribeConfigsResourceResult",
            name="retention.ms",
            value="5",
            read_only=False,
            config_source=1,
            is_sensitive=False,
            synonyms=(synonym,),
            **extra,
        )
        default = entity(
            ApiKey.DESCRIBE_CONFIGS,
            version,
            "DescribeConfigsResourceResult",
            name="secret",
            value=None,
            read_only=True,
            config_source=5,
            is_sensitive=True,
        )
        return reply(
            ApiKey.DESCRIBE_CONFIGS,
            version,
            results=(
                entity(
                    ApiKey.DESCRIBE_CONFIGS,
                    version,
                    "DescribeConfigsResult",
                    resource_type=2,
                    resource_name="orders",
                    configs=(config, default),
                ),
                entity(
                    ApiKey.DESCRIBE_CONFIGS,
                    version,
                    "DescribeConfigsResult",
                    resource_type=4,
                    resource_name="1",
                    error_code=29,
                    error_message="no access",
                ),
                entity(
                    ApiKey.DESCRIBE_CONFIGS,
                    version,
                    "DescribeConfigsResult",
                    resource_type=3,
                    resource_name="odd",
                ),
            ),
        )

    def test_parse_v1(self) -> None:
        """Entries, sources, synonyms and errors are read; no type before v3."""
        parsed = parse_describe_configs(self._response(1))
        self.assertEqual(
            parsed[TOPIC],
            Config(
                {
                    "retention.ms": ConfigEntry(
                        "retention.ms",
                        "5",
                        ConfigSource.DYNAMIC_TOPIC_CONFIG,
                        synonyms=(
                            ConfigSynonym(
                                "log.retention.ms",
                                "5",
                                ConfigSource.STATIC_BROKER_CONFIG,
                            ),
                        ),
                    ),
                    "secret": ConfigEntry(
                        "secret",
                        None,
                        ConfigSource.DEFAULT_CONFIG,
                        is_read_only=True,
                        is_sensitive=True,
                        is_default=True,
                    ),
                }
            ),
        )
        error = parsed[BROKER]
        self.assertIsInstance(error, errors.TopicAuthorizationError)
        self.assertEqual(str(error), "TOPIC_AUTHORIZATION_FAILED: no access")
        self.assertEqual(len(parsed), 2)

    def test_parse_v4(self) -> None:
        """Version 3 and up tell each key's type and documentation."""
        config: Any = parse_describe_configs(self._response(4))[TOPIC]
        entry = config.get("retention.ms")
        self.assertEqual(
            (entry.type, entry.documentation), (ConfigType.LONG, "How long.")
        )


class AlterConfigsTests(SynchronousTestCase):
    """
    AlterConfigs and IncrementalAlterConfigs carry each resource's changes.
    """

    def test_alter_every_version(self) -> None:
        """Every key and value (or null) of each resource is sent."""
        for version in versions(ApiKey.ALTER_CONFIGS):
            request: Any = round_trip(
                alter_configs_request(
                    version,
                    {TOPIC: {"retention.ms": "10", "x": None}},
                    validate_only=True,
                )
            )
            (resource,) = request.resources
            self.assertEqual(
                (resource.resource_type, resource.resource_name), (2, "orders")
            )
            self.assertEqual(
                [(c.name, c.value) for c in resource.configs],
                [("retention.ms", "10"), ("x", None)],
            )
            self.assertTrue(request.validate_only)

    def test_incremental_every_version(self) -> None:
        """Each operation is sent with its type id."""
        for version in versions(ApiKey.INCREMENTAL_ALTER_CONFIGS):
            request: Any = round_trip(
                incremental_alter_configs_request(
                    version,
                    {
                        BROKER: [
                            AlterConfigOp("a", "1"),
                            AlterConfigOp("b", None, AlterConfigOpType.DELETE),
                            AlterConfigOp("c", "x", AlterConfigOpType.APPEND),
                        ]
                    },
                    validate_only=False,
                )
            )
            (resource,) = request.resources
            self.assertEqual(
                [(c.name, c.config_operation, c.value) for c in resource.configs],
                [("a", 0, "1"), ("b", 1, None), ("c", 2, "x")],
            )

    def test_parse(self) -> None:
        """Each resource's error carries the broker's message."""
        for api_key, parse in (
            (ApiKey.ALTER_CONFIGS, parse_alter_configs),
            (ApiKey.INCREMENTAL_ALTER_CONFIGS, parse_incremental_alter_configs),
        ):
            response = reply(
                api_key,
                1,
                responses=(
                    entity(
                        api_key,
                        1,
                        "AlterConfigsResourceResponse",
                        resource_type=2,
                        resource_name="orders",
                    ),
                    entity(
                        api_key,
                        1,
                        "AlterConfigsResourceResponse",
                        resource_type=4,
                        resource_name="1",
                        error_code=40,
                        error_message="bad value",
                    ),
                ),
            )
            parsed = parse(response)
            self.assertIsNone(parsed[TOPIC])
            self.assertIsInstance(parsed[BROKER], errors.InvalidConfigurationError)
            self.assertEqual(str(parsed[BROKER]), "INVALID_CONFIG: bad value")
