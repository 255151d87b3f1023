"""
Tests for AlterConfigs and IncrementalAlterConfigs (L{odradek.broker.apis.configs}),
through a server connection: topic and broker resources, every operation,
validate_only, persistence across a reopening of the metadata store, and the error
code and message of every refusal.
"""

from __future__ import annotations

from collections.abc import Mapping

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.metadata import MetadataChange, TopicConfigChanged
from odradek.broker.test._controltools import ControlPlane, build
from odradek.broker.test.test_apis_configs import BROKER, BROKER_LOGGER, TOPIC, plane

ALTER_CONFIGS, INCREMENTAL_ALTER_CONFIGS = 33, 44
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def alter(
    control: ControlPlane,
    resource_type: int,
    name: str,
    configs: Mapping[str, str | None],
    version: int = 2,
    validate_only: bool = False,
) -> tuple[ErrorCode, str | None]:
    """
    @return: the error code and message of an AlterConfigs request for one
        resource.
    """
    request = build(
        ALTER_CONFIGS,
        version,
        resources=[
            {
                "resource_type": resource_type,
                "resource_name": name,
                "configs": [{"name": k, "value": v} for k, v in configs.items()],
            }
        ],
        validate_only=validate_only,
    )
    [result] = control.send(request).responses
    assert (result.resource_type, result.resource_name) == (resource_type, name)
    return result.error_code, result.error_message


def incremental(
    control: ControlPlane,
    resource_type: int,
    name: str,
    *operations: tuple[str, int, str | None],
    version: int = 1,
    validate_only: bool = False,
) -> tuple[ErrorCode, str | None]:
    """
    @return: the error code and message of an IncrementalAlterConfigs request for
        one resource.
    """
    request = build(
        INCREMENTAL_ALTER_CONFIGS,
        version,
        resources=[
            {
                "resource_type": resource_type,
                "resource_name": name,
                "configs": [
                    {"name": key, "config_operation": op, "value": value}
                    for key, op, value in operations
                ],
            }
        ],
        validate_only=validate_only,
    )
    [result] = control.send(request).responses
    return result.error_code, result.error_message


OK = (ErrorCode.none, None)


def topic_configs(control: ControlPlane, name: str = "t") -> dict[str, str]:
    """
    @return: a topic's stored overrides.
    """
    topic = control.metadata.topic(name)
    assert topic is not None
    return dict(topic.configs)


class AlterConfigsTopicTests(SynchronousTestCase):
    """
    AlterConfigs replaces every override of a topic.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 2 replace the overrides, which survive a reopening of the
        store, and tell the store's subscribers.
        """
        control = plane(self)
        control.create_topic("t", configs={"segment.ms": "100000"})
        heard: list[MetadataChange] = []
        control.metadata.subscribe(heard.append)
        for version in range(3):
            with self.subTest(version=version):
                value = str(1000 + version)
                result = alter(control, TOPIC, "t", {"retention.ms": value}, version)
                self.assertEqual(result, OK)
                self.assertEqual(topic_configs(control), {"retention.ms": value})
        self.assertEqual([type(c) for c in heard], [TopicConfigChanged] * 3)
        reopened = control.open_store()
        topic = reopened.topic("t")
        assert topic is not None
        self.assertEqual(dict(topic.configs), {"retention.ms": "1002"})

    def test_validate_only(self) -> None:
        """
        With C{validate_only} nothing is stored.
        """
        control = plane(self)
        control.create_topic("t")
        result = alter(control, TOPIC, "t", {"retention.ms": "5"}, validate_only=True)
        self.assertEqual(result, OK)
        self.assertEqual(topic_configs(control), {})

    def test_refusals(self) -> None:
        """
        Bad values, unknown keys, null values, unknown and unnamed topics are
        refused with Kafka's codes and messages, and change nothing.
        """
        control = plane(self)
        control.create_topic("t", configs={"retention.ms": "1"})
        cases: list[tuple[tuple[str, dict[str, str | None]], ErrorCode, str]] = [
            (
                ("t", {"retention.ms": "abc"}),
                ErrorCode.invalid_config,
                "Invalid value abc for configuration retention.ms: Not a number of "
                "type LONG",
            ),
            (
                ("t", {"cleanup.policy": "shred"}),
                ErrorCode.invalid_config,
                "Invalid value shred for configuration cleanup.policy: String must "
                "be one of: compact, delete",
            ),
            (
                ("t", {"no.such.key": "1"}),
                ErrorCode.invalid_config,
                "Unknown topic config name: no.such.key",
            ),
            (
                ("t", {"retention.ms": None}),
                ErrorCode.invalid_request,
                "Null value not supported for : retention.ms",
            ),
            (
                ("nothing", {"retention.ms": "1"}),
                ErrorCode.unknown_topic_or_partition,
                "The topic 'nothing' does not exist.",
            ),
            (
                ("", {"retention.ms": "1"}),
                ErrorCode.invalid_request,
                "Default topic resources are not allowed.",
            ),
        ]
        for (name, configs), code, message in cases:
            with self.subTest(name=name, configs=configs):
                self.assertEqual(alter(control, TOPIC, name, configs), (code, message))
        self.assertEqual(topic_configs(control), {"retention.ms": "1"})


class AlterConfigsBrokerTests(SynchronousTestCase):
    """
    AlterConfigs of a broker replaces its dynamic overrides.
    """

    def test_cluster_default_and_broker(self) -> None:
        """
        C{""} names the cluster-wide overrides, the broker's id its own; both
        survive a reopening of the store.
        """
        control = plane(self)
        self.assertEqual(alter(control, BROKER, "", {"log.retention.ms": "1000"}), OK)
        self.assertEqual(
            alter(control, BROKER, "1", {"log.segment.bytes": "2097152"}), OK
        )
        reopened = control.open_store()
        self.assertEqual(
            dict(reopened.broker_config(None)), {"log.retention.ms": "1000"}
        )
        self.assertEqual(
            dict(reopened.broker_config(1)), {"log.segment.bytes": "2097152"}
        )
        self.assertEqual(alter(control, BROKER, "1", {}), OK)
        self.assertEqual(dict(control.metadata.broker_config(1)), {})

    def test_refusals(self) -> None:
        """
        Keys that cannot change at run time, bad values, unknown keys and other
        brokers' ids are refused.
        """
        control = plane(self)
        cases = [
            (
                ("1", {"num.partitions": "3"}),
                ErrorCode.invalid_config,
                "Cannot update these configs dynamically: num.partitions",
            ),
            (
                ("", {"log.retention.ms": "soon"}),
                ErrorCode.invalid_config,
                "Invalid value soon for configuration log.retention.ms: Not a number "
                "of type LONG",
            ),
            (
                ("", {"no.such.key": "1"}),
                ErrorCode.invalid_config,
                "Unknown broker config name: no.such.key",
            ),
            (
                ("2", {"log.retention.ms": "1"}),
                ErrorCode.invalid_request,
                "Unexpected broker id, expected 1 or empty string, but received 2",
            ),
        ]
        for (name, configs), code, message in cases:
            with self.subTest(name=name, configs=configs):
                self.assertEqual(alter(control, BROKER, name, configs), (code, message))
        self.assertEqual(dict(control.metadata.broker_config(None)), {})
        self.assertEqual(dict(control.metadata.broker_config(1)), {})


class RequestShapeTests(SynchronousTestCase):
    """
    Problems with the request itself.
    """

    def test_duplicate_resources(self) -> None:
        """
        A resource given twice is C{INVALID_REQUEST}, each time; the others are
        altered.
        """
        control = plane(self)
        control.create_topic("t")
        control.create_topic("u")
        resource = {
            "resource_type": TOPIC,
            "resource_name": "t",
            "configs": [{"name": "retention.ms", "value": "5"}],
        }
        other = dict(resource, resource_name="u")
        request = build(ALTER_CONFIGS, 2, resources=[resource, other, resource])
        self.assertEqual(
            [(r.resource_name, r.error_code) for r in control.send(request).responses],
            [
                ("t", ErrorCode.invalid_request),
                ("u", ErrorCode.none),
                ("t", ErrorCode.invalid_request),
            ],
        )
        self.assertEqual(topic_configs(control, "t"), {})
        self.assertEqual(topic_configs(control, "u"), {"retention.ms": "5"})

    def test_duplicate_keys(self) -> None:
        """
        A key given twice in one resource is C{INVALID_REQUEST}.
        """
        control = plane(self)
        control.create_topic("t")
        result = incremental(
            control, TOPIC, "t", ("retention.ms", SET, "1"), ("retention.ms", SET, "2")
        )
        self.assertEqual(
            result, (ErrorCode.invalid_request, "Error due to duplicate config keys")
        )

    def test_other_resource_types(self) -> None:
        """
        Broker loggers and unknown resource types cannot be altered.
        """
        control = plane(self)
        self.assertEqual(
            alter(control, BROKER_LOGGER, "1", {"root": "DEBUG"}),
            (
                ErrorCode.invalid_request,
                "AlterConfigs is only supported for topics and brokers, but resource "
                "type is BROKER_LOGGER",
            ),
        )
        code, _ = incremental(control, BROKER_LOGGER, "1", ("root", SET, "DEBUG"))
        self.assertEqual(code, ErrorCode.invalid_request)
        code, _ = incremental(control, 32, "group", ("x", SET, "1"))
        self.assertEqual(code, ErrorCode.invalid_request)


class IncrementalAlterConfigsTests(SynchronousTestCase):
    """
    IncrementalAlterConfigs applies operations to the current overrides.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 and 1 set and delete keys, keeping the other overrides.
        """
        control = plane(self)
        control.create_topic("t", configs={"segment.ms": "100000"})
        for version in range(2):
            with self.subTest(version=version):
                result = incremental(
                    control, TOPIC, "t", ("retention.ms", SET, "77"), version=version
                )
                self.assertEqual(result, OK)
                self.assertEqual(
                    topic_configs(control),
                    {"retention.ms": "77", "segment.ms": "100000"},
                )
        result = incremental(control, TOPIC, "t", ("segment.ms", DELETE, None))
        self.assertEqual(result, OK)
        self.assertEqual(topic_configs(control), {"retention.ms": "77"})

    def test_append_subtract(self) -> None:
        """
        C{APPEND} and C{SUBTRACT} start from the value in effect and change list
        settings item by item.
        """
        control = plane(self)
        control.create_topic("t")
        self.assertEqual(
            incremental(control, TOPIC, "t", ("cleanup.policy", APPEND, "compact")), OK
        )
        self.assertEqual(topic_configs(control), {"cleanup.policy": "delete,compact"})
        self.assertEqual(
            incremental(control, TOPIC, "t", ("cleanup.policy", APPEND, "delete")), OK
        )
        self.assertEqual(topic_configs(control), {"cleanup.policy": "delete,compact"})
        self.assertEqual(
            incremental(control, TOPIC, "t", ("cleanup.policy", SUBTRACT, "delete")),
            OK,
        )
        self.assertEqual(topic_configs(control), {"cleanup.policy": "compact"})

    def test_subtract_everything(self) -> None:
        """
        Emptying a list that may not be empty is C{INVALID_CONFIG}.
        """
        control = plane(self)
        control.create_topic("t")
        code, message = incremental(
            control, TOPIC, "t", ("cleanup.policy", SUBTRACT, "delete")
        )
        self.assertEqual(code, ErrorCode.invalid_config)
        self.assertEqual(
            message, "Invalid value  for configuration cleanup.policy: Empty list"
        )

    def test_refusals(self) -> None:
        """
        List operations on other types, unknown keys and operations, and null
        values are refused.
        """
        control = plane(self)
        control.create_topic("t")
        cases = [
            (
                ("retention.ms", APPEND, "1"),
                ErrorCode.invalid_config,
                "Can't APPEND to key retention.ms because its type is not LIST.",
            ),
            (
                ("no.such.key", SUBTRACT, "1"),
                ErrorCode.invalid_config,
                "Unknown topic config name: no.such.key",
            ),
            (
                ("retention.ms", 9, "1"),
                ErrorCode.invalid_request,
                "Unknown operations type 9",
            ),
            (
                ("retention.ms", SET, None),
                ErrorCode.invalid_request,
                "Null value not supported for : retention.ms",
            ),
        ]
        for operation, code, message in cases:
            with self.subTest(operation=operation):
                self.assertEqual(
                    incremental(control, TOPIC, "t", operation), (code, message)
                )
        self.assertEqual(topic_configs(control), {})

    def test_validate_only(self) -> None:
        """
        With C{validate_only} nothing is stored.
        """
        control = plane(self)
        control.create_topic("t")
        result = incremental(
            control, TOPIC, "t", ("retention.ms", SET, "5"), validate_only=True
        )
        self.assertEqual(result, OK)
        self.assertEqual(topic_configs(control), {})

    def test_broker(self) -> None:
        """
        Broker overrides are set and deleted one key at a time; list keys append
        to the value in effect.
        """
        control = plane(self)
        ops = [
            ("log.retention.ms", SET, "1000"),
            ("log.cleanup.policy", APPEND, "compact"),
        ]
        self.assertEqual(incremental(control, BROKER, "", *ops), OK)
        self.assertEqual(
            dict(control.metadata.broker_config(None)),
            {"log.retention.ms": "1000", "log.cleanup.policy": "delete,compact"},
        )
        self.assertEqual(
            incremental(control, BROKER, "", ("log.retention.ms", DELETE, None)), OK
        )
        self.assertEqual(
            dict(control.metadata.broker_config(None)),
            {"log.cleanup.policy": "delete,compact"},
        )
        code, message = incremental(control, BROKER, "1", ("num.partitions", SET, "2"))
        self.assertEqual(
            (code, message),
            (
                ErrorCode.invalid_config,
                "Cannot update these configs dynamically: num.partitions",
            ),
        )
