"""
Tests for L{odradek.client.protocol.framing}.
"""

from __future__ import annotations

import itertools
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.protocol import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    FrameSizeError,
    ProtocolError,
    encode_frame,
)

_deterministic = settings(derandomize=True, database=None, deadline=None)


def _prefix(size: int) -> bytes:
    return struct.pack(">i", size)


class EncodeFrameTests(SynchronousTestCase):
    """
    L{encode_frame} puts a signed big-endian int32 size before the body.
    """

    def test_prefix(self) -> None:
        """
        The frame is the body's length as a big-endian int32, then the body.
        """
        self.assertEqual(encode_frame(b"abc"), b"\x00\x00\x00\x03abc")

    def test_empty(self) -> None:
        """
        An empty body gives a frame of four zero bytes.
        """
        self.assertEqual(encode_frame(b""), b"\x00\x00\x00\x00")

    def test_memoryview(self) -> None:
        """
        A memoryview body is framed like the bytes it views.
        """
        self.assertEqual(encode_frame(memoryview(b"xyz")), encode_frame(b"xyz"))


class FrameDecoderTests(SynchronousTestCase):
    """
    L{FrameDecoder} splits a byte stream into frame bodies.
    """

    def test_default_limit(self) -> None:
        """
        The default maximum is Kafka's socket.request.max.bytes default.
        """
        self.assertEqual(DEFAULT_MAX_FRAME_SIZE, 104857600)
        self.assertEqual(FrameDecoder().max_frame_size, DEFAULT_MAX_FRAME_SIZE)

    def test_one_frame(self) -> None:
        """
        One whole frame gives its body.
        """
        self.assertEqual(FrameDecoder(100).feed(encode_frame(b"hello")), [b"hello"])

    def test_one_byte_at_a_time(self) -> None:
        """
        Frames fed one byte at a time come out whole, each as its last byte arrives.
        """
        bodies = [b"first", b"", b"x" * 300, b"last"]
        stream = b"".join(encode_frame(body) for body in bodies)
        decoder = FrameDecoder(1000)
        received: list[bytes] = []
        completions = []
        for index in range(len(stream)):
            frames = decoder.feed(stream[index : index + 1])
            if frames:
                completions.append(index)
            received.extend(frames)
        self.assertEqual(received, bodies)
        ends, total = [], 0
        for body in bodies:
            total += 4 + len(body)
            ends.append(total - 1)
        self.assertEqual(completions, ends)
        self.assertEqual(decoder.buffered, 0)

    def test_many_frames_in_one_chunk(self) -> None:
        """
        Many frames arriving together are all returned, in order.
        """
        bodies = [str(i).encode() * (i % 7) for i in range(1000)]
        decoder = FrameDecoder(100)
        self.assertEqual(
            decoder.feed(b"".join(encode_frame(body) for body in bodies)), bodies
        )
        self.assertEqual(decoder.buffered, 0)

    def test_partial_frame_kept(self) -> None:
        """
        Bytes after the last whole frame wait for the rest of their frame.
        """
        decoder = FrameDecoder(100)
        stream = encode_frame(b"one") + encode_frame(b"two")
        self.assertEqual(decoder.feed(stream[:-1]), [b"one"])
        self.assertEqual(decoder.buffered, 6)
        self.assertEqual(decoder.feed(stream[-1:]), [b"two"])

    def test_large_frame_in_chunks(self) -> None:
        """
        A frame arriving in many chunks comes out once, when complete.
        """
        body = bytes(range(256)) * 4096
        stream = encode_frame(body)
        decoder = FrameDecoder(len(body))
        received = []
        for start in range(0, len(stream), 1000):
            received.extend(decoder.feed(stream[start : start + 1000]))
        self.assertEqual(received, [body])

    def test_empty_feed(self) -> None:
        """
        Feeding no bytes returns no frames.
        """
        self.assertEqual(FrameDecoder(10).feed(b""), [])

    def test_bytearray_and_memoryview(self) -> None:
        """
        The decoder accepts bytearray and memoryview chunks and returns bytes.
        """
        decoder = FrameDecoder(10)
        decoder.feed(bytearray(b"\x00\x00"))
        frames = decoder.feed(memoryview(b"\x00\x02ok"))
        self.assertEqual(frames, [b"ok"])
        self.assertIsInstance(frames[0], bytes)

    def test_frame_at_limit(self) -> None:
        """
        A frame exactly as large as the maximum is accepted.
        """
        self.assertEqual(FrameDecoder(5).feed(encode_frame(b"12345")), [b"12345"])

    def test_oversize_prefix_alone(self) -> None:
        """
        An oversize frame is refused as soon as its prefix arrives, naming the size
        and the limit.
        """
        decoder = FrameDecoder(1024)
        with self.assertRaises(FrameSizeError) as caught:
            decoder.feed(_prefix(1025))
        error = caught.exception
        self.assertEqual((error.size, error.limit), (1025, 1024))
        self.assertIn("1025", str(error))
        self.assertIn("1024", str(error))
        self.assertIsInstance(error, ProtocolError)

    def test_oversize_prefix_byte_by_byte(self) -> None:
        """
        An oversize prefix fed one byte at a time is refused on its fourth byte.
        """
        decoder = FrameDecoder(1024)
        prefix = _prefix(DEFAULT_MAX_FRAME_SIZE)
        for index in range(3):
            self.assertEqual(decoder.feed(prefix[index : index + 1]), [])
        self.assertRaises(FrameSizeError, decoder.feed, prefix[3:])

    def test_negative_size(self) -> None:
        """
        A negative size prefix is refused, naming the size.
        """
        with self.assertRaises(FrameSizeError) as caught:
            FrameDecoder(1024).feed(_prefix(-1))
        self.assertEqual(caught.exception.size, -1)
        self.assertIn("-1", str(caught.exception))

    def test_high_bit_is_negative(self) -> None:
        """
        The size is signed: a prefix with the high bit set is negative.
        """
        with self.assertRaises(FrameSizeError) as caught:
            FrameDecoder(2**31 - 1).feed(b"\x80\x00\x00\x00")
        self.assertEqual(caught.exception.size, -(2**31))

    def test_bad_prefix_after_good_frame(self) -> None:
        """
        A bad prefix after a whole frame in the same chunk still raises.
        """
        decoder = FrameDecoder(10)
        self.assertRaises(
            FrameSizeError, decoder.feed, encode_frame(b"ok") + _prefix(11)
        )

    def test_error_is_sticky(self) -> None:
        """
        After a size error, every later feed raises the same error.
        """
        decoder = FrameDecoder(10)
        with self.assertRaises(FrameSizeError) as caught:
            decoder.feed(_prefix(11))
        with self.assertRaises(FrameSizeError) as again:
            decoder.feed(encode_frame(b"fine"))
        self.assertIs(again.exception, caught.exception)
        self.assertEqual(decoder.buffered, 0)

    def test_invalid_limit(self) -> None:
        """
        A negative or non-integer maximum is a usage error, not a protocol error.
        """
        self.assertRaises(ValueError, FrameDecoder, -1)
        self.assertRaises(TypeError, FrameDecoder, "100")

    @_deterministic
    @given(
        bodies=st.lists(st.binary(max_size=50), max_size=20),
        cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
    )
    def test_any_chunking(self, bodies: list[bytes], cuts: list[int]) -> None:
        """
        However the stream is cut into chunks, the same frames come out.
        """
        stream = b"".join(encode_frame(body) for body in bodies)
        points = sorted({0, len(stream), *(c for c in cuts if c < len(stream))})
        decoder = FrameDecoder(50)
        received = []
        for start, end in itertools.pairwise(points):
            received.extend(decoder.feed(stream[start:end]))
        self.assertEqual(received, bodies)
        self.assertEqual(decoder.buffered, 0)
