"""
Tests for L{odradek.broker.apis.metadata}, through a server connection: every
version, the brokers of the request's listener, auto-creation, topic ids, errors
and authorized operations.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import metadata as metadata_api
from odradek.broker.apis._schema import CLUSTER_OPERATIONS, TOPIC_OPERATIONS
from odradek.broker.test._controltools import CLUSTER_ID, ControlPlane, build

METADATA = 3
OMITTED = -(2**31)


def plane(
    case: SynchronousTestCase,
    properties: Mapping[str, str] | None = None,
    endpoints: str = "PLAINTEXT://broker.test:9092",
) -> ControlPlane:
    """
    @return: a control plane serving Metadata.
    """
    return ControlPlane(
        case,
        properties,
        register=[
            lambda p: metadata_api.register(
                p.registry, config=p.config, metadata=p.metadata
            )
        ],
        endpoints=endpoints,
    )


def request(version: int, names: list[str] | None, **fields: Any) -> Any:
    """
    @return: a Metadata request for the named topics (C{None} for all).
    """
    topics = None if names is None else [{"name": name} for name in names]
    return build(METADATA, version, topics=topics, **fields)


def by_name(response: Any) -> dict[str | None, Any]:
    """
    @return: the response's topics by name.
    """
    return {topic.name: topic for topic in response.topics}


class VersionsTests(SynchronousTestCase):
    """
    Every version of Metadata is answered in its own version.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 13 list the broker with its advertised endpoint, the topics
        with their partitions, and the fields each version has.
        """
        control = plane(self)
        topic = control.create_topic("orders", partitions=2)
        for version in range(14):
            with self.subTest(version=version):
                names = ["orders"] if version else []
                response = control.send(request(version, names))
                [broker] = response.brokers
                self.assertEqual(
                    (broker.node_id, broker.host, broker.port), (1, "broker.test", 9092)
                )
                [answered] = response.topics
                self.assertEqual(answered.error_code, ErrorCode.none)
                self.assertEqual(answered.name, "orders")
                self.assertEqual(
                    [p.partition_index for p in answered.partitions], [0, 1]
                )
                for partition in answered.partitions:
                    self.assertEqual(partition.leader_id, 1)
                    self.assertEqual(partition.replica_nodes, (1,))
                    self.assertEqual(partition.isr_nodes, (1,))
                if version >= 1:
                    self.assertEqual(response.controller_id, 1)
                    self.assertEqual(broker.rack, "rack-a")
                    self.assertFalse(answered.is_internal)
                if version >= 2:
                    self.assertEqual(response.cluster_id, CLUSTER_ID)
                if version >= 10:
                    self.assertEqual(answered.topic_id, topic.topic_id)

    def test_leader_epoch(self) -> None:
        """
        From version 7 the partition's leader epoch is reported.
        """
        control = plane(self)
        control.create_topic("orders")
        self.successResultOf(
            control.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        self.successResultOf(
            control.metadata.alter_partition_state("orders", 0, leader=1, isr=[1])
        )
        [partition] = control.send(request(9, ["orders"])).topics[0].partitions
        self.assertEqual(partition.leader_epoch, 2)


class TopicListTests(SynchronousTestCase):
    """
    Which topics a request asks for.
    """

    def test_null_is_every_topic(self) -> None:
        """
        C{topics} null lists every topic, by name, and creates nothing.
        """
        control = plane(self)
        for name in ("b", "a", "c"):
            control.create_topic(name)
        response = control.send(request(12, None))
        self.assertEqual([t.name for t in response.topics], ["a", "b", "c"])

    def test_empty_in_version_0(self) -> None:
        """
        In version 0 an empty list asks for every topic.
        """
        control = plane(self)
        control.create_topic("a")
        response = control.send(request(0, []))
        self.assertEqual([t.name for t in response.topics], ["a"])

    def test_empty_is_none(self) -> None:
        """
        From version 1 an empty list asks for no topic, but still lists brokers.
        """
        control = plane(self)
        control.create_topic("a")
        response = control.send(request(1, []))
        self.assertEqual(response.topics, ())
        self.assertEqual(len(response.brokers), 1)

    def test_duplicates(self) -> None:
        """
        A topic named twice is answered once.
        """
        control = plane(self)
        control.create_topic("a")
        response = control.send(request(12, ["a", "a"]))
        self.assertEqual([t.name for t in response.topics], ["a"])


class ErrorTests(SynchronousTestCase):
    """
    Topics that cannot be answered get Kafka's error codes.
    """

    def test_unknown(self) -> None:
        """
        A topic that does not exist, with auto-creation disabled, is
        C{UNKNOWN_TOPIC_OR_PARTITION} with a zero topic id, and is not created.
        """
        control = plane(self, {"auto.create.topics.enable": "false"})
        [topic] = control.send(request(12, ["nothing"])).topics
        self.assertEqual(topic.error_code, ErrorCode.unknown_topic_or_partition)
        # kio reads the zero id as null.
        self.assertIn(topic.topic_id, (None, uuid.UUID(int=0)))
        self.assertEqual(topic.partitions, ())
        self.assertIsNone(control.metadata.topic("nothing"))

    def test_invalid_name(self) -> None:
        """
        A name no topic can have is C{INVALID_TOPIC_EXCEPTION}, even with
        auto-creation enabled, and is not created.
        """
        control = plane(self)
        [topic] = control.send(request(12, ["no spaces"])).topics
        self.assertEqual(topic.error_code, ErrorCode.invalid_topic_exception)
        self.assertEqual(dict(control.metadata.topics()), {})

    def test_leader_not_available(self) -> None:
        """
        A partition without a live leader reports C{LEADER_NOT_AVAILABLE} and
        leader -1.
        """
        control = plane(self)
        control.create_topic("orders")
        self.successResultOf(
            control.metadata.alter_partition_state("orders", 0, leader=-1, isr=[1])
        )
        [partition] = control.send(request(12, ["orders"])).topics[0].partitions
        self.assertEqual(partition.error_code, ErrorCode.leader_not_available)
        self.assertEqual(partition.leader_id, -1)

    def test_topic_ids_before_version_12(self) -> None:
        """
        Asking by topic id before version 12 is C{INVALID_REQUEST}.
        """
        control = plane(self)
        topic = control.create_topic("orders")
        response = control.send(
            build(METADATA, 11, topics=[{"name": "orders", "topic_id": topic.topic_id}])
        )
        self.assertEqual(
            [t.error_code for t in response.topics], [ErrorCode.invalid_request]
        )


class AutoCreateTests(SynchronousTestCase):
    """
    Topics that do not exist are created when the broker and the request allow
    it.
    """

    def test_created(self) -> None:
        """
        The topic is created with C{num.partitions} partitions and reported with
        C{LEADER_NOT_AVAILABLE}; the next request finds it.
        """
        control = plane(self, {"num.partitions": "3"})
        [topic] = control.send(request(12, ["fresh"])).topics
        self.assertEqual(topic.error_code, ErrorCode.leader_not_available)
        self.assertEqual(topic.partitions, ())
        created = control.metadata.topic("fresh")
        assert created is not None
        self.assertEqual(created.replica_assignment, ((1,), (1,), (1,)))
        [again] = control.send(request(12, ["fresh"])).topics
        self.assertEqual(again.error_code, ErrorCode.none)
        self.assertEqual(len(again.partitions), 3)

    def test_request_forbids(self) -> None:
        """
        From version 4 a request can forbid creation.
        """
        control = plane(self)
        [topic] = control.send(
            request(4, ["fresh"], allow_auto_topic_creation=False)
        ).topics
        self.assertEqual(topic.error_code, ErrorCode.unknown_topic_or_partition)
        self.assertIsNone(control.metadata.topic("fresh"))

    def test_old_versions_create(self) -> None:
        """
        Before version 4 requests always allow creation.
        """
        control = plane(self)
        [topic] = control.send(request(1, ["fresh"])).topics
        self.assertEqual(topic.error_code, ErrorCode.leader_not_available)
        self.assertIsNotNone(control.metadata.topic("fresh"))

    def test_internal_not_created(self) -> None:
        """
        Internal topics are never created by a Metadata request.
        """
        control = plane(self)
        [topic] = control.send(request(12, ["__consumer_offsets"])).topics
        self.assertEqual(topic.error_code, ErrorCode.unknown_topic_or_partition)
        self.assertTrue(topic.is_internal)
        self.assertIsNone(control.metadata.topic("__consumer_offsets"))

    def test_creation_fails(self) -> None:
        """
        A topic that cannot be created (here: a default replication factor above
        the live brokers) reports why.
        """
        control = plane(self, {"default.replication.factor": "3"})
        [topic] = control.send(request(12, ["fresh"])).topics
        self.assertEqual(topic.error_code, ErrorCode.invalid_replication_factor)
        self.assertIsNone(control.metadata.topic("fresh"))


class ListenerTests(SynchronousTestCase):
    """
    The brokers are described by their endpoints of the request's listener.
    """

    def test_other_listener(self) -> None:
        """
        A request on the EXTERNAL listener gets the EXTERNAL address.
        """
        control = plane(
            self,
            endpoints="INTERNAL://10.0.0.1:9093,EXTERNAL://public.example:19093",
        )
        response = control.send(request(12, None), listener="EXTERNAL")
        [broker] = response.brokers
        self.assertEqual((broker.host, broker.port), ("public.example", 19093))
        response = control.send(request(12, None), listener="INTERNAL")
        [broker] = response.brokers
        self.assertEqual((broker.host, broker.port), ("10.0.0.1", 9093))

    def test_listener_not_found(self) -> None:
        """
        On a listener the leader does not advertise, the broker is left out and
        its partitions report C{LISTENER_NOT_FOUND} (from version 6) or
        C{LEADER_NOT_AVAILABLE} (before).
        """
        control = plane(self)
        control.create_topic("orders")
        for version, code in ((5, ErrorCode.leader_not_available),
                              (6, ErrorCode.listener_not_found)):  # fmt: skip
            response = control.send(request(version, ["orders"]), listener="OTHER")
            self.assertEqual(response.brokers, ())
            [partition] = response.topics[0].partitions
            self.assertEqual(partition.error_code, code)
            self.assertEqual(partition.leader_id, -1)


class TopicIdTests(SynchronousTestCase):
    """
    From version 12 topics may be asked for by id.
    """

    def test_by_id(self) -> None:
        """
        A known id is answered with the topic's name and partitions.
        """
        control = plane(self)
        topic = control.create_topic("orders")
        response = control.send(
            build(METADATA, 12, topics=[{"name": None, "topic_id": topic.topic_id}])
        )
        [answered] = response.topics
        self.assertEqual((answered.name, answered.topic_id), ("orders", topic.topic_id))
        self.assertEqual(answered.error_code, ErrorCode.none)

    def test_unknown_id(self) -> None:
        """
        An unknown id is C{UNKNOWN_TOPIC_ID}, with a null name.
        """
        control = plane(self)
        wanted = uuid.uuid4()
        response = control.send(
            build(METADATA, 13, topics=[{"name": None, "topic_id": wanted}])
        )
        [answered] = response.topics
        self.assertEqual(answered.error_code, ErrorCode.unknown_topic_id)
        self.assertIsNone(answered.name)
        self.assertEqual(answered.topic_id, wanted)


class AuthorizedOperationsTests(SynchronousTestCase):
    """
    Authorized operations are reported when asked for.
    """

    def test_asked(self) -> None:
        """
        Without an authorizer every supported operation is authorized.
        """
        control = plane(self)
        control.create_topic("orders")
        response = control.send(
            request(
                10,
                ["orders"],
                include_cluster_authorized_operations=True,
                include_topic_authorized_operations=True,
            )
        )
        self.assertEqual(response.cluster_authorized_operations, CLUSTER_OPERATIONS)
        self.assertEqual(
            response.topics[0].topic_authorized_operations, TOPIC_OPERATIONS
        )

    def test_not_asked(self) -> None:
        """
        Not asked for, they are Kafka's "omitted" value.
        """
        control = plane(self)
        control.create_topic("orders")
        response = control.send(request(10, ["orders"]))
        self.assertEqual(response.cluster_authorized_operations, OMITTED)
        self.assertEqual(response.topics[0].topic_authorized_operations, OMITTED)
