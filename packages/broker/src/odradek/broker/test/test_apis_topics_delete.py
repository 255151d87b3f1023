"""
Tests for L{odradek.broker.apis.topics}, through a server connection: DeleteTopics
and CreatePartitions in every version, and the error code and message of every
refusal.
"""

from __future__ import annotations

import uuid
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.test._controltools import ControlPlane, build
from odradek.broker.test.test_apis_topics import TIMEOUT, plane

DELETE_TOPICS, CREATE_PARTITIONS = 20, 37


def delete(control: ControlPlane, version: int, *names: str) -> Any:
    """
    @return: the results of a DeleteTopics request by name.
    """
    if version >= 6:
        request = build(
            DELETE_TOPICS,
            version,
            topics=[{"name": name, "topic_id": None} for name in names],
            timeout=TIMEOUT,
        )
    else:
        request = build(
            DELETE_TOPICS, version, topic_names=list(names), timeout=TIMEOUT
        )
    return control.send(request).responses


class DeleteTopicsTests(SynchronousTestCase):
    """
    DeleteTopics deletes topics by name, or by id from version 6.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 6 delete by name.
        """
        control = plane(self)
        for version in range(1, 7):
            with self.subTest(version=version):
                control.create_topic("t")
                [result] = delete(control, version, "t")
                self.assertEqual(
                    (result.name, result.error_code), ("t", ErrorCode.none)
                )
                self.assertIsNone(control.metadata.topic("t"))

    def test_by_id(self) -> None:
        """
        Version 6 deletes by id, and answers with the name and the id.
        """
        control = plane(self)
        topic = control.create_topic("t")
        request = build(
            DELETE_TOPICS,
            6,
            topics=[{"name": None, "topic_id": topic.topic_id}],
            timeout=TIMEOUT,
        )
        [result] = control.send(request).responses
        self.assertEqual(
            (result.name, result.topic_id, result.error_code),
            ("t", topic.topic_id, ErrorCode.none),
        )
        self.assertIsNone(control.metadata.topic("t"))

    def test_unknown(self) -> None:
        """
        Unknown names and ids are C{UNKNOWN_TOPIC_OR_PARTITION} and
        C{UNKNOWN_TOPIC_ID}.
        """
        control = plane(self)
        [result] = delete(control, 6, "nothing")
        self.assertEqual(result.error_code, ErrorCode.unknown_topic_or_partition)
        request = build(
            DELETE_TOPICS, 6, topics=[{"name": None, "topic_id": uuid.uuid4()}]
        )
        [result] = control.send(request).responses
        self.assertEqual(result.error_code, ErrorCode.unknown_topic_id)

    def test_bad_entries(self) -> None:
        """
        An entry with both a name and an id, with neither, or given twice is
        C{INVALID_REQUEST}.
        """
        control = plane(self)
        topic = control.create_topic("t")
        request = build(
            DELETE_TOPICS,
            6,
            topics=[
                {"name": "t", "topic_id": topic.topic_id},
                {"name": None, "topic_id": None},
                {"name": "u", "topic_id": None},
                {"name": "u", "topic_id": None},
            ],
        )
        self.assertEqual(
            [(r.error_code, r.error_message) for r in control.send(request).responses],
            [
                (
                    ErrorCode.invalid_request,
                    "You may not specify both topic name and topic id.",
                ),
                (
                    ErrorCode.invalid_request,
                    "Neither topic name nor id were specified.",
                ),
                (ErrorCode.invalid_request, "Duplicate topic name."),
            ],
        )
        self.assertIsNotNone(control.metadata.topic("t"))

    def test_disabled(self) -> None:
        """
        With C{delete.topic.enable=false} nothing is deleted: version 3 and later
        answer C{TOPIC_DELETION_DISABLED}, older ones C{INVALID_REQUEST}.
        """
        control = plane(self, {"delete.topic.enable": "false"})
        control.create_topic("t")
        [result] = delete(control, 2, "t")
        self.assertEqual(result.error_code, ErrorCode.invalid_request)
        [result] = delete(control, 6, "t")
        self.assertEqual(result.error_code, ErrorCode.topic_deletion_disabled)
        self.assertIsNotNone(control.metadata.topic("t"))


def grow(
    control: ControlPlane,
    name: str,
    count: int,
    assignments: list[list[int]] | None = None,
    version: int = 3,
    **fields: Any,
) -> Any:
    """
    @return: the one result of a CreatePartitions request.
    """
    request = build(
        CREATE_PARTITIONS,
        version,
        topics=[
            {
                "name": name,
                "count": count,
                "assignments": None
                if assignments is None
                else [{"broker_ids": brokers} for brokers in assignments],
            }
        ],
        timeout=TIMEOUT,
        **fields,
    )
    [result] = control.send(request).results
    return result


class CreatePartitionsTests(SynchronousTestCase):
    """
    CreatePartitions grows topics, and never shrinks them.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 3 add partitions.
        """
        control = plane(self)
        control.create_topic("t")
        for version in range(4):
            with self.subTest(version=version):
                result = grow(control, "t", version + 2, version=version)
                self.assertEqual(result.error_code, ErrorCode.none)
                topic = control.metadata.topic("t")
                assert topic is not None
                self.assertEqual(topic.partition_count, version + 2)

    def test_assignments(self) -> None:
        """
        The new partitions' replicas may be given.
        """
        control = plane(self)
        control.create_topic("t")
        result = grow(control, "t", 3, [[1], [1]])
        self.assertEqual(result.error_code, ErrorCode.none)

    def test_validate_only(self) -> None:
        """
        With C{validate_only} nothing changes.
        """
        control = plane(self)
        control.create_topic("t")
        result = grow(control, "t", 5, validate_only=True)
        self.assertEqual(result.error_code, ErrorCode.none)
        topic = control.metadata.topic("t")
        assert topic is not None
        self.assertEqual(topic.partition_count, 1)

    def test_refusals(self) -> None:
        """
        Not growing, unknown topics and bad assignments get Kafka's codes and
        messages, the counts named.
        """
        control = plane(self)
        control.create_topic("t", partitions=3)
        cases = [
            (
                ("t", 3),
                ErrorCode.invalid_partitions,
                "Topic already has 3 partition(s).",
            ),
            (
                ("t", 2),
                ErrorCode.invalid_partitions,
                "The topic t currently has 3 partition(s); 2 would not be an increase.",
            ),
            (("nothing", 2), ErrorCode.unknown_topic_or_partition, None),
            (
                ("t", 5, [[1]]),
                ErrorCode.invalid_replica_assignment,
                "Attempted to add 2 additional partition(s), but only 1 assignment(s) "
                "were specified.",
            ),
            (("t", 4, [[7]]), ErrorCode.invalid_replica_assignment, None),
        ]
        for args, code, message in cases:
            with self.subTest(args=args):
                result = grow(control, *args)  # type: ignore[arg-type]
                self.assertEqual(result.error_code, code)
                if message is not None:
                    self.assertEqual(result.error_message, message)
        topic = control.metadata.topic("t")
        assert topic is not None
        self.assertEqual(topic.partition_count, 3)

    def test_duplicate_names(self) -> None:
        """
        A topic named twice is C{INVALID_REQUEST}.
        """
        control = plane(self)
        control.create_topic("t")
        entry = {"name": "t", "count": 2, "assignments": None}
        request = build(CREATE_PARTITIONS, 3, topics=[entry, entry], timeout=TIMEOUT)
        [result] = control.send(request).results
        self.assertEqual(result.error_code, ErrorCode.invalid_request)
