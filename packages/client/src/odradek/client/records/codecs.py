"""
The compression codecs of record batch v2: gzip, snappy, lz4 and zstd.

Compression applies to the records of a batch as one block; the 61-byte batch header
stays uncompressed. Each codec writes what Apache Kafka's Java client writes, so that
every Kafka broker and client can read it, and reads what any of them writes:

  - gzip: one gzip member (RFC 1952); reading accepts several concatenated members.
  - snappy: the framing of the xerial snappy-java library, which the Java client uses:
    the 8 bytes C{b"\\x82SNAPPY\\x00"}, a big-endian int32 version and compatible
    version (both 1), then blocks of a big-endian int32 length and a raw snappy block,
    one per 32 KiB of input. librdkafka writes one raw snappy block instead; reading
    accepts both.
  - lz4: the LZ4 frame format with independent blocks (Kafka rejects linked blocks)
    and no content checksum, as Kafka's own writer does.
  - zstd: one zstd frame; reading accepts several concatenated frames and frames
    without a declared content size.
"""

from __future__ import annotations

import struct
import zlib
from enum import IntEnum

import cramjam

from odradek.client.errors import CorruptRecordError, UnsupportedCompressionTypeError

__all__ = [
    "XERIAL_BLOCK_SIZE",
    "XERIAL_HEADER",
    "CompressionType",
    "compress",
    "decompress",
]


class CompressionType(IntEnum):
    """
    The codec of a record batch: bits 0-2 of its attributes.

    The lower-case member name is Kafka's name for the codec, as in the
    C{compression.type} configuration.
    """

    NONE = 0
    GZIP = 1
    SNAPPY = 2
    LZ4 = 3
    ZSTD = 4

    @property
    def kafka_name(self) -> str:
        """
        @return: Kafka's name for this codec: C{"none"}, C{"gzip"}, C{"snappy"},
            C{"lz4"} or C{"zstd"}.
        """
        return self.name.lower()

    @classmethod
    def from_kafka_name(cls, name: str) -> CompressionType:
        """
        Look a codec up by the name Kafka's configuration uses.

        @param name: C{"none"}, C{"gzip"}, C{"snappy"}, C{"lz4"} or C{"zstd"}, in any
            case.
        @return: the codec.
        @raise UnsupportedCompressionTypeError: if no codec has that name.
        """
        try:
            return cls[name.upper()]
        except KeyError:
            known = ", ".join(member.kafka_name for member in cls)
            raise UnsupportedCompressionTypeError(
                f"unknown compression type {name!r}; known types are {known}"
            ) from None

    @classmethod
    def from_id(cls, compression_id: int) -> CompressionType:
        """
        Look a codec up by the id a batch's attributes carry.

        @param compression_id: the value of bits 0-2 of the attributes.
        @return: the codec.
        @raise UnsupportedCompressionTypeError: for the ids 5 to 7, which no codec has.
        """
        try:
            return cls(compression_id)
        except ValueError:
            raise UnsupportedCompressionTypeError(
                f"unknown compression type id {compression_id}"
            ) from None


XERIAL_HEADER = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
"""The 16 bytes opening a snappy-java (xerial) stream: magic, version 1, compat 1."""

XERIAL_BLOCK_SIZE = 32 * 1024
"""How much uncompressed input each xerial block holds, as snappy-java's default."""

_XERIAL_MAGIC = XERIAL_HEADER[:8]
_INT32 = struct.Struct(">i")


def compress(
    compression_type: CompressionType,
    data: bytes | bytearray | memoryview,
    level: int | None = None,
) -> bytes:
    """
    Compress the records of a batch.

    @param compression_type: the codec.
    @param data: the encoded records.
    @param level: the codec's compression level, or C{None} for its default (gzip 6,
        lz4 0, zstd 3); snappy has no levels and ignores it.
    @return: the compressed block; C{data} itself as bytes for L{CompressionType.NONE}.
    """
    if compression_type == CompressionType.NONE:
        return bytes(data)
    if compression_type == CompressionType.GZIP:
        return zlib.compress(data, -1 if level is None else level, wbits=31)
    if compression_type == CompressionType.SNAPPY:
        return _xerial_compress(data)
    if compression_type == CompressionType.LZ4:
        compressor = cramjam.lz4.Compressor(
            level=level, content_checksum=False, block_linked=False
        )
        compressor.compress(bytes(data))
        return bytes(compressor.finish())
    if compression_type == CompressionType.ZSTD:
        return bytes(cramjam.zstd.compress(data, level=level))
    raise UnsupportedCompressionTypeError(
        f"unknown compression type {compression_type!r}"
    )


def _xerial_compress(data: bytes | bytearray | memoryview) -> bytes:
    """
    Compress with snappy in snappy-java's block stream framing.

    @param data: the input.
    @return: the framed stream.
    """
    view = memoryview(data)
    parts = [XERIAL_HEADER]
    compress_raw = cramjam.snappy.compress_raw
    for start in range(0, len(view), XERIAL_BLOCK_SIZE):
        block = compress_raw(view[start : start + XERIAL_BLOCK_SIZE])
        parts.append(_INT32.pack(len(block)))
        parts.append(bytes(block))
    return b"".join(parts)


def decompress(compression_type: CompressionType, data: bytes | memoryview) -> bytes:
    """
    Decompress the records of a batch.

    @param compression_type: the codec named by the batch's attributes.
    @param data: the compressed block.
    @return: the encoded records.
    @raise CorruptRecordError: if C{data} is not valid for the codec.
    """
    try:
        if compression_type == CompressionType.NONE:
            return bytes(data)
        if compression_type == CompressionType.GZIP:
            return _gzip_decompress(data)
        if compression_type == CompressionType.SNAPPY:
            if bytes(data[:8]) == _XERIAL_MAGIC:
                return _xerial_decompress(data)
            return bytes(cramjam.snappy.decompress_raw(data))
        if compression_type == CompressionType.LZ4:
            return bytes(cramjam.lz4.decompress(data))
        if compression_type == CompressionType.ZSTD:
            return bytes(cramjam.zstd.decompress(data))
    except (zlib.error, cramjam.DecompressionError) as e:
        raise CorruptRecordError(
            f"{compression_type.kafka_name} data does not decompress: {e}"
        ) from None
    raise UnsupportedCompressionTypeError(
        f"unknown compression type {compression_type!r}"
    )


def _gzip_decompress(data: bytes | memoryview) -> bytes:
    """
    Decompress one or more concatenated gzip members.

    @param data: the gzip stream.
    @return: the decompressed bytes.
    @raise CorruptRecordError: if the stream ends inside a member.
    """
    parts = []
    remaining: bytes | memoryview = data
    while True:
        decompressor = zlib.decompressobj(wbits=31)
        parts.append(decompressor.decompress(remaining))
        if not decompressor.eof:
            raise CorruptRecordError("gzip data ends inside a gzip member")
        remaining = decompressor.unused_data
        if not remaining:
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _xerial_decompress(data: bytes | memoryview) -> bytes:
    """
    Decompress a snappy-java block stream.

    The version and compatible-version fields are not checked: producers have been
    seen writing them little-endian, and the block layout is the same either way.

    @param data: the stream, starting with the xerial magic.
    @return: the decompressed bytes.
    @raise CorruptRecordError: if a block's length is negative or runs past the end.
    """
    view = memoryview(data)
    end = len(view)
    position = len(XERIAL_HEADER)
    if end < position:
        raise CorruptRecordError(f"xerial snappy header is cut short at {end} bytes")
    parts = []
    decompress_raw = cramjam.snappy.decompress_raw
    while position < end:
        if end - position < 4:
            raise CorruptRecordError(
                f"xerial snappy block length at position {position} is cut short"
            )
        (length,) = _INT32.unpack_from(view, position)
        position += 4
        if length < 0 or position + length > end:
            raise CorruptRecordError(
                f"xerial snappy block at position {position - 4} declares"
                f" {length} bytes but {end - position} remain"
            )
        parts.append(bytes(decompress_raw(view[position : position + length])))
        position += length
    return b"".join(parts)
