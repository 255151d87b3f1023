"""
Tests for L{odradek.broker.metadata.topics}: topic name rules and replica
assignment.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.metadata.topics import (
    INTERNAL_TOPICS,
    assign_replicas,
    validate_assignment,
    validate_topic_name,
)
from odradek.client.errors import (
    InvalidPartitionsError,
    InvalidReplicaAssignmentError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    TopicExistsError,
)


class ValidateTopicNameTests(SynchronousTestCase):
    """
    L{validate_topic_name} applies Kafka's rules for topic names.
    """

    valid = [
        "orders",
        "a",
        "A-Z_0.9",
        "..a",
        "...",
        "-",
        "_",
        "x" * 249,
        "__consumer_offsets_archive",
    ]

    invalid = [
        ("", "empty"),
        (".", "'.' is not allowed"),
        ("..", "'..' is not allowed"),
        ("x" * 250, "250 characters long"),
        ("with space", "characters other than"),
        ("slash/name", "characters other than"),
        ("ümlaut", "characters other than"),
        ("tab\t", "characters other than"),
        ("colon:", "characters other than"),
        ("__consumer_offsets", "reserved"),
        ("__transaction_state", "reserved"),
    ]

    def test_valid(self) -> None:
        """
        Names of 1 to 249 legal characters, other than C{.} and C{..}, are valid.
        """
        for name in self.valid:
            validate_topic_name(name, [])

    def test_invalid(self) -> None:
        """
        Illegal and reserved names raise L{InvalidTopicError} saying why.
        """
        for name, reason in self.invalid:
            error = self.assertRaises(InvalidTopicError, validate_topic_name, name, [])
            self.assertIn(reason, str(error), name)

    def test_exists(self) -> None:
        """
        The name of an existing topic raises L{TopicExistsError}.
        """
        error = self.assertRaises(
            TopicExistsError, validate_topic_name, "orders", ["orders"]
        )
        self.assertIn("'orders' already exists", str(error))

    def test_collision(self) -> None:
        """
        A name that differs from an existing one only by C{.} versus C{_} collides
        with it.
        """
        for name, existing in [
            ("a.b", "a_b"),
            ("a_b", "a.b"),
            ("a.b_c", "a_b.c"),
            ("x..y", "x__y"),
        ]:
            error = self.assertRaises(
                InvalidTopicError, validate_topic_name, name, ["other", existing]
            )
            self.assertIn(f"collides with the existing topic '{existing}'", str(error))

    def test_no_collision(self) -> None:
        """
        Names that differ otherwise do not collide.
        """
        validate_topic_name("a-b", ["a_b", "a.c", "ab"])

    def test_internal(self) -> None:
        """
        The broker may create the internal topics; they still may not exist twice.
        """
        for name in INTERNAL_TOPICS:
            validate_topic_name(name, [], internal=True)
            self.assertRaises(
                TopicExistsError, validate_topic_name, name, [name], internal=True
            )

    def test_existing_internal(self) -> None:
        """
        A client creating an internal topic that exists is told it exists.
        """
        self.assertRaises(
            TopicExistsError,
            validate_topic_name,
            "__consumer_offsets",
            ["__consumer_offsets"],
        )


class AssignReplicasTests(SynchronousTestCase):
    """
    L{assign_replicas} spreads leaders and followers over brokers.
    """

    def test_single_broker(self) -> None:
        """
        With one broker, every partition has it as its only replica.
        """
        self.assertEqual(assign_replicas([1], 3, 1), ((1,), (1,), (1,)))

    def test_round_robin(self) -> None:
        """
        Leaders go round the brokers in id order; followers follow the leader.
        """
        self.assertEqual(
            assign_replicas([3, 1, 2], 4, 2), ((1, 2), (2, 3), (3, 1), (1, 2))
        )

    def test_first_partition(self) -> None:
        """
        New partitions of a growing topic continue the rotation.
        """
        self.assertEqual(
            assign_replicas([1, 2, 3], 2, 1, first_partition=2), ((3,), (1,))
        )

    def test_bad_counts(self) -> None:
        """
        Fewer than one partition or replica, or more replicas than brokers, are
        refused with Kafka's errors.
        """
        self.assertRaises(InvalidPartitionsError, assign_replicas, [1], 0, 1)
        self.assertRaises(InvalidReplicationFactorError, assign_replicas, [1], 1, 0)
        error = self.assertRaises(
            InvalidReplicationFactorError, assign_replicas, [1], 1, 3
        )
        self.assertIn("replication factor 3 is larger than the number", str(error))


class ValidateAssignmentTests(SynchronousTestCase):
    """
    L{validate_assignment} checks explicit replica assignments.
    """

    def test_valid(self) -> None:
        """
        Assignments to live brokers, with the same replica count, pass.
        """
        validate_assignment([[1, 2], [2, 1]], {1, 2})

    def test_invalid(self) -> None:
        """
        Empty, repeated, unknown and uneven assignments are refused.
        """
        for assignment, reason in [
            ([[]], "empty replica list"),
            ([[1, 1]], "more than once"),
            ([[1, 9]], "not live: [9]"),
            ([[1], [1, 2]], "every partition must have 1"),
        ]:
            error = self.assertRaises(
                InvalidReplicaAssignmentError, validate_assignment, assignment, {1, 2}
            )
            self.assertIn(reason, str(error))
        self.assertRaises(InvalidPartitionsError, validate_assignment, [], {1})

    def test_replication_factor(self) -> None:
        """
        A required replication factor is enforced on every partition.
        """
        self.assertRaises(
            InvalidReplicaAssignmentError,
            validate_assignment,
            [[1, 2]],
            {1, 2},
            replication_factor=1,
        )
