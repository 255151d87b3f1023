"""
Tests for L{odradek.broker.coordinator.group.placement}.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.coordinator.group.placement import java_string_hash, partition_for

# Each string's hashCode and its partition among 50, as printed by a JDK running
# ``s.hashCode()`` and ``(s.hashCode() & 0x7fffffff) % 50``.
JAVA_VALUES = [
    ("", 0, 0),
    ("a", 97, 47),
    ("hello", 99162322, 22),
    ("\U0001f600", 1772899, 49),
    ("Hello World", -862545276, 22),
    ("polygenelubricants", -2147483648, 0),
    ("group-\u00e9\U0001f600x", 1294658682, 32),
    ("console-consumer-12345", 158455506, 6),
]


def _reference_hash(text: str) -> int:
    """
    Java's documented formula, C{s[0]*31^(n-1) + ... + s[n-1]}, over UTF-16 code
    units, taken modulo 2**32 as a signed number.
    """
    encoded = text.encode("utf-16-be", "surrogatepass")
    units = [
        int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)
    ]
    n = len(units)
    powers = [pow(31, n - 1 - i) for i in range(n)]
    total: int = (
        sum(unit * power for unit, power in zip(units, powers, strict=True)) % 2**32
    )
    return total - 2**32 if total >= 2**31 else total


class JavaStringHashTests(SynchronousTestCase):
    """
    L{java_string_hash} is Java's C{String.hashCode}.
    """

    def test_known_values(self) -> None:
        """
        The hash equals what a JDK computes for the same strings.
        """
        for text, expected, _ in JAVA_VALUES:
            self.assertEqual(java_string_hash(text), expected, text)

    def test_surrogate_pairs(self) -> None:
        """
        A character outside the BMP hashes as its two UTF-16 surrogates.
        """
        self.assertEqual(java_string_hash("\U0001f600"), 0xD83D * 31 + 0xDE00)
        self.assertEqual(
            java_string_hash("\U0001f600"), java_string_hash("\ud83d\ude00")
        )

    def test_lone_surrogate(self) -> None:
        """
        A lone surrogate counts as the one code unit Java would hold.
        """
        self.assertEqual(java_string_hash("\ud83d"), 0xD83D)

    @given(st.text(max_size=40))
    def test_matches_formula(self, text: str) -> None:
        """
        The hash matches Java's documented polynomial over UTF-16 code units.
        """
        self.assertEqual(java_string_hash(text), _reference_hash(text))


class PartitionForTests(SynchronousTestCase):
    """
    L{partition_for} places a group as Kafka does.
    """

    def test_known_values(self) -> None:
        """
        The partition equals Kafka's C{Utils.abs(hashCode) % 50}, computed by a JDK.
        """
        for group_id, _, expected in JAVA_VALUES:
            self.assertEqual(partition_for(group_id, 50), expected, group_id)

    def test_negative_hash(self) -> None:
        """
        A negative hash keeps its low 31 bits, as C{Utils.abs}, not its magnitude.
        """
        self.assertEqual(partition_for("Hello World", 50), 22)
        self.assertNotEqual(partition_for("Hello World", 50), 862545276 % 50)

    def test_min_int_hash(self) -> None:
        """
        A hash of C{Integer.MIN_VALUE} lands on partition 0.
        """
        self.assertEqual(partition_for("polygenelubricants", 7), 0)

    def test_single_partition(self) -> None:
        """
        With one partition every group is on partition 0.
        """
        self.assertEqual(partition_for("anything", 1), 0)

    def test_bad_partition_count(self) -> None:
        """
        A partition count below 1 is refused.
        """
        self.assertRaises(ValueError, partition_for, "g", 0)
        self.assertRaises(ValueError, partition_for, "g", -3)

    @given(st.text(max_size=40), st.integers(min_value=1, max_value=1000))
    def test_in_range(self, group_id: str, partition_count: int) -> None:
        """
        The partition is always one of the topic's.
        """
        partition = partition_for(group_id, partition_count)
        self.assertTrue(0 <= partition < partition_count)
        self.assertEqual(
            partition, (_reference_hash(group_id) & 0x7FFFFFFF) % partition_count
        )
