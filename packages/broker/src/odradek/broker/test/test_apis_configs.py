"""
Tests for DescribeConfigs (L{odradek.broker.apis.configs}), through a server
connection: topic and broker resources, config sources and synonyms, read-only and
sensitive flags, documentation, and the errors of every refused resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import configs as configs_api
from odradek.broker.log.config import TOPIC_CONFIGS
from odradek.broker.test._controltools import ControlPlane, build

DESCRIBE_CONFIGS = 32
TOPIC, BROKER, BROKER_LOGGER = 2, 4, 8
# Kafka's config sources.
DYNAMIC_TOPIC, DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT = 1, 2, 3, 4, 5


def plane(
    case: SynchronousTestCase, properties: Mapping[str, str] | None = None
) -> ControlPlane:
    """
    @return: a control plane serving the config APIs.
    """
    return ControlPlane(
        case,
        properties,
        register=[
            lambda p: configs_api.register(
                p.registry, config=p.config, metadata=p.metadata, node_id=1
            )
        ],
    )


def describe(
    control: ControlPlane,
    resource_type: int,
    name: str,
    keys: list[str] | None = None,
    version: int = 4,
    **fields: Any,
) -> Any:
    """
    @return: the one result of a DescribeConfigs request.
    """
    request = build(
        DESCRIBE_CONFIGS,
        version,
        resources=[
            {
                "resource_type": resource_type,
                "resource_name": name,
                "configuration_keys": keys,
            }
        ],
        **fields,
    )
    [result] = control.send(request).results
    return result


def entries(result: Any) -> dict[str, Any]:
    """
    @return: a result's configs by name.
    """
    return {entry.name: entry for entry in result.configs}


def synonyms(entry: Any) -> list[tuple[str, str | None, int]]:
    """
    @return: an entry's synonyms as (name, value, source).
    """
    return [(s.name, s.value, s.source) for s in entry.synonyms]


class TopicTests(SynchronousTestCase):
    """
    A topic's configs: every topic-level key with its value in effect and where it
    comes from.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 4 list every topic-level key; from version 3 with its type.
        """
        control = plane(self)
        control.create_topic("t")
        for version in range(1, 5):
            with self.subTest(version=version):
                result = describe(control, TOPIC, "t", version=version)
                self.assertEqual(result.error_code, ErrorCode.none)
                self.assertEqual(
                    (result.resource_type, result.resource_name), (TOPIC, "t")
                )
                configs = entries(result)
                self.assertEqual(sorted(configs), sorted(TOPIC_CONFIGS))
                retention = configs["retention.ms"]
                self.assertEqual(retention.value, "604800000")
                self.assertEqual(retention.config_source, DEFAULT)
                self.assertFalse(retention.read_only)
                self.assertFalse(retention.is_sensitive)
                if version >= 3:
                    self.assertEqual(retention.config_type, 5)  # LONG
                    self.assertEqual(configs["cleanup.policy"].config_type, 7)  # LIST

    def test_sources_and_synonyms(self) -> None:
        """
        A topic override comes first, then the broker's dynamic, static and default
        synonyms, most specific first.
        """
        control = plane(self, {"log.retention.hours": "24"})
        control.create_topic("t", configs={"retention.ms": "1000"})
        self.successResultOf(
            control.metadata.alter_broker_config(None, {"log.retention.minutes": "5"})
        )
        configs = entries(describe(control, TOPIC, "t", include_synonyms=True))
        retention = configs["retention.ms"]
        self.assertEqual((retention.value, retention.config_source), ("1000", 1))
        self.assertEqual(
            synonyms(retention),
            [
                ("retention.ms", "1000", DYNAMIC_TOPIC),
                ("log.retention.minutes", "5", DYNAMIC_DEFAULT),
                ("log.retention.hours", "24", STATIC),
                ("log.retention.hours", "168", DEFAULT),
            ],
        )
        segment = configs["segment.bytes"]
        self.assertEqual((segment.value, segment.config_source), ("1073741824", 5))
        self.assertEqual(
            synonyms(segment), [("log.segment.bytes", "1073741824", DEFAULT)]
        )

    def test_broker_levels(self) -> None:
        """
        Without an override, the value comes from the most specific broker level:
        this broker's dynamic config, then the cluster-wide one, then the static
        one.
        """
        control = plane(self, {"log.segment.bytes": "2097152"})
        control.create_topic("t")
        segment = entries(describe(control, TOPIC, "t"))["segment.bytes"]
        self.assertEqual((segment.value, segment.config_source), ("2097152", STATIC))
        self.successResultOf(
            control.metadata.alter_broker_config(None, {"log.segment.bytes": "3145728"})
        )
        segment = entries(describe(control, TOPIC, "t"))["segment.bytes"]
        self.assertEqual(
            (segment.value, segment.config_source), ("3145728", DYNAMIC_DEFAULT)
        )
        self.successResultOf(
            control.metadata.alter_broker_config(1, {"log.segment.bytes": "4194304"})
        )
        segment = entries(describe(control, TOPIC, "t"))["segment.bytes"]
        self.assertEqual(
            (segment.value, segment.config_source), ("4194304", DYNAMIC_BROKER)
        )

    def test_without_synonyms(self) -> None:
        """
        Synonyms are listed only when asked for.
        """
        control = plane(self)
        control.create_topic("t")
        configs = entries(describe(control, TOPIC, "t"))
        self.assertEqual(configs["retention.ms"].synonyms, ())

    def test_keys(self) -> None:
        """
        Named keys restrict the answer to them; unknown names are left out.
        """
        control = plane(self)
        control.create_topic("t")
        result = describe(control, TOPIC, "t", ["segment.ms", "no.such.key"])
        self.assertEqual(list(entries(result)), ["segment.ms"])

    def test_documentation(self) -> None:
        """
        From version 3 each key's documentation is given when asked for.
        """
        control = plane(self)
        control.create_topic("t")
        asked = describe(control, TOPIC, "t", include_documentation=True)
        self.assertEqual(
            entries(asked)["retention.ms"].documentation,
            TOPIC_CONFIGS["retention.ms"].doc,
        )
        self.assertIsNone(
            entries(describe(control, TOPIC, "t"))["retention.ms"].documentation
        )

    def test_unknown_topic(self) -> None:
        """
        A topic that does not exist is C{UNKNOWN_TOPIC_OR_PARTITION}, with no
        configs.
        """
        result = describe(plane(self), TOPIC, "nothing")
        self.assertEqual(result.error_code, ErrorCode.unknown_topic_or_partition)
        self.assertEqual(result.configs, ())

    def test_invalid_topic(self) -> None:
        """
        A name no topic can have is C{INVALID_TOPIC_EXCEPTION}.
        """
        result = describe(plane(self), TOPIC, "bad name")
        self.assertEqual(result.error_code, ErrorCode.invalid_topic_exception)


class BrokerTests(SynchronousTestCase):
    """
    A broker's configs: every broker key, with Kafka's read-only flags.
    """

    def test_this_broker(self) -> None:
        """
        This broker's resource lists every key; only dynamic keys are writable,
        static settings come from C{STATIC_BROKER_CONFIG}.
        """
        control = plane(self, {"num.partitions": "4"})
        configs = entries(describe(control, BROKER, "1", include_synonyms=True))
        partitions = configs["num.partitions"]
        self.assertEqual((partitions.value, partitions.config_source), ("4", STATIC))
        self.assertTrue(partitions.read_only)
        self.assertEqual(
            synonyms(partitions),
            [("num.partitions", "4", STATIC), ("num.partitions", "1", DEFAULT)],
        )
        self.assertFalse(configs["log.retention.ms"].read_only)
        self.assertEqual(configs["node.id"].value, "1")
        self.assertEqual(configs["zookeeper.connect"].value, None)
        self.assertEqual(configs["log.dirs"].value, control.log_dir)

    def test_unknown_static_key(self) -> None:
        """
        A key Odradek does not know, set in the static configuration, is listed as
        sensitive, its value hidden, as Kafka lists keys of unknown type.
        """
        control = plane(self, {"ssl.keystore.password": "secret"})
        entry = entries(describe(control, BROKER, "1", include_synonyms=True))[
            "ssl.keystore.password"
        ]
        self.assertTrue(entry.is_sensitive)
        self.assertIsNone(entry.value)
        self.assertEqual(synonyms(entry), [("ssl.keystore.password", None, STATIC)])

    def test_dynamic(self) -> None:
        """
        A dynamic override of this broker is its value's source; a broker key's
        synonyms start at the key itself.
        """
        control = plane(self, {"log.retention.hours": "24"})
        self.successResultOf(
            control.metadata.alter_broker_config(1, {"log.retention.ms": "5000"})
        )
        configs = entries(describe(control, BROKER, "1", include_synonyms=True))
        millis = configs["log.retention.ms"]
        self.assertEqual((millis.value, millis.config_source), ("5000", DYNAMIC_BROKER))
        self.assertEqual(
            synonyms(millis),
            [
                ("log.retention.ms", "5000", DYNAMIC_BROKER),
                ("log.retention.hours", "24", STATIC),
                ("log.retention.hours", "168", DEFAULT),
            ],
        )
        hours = configs["log.retention.hours"]
        self.assertEqual(hours.config_source, STATIC)

    def test_cluster_default(self) -> None:
        """
        The resource C{""} lists only the cluster-wide dynamic overrides.
        """
        control = plane(self)
        self.successResultOf(
            control.metadata.alter_broker_config(None, {"log.retention.ms": "5000"})
        )
        self.successResultOf(
            control.metadata.alter_broker_config(1, {"log.retention.ms": "7000"})
        )
        result = describe(control, BROKER, "", include_synonyms=True)
        [entry] = result.configs
        self.assertEqual(
            (entry.name, entry.value, entry.config_source),
            ("log.retention.ms", "5000", DYNAMIC_DEFAULT),
        )
        self.assertEqual(
            synonyms(entry), [("log.retention.ms", "5000", DYNAMIC_DEFAULT)]
        )

    def test_other_broker(self) -> None:
        """
        Another broker's id, or a name that is no id, is C{INVALID_REQUEST}.
        """
        control = plane(self)
        result = describe(control, BROKER, "2")
        self.assertEqual(
            (result.error_code, result.error_message),
            (
                ErrorCode.invalid_request,
                "Unexpected broker id, expected 1 or empty string, but received 2",
            ),
        )
        result = describe(control, BROKER, "one")
        self.assertEqual(
            (result.error_code, result.error_message),
            (ErrorCode.invalid_request, "Broker id must be an integer, but it is: one"),
        )


class OtherResourceTests(SynchronousTestCase):
    """
    Broker loggers and unknown resource types.
    """

    def test_broker_logger(self) -> None:
        """
        This broker's logger resource has no entries; an empty or other id is
        C{INVALID_REQUEST}.
        """
        control = plane(self)
        result = describe(control, BROKER_LOGGER, "1")
        self.assertEqual((result.error_code, result.configs), (ErrorCode.none, ()))
        for name in ("", "2"):
            with self.subTest(name=name):
                result = describe(control, BROKER_LOGGER, name)
                self.assertEqual(result.error_code, ErrorCode.invalid_request)

    def test_unknown_type(self) -> None:
        """
        Group and other resource types are C{INVALID_REQUEST}.
        """
        for kind in (32, 16, 99):
            with self.subTest(kind=kind):
                result = describe(plane(self), kind, "x")
                self.assertEqual(result.error_code, ErrorCode.invalid_request)

    def test_several(self) -> None:
        """
        Each resource gets its own result, in the request's order.
        """
        control = plane(self)
        control.create_topic("t")
        request = build(
            DESCRIBE_CONFIGS,
            4,
            resources=[
                {"resource_type": TOPIC, "resource_name": "nothing"},
                {"resource_type": BROKER, "resource_name": "1"},
                {"resource_type": TOPIC, "resource_name": "t"},
            ],
        )
        results = control.send(request).results
        self.assertEqual(
            [(r.resource_name, r.error_code) for r in results],
            [
                ("nothing", ErrorCode.unknown_topic_or_partition),
                ("1", ErrorCode.none),
                ("t", ErrorCode.none),
            ],
        )
