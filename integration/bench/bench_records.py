"""
Benchmark record batch v2 building and reading against kafka-python's pure-Python
record code, measured in the same run.

For each codec, a batch of 10,000 records (10-byte keys, 100-byte values) is built,
then read back decoding every record; the best of several rounds is reported as
records per second, with the ratio ours / kafka-python (above 1 means faster).

    python integration/bench/bench_records.py [--rounds N] [--profile CODEC]

C{--profile} runs pyinstrument over Odradek's build and read for one codec instead.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections.abc import Callable

from kafka.record.default_records import (
    DefaultRecordBatch as PeerBatch,
)
from kafka.record.default_records import (
    DefaultRecordBatchBuilder as PeerBuilder,
)

from odradek.client.records import CompressionType, RecordBatchBuilder, iter_batches

RECORDS = 10_000
BASE_TIMESTAMP = 1_700_000_000_000


def make_records() -> list[tuple[int, bytes, bytes]]:
    """
    @return: the benchmark's records as (timestamp, key, value), values of 100 bytes
        that compress somewhat, as real payloads do.
    """
    words = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf"]
    records = []
    for i in range(RECORDS):
        text = b" ".join(words[(i * 7 + j) % len(words)] for j in range(20))
        value = (b"%08d " % i + text)[:100].ljust(100, b".")
        records.append((BASE_TIMESTAMP + i, b"key-%06d" % i, value))
    return records


def build_ours(
    codec: CompressionType, records: list[tuple[int, bytes, bytes]]
) -> bytes:
    builder = RecordBatchBuilder(compression_type=codec)
    append = builder.append
    for timestamp, key, value in records:
        append(timestamp, key, value)
    return builder.build()


def build_peer(
    codec: CompressionType, records: list[tuple[int, bytes, bytes]]
) -> bytes:
    builder = PeerBuilder(
        magic=2,
        compression_type=int(codec),
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    append = builder.append
    for offset, (timestamp, key, value) in enumerate(records):
        append(offset, timestamp, key, value, [])
    return bytes(builder.build())


def read_ours(data: bytes) -> int:
    count = 0
    for batch in iter_batches(data):
        for record in batch:
            _ = record.value
            count += 1
    return count


def read_peer(data: bytes) -> int:
    count = 0
    for record in PeerBatch(data):
        _ = record.value
        count += 1
    return count


def best_of(rounds: int, work: Callable[[], object]) -> float:
    """
    @param rounds: how many times to run C{work}.
    @param work: the timed call.
    @return: the shortest time in seconds.
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def run(rounds: int) -> None:
    records = make_records()
    print(
        f"{RECORDS} records, 10-byte keys, 100-byte values; best of {rounds} rounds;"
        " records/s (higher is better)"
    )
    header = (
        f"{'codec':8} {'build ours':>12} {'build peer':>12} {'ratio':>6}"
        f" {'read ours':>12} {'read peer':>12} {'ratio':>6} {'bytes':>8}"
    )
    print(header)
    print("-" * len(header))
    for codec in CompressionType:
        data = build_ours(codec, records)
        assert read_ours(data) == RECORDS and read_peer(data) == RECORDS
        assert read_ours(build_peer(codec, records)) == RECORDS
        build_us = best_of(rounds, functools.partial(build_ours, codec, records))
        build_them = best_of(rounds, functools.partial(build_peer, codec, records))
        read_us = best_of(rounds, functools.partial(read_ours, data))
        read_them = best_of(rounds, functools.partial(read_peer, data))
        print(
            f"{codec.kafka_name:8} {RECORDS / build_us:12,.0f}"
            f" {RECORDS / build_them:12,.0f}"
            f" {build_them / build_us:6.2f} {RECORDS / read_us:12,.0f}"
            f" {RECORDS / read_them:12,.0f} {read_them / read_us:6.2f} {len(data):8}"
        )
    print("ratio = ours / kafka-python in records/s; peer is kafka-python's")
    print("kafka.record.default_records, run in the same process.")


def profile(codec_name: str) -> None:
    from pyinstrument import Profiler

    codec = CompressionType.from_kafka_name(codec_name)
    records = make_records()
    data = build_ours(codec, records)
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(10):
            build_ours(codec, records)
            read_ours(data)
    print(profiler.output_text(unicode=False, color=False))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", metavar="CODEC")
    arguments = parser.parse_args(argv)
    if arguments.profile:
        profile(arguments.profile)
    else:
        run(arguments.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
