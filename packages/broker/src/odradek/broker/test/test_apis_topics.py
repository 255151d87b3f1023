"""
Tests for L{odradek.broker.apis.topics}, through a server connection: CreateTopics
in every version, and the error code and message of every refusal (DeleteTopics and
CreatePartitions are in L{odradek.broker.test.test_apis_topics_delete}).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import topics as topics_api
from odradek.broker.metadata import MetadataChange, TopicCreated
from odradek.broker.test._controltools import ControlPlane, build

CREATE_TOPICS = 19
TIMEOUT = datetime.timedelta(seconds=30)


def plane(
    case: SynchronousTestCase, properties: Mapping[str, str] | None = None
) -> ControlPlane:
    """
    @return: a control plane serving the topic APIs.
    """
    return ControlPlane(
        case,
        properties,
        register=[
            lambda p: topics_api.register(
                p.registry, config=p.config, metadata=p.metadata, node_id=1
            )
        ],
    )


def new_topic(
    name: str,
    partitions: int = 1,
    factor: int = 1,
    configs: Mapping[str, str | None] | None = None,
    assignments: list[list[int]] | None = None,
) -> dict[str, Any]:
    """
    @return: one topic of a CreateTopics request.
    """
    return {
        "name": name,
        "num_partitions": partitions,
        "replication_factor": factor,
        "configs": [{"name": k, "value": v} for k, v in (configs or {}).items()],
        "assignments": [
            {"partition_index": index, "broker_ids": brokers}
            for index, brokers in enumerate(assignments or [])
        ],
    }


def create(
    control: ControlPlane, *topics: dict[str, Any], version: int = 7, **fields: Any
) -> Any:
    """
    @return: the results of a CreateTopics request.
    """
    response = control.send(
        build(CREATE_TOPICS, version, topics=list(topics), timeout=TIMEOUT, **fields)
    )
    return response.topics


def errors(results: Any) -> list[tuple[str | None, ErrorCode, str | None]]:
    """
    @return: the name, error code and message of each result.
    """
    return [(r.name, r.error_code, r.error_message) for r in results]


class CreateTopicsTests(SynchronousTestCase):
    """
    CreateTopics creates topics and reports them as Kafka does.
    """

    def test_every_version(self) -> None:
        """
        Versions 2 to 7 create the topic; from version 5 the result carries its
        partition count, replication factor and configs, from 7 its id.
        """
        control = plane(self)
        for version in range(2, 8):
            with self.subTest(version=version):
                name = f"topic-{version}"
                [result] = create(control, new_topic(name, 2), version=version)
                self.assertEqual(result.error_code, ErrorCode.none)
                topic = control.metadata.topic(name)
                assert topic is not None
                self.assertEqual(topic.replica_assignment, ((1,), (1,)))
                if version >= 5:
                    self.assertEqual(result.num_partitions, 2)
                    self.assertEqual(result.replication_factor, 1)
                    configs = {c.name: c for c in result.configs}
                    self.assertEqual(configs["retention.ms"].value, "604800000")
                    self.assertEqual(configs["retention.ms"].config_source, 5)
                    self.assertFalse(configs["retention.ms"].read_only)
                if version >= 7:
                    self.assertEqual(result.topic_id, topic.topic_id)

    def test_defaults(self) -> None:
        """
        -1 takes C{num.partitions} and C{default.replication.factor}.
        """
        control = plane(self, {"num.partitions": "3"})
        [result] = create(control, new_topic("t", -1, -1))
        self.assertEqual((result.num_partitions, result.replication_factor), (3, 1))
        topic = control.metadata.topic("t")
        assert topic is not None
        self.assertEqual(topic.partition_count, 3)

    def test_configs(self) -> None:
        """
        Config overrides are stored with the topic and reported as
        C{DYNAMIC_TOPIC_CONFIG}.
        """
        control = plane(self)
        [result] = create(control, new_topic("t", configs={"retention.ms": "1000"}))
        topic = control.metadata.topic("t")
        assert topic is not None
        self.assertEqual(dict(topic.configs), {"retention.ms": "1000"})
        configs = {c.name: c for c in result.configs}
        self.assertEqual(configs["retention.ms"].value, "1000")
        self.assertEqual(configs["retention.ms"].config_source, 1)

    def test_subscribers_before_answer(self) -> None:
        """
        The answer comes after the store's subscribers heard of the topic.
        """
        control = plane(self)
        heard: list[MetadataChange] = []
        control.metadata.subscribe(heard.append)
        create(control, new_topic("t"))
        self.assertEqual([type(c) for c in heard], [TopicCreated])

    def test_validate_only(self) -> None:
        """
        With C{validate_only} the topic is checked and described but not created.
        """
        control = plane(self)
        [result] = create(control, new_topic("t", 4), validate_only=True)
        self.assertEqual(result.error_code, ErrorCode.none)
        self.assertEqual(result.num_partitions, 4)
        self.assertIsNone(control.metadata.topic("t"))

    def test_manual_assignment(self) -> None:
        """
        Replicas may be given per partition, with -1 for the counts.
        """
        control = plane(self)
        [result] = create(control, new_topic("t", -1, -1, assignments=[[1], [1]]))
        self.assertEqual(result.error_code, ErrorCode.none)
        topic = control.metadata.topic("t")
        assert topic is not None
        self.assertEqual(topic.partition_count, 2)

    def test_one_of_several_fails(self) -> None:
        """
        Each topic gets its own answer; the good ones are created.
        """
        control = plane(self)
        results = create(control, new_topic("good"), new_topic("bad", 0))
        self.assertEqual(
            [(r.name, r.error_code) for r in results],
            [("good", ErrorCode.none), ("bad", ErrorCode.invalid_partitions)],
        )
        self.assertIsNotNone(control.metadata.topic("good"))

    def assert_refused(
        self,
        topic: dict[str, Any],
        code: ErrorCode,
        message: str | None,
        control: ControlPlane | None = None,
    ) -> None:
        """
        Creating C{topic} fails with C{code} and C{message} (a prefix of the
        message, or C{None} not to check it), and creates nothing.
        """
        control = control or plane(self)
        before = dict(control.metadata.topics())
        [(name, got, text)] = errors(create(control, topic))
        self.assertEqual((name, got), (topic["name"], code))
        if message is not None:
            assert text is not None
            self.assertTrue(text.startswith(message), text)
        self.assertEqual(dict(control.metadata.topics()), before)

    def test_exists(self) -> None:
        """
        A topic that exists is C{TOPIC_ALREADY_EXISTS}.
        """
        control = plane(self)
        control.create_topic("t")
        self.assert_refused(
            new_topic("t"),
            ErrorCode.topic_already_exists,
            "Topic 't' already exists.",
            control,
        )

    def test_invalid_names(self) -> None:
        """
        Illegal, reserved and colliding names are C{INVALID_TOPIC_EXCEPTION}.
        """
        control = plane(self)
        control.create_topic("a_b")
        for name in ("bad name", "..", "x" * 250, "__consumer_offsets", "a.b"):
            with self.subTest(name=name):
                self.assert_refused(
                    new_topic(name), ErrorCode.invalid_topic_exception, None, control
                )

    def test_counts(self) -> None:
        """
        Partition counts and replication factors below 1 (other than -1) are
        refused with Kafka's messages.
        """
        self.assert_refused(
            new_topic("t", 0),
            ErrorCode.invalid_partitions,
            "Number of partitions was set to an invalid non-positive value.",
        )
        self.assert_refused(
            new_topic("t", 1, 0),
            ErrorCode.invalid_replication_factor,
            "Replication factor must be larger than 0, or -1 to use the default value.",
        )

    def test_replication_factor_above_brokers(self) -> None:
        """
        A replication factor above the live brokers is
        C{INVALID_REPLICATION_FACTOR}, as is a default one.
        """
        self.assert_refused(
            new_topic("t", 1, 3),
            ErrorCode.invalid_replication_factor,
            "Unable to replicate the partition 3 time(s): ",
        )
        self.assert_refused(
            new_topic("t", 1, -1),
            ErrorCode.invalid_replication_factor,
            "Unable to replicate the partition 2 time(s): ",
            plane(self, {"default.replication.factor": "2"}),
        )

    def test_bad_configs(self) -> None:
        """
        Bad values, unknown keys and null values are C{INVALID_CONFIG}, naming the
        key and the value.
        """
        self.assert_refused(
            new_topic("t", configs={"retention.ms": "abc"}),
            ErrorCode.invalid_config,
            "Invalid value abc for configuration retention.ms: Not a number of "
            "type LONG",
        )
        self.assert_refused(
            new_topic("t", configs={"no.such.key": "1"}),
            ErrorCode.invalid_config,
            "Unknown topic config name: no.such.key",
        )
        self.assert_refused(
            new_topic("t", configs={"retention.ms": None}),
            ErrorCode.invalid_config,
            "Null value not supported for topic configs: retention.ms",
        )

    def test_bad_assignments(self) -> None:
        """
        Manual assignments with counts set, on unknown brokers or with gaps are
        refused.
        """
        self.assert_refused(
            new_topic("t", -1, 1, assignments=[[1]]),
            ErrorCode.invalid_request,
            "A manual partition assignment was specified, but replication factor",
        )
        self.assert_refused(
            new_topic("t", 1, -1, assignments=[[1]]),
            ErrorCode.invalid_request,
            "A manual partition assignment was specified, but numPartitions",
        )
        self.assert_refused(
            new_topic("t", -1, -1, assignments=[[2]]),
            ErrorCode.invalid_replica_assignment,
            None,
        )
        gap = new_topic("t", -1, -1)
        gap["assignments"] = [{"partition_index": 1, "broker_ids": [1]}]
        self.assert_refused(
            gap,
            ErrorCode.invalid_replica_assignment,
            "partitions should be a consecutive 0-based integer sequence",
        )

    def test_duplicate_names(self) -> None:
        """
        A name given twice is answered once, with C{INVALID_REQUEST}.
        """
        control = plane(self)
        results = create(control, new_topic("t"), new_topic("t"))
        self.assertEqual(
            errors(results), [("t", ErrorCode.invalid_request, "Duplicate topic name.")]
        )
        self.assertIsNone(control.metadata.topic("t"))
