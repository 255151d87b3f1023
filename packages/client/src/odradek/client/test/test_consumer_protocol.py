"""
Tests for L{odradek.client.consumer.protocol}: the subscription and assignment blobs
of the consumer protocol, written and read for every version, against bytes other
clients write, and against truncated and malformed input; and for the user data the
sticky assignors of L{odradek.client.consumer.sticky} put in subscriptions, which
other clients' sticky members read.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.consumer._stickyplan import MemberData
from odradek.client.consumer.protocol import (
    CONSUMER_PROTOCOL_TYPE,
    CONSUMER_PROTOCOL_VERSION,
    Assignment,
    RebalanceProtocol,
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from odradek.client.consumer.sticky import (
    CooperativeStickyAssignor,
    StickyAssignor,
    decode_sticky_user_data,
    encode_sticky_user_data,
)
from odradek.client.structs import TopicPartition as TP

FULL = Subscription(
    topics=("orders", "audit"),
    user_data=b"\x00\x00\x00\x04",
    owned_partitions=(TP("orders", 2), TP("audit", 0), TP("orders", 1)),
    generation_id=4,
    rack_id="rack-a",
)

# What Apache Kafka's Java consumer (ConsumerProtocol.serializeSubscription, version
# 3) writes for a cooperative-sticky member subscribed to "orders" and "audit",
# owning audit-0, orders-1 and orders-2 in generation 4, without a rack: written
# out by hand from ConsumerProtocolSubscription.json.
JAVA_V3_SUBSCRIPTION = bytes.fromhex(
    "0003"  # version
    "00000002" "0005" + b"audit".hex() + "0006" + b"orders".hex() +  # topics, sorted
    "00000004" "00000004"  # user data: 4 bytes, the int32 generation
    "00000002"  # owned partitions: 2 topics, sorted
    "0005" + b"audit".hex() + "00000001" "00000000"
    "0006" + b"orders".hex() + "00000002" "00000001" "00000002"
    "00000004"  # generation id
    "ffff"  # rack id: null
)  # fmt: skip

# Captured from kafka-python 3.0.12: RangePartitionAssignor.metadata({"orders",
# "audit"}).encode(), a version 0 subscription with empty user data.
KAFKA_PYTHON_V0_SUBSCRIPTION = bytes.fromhex(
    "00000000000200066f72646572730005617564697400000000"
)

# Captured from kafka-python 3.0.12: CooperativeStickyAssignor.metadata() after
# on_assignment(orders-0, orders-2, audit-1), a version 1 subscription.
KAFKA_PYTHON_V1_SUBSCRIPTION = bytes.fromhex(
    "0001000000020005617564697400066f7264657273000000000000000200066f7264657273"
    "000000020000000000000002000561756469740000000100000001"
)

# Captured from kafka-python 3.0.12: ConsumerProtocolAssignment(version=0, ...)
# .encode() for orders-0, orders-2 and audit-1 with empty user data.
KAFKA_PYTHON_V0_ASSIGNMENT = bytes.fromhex(
    "00000000000200066f726465727300000002000000000000000200056175646974000000010000"
    "000100000000"
)

# Java's ConsumerProtocol.serializeAssignment, version 3: orders-0 and orders-1, no
# user data.
JAVA_V3_ASSIGNMENT = bytes.fromhex(
    "0003" "00000001" "0006" + b"orders".hex() + "00000002" "00000000" "00000001"
    "ffffffff"
)  # fmt: skip


class ConstantsTests(SynchronousTestCase):
    """
    Tests for the protocol's names and numbers.
    """

    def test_protocol_type(self) -> None:
        """Consumer groups announce the protocol type "consumer"."""
        self.assertEqual(CONSUMER_PROTOCOL_TYPE, "consumer")

    def test_newest_version(self) -> None:
        """The newest version written is 3."""
        self.assertEqual(CONSUMER_PROTOCOL_VERSION, 3)

    def test_rebalance_protocol_ids(self) -> None:
        """The rebalance protocols carry Kafka's ids: eager 0, cooperative 1."""
        self.assertEqual(
            (RebalanceProtocol.EAGER.value, RebalanceProtocol.COOPERATIVE.value), (0, 1)
        )


class SubscriptionValueTests(SynchronousTestCase):
    """
    Tests for L{Subscription} and L{Assignment} as values.
    """

    def test_defaults(self) -> None:
        """A subscription names only its topics by default."""
        subscription = Subscription(("a",))
        self.assertEqual(
            (
                subscription.user_data,
                subscription.owned_partitions,
                subscription.generation_id,
                subscription.rack_id,
            ),
            (None, (), -1, None),
        )

    def test_sequences_become_tuples(self) -> None:
        """Lists given for topics and partitions are kept as tuples."""
        subscription = Subscription(["a"], owned_partitions=[TP("a", 0)])
        assignment = Assignment([TP("a", 0)])
        self.assertEqual(
            (subscription.topics, subscription.owned_partitions, assignment.partitions),
            (("a",), (TP("a", 0),), (TP("a", 0),)),
        )

    def test_topics_not_a_string(self) -> None:
        """A single string is refused as topics rather than split into letters."""
        self.assertRaises(TypeError, Subscription, "orders")

    def test_hashable(self) -> None:
        """Equal subscriptions hash alike."""
        self.assertEqual(hash(Subscription(["a"])), hash(Subscription(("a",))))


class EncodeSubscriptionTests(SynchronousTestCase):
    """
    Tests for L{encode_subscription}.
    """

    def test_java_bytes(self) -> None:
        """Version 3 is written byte for byte as Java's consumer writes it."""
        subscription = Subscription(
            topics=("orders", "audit"),
            user_data=b"\x00\x00\x00\x04",
            owned_partitions=(TP("orders", 2), TP("audit", 0), TP("orders", 1)),
            generation_id=4,
        )
        self.assertEqual(encode_subscription(subscription), JAVA_V3_SUBSCRIPTION)

    def test_version_zero_bytes(self) -> None:
        """Version 0 holds the sorted topics and the user data only."""
        self.assertEqual(
            encode_subscription(Subscription(("orders", "audit"), b""), version=0),
            bytes.fromhex("0000000000020005617564697400066f726465727300000000"),
        )

    def test_null_user_data(self) -> None:
        """No user data is written as null bytes (length -1)."""
        self.assertEqual(
            encode_subscription(Subscription(()), version=0),
            bytes.fromhex("000000000000ffffffff"),
        )

    def test_versions_out_of_range(self) -> None:
        """Versions other than 0 to 3 cannot be written."""
        for version in (-1, 4):
            error = self.assertRaises(
                ValueError, encode_subscription, FULL, version=version
            )
            self.assertIn(f"version {version}", str(error))


class SubscriptionRoundTripTests(SynchronousTestCase):
    """
    Tests for L{decode_subscription} reading what L{encode_subscription} wrote.
    """

    def test_version_three(self) -> None:
        """Version 3 keeps every field; topics and partitions come back sorted."""
        self.assertEqual(
            decode_subscription(encode_subscription(FULL)),
            Subscription(
                topics=("audit", "orders"),
                user_data=b"\x00\x00\x00\x04",
                owned_partitions=(TP("audit", 0), TP("orders", 1), TP("orders", 2)),
                generation_id=4,
                rack_id="rack-a",
            ),
        )

    def test_older_versions_drop_newer_fields(self) -> None:
        """Each older version drops the fields added after it."""
        expected = {
            0: Subscription(("audit", "orders"), b"\x00\x00\x00\x04"),
            1: Subscription(
                ("audit", "orders"),
                b"\x00\x00\x00\x04",
                (TP("audit", 0), TP("orders", 1), TP("orders", 2)),
            ),
            2: Subscription(
                ("audit", "orders"),
                b"\x00\x00\x00\x04",
                (TP("audit", 0), TP("orders", 1), TP("orders", 2)),
                4,
            ),
        }
        for version, subscription in expected.items():
            self.assertEqual(
                decode_subscription(encode_subscription(FULL, version=version)),
                subscription,
            )

    def test_version_prefix(self) -> None:
        """The blob starts with the version as an int16."""
        for version in range(4):
            self.assertEqual(
                encode_subscription(FULL, version=version)[:2],
                version.to_bytes(2, "big"),
            )

    def test_bytes_like_input(self) -> None:
        """A bytearray or memoryview reads like bytes."""
        data = encode_subscription(FULL)
        self.assertEqual(
            decode_subscription(bytearray(data)), decode_subscription(memoryview(data))
        )

    def test_empty_rack_is_none(self) -> None:
        """An empty rack id reads as no rack, as Java reads it."""
        data = encode_subscription(Subscription(("a",), rack_id=""))
        self.assertIsNone(decode_subscription(data).rack_id)


class SubscriptionInteropTests(SynchronousTestCase):
    """
    Tests for L{decode_subscription} reading what other clients write.
    """

    def test_java_version_three(self) -> None:
        """A Java consumer's version 3 subscription is read in full."""
        self.assertEqual(
            decode_subscription(JAVA_V3_SUBSCRIPTION),
            Subscription(
                topics=("audit", "orders"),
                user_data=b"\x00\x00\x00\x04",
                owned_partitions=(TP("audit", 0), TP("orders", 1), TP("orders", 2)),
                generation_id=4,
            ),
        )

    def test_kafka_python_version_zero(self) -> None:
        """kafka-python's version 0 subscription is read, topics in its order."""
        self.assertEqual(
            decode_subscription(KAFKA_PYTHON_V0_SUBSCRIPTION),
            Subscription(("orders", "audit"), b""),
        )

    def test_kafka_python_version_one(self) -> None:
        """kafka-python's version 1 subscription is read with its owned partitions."""
        self.assertEqual(
            decode_subscription(KAFKA_PYTHON_V1_SUBSCRIPTION),
            Subscription(
                ("audit", "orders"),
                b"",
                (TP("orders", 0), TP("orders", 2), TP("audit", 1)),
            ),
        )

    def test_newer_version_read_as_newest(self) -> None:
        """A newer version is read as version 3; fields appended after are ignored."""
        data = b"\x00\x07" + encode_subscription(FULL)[2:] + b"\x00\x00\x00\x2a"
        self.assertEqual(
            decode_subscription(data), decode_subscription(encode_subscription(FULL))
        )


class MalformedSubscriptionTests(SynchronousTestCase):
    """
    Tests for L{decode_subscription} refusing bytes that are no subscription.
    """

    def test_every_truncation(self) -> None:
        """Every strict prefix of a subscription is refused as truncated."""
        data = encode_subscription(FULL)
        for end in range(len(data)):
            error = self.assertRaises(ValueError, decode_subscription, data[:end])
            self.assertIn("truncated", str(error))

    def test_every_truncation_of_each_version(self) -> None:
        """Truncations are refused for every version, naming the version."""
        for version in range(4):
            data = encode_subscription(FULL, version=version)
            for end in range(2, len(data)):
                error = self.assertRaises(ValueError, decode_subscription, data[:end])
                self.assertIn(
                    f"subscription (version {version}) is truncated", str(error)
                )

    def test_no_version(self) -> None:
        """Fewer than two bytes hold no version."""
        error = self.assertRaises(ValueError, decode_subscription, b"\x00")
        self.assertEqual(
            str(error),
            "consumer protocol subscription is truncated: 1 byte(s) cannot hold "
            "its int16 version",
        )

    def test_negative_version(self) -> None:
        """A negative version is refused, naming it."""
        error = self.assertRaises(ValueError, decode_subscription, b"\xff\xfe")
        self.assertEqual(
            str(error), "unsupported consumer protocol subscription version: -2"
        )

    def test_negative_array_length(self) -> None:
        """A negative topic count is refused as undecodable."""
        error = self.assertRaises(
            ValueError, decode_subscription, b"\x00\x00\xff\xff\xff\xfe"
        )
        self.assertIn("subscription (version 0) could not be decoded", str(error))

    def test_invalid_utf8(self) -> None:
        """A topic name that is not UTF-8 is refused."""
        error = self.assertRaises(
            ValueError, decode_subscription, b"\x00\x00\x00\x00\x00\x01\x00\x02\xff\xfe"
        )
        self.assertIn("could not be decoded", str(error))

    def test_huge_count(self) -> None:
        """A count far beyond the bytes present is refused as truncated."""
        error = self.assertRaises(
            ValueError, decode_subscription, b"\x00\x00\x7f\xff\xff\xff"
        )
        self.assertIn("truncated", str(error))

    def test_not_bytes(self) -> None:
        """Something not bytes-like is a TypeError."""
        self.assertRaises(TypeError, decode_subscription, "abc")


class AssignmentTests(SynchronousTestCase):
    """
    Tests for L{encode_assignment} and L{decode_assignment}.
    """

    def test_java_bytes(self) -> None:
        """Version 3 is written byte for byte as Java writes it."""
        assignment = Assignment((TP("orders", 0), TP("orders", 1)))
        self.assertEqual(encode_assignment(assignment), JAVA_V3_ASSIGNMENT)

    def test_round_trip_every_version(self) -> None:
        """Every version keeps the partitions and the user data."""
        assignment = Assignment((TP("b", 1), TP("a", 0), TP("b", 0)), b"data")
        for version in range(4):
            self.assertEqual(
                decode_assignment(encode_assignment(assignment, version=version)),
                Assignment((TP("b", 1), TP("b", 0), TP("a", 0)), b"data"),
            )

    def test_grouped_by_first_appearance(self) -> None:
        """Partitions are grouped by topic, topics in the order first seen."""
        data = encode_assignment(Assignment((TP("b", 1), TP("a", 0), TP("b", 0))))
        self.assertEqual(
            data[6:],
            bytes.fromhex("0001" "62" "00000002" "00000001" "00000000"
                          "0001" "61" "00000001" "00000000" "ffffffff"),
        )  # fmt: skip

    def test_empty_blob(self) -> None:
        """An empty blob is an empty assignment."""
        self.assertEqual(decode_assignment(b""), Assignment(()))

    def test_kafka_python_assignment(self) -> None:
        """kafka-python's version 0 assignment is read."""
        self.assertEqual(
            decode_assignment(KAFKA_PYTHON_V0_ASSIGNMENT),
            Assignment((TP("orders", 0), TP("orders", 2), TP("audit", 1)), b""),
        )

    def test_java_assignment(self) -> None:
        """Java's version 3 assignment is read, null user data as C{None}."""
        self.assertEqual(
            decode_assignment(JAVA_V3_ASSIGNMENT),
            Assignment((TP("orders", 0), TP("orders", 1))),
        )

    def test_newer_version(self) -> None:
        """A newer version is read as version 3."""
        data = b"\x00\x09" + JAVA_V3_ASSIGNMENT[2:] + b"\x01"
        self.assertEqual(decode_assignment(data), decode_assignment(JAVA_V3_ASSIGNMENT))

    def test_every_truncation(self) -> None:
        """Every strict, non-empty prefix of an assignment is refused as truncated."""
        data = encode_assignment(Assignment((TP("a", 0), TP("b", 3)), b"xyz"))
        for end in range(1, len(data)):
            error = self.assertRaises(ValueError, decode_assignment, data[:end])
            self.assertIn("assignment", str(error))
            self.assertIn("truncated", str(error))

    def test_negative_version(self) -> None:
        """A negative version is refused, naming it."""
        error = self.assertRaises(ValueError, decode_assignment, b"\x80\x00")
        self.assertEqual(
            str(error), "unsupported consumer protocol assignment version: -32768"
        )

    def test_garbage(self) -> None:
        """A negative topic count is refused as undecodable."""
        error = self.assertRaises(
            ValueError, decode_assignment, b"\x00\x03\xff\xff\xff\xf0"
        )
        self.assertIn("assignment (version 3) could not be decoded", str(error))

    def test_versions_out_of_range(self) -> None:
        """Versions other than 0 to 3 cannot be written."""
        self.assertRaises(ValueError, encode_assignment, Assignment(()), version=4)


class StickyUserDataTests(SynchronousTestCase):
    """
    Tests for the user data of L{StickyAssignor}, in Java's layout.
    """

    # Java's StickyAssignor.serializeTopicPartitionAssignment for orders-0,
    # orders-2, audit-1 in generation 7 (STICKY_ASSIGNOR_USER_DATA_V1, written out
    # by hand from the schema).
    JAVA_V1 = bytes.fromhex(
        "00000002"
        "0006" + b"orders".hex() + "00000002" "00000000" "00000002"
        "0005" + b"audit".hex() + "00000001" "00000001"
        "00000007"
    )  # fmt: skip
    PARTITIONS = (TP("orders", 0), TP("orders", 2), TP("audit", 1))

    def test_java_layout(self) -> None:
        """The user data is Java's version 1 layout, without a version prefix."""
        self.assertEqual(encode_sticky_user_data(self.PARTITIONS, 7), self.JAVA_V1)

    def test_read_version_one(self) -> None:
        """Version 1 is read with its generation."""
        self.assertEqual(
            decode_sticky_user_data(self.JAVA_V1), MemberData(self.PARTITIONS, 7)
        )

    def test_read_version_zero(self) -> None:
        """Version 0 (no generation) reads with generation -1."""
        self.assertEqual(
            decode_sticky_user_data(self.JAVA_V1[:-4]), MemberData(self.PARTITIONS, -1)
        )

    def test_read_kafka_python(self) -> None:
        """kafka-python 3.0's user data, behind an int16 version, is read too."""
        # Captured from kafka-python 3.0.12: StickyPartitionAssignor.metadata()
        # after on_assignment(orders-0, orders-2, audit-1, generation 7).
        subscription = decode_subscription(
            bytes.fromhex(
                "0000000000020005617564697400066f72646572730000002d0001000000020006"
                "6f726465727300000002000000000000000200056175646974000000010000000100"
                "000007"
            )
        )
        self.assertEqual(
            decode_sticky_user_data(subscription.user_data),
            MemberData(self.PARTITIONS, 7),
        )

    def test_unreadable_is_nothing(self) -> None:
        """User data neither version reads counts as owning nothing."""
        for data in (None, b"", b"\x01", b"\xff\xff\xff\xff\x00"):
            self.assertEqual(decode_sticky_user_data(data), MemberData())

    def test_none_before_first_assignment(self) -> None:
        """A member never assigned sends no user data."""
        self.assertIsNone(StickyAssignor().subscription_user_data(frozenset({"a"})))

    def test_after_assignment(self) -> None:
        """After an assignment, the member sends it with its generation."""
        assignor = StickyAssignor()
        assignor.on_assignment(Assignment(self.PARTITIONS), 7)
        self.assertEqual(
            assignor.subscription_user_data(frozenset({"orders"})), self.JAVA_V1
        )


class CooperativeUserDataTests(SynchronousTestCase):
    """
    Tests for the user data of L{CooperativeStickyAssignor}: an int32 generation.
    """

    def test_generation(self) -> None:
        """The user data is the last generation, -1 before any."""
        assignor = CooperativeStickyAssignor()
        before = assignor.subscription_user_data(frozenset())
        assignor.on_assignment(Assignment(()), 12)
        self.assertEqual(
            (before, assignor.subscription_user_data(frozenset())),
            (b"\xff\xff\xff\xff", b"\x00\x00\x00\x0c"),
        )
