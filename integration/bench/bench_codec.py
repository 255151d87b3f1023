"""
Benchmark Odradek's entity writer (C{odradek.client.protocol.entity_writer}) against
kio's own C{entity_writer}, measured in the same run, on the messages of the hot
paths: a Produce request and response and a Fetch response, with 1 and 6 partitions.

Each message is encoded many times by both writers (after checking that both write
the same bytes); the best of several rounds is reported in microseconds per message,
with the ratio kio / Odradek (above 1 means Odradek is faster).

    python integration/bench/bench_codec.py [--rounds N] [--count N]
"""

from __future__ import annotations

import argparse
import datetime
import io
import time
from collections.abc import Callable
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.fetch.v12 import response as fetch_v12
from kio.schema.produce.v9 import request as produce_request_v9
from kio.schema.produce.v9 import response as produce_response_v9
from kio.serial import entity_writer as kio_entity_writer

from odradek.client.protocol import entity_writer

PAYLOAD = b"r" * 300


def produce_request(partitions: int) -> Any:
    """@return: a Produce v9 request of one topic with C{partitions} partitions."""
    module = produce_request_v9
    return module.ProduceRequest(
        transactional_id=None,
        acks=-1,  # type: ignore[arg-type]
        timeout=datetime.timedelta(seconds=30),  # type: ignore[arg-type]
        topic_data=(
            module.TopicProduceData(
                name="bench-topic",  # type: ignore[arg-type]
                partition_data=tuple(
                    module.PartitionProduceData(index=p, records=PAYLOAD)  # type: ignore[arg-type]
                    for p in range(partitions)
                ),
            ),
        ),
    )


def produce_response(partitions: int) -> Any:
    """@return: a Produce v9 response of one topic with C{partitions} partitions."""
    module = produce_response_v9
    return module.ProduceResponse(
        responses=(
            module.TopicProduceResponse(
                name="bench-topic",  # type: ignore[arg-type]
                partition_responses=tuple(
                    module.PartitionProduceResponse(
                        index=p,  # type: ignore[arg-type]
                        error_code=ErrorCode.none,
                        base_offset=1000 * p,  # type: ignore[arg-type]
                        log_append_time=None,
                        log_start_offset=0,  # type: ignore[arg-type]
                        record_errors=(),
                        error_message=None,
                    )
                    for p in range(partitions)
                ),
            ),
        ),
        throttle_time=datetime.timedelta(0),  # type: ignore[arg-type]
    )


def fetch_response(partitions: int) -> Any:
    """@return: a Fetch v12 response of one topic with C{partitions} partitions."""
    module = fetch_v12
    return module.FetchResponse(
        throttle_time=datetime.timedelta(0),  # type: ignore[arg-type]
        error_code=ErrorCode.none,
        session_id=0,  # type: ignore[arg-type]
        responses=(
            module.FetchableTopicResponse(
                topic="bench-topic",  # type: ignore[arg-type]
                partitions=tuple(
                    module.PartitionData(
                        partition_index=p,  # type: ignore[arg-type]
                        error_code=ErrorCode.none,
                        high_watermark=5000,  # type: ignore[arg-type]
                        last_stable_offset=5000,  # type: ignore[arg-type]
                        log_start_offset=0,  # type: ignore[arg-type]
                        aborted_transactions=None,
                        preferred_read_replica=-1,  # type: ignore[arg-type]
                        records=PAYLOAD,  # type: ignore[arg-type]
                    )
                    for p in range(partitions)
                ),
            ),
        ),
    )


def time_writer(
    write: Callable[[io.BytesIO, Any], object], message: Any, count: int
) -> float:
    """@return: seconds per message, writing C{message} C{count} times."""
    started = time.perf_counter()
    for _ in range(count):
        write(io.BytesIO(), message)
    return (time.perf_counter() - started) / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=5000)
    options = parser.parse_args(argv)
    print(f"{'message':32} {'kio µs':>8} {'Odradek µs':>11}  kio / Odradek")
    for build in (produce_request, produce_response, fetch_response):
        for partitions in (1, 6):
            message = build(partitions)
            kind = type(message)
            ours, theirs = entity_writer(kind), kio_entity_writer(kind)
            expected, written = io.BytesIO(), io.BytesIO()
            theirs(expected, message)
            ours(written, message)
            if written.getvalue() != expected.getvalue():
                print(f"{kind.__name__}: the writers disagree")
                return 1
            kio_best = min(
                time_writer(theirs, message, options.count)
                for _ in range(options.rounds)
            )
            our_best = min(
                time_writer(ours, message, options.count) for _ in range(options.rounds)
            )
            label = f"{kind.__name__} {partitions}p"
            print(
                f"{label:32} {kio_best * 1e6:>8.1f} {our_best * 1e6:>11.1f}  "
                f"{kio_best / our_best:.2f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
