"""
Tests for L{odradek.broker.log.checkpoint} and L{odradek.broker.log.topic_partition}.
"""

from __future__ import annotations

import os
from unittest import mock

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.log import OffsetCheckpointFile, TopicPartition
from odradek.broker.log.topic_partition import parse_partition_dir, partition_dir_name
from odradek.client.errors import KafkaStorageError


class OffsetCheckpointFileTests(SynchronousTestCase):
    """
    Kafka's offset checkpoint text format, written atomically.
    """

    def setUp(self) -> None:
        directory = self.mktemp()
        os.makedirs(directory)
        self.path = os.path.join(directory, "recovery-point-offset-checkpoint")
        self.checkpoint = OffsetCheckpointFile(self.path)

    def write_text(self, text: str) -> None:
        with open(self.path, "w") as f:
            f.write(text)

    def test_format(self) -> None:
        """
        The file holds the version, the count, then one line per partition.
        """
        self.checkpoint.write(
            {TopicPartition("orders", 0): 1200, TopicPartition("my-topic.x", 11): 5}
        )
        with open(self.path) as f:
            self.assertEqual(f.read(), "0\n2\norders 0 1200\nmy-topic.x 11 5\n")

    def test_round_trip(self) -> None:
        """
        What is written is read back.
        """
        offsets = {TopicPartition("a", i): i * 10 for i in range(5)}
        self.checkpoint.write(offsets)
        self.assertEqual(self.checkpoint.read(), offsets)
        self.checkpoint.write({})
        self.assertEqual(self.checkpoint.read(), {})

    def test_missing(self) -> None:
        """
        A missing file reads as empty.
        """
        self.assertEqual(self.checkpoint.read(), {})

    def test_atomic(self) -> None:
        """
        If the rename fails, the old contents stay whole and no partial file is
        left in their place.
        """
        old = {TopicPartition("a", 0): 1}
        self.checkpoint.write(old)
        with mock.patch("os.replace", side_effect=OSError("disk gone")):
            error = self.assertRaises(
                KafkaStorageError, self.checkpoint.write, {TopicPartition("a", 0): 2}
            )
        self.assertIn("disk gone", str(error))
        self.assertEqual(self.checkpoint.read(), old)

    def test_no_temporary_left(self) -> None:
        """
        A successful write leaves only the checkpoint file.
        """
        self.checkpoint.write({TopicPartition("a", 0): 1})
        self.assertEqual(
            os.listdir(os.path.dirname(self.path)), [os.path.basename(self.path)]
        )

    def assertMalformed(self, text: str, fragment: str) -> None:
        self.write_text(text)
        error = self.assertRaises(KafkaStorageError, self.checkpoint.read)
        self.assertIn(self.path, str(error))
        self.assertIn(fragment, str(error))

    def test_bad_version(self) -> None:
        """
        An unknown version is refused.
        """
        self.assertMalformed("1\n0\n", "version")

    def test_truncated(self) -> None:
        """
        A file cut before its count is refused.
        """
        self.assertMalformed("0\n", "truncated")

    def test_count_mismatch(self) -> None:
        """
        A count that disagrees with the lines is refused.
        """
        self.assertMalformed("0\n2\na 0 1\n", "declares 2 entries but holds 1")

    def test_bad_line(self) -> None:
        """
        A line that is not C{topic partition offset} is refused, quoted.
        """
        self.assertMalformed("0\n1\na 0\n", "'a 0'")
        self.assertMalformed("0\n1\na x 1\n", "'a x 1'")
        self.assertMalformed("0\nmany\n", "'many'")


class TopicPartitionTests(SynchronousTestCase):
    """
    Partition directory names.
    """

    def test_dir_name(self) -> None:
        """
        The directory is C{<topic>-<partition>}.
        """
        self.assertEqual(partition_dir_name(TopicPartition("orders", 3)), "orders-3")
        self.assertEqual(str(TopicPartition("orders", 3)), "orders-3")

    def test_parse(self) -> None:
        """
        The partition follows the last dash; topics may hold dashes.
        """
        self.assertEqual(
            parse_partition_dir("orders-eu-12"),
            TopicPartition("orders-eu", 12),
        )

    def test_parse_invalid(self) -> None:
        """
        Names that are not partition directories are refused.
        """
        for name in ["orders", "orders-", "-3", "orders-x", "orders-٣"]:
            self.assertRaises(ValueError, parse_partition_dir, name)
