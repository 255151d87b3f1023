"""
The hash Apache Kafka's clients use to map a record's key to a partition: 32-bit
MurmurHash2 as Java's C{org.apache.kafka.common.utils.Utils.murmur2} computes it
(seed C{0x9747b28c}, signed result), so that a key lands on the same partition
whichever client produced it.
"""

from __future__ import annotations

import struct
from typing import Final

__all__ = ["murmur2", "partition_for_key", "to_positive"]

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF
_CACHED_WORDS: Final = 256
_WORDS: Final[dict[int, struct.Struct]] = {}
"""Unpackers of the little-endian 32-bit words of keys, by word count."""


def murmur2(data: bytes | bytearray | memoryview) -> int:
    """
    Hash bytes as Kafka's Java client does.

    @param data: the bytes, usually a serialized key.
    @return: the hash as a signed 32-bit integer, equal to what Java's
        C{Utils.murmur2} returns for the same bytes.
    """
    length = len(data)
    h = _SEED ^ length
    count = length >> 2
    if count:
        words = _WORDS.get(count)
        if words is None:
            words = struct.Struct(f"<{count}I")
            if count <= _CACHED_WORDS:
                _WORDS[count] = words
        for k in words.unpack_from(data):
            k = (k * _M) & _MASK
            k ^= k >> 24
            h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        end = length & ~3
        if tail == 3:
            h ^= data[end + 2] << 16
        if tail >= 2:
            h ^= data[end + 1] << 8
        h = ((h ^ data[end]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


def to_positive(number: int) -> int:
    """
    Clear the sign bit of a 32-bit integer, as Java's C{Utils.toPositive}: not the
    absolute value, so that the minimum integer maps to 0 rather than overflowing.

    @param number: a 32-bit integer, signed or not.
    @return: C{number & 0x7fffffff}.
    """
    return number & 0x7FFFFFFF


def partition_for_key(
    key_bytes: bytes | bytearray | memoryview, num_partitions: int
) -> int:
    """
    The partition a keyed record goes to, over all partitions of its topic whether
    or not they have a leader (Java's C{BuiltInPartitioner.partitionForKey}).

    @param key_bytes: the serialized key.
    @param num_partitions: how many partitions the topic has.
    @return: C{to_positive(murmur2(key_bytes)) % num_partitions}.
    """
    return (murmur2(key_bytes) & 0x7FFFFFFF) % num_partitions
