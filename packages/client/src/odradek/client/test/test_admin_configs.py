"""
Tests for the admin core's configuration calls
(L{odradek.client.admin._configcalls}): where each resource goes and what comes
back.
"""

from __future__ import annotations

from typing import Any

from odradek.client import errors
from odradek.client.admin.core import BrokerNotKnownError
from odradek.client.admin.types import (
    AlterConfigOp,
    AlterConfigOpType,
    ConfigResource,
    ConfigResourceType,
)
from odradek.client.protocol import ApiKey
from odradek.client.test._admintools import (
    ADMIN_RANGES,
    AdminHandler,
    AdminTestCase,
    entity,
    reply,
)

TOPIC = ConfigResource(ConfigResourceType.TOPIC, "orders")
DEFAULT = ConfigResource(ConfigResourceType.BROKER, "")
BROKER_2 = ConfigResource(ConfigResourceType.BROKER, "2")
LOGGER_2 = ConfigResource(ConfigResourceType.BROKER_LOGGER, "2")
BROKER_3 = ConfigResource(ConfigResourceType.BROKER, "3")


def describing(errors_by_name: dict[str, int] | None = None) -> AdminHandler:
    """
    @return: a DescribeConfigs handler giving each resource one key, C{"node"},
        whose value is the id of the node that answered; or the error code in
        C{errors_by_name} for the resource of that name.
    """
    failing = errors_by_name or {}

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        results = []
        for resource in request.resources:
            code = failing.get(resource.resource_name, 0)
            config = entity(
                ApiKey.DESCRIBE_CONFIGS,
                version,
                "DescribeConfigsResourceResult",
                name="node",
                value=str(node_id),
                config_source=5,
            )
            results.append(
                entity(
                    ApiKey.DESCRIBE_CONFIGS,
                    version,
                    "DescribeConfigsResult",
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                    error_code=code,
                    error_message=f"code {code}" if code else None,
                    configs=() if code else (config,),
                )
            )
        return reply(ApiKey.DESCRIBE_CONFIGS, version, results=tuple(results))

    return handle


def altering(api_key: ApiKey) -> AdminHandler:
    """@return: an (Incremental)AlterConfigs handler accepting every change."""

    def handle(node_id: int, header: Any, request: Any) -> object:
        version = header.api_version
        return reply(
            api_key,
            version,
            responses=tuple(
                entity(
                    api_key,
                    version,
                    "AlterConfigsResourceResponse",
                    resource_type=resource.resource_type,
                    resource_name=resource.resource_name,
                    error_code=40 if resource.resource_name == "bad" else 0,
                )
                for resource in request.resources
            ),
        )

    return handle


class DescribeConfigsTests(AdminTestCase):
    """
    C{describe_configs} sends a broker's own resources to that broker.
    """

    def test_routing(self) -> None:
        """
        Topics and the default broker config go to any broker together; each
        broker's (and its loggers') resources to that broker.
        """
        self.cluster.handlers[ApiKey.DESCRIBE_CONFIGS] = describing()
        resources = [TOPIC, BROKER_2, DEFAULT, BROKER_3, LOGGER_2]
        results = self.result(self.admin().describe_configs(resources))
        self.assertEqual(list(results), resources)
        answered = {
            resource: results[resource].get("node").value for resource in resources
        }
        self.assertEqual(answered[BROKER_2], "2")
        self.assertEqual(answered[LOGGER_2], "2")
        self.assertEqual(answered[BROKER_3], "3")
        self.assertEqual(answered[TOPIC], answered[DEFAULT])
        self.assertEqual(len(self.cluster.requests(ApiKey.DESCRIBE_CONFIGS)), 3)
        self.assertTrue(results[TOPIC].get("node").is_default)

    def test_options(self) -> None:
        """Synonyms and documentation are asked for on request."""
        self.cluster.handlers[ApiKey.DESCRIBE_CONFIGS] = describing()
        self.result(
            self.admin().describe_configs(
                [TOPIC], include_synonyms=True, include_documentation=True
            )
        )
        (request,) = self.cluster.bodies(ApiKey.DESCRIBE_CONFIGS)
        self.assertTrue(request.include_synonyms)
        self.assertTrue(request.include_documentation)

    def test_old_broker(self) -> None:
        """A broker before version 3 is not asked for documentation."""
        ranges = dict(ADMIN_RANGES)
        ranges[ApiKey.DESCRIBE_CONFIGS] = (1, 2)
        for broker in self.cluster.brokers.values():
            broker.ranges = ranges
        self.cluster.handlers[ApiKey.DESCRIBE_CONFIGS] = describing()
        results = self.result(
            self.admin().describe_configs([TOPIC], include_documentation=True)
        )
        (header,) = [h for _, h, _ in self.cluster.requests(ApiKey.DESCRIBE_CONFIGS)]
        self.assertEqual(header.api_version, 2)
        entry = results[TOPIC].get("node")
        self.assertEqual((entry.type, entry.documentation), (None, None))

    def test_errors(self) -> None:
        """A resource's error is its own; a resource not answered fails alone."""
        handler = describing({"orders": 29})

        def dropping(node_id: int, header: Any, request: Any) -> object:
            response = handler(node_id, header, request)
            return reply(
                ApiKey.DESCRIBE_CONFIGS,
                header.api_version,
                results=tuple(
                    result
                    for result in response.results  # type: ignore[attr-defined]
                    if result.resource_name != "2"
                ),
            )

        self.cluster.handlers[ApiKey.DESCRIBE_CONFIGS] = dropping
        results = self.result(self.admin().describe_configs([TOPIC, BROKER_2, DEFAULT]))
        self.assertEqual(
            str(results.error(TOPIC)), "TOPIC_AUTHORIZATION_FAILED: code 29"
        )
        self.assertIn("did not contain a result", str(results.error(BROKER_2)))
        self.assertEqual(results[DEFAULT].get("node").value, "0")

    def test_unknown_broker(self) -> None:
        """
        A broker the metadata does not list is waited for until the timeout;
        the other resources are described meanwhile.
        """
        self.cluster.handlers[ApiKey.DESCRIBE_CONFIGS] = describing()
        missing = ConfigResource(ConfigResourceType.BROKER, "7")
        d = self.admin().describe_configs([missing, TOPIC], timeout=1)
        self.run_for(1)
        results = self.successResultOf(d)
        self.assertIsNone(results.error(TOPIC))
        error = results.error(missing)
        self.assertIsInstance(error, errors.RequestTimedOutError)
        assert error is not None
        self.assertIsInstance(error.__cause__, BrokerNotKnownError)
        self.assertGreater(len(self.cluster.requests(ApiKey.METADATA)), 3)

    def test_bad_arguments(self) -> None:
        """Items that are not resources are refused; no items sends nothing."""
        admin = self.admin()
        self.assertRaises(ValueError, admin.describe_configs, ["orders"])
        self.assertEqual(len(self.successResultOf(admin.describe_configs([]))), 0)
        self.assertEqual(self.cluster.received, [])


class AlterConfigsTests(AdminTestCase):
    """
    C{alter_configs} and C{incremental_alter_configs} route as
    C{describe_configs} does.
    """

    def test_alter(self) -> None:
        """Each resource's whole configuration is sent to the broker it needs."""
        self.cluster.handlers[ApiKey.ALTER_CONFIGS] = altering(ApiKey.ALTER_CONFIGS)
        bad = ConfigResource(ConfigResourceType.TOPIC, "bad")
        results = self.result(
            self.admin().alter_configs(
                {TOPIC: {"retention.ms": "5"}, BROKER_3: {"x": None}, bad: {}},
                validate_only=True,
            )
        )
        self.assertIsNone(results[TOPIC])
        self.assertIsNone(results[BROKER_3])
        self.assertIsInstance(results.error(bad), errors.InvalidConfigurationError)
        by_node = {
            node: request
            for node, _, request in self.cluster.requests(ApiKey.ALTER_CONFIGS)
        }
        self.assertEqual(
            [(c.name, c.value) for c in by_node[3].resources[0].configs], [("x", None)]
        )
        self.assertTrue(all(request.validate_only for request in by_node.values()))
        self.assertEqual(len(by_node), 2)

    def test_incremental(self) -> None:
        """Each change is sent with its operation."""
        self.cluster.handlers[ApiKey.INCREMENTAL_ALTER_CONFIGS] = altering(
            ApiKey.INCREMENTAL_ALTER_CONFIGS
        )
        ops = [
            AlterConfigOp("retention.ms", "5"),
            AlterConfigOp("cleanup.policy", "compact", AlterConfigOpType.APPEND),
        ]
        results = self.result(self.admin().incremental_alter_configs({LOGGER_2: ops}))
        self.assertIsNone(results[LOGGER_2])
        ((node, _, request),) = self.cluster.requests(ApiKey.INCREMENTAL_ALTER_CONFIGS)
        self.assertEqual(node, 2)
        self.assertEqual(
            [(c.name, c.config_operation) for c in request.resources[0].configs],
            [("retention.ms", 0), ("cleanup.policy", 2)],
        )

    def test_bad_arguments(self) -> None:
        """Bad resources, empty keys and changes that are not operations are refused."""
        admin = self.admin()
        self.assertRaises(ValueError, admin.alter_configs, {"t": {"a": "1"}})
        self.assertRaises(ValueError, admin.alter_configs, {TOPIC: {"": "1"}})
        self.assertRaises(
            ValueError, admin.incremental_alter_configs, {TOPIC: [("a", "1")]}
        )
        self.assertEqual(len(self.successResultOf(admin.alter_configs({}))), 0)
        self.assertEqual(self.cluster.received, [])
