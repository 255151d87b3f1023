"""
Tests for L{odradek.client.records.codecs}.
"""

from __future__ import annotations

import struct
import zlib

import cramjam
from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.errors import CorruptRecordError, UnsupportedCompressionTypeError
from odradek.client.records.codecs import (
    XERIAL_BLOCK_SIZE,
    XERIAL_HEADER,
    CompressionType,
    compress,
    decompress,
)

PAYLOAD = b"".join(b"record %d says hello; " % i for i in range(5000))


class CompressionTypeTests(SynchronousTestCase):
    """
    Tests for L{CompressionType}.
    """

    def test_ids(self) -> None:
        """The codecs carry Kafka's attribute ids."""
        self.assertEqual(
            [(t.kafka_name, int(t)) for t in CompressionType],
            [("none", 0), ("gzip", 1), ("snappy", 2), ("lz4", 3), ("zstd", 4)],
        )

    def test_from_kafka_name(self) -> None:
        """Kafka's names map to the codecs, in any case."""
        self.assertIs(CompressionType.from_kafka_name("ZSTD"), CompressionType.ZSTD)
        self.assertIs(CompressionType.from_kafka_name("none"), CompressionType.NONE)

    def test_unknown_name(self) -> None:
        """An unknown name is an UnsupportedCompressionTypeError naming it."""
        error = self.assertRaises(
            UnsupportedCompressionTypeError, CompressionType.from_kafka_name, "brotli"
        )
        self.assertIn("'brotli'", str(error))

    def test_unknown_id(self) -> None:
        """The ids 5 to 7 are an UnsupportedCompressionTypeError naming the id."""
        error = self.assertRaises(
            UnsupportedCompressionTypeError, CompressionType.from_id, 6
        )
        self.assertIn("6", str(error))


class RoundTripTests(SynchronousTestCase):
    """
    Every codec decompresses what it compresses.
    """

    def test_all_codecs(self) -> None:
        """Each codec round-trips a compressible payload and shrinks it."""
        for codec in CompressionType:
            compressed = compress(codec, PAYLOAD)
            self.assertEqual(decompress(codec, compressed), PAYLOAD, codec)
            if codec != CompressionType.NONE:
                self.assertLess(len(compressed), len(PAYLOAD) // 2, codec)

    def test_memoryview_input(self) -> None:
        """Each codec takes a memoryview slice, compressing and decompressing."""
        for codec in CompressionType:
            compressed = compress(codec, memoryview(b"xx" + PAYLOAD)[2:])
            view = memoryview(b"yy" + compressed)[2:]
            self.assertEqual(decompress(codec, view), PAYLOAD, codec)

    def test_levels(self) -> None:
        """A compression level is passed to the codec."""
        for codec in (CompressionType.GZIP, CompressionType.LZ4, CompressionType.ZSTD):
            compressed = compress(codec, PAYLOAD, level=1)
            self.assertEqual(decompress(codec, compressed), PAYLOAD)

    @given(st.binary(max_size=2000), st.sampled_from(list(CompressionType)))
    def test_any_bytes(self, data: bytes, codec: CompressionType) -> None:
        """Any bytes round-trip through any codec, the empty string included."""
        self.assertEqual(decompress(codec, compress(codec, data)), data)


class SnappyTests(SynchronousTestCase):
    """
    Snappy is written in snappy-java's framing and read in it or raw.
    """

    def test_xerial_framing(self) -> None:
        """The stream opens with the xerial header and holds 32 KiB blocks."""
        data = PAYLOAD * 2
        compressed = compress(CompressionType.SNAPPY, data)
        self.assertEqual(
            compressed[:16], b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01"
        )
        self.assertEqual(XERIAL_HEADER, compressed[:16])
        position, blocks = 16, []
        while position < len(compressed):
            (length,) = struct.unpack_from(">i", compressed, position)
            block = compressed[position + 4 : position + 4 + length]
            blocks.append(bytes(cramjam.snappy.decompress_raw(block)))
            position += 4 + length
        self.assertEqual(position, len(compressed))
        self.assertEqual(b"".join(blocks), data)
        self.assertEqual(len(blocks[0]), XERIAL_BLOCK_SIZE)

    def test_raw(self) -> None:
        """A raw snappy block, as librdkafka writes, decompresses."""
        raw = bytes(cramjam.snappy.compress_raw(PAYLOAD))
        self.assertEqual(decompress(CompressionType.SNAPPY, raw), PAYLOAD)

    def test_xerial_little_endian_versions(self) -> None:
        """The xerial version fields are not checked (some producers swap them)."""
        stream = compress(CompressionType.SNAPPY, PAYLOAD)
        swapped = stream[:8] + struct.pack("<ii", 1, 1) + stream[16:]
        self.assertEqual(decompress(CompressionType.SNAPPY, swapped), PAYLOAD)

    def test_xerial_block_past_end(self) -> None:
        """A xerial block longer than the stream is a CorruptRecordError."""
        stream = compress(CompressionType.SNAPPY, PAYLOAD)
        error = self.assertRaises(
            CorruptRecordError, decompress, CompressionType.SNAPPY, stream[:-1]
        )
        self.assertIn("bytes but", str(error))

    def test_xerial_length_cut(self) -> None:
        """A xerial stream ending inside a block length is a CorruptRecordError."""
        stream = compress(CompressionType.SNAPPY, b"abc") + b"\x00\x00"
        self.assertRaises(
            CorruptRecordError, decompress, CompressionType.SNAPPY, stream
        )


class FormatTests(SynchronousTestCase):
    """
    The compressed formats are those Kafka reads.
    """

    def test_lz4_frame(self) -> None:
        """LZ4 is a frame with independent blocks and no content checksum."""
        compressed = compress(CompressionType.LZ4, PAYLOAD)
        self.assertEqual(compressed[:4], b"\x04\x22\x4d\x18")
        flags = compressed[4]
        self.assertEqual(flags >> 6, 1, "frame version 1")
        self.assertTrue(flags & 0x20, "independent blocks")
        self.assertFalse(flags & 0x04, "no content checksum")

    def test_gzip_members(self) -> None:
        """Concatenated gzip members decompress to their concatenation."""
        data = zlib.compress(b"abc", 6, 31) + zlib.compress(b"def", 6, 31)
        self.assertEqual(decompress(CompressionType.GZIP, data), b"abcdef")

    def test_gzip_cut(self) -> None:
        """A gzip stream cut short is a CorruptRecordError."""
        data = compress(CompressionType.GZIP, PAYLOAD)[:-10]
        self.assertRaises(CorruptRecordError, decompress, CompressionType.GZIP, data)

    def test_zstd_frames(self) -> None:
        """Concatenated zstd frames decompress to their concatenation."""
        data = compress(CompressionType.ZSTD, b"abc") + compress(
            CompressionType.ZSTD, b"d"
        )
        self.assertEqual(decompress(CompressionType.ZSTD, data), b"abcd")

    def test_garbage(self) -> None:
        """Bytes that are not in a codec's format are a CorruptRecordError naming it."""
        for codec in (
            CompressionType.GZIP,
            CompressionType.SNAPPY,
            CompressionType.LZ4,
            CompressionType.ZSTD,
        ):
            error = self.assertRaises(
                CorruptRecordError, decompress, codec, b"\x00garbage\xff" * 4
            )
            self.assertIn(codec.kafka_name, str(error))
