"""
What the real-client tests send and how they check it, shared by every client.

Each client test produces L{sample_records} (keys, null keys and values, empty keys
and values, headers, binary data, a large compressible value, the producer's own
CreateTime timestamps) with one compression codec, reads them back, and compares
them as L{Record} values. L{value_size_for_batch} finds the value size that makes a
one-record batch exactly C{message.max.bytes}, computed here from the record batch v2
layout rather than with Odradek's own builder, so that it is an independent oracle.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

MESSAGE_MAX_BYTES = 1048588
"""Kafka's default message.max.bytes: the largest record batch a broker accepts."""

BATCH_OVERHEAD = 61
"""The bytes of a v2 record batch before its first record (base offset .. count)."""

Header = tuple[str, bytes | None]


@dataclasses.dataclass(frozen=True)
class Record:
    """
    A record as a test sends or reads it.

    @ivar timestamp: milliseconds, or C{None} where the test does not compare it.
    """

    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp: int | None = None

    def without_timestamp(self) -> Record:
        return dataclasses.replace(self, timestamp=None)


def unique_name(prefix: str) -> str:
    """
    @return: a legal topic name from C{prefix} (a test's name), made unique.
    """
    cleaned = re.sub(r"[^a-zA-Z0-9._-]+", "-", prefix).strip("-.")[:180]
    return f"{cleaned}-{time.monotonic_ns() % 10**9}"


def sample_records(
    *,
    base_timestamp: int | None = None,
    null_header_values: bool = True,
    binary: bool = True,
) -> list[Record]:
    """
    The records a client test produces and expects to read back, in order.

    @param base_timestamp: the CreateTime of the first record (milliseconds); each
        next one is a second later. Defaults to an hour ago, so that a broker stamp
        would show.
    @param null_header_values: include a header with a null value (some clients
        cannot send one).
    @param binary: include keys, values and headers that are not UTF-8 (some
        clients take text only).
    """
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000) - 3_600_000
    records = [
        Record(b"key-0", b"plain value"),
        Record(None, b"null key"),
        Record(b"null value", None),
        Record(b"empty value", b""),
        Record(b"", b"empty key"),
        Record(
            b"headers",
            b"with headers",
            (("trace-id", b"abc123"), ("empty", b""), ("trace-id", b"repeated")),
        ),
        Record(b"large", b"0123456789abcdef" * 4096),
        Record("unicode-\u00e9".encode(), "value-\u2603".encode()),
    ]
    if null_header_values:
        records.append(Record(b"null header", b"v", (("null", None), ("x", b"y"))))
    if binary:
        records.append(
            Record(
                bytes(range(256)), bytes(range(255, -1, -1)), (("bin", b"\x00\xff"),)
            )
        )
    return [
        dataclasses.replace(record, timestamp=base_timestamp + 1000 * index)
        for index, record in enumerate(records)
    ]


def _varint_size(value: int) -> int:
    zigzag = (value << 1) ^ (value >> 63)
    size = 1
    while zigzag >= 0x80:
        zigzag >>= 7
        size += 1
    return size


def record_size(
    key: bytes | None, value_size: int, headers: Sequence[Header] = ()
) -> int:
    """
    @return: the size of one record (length prefix included) that is the first of
        its batch: timestamp delta and offset delta 0.
    """
    body = 1 + _varint_size(0) + _varint_size(0)
    body += _varint_size(-1 if key is None else len(key)) + len(key or b"")
    body += _varint_size(value_size) + value_size
    body += _varint_size(len(headers))
    for name, data in headers:
        encoded = name.encode()
        body += _varint_size(len(encoded)) + len(encoded)
        body += _varint_size(-1 if data is None else len(data)) + len(data or b"")
    return _varint_size(body) + body


def batch_size(
    key: bytes | None, value_size: int, headers: Sequence[Header] = ()
) -> int:
    """@return: the size of an uncompressed batch holding one such record."""
    return BATCH_OVERHEAD + record_size(key, value_size, headers)


def value_size_for_batch(
    target: int, key: bytes | None = None, headers: Sequence[Header] = ()
) -> int:
    """
    @return: the value size that makes an uncompressed one-record batch exactly
        C{target} bytes.
    @raise ValueError: if no size does (a varint boundary skips it).
    """
    size = target - BATCH_OVERHEAD
    while size > 0 and batch_size(key, size, headers) > target:
        size -= 1
    if batch_size(key, size, headers) != target:
        raise ValueError(f"no value size makes a {target}-byte batch")
    return size


def stored_batches(
    log_dir: Path, topic: str, partition: int
) -> Iterator[tuple[int, int]]:
    """
    Walk the record batches of a partition's segment files on disk.

    @return: C{(base_offset, compression id)} of each batch.
    """
    directory = log_dir / f"{topic}-{partition}"
    for segment in sorted(directory.glob("*.log")):
        data = segment.read_bytes()
        position = 0
        while position + 23 <= len(data):
            base_offset, length = struct.unpack_from(">qi", data, position)
            (attributes,) = struct.unpack_from(">h", data, position + 21)
            yield base_offset, attributes & 0x07
            position += 12 + length


def assert_stored_as(broker: Any, topic: str, codec: str, partition: int = 0) -> None:
    """
    Check that the broker stored the producer's batches as they came: compressed
    with C{codec} (a producer may send a batch uncompressed when compression would
    not make it smaller, as librdkafka does), never recompressed.
    """
    stored = [
        codec_id for _, codec_id in stored_batches(broker.log_dir, topic, partition)
    ]
    assert stored, f"no batch on disk for {topic}[{partition}]"
    assert set(stored) <= {CODEC_IDS[codec], 0}, stored
    assert CODEC_IDS[codec] in stored, stored


def assert_offsets_contiguous(offsets: Sequence[int], first: int = 0) -> None:
    """Check that C{offsets} are C{first, first + 1, ...}."""
    assert list(offsets) == list(range(first, first + len(offsets))), offsets
