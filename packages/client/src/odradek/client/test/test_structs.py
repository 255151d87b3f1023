"""
Tests for L{odradek.client.structs}.
"""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.structs import ProducerRecord, RecordMetadata, TopicPartition


class ProducerRecordTests(SynchronousTestCase):
    """
    L{ProducerRecord} is a frozen value.
    """

    def test_defaults(self) -> None:
        """Only the topic and the value are required."""
        record = ProducerRecord("orders", b"v")
        self.assertEqual(
            (record.key, record.partition, record.timestamp, record.headers),
            (None, None, None, ()),
        )

    def test_headers_become_a_tuple(self) -> None:
        """Headers given as a list of pairs, or None, are kept as a tuple."""
        record = ProducerRecord("orders", b"v", headers=[("a", b"1"), ("b", None)])
        self.assertEqual(record.headers, (("a", b"1"), ("b", None)))
        self.assertEqual(ProducerRecord("orders", b"v", headers=None).headers, ())

    def test_negative(self) -> None:
        """A negative partition or timestamp is refused, naming the value."""
        error = self.assertRaises(ValueError, ProducerRecord, "t", b"v", partition=-1)
        self.assertIn("Invalid partition: -1.", str(error))
        error = self.assertRaises(ValueError, ProducerRecord, "t", b"v", timestamp=-5)
        self.assertIn("Invalid timestamp: -5.", str(error))

    def test_frozen(self) -> None:
        """Fields cannot be assigned or deleted."""
        record = ProducerRecord("orders", b"v")
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            record.topic = "other"  # type: ignore[misc]
        with self.assertRaises(attrs.exceptions.FrozenInstanceError):
            del record.value
        self.assertEqual(record.topic, "orders")

    def test_value_semantics(self) -> None:
        """Records compare and hash by their fields; evolve makes a changed copy."""
        one = ProducerRecord("orders", b"v", key=b"k", partition=1, timestamp=5)
        same = ProducerRecord("orders", b"v", b"k", 1, 5)
        self.assertEqual(one, same)
        self.assertEqual(hash(one), hash(same))
        other = attrs.evolve(one, partition=2)
        self.assertNotEqual(one, other)
        self.assertEqual(other.partition, 2)
        self.assertEqual(
            repr(ProducerRecord("t", b"v")),
            "ProducerRecord(topic='t', value=b'v', key=None, partition=None, "
            "timestamp=None, headers=())",
        )


class OtherValuesTests(SynchronousTestCase):
    """
    L{TopicPartition} and L{RecordMetadata} print as Kafka's clients do.
    """

    def test_str(self) -> None:
        """A partition prints as topic-partition, metadata as topic-partition@offset."""
        self.assertEqual(str(TopicPartition("orders", 3)), "orders-3")
        self.assertEqual(str(RecordMetadata("orders", 3, 17, 0, -1, 1)), "orders-3@17")
