"""
Helpers for the storage tests: a settable clock, batches as producers send them, and
logs opened in a test's temporary directory.
"""

from __future__ import annotations

import os
import random
import struct

import attrs
from crc32c import crc32c
from hypothesis import settings

from odradek.broker.log import Log, LogConfig, TopicPartition
from odradek.broker.log.topic_partition import partition_dir_name
from odradek.client.records import (
    CompressionType,
    RecordBatchBuilder,
    RecordBatchReader,
)

START_MS = 1_700_000_000_000
"""The time every test clock starts at."""

TP = TopicPartition("orders", 0)
"""The partition most tests use."""

HYPOTHESIS = settings(derandomize=True, deadline=None, max_examples=30)
"""Deterministic hypothesis settings for storage tests (each example touches disk)."""


@attrs.define
class FakeClock:
    """
    A clock a test moves by hand, standing in for the reactor's.

    @ivar now: the time in milliseconds.
    """

    now: int = START_MS

    def __call__(self) -> int:
        return self.now

    def advance(self, milliseconds: int) -> None:
        """
        Move time forward.
        """
        self.now += milliseconds


def make_batch(
    count: int = 1,
    *,
    timestamp: int = START_MS,
    value_size: int = 10,
    key: bytes | None = b"k",
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    compression: CompressionType = CompressionType.NONE,
    timestamps: list[int] | None = None,
) -> bytes:
    """
    Build a batch as a producer sends it: base offset 0, no leader epoch.

    @param count: how many records.
    @param timestamp: every record's timestamp, unless C{timestamps} is given.
    @param value_size: the size of each value.
    @param key: each record's key.
    @param producer_id: the idempotent producer id, or -1.
    @param producer_epoch: its epoch.
    @param base_sequence: the first record's sequence.
    @param compression: the codec.
    @param timestamps: one timestamp per record.
    @return: the batch's bytes.
    """
    builder = RecordBatchBuilder(
        compression_type=compression,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        base_sequence=base_sequence,
    )
    for i in range(count):
        ts = timestamps[i] if timestamps is not None else timestamp
        builder.append(ts, key, bytes([i % 256]) * value_size)
    return builder.build()


def recompute_crc(batch: bytes | bytearray, position: int = 0) -> bytes:
    """
    @return: C{batch} with the CRC of the batch at C{position} made right again.
    """
    edited = bytearray(batch)
    (length,) = struct.unpack_from(">i", edited, position + 8)
    end = position + 12 + length
    struct.pack_into(
        ">I", edited, position + 17, crc32c(bytes(edited[position + 21 : end]))
    )
    return bytes(edited)


def open_log(
    directory: str,
    config: LogConfig | None = None,
    clock: FakeClock | None = None,
    *,
    log_start_offset: int = 0,
    recovery_point: int = 0,
    had_clean_shutdown: bool = False,
) -> Log:
    """
    Open a log for L{TP} in C{directory}, with a fixed random seed for jitter.
    """
    return Log.open(
        os.path.join(directory, partition_dir_name(TP)),
        TP,
        config or LogConfig(),
        clock or FakeClock(),
        log_start_offset=log_start_offset,
        recovery_point=recovery_point,
        had_clean_shutdown=had_clean_shutdown,
        rng=random.Random(4),
    )


def read_offsets(log: Log, start: int = 0, max_bytes: int = 1 << 20) -> list[int]:
    """
    Read the whole log from C{start} and return the offset of every record, checking
    each batch's CRC on the way.
    """
    offsets: list[int] = []
    position = start
    while position < log.log_end_offset:
        info = log.read(position, max_bytes, None, True)
        data = info.records.read_bytes()
        if not data:
            break
        for batch in RecordBatchReader(data):
            batch.validate()
            offsets.extend(record.offset for record in batch)
            position = batch.next_offset
    return offsets


def segment_files(log: Log) -> list[str]:
    """
    @return: the file names in the log's directory, sorted.
    """
    return sorted(os.listdir(log.directory))
