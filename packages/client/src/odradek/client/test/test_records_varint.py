"""
Tests for L{odradek.client.records.varint}.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import CorruptRecordError
from odradek.client.records.varint import (
    VARINT_TABLE,
    encode_varint,
    read_varint,
    read_varlong,
    varint_size,
)

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


class EncodeVarintTests(SynchronousTestCase):
    """
    Tests for L{encode_varint} and L{varint_size}.
    """

    def test_known_encodings(self) -> None:
        """Values encode as Kafka's zigzag varints: 0, -1, 1, 63, 64, -65 and 300."""
        self.assertEqual(encode_varint(0), b"\x00")
        self.assertEqual(encode_varint(-1), b"\x01")
        self.assertEqual(encode_varint(1), b"\x02")
        self.assertEqual(encode_varint(63), b"\x7e")
        self.assertEqual(encode_varint(64), b"\x80\x01")
        self.assertEqual(encode_varint(-65), b"\x81\x01")
        self.assertEqual(encode_varint(300), b"\xd8\x04")

    def test_extremes(self) -> None:
        """The 64-bit extremes take 10 bytes; the 32-bit ones 5."""
        self.assertEqual(len(encode_varint(2**63 - 1)), 10)
        self.assertEqual(len(encode_varint(-(2**63))), 10)
        self.assertEqual(len(encode_varint(2**31 - 1)), 5)
        self.assertEqual(len(encode_varint(-(2**31))), 5)

    def test_out_of_range(self) -> None:
        """A value beyond 64 bits is refused."""
        self.assertRaises(ValueError, encode_varint, 2**63)
        self.assertRaises(ValueError, encode_varint, -(2**63) - 1)

    def test_table(self) -> None:
        """The table agrees with the encoder for values on both sides of its edge."""
        for value in (8190, 8191, -8192, 8192, -8193):
            zigzag = (value << 1) ^ (value >> 63)
            if zigzag < len(VARINT_TABLE):
                self.assertEqual(VARINT_TABLE[zigzag], encode_varint(value))
            self.assertEqual(len(encode_varint(value)), varint_size(value))

    @given(INT64)
    def test_size(self, value: int) -> None:
        """varint_size counts the bytes encode_varint writes."""
        self.assertEqual(varint_size(value), len(encode_varint(value)))


class ReadVarintTests(SynchronousTestCase):
    """
    Tests for L{read_varint} and L{read_varlong}.
    """

    @given(INT32, st.binary(max_size=3))
    def test_varint_round_trip(self, value: int, prefix: bytes) -> None:
        """A 32-bit value reads back from any position, with the position after it."""
        data = prefix + encode_varint(value) + b"\xff"
        self.assertEqual(read_varint(data, len(prefix)), (value, len(data) - 1))

    @given(INT64)
    def test_varlong_round_trip(self, value: int) -> None:
        """A 64-bit value reads back as a varlong."""
        data = encode_varint(value)
        self.assertEqual(read_varlong(data, 0), (value, len(data)))

    def test_truncated(self) -> None:
        """A varint cut short is a CorruptRecordError naming the position."""
        error = self.assertRaises(CorruptRecordError, read_varint, b"\x00\x80", 1)
        self.assertIn("position 1", str(error))
        self.assertRaises(CorruptRecordError, read_varlong, b"\xff\xff", 0)

    def test_too_long(self) -> None:
        """A varint of more than 5 bytes (varlong: 10) is a CorruptRecordError."""
        self.assertRaises(CorruptRecordError, read_varint, b"\xff" * 5 + b"\x01", 0)
        self.assertRaises(CorruptRecordError, read_varlong, b"\xff" * 10 + b"\x01", 0)
