"""
Tests for L{odradek.broker.server.response}: file regions, and responses whose
records are file regions encoded as parts.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import response as fetch_v12
from kio.static.primitive import Records
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from odradek.broker.apis import (
    ApiVersionsHandler,
    HandlerRegistry,
    register_api_versions,
)
from odradek.broker.server import (
    FileRegion,
    IFileRegion,
    encode_response_parts,
    records_region,
)
from odradek.broker.test._servertools import (
    FETCH,
    TempFile,
    fetch_response,
    materialize,
    read_frames,
)
from odradek.client.protocol import decode_response, encode_frame, encode_response

_deterministic = settings(derandomize=True, database=None, deadline=None)


class FileRegionTests(SynchronousTestCase):
    """
    L{FileRegion} is a checked value providing L{IFileRegion}.
    """

    def test_interface(self) -> None:
        """
        L{FileRegion} provides L{IFileRegion}.
        """
        region = TempFile(self, b"x").region(0, 1)
        self.assertTrue(verifyObject(IFileRegion, region))

    def test_fileno(self) -> None:
        """
        The descriptor comes from a file object or is given as an int.
        """
        temp = TempFile(self, b"x")
        self.assertEqual(temp.region(0, 1).fileno(), temp.file.fileno())
        self.assertEqual(FileRegion(7, 0, 1).fileno(), 7)

    def test_negative(self) -> None:
        """
        Negative positions and sizes are refused.
        """
        self.assertRaises(ValueError, FileRegion, 3, -1, 1)
        self.assertRaises(ValueError, FileRegion, 3, 0, -1)

    def test_any_object_with_the_attributes(self) -> None:
        """
        An object that only has C{fileno()}, C{position} and C{size} (such as the
        storage layer's C{FileRecords}) is a region too.
        """
        temp = TempFile(self, b"0123456789")

        class DuckRegion:
            position = 2
            size = 5

            def fileno(self) -> int:
                return temp.file.fileno()

        response = fetch_response(12, [records_region(DuckRegion())])
        parts = encode_response_parts(1, response)
        inline = fetch_response(12, [Records(b"23456")])
        expected = encode_frame(encode_response(1, inline))
        self.assertEqual(materialize(parts.parts), expected)

    def test_marker_needs_region(self) -> None:
        """
        L{records_region} refuses what is not a region.
        """
        self.assertRaises(TypeError, records_region, b"bytes")


class EncodeResponsePartsTests(SynchronousTestCase):
    """
    L{encode_response_parts} cuts the encoded response at each file region.
    """

    def test_without_regions(self) -> None:
        """
        A response without records is one bytes part: the framed response.
        """
        response = fetch_response(12, [Records(b"abc"), None])
        parts = encode_response_parts(5, response)
        expected = encode_frame(encode_response(5, response))
        self.assertEqual(parts.parts, (expected,))
        self.assertEqual(parts.size, len(expected))

    def test_non_fetch_fast_path(self) -> None:
        """
        A response type without records fields is encoded by the codec.
        """
        registry = HandlerRegistry()
        register_api_versions(registry)
        response = ApiVersionsHandler(registry).response(3, ErrorCode.none)
        parts = encode_response_parts(1, response)
        self.assertEqual(parts.parts, (encode_frame(encode_response(1, response)),))

    def assertSplices(self, version: int, content: bytes, cuts: list[int]) -> None:
        temp = TempFile(self, content)
        regions = [
            temp.region(start, end - start) for start, end in itertools.pairwise(cuts)
        ]
        response = fetch_response(version, [records_region(r) for r in regions])
        parts = encode_response_parts(9, response)
        real = fetch_response(
            version, [Records(content[r.position :][: r.size]) for r in regions]
        )
        expected = encode_frame(encode_response(9, real))
        self.assertEqual(materialize(parts.parts), expected)
        self.assertEqual(parts.size, len(expected))
        self.assertEqual(
            [(r.position, r.size) for r in parts.regions],
            [(r.position, r.size) for r in regions if r.size],
        )
        for before, after in itertools.pairwise(parts.parts):
            self.assertFalse(isinstance(before, bytes) and isinstance(after, bytes))

    def test_legacy_lengths(self) -> None:
        """
        In a non-flexible version (int32 lengths) each region becomes a part.
        """
        self.assertSplices(4, bytes(range(256)) * 4, [0, 100, 150, 1024])

    def test_compact_lengths(self) -> None:
        """
        In a flexible version (varint lengths) each region becomes a part.
        """
        self.assertSplices(12, bytes(range(256)) * 4, [0, 1, 300, 1024])

    def test_empty_region(self) -> None:
        """
        An empty region adds its length but no part.
        """
        self.assertSplices(12, b"abcdef", [0, 3, 3, 6])

    @_deterministic
    @given(
        version=st.sampled_from([4, 12]),
        sizes=st.lists(st.integers(0, 300), min_size=1, max_size=8),
    )
    def test_any_regions(self, version: int, sizes: list[int]) -> None:
        """
        Any number of regions of any size splice into the same bytes as the records
        written inline.
        """
        cuts = [0]
        for size in sizes:
            cuts.append(cuts[-1] + size)
        self.assertSplices(version, os.urandom(cuts[-1]), cuts)

    def test_decodes(self) -> None:
        """
        The spliced frame decodes as the response with the region's bytes.
        """
        temp = TempFile(self, b"R" * 70)
        response = fetch_response(12, [records_region(temp.region(10, 50))])
        [frame] = read_frames(materialize(encode_response_parts(3, response).parts))
        correlation_id, decoded = decode_response(frame, FETCH, 12)
        assert isinstance(decoded, fetch_v12.FetchResponse)
        self.assertEqual(correlation_id, 3)
        self.assertEqual(
            decoded.responses[0].partitions[0].records,
            b"R" * 50,
        )

    def test_marker_outside_splicing(self) -> None:
        """
        A marker given to the codec's own encoder fails loudly instead of being
        written as nothing.
        """
        temp = TempFile(self, b"abc")
        response = fetch_response(12, [records_region(temp.region(0, 3))])
        self.assertRaises(TypeError, encode_response, 1, response)
