"""
End-to-end latency at a fixed, moderate rate, for the benchmark suite.

A confluent-kafka consumer, in a process of its own, is assigned partition 0 of an
empty one-partition topic and reads it live. Once it has seen a warm-up record
(connections made, metadata known), a confluent-kafka producer in this process
sends C{rate} records a second for C{seconds} seconds (C{linger.ms=0}, C{acks=1}),
each value starting with C{time.perf_counter()} at the moment of sending. The
consumer takes C{time.perf_counter()} as each poll returns; the latency of a record
is receive time - send time. C{perf_counter} is C{CLOCK_MONOTONIC} on Linux, one
clock for every process of the host.
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import struct
import time
from typing import Any

from bench_broker import create_topic

WARM_UP = b"W"
MEASURED = b"M"
STAMP = struct.Struct(">d")
READY_TIMEOUT_SECONDS = 60.0
DEADLINE_SECONDS = 120.0


def read_live(
    bootstrap: str, topic: str, count: int, results: multiprocessing.Queue[Any]
) -> None:
    """
    Read C{topic} live (child process): put C{"ready"} on C{results} at the first
    warm-up record, then the latencies in seconds of C{count} measured records (or
    of as many as arrived before the deadline).
    """
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "odradek-bench-latency",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 5,
        }
    )
    latencies: list[float] = []
    ready = False
    clock = time.perf_counter
    unpack = STAMP.unpack_from
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(latencies) < count and time.monotonic() < deadline:
            # poll() returns as soon as one record is there (consume() would wait
            # for a full batch or its timeout, which would count as latency).
            message = consumer.poll(0.1)
            received = clock()
            if message is not None:
                if message.error() is not None:
                    raise KafkaException(message.error())
                value = message.value()
                if value[:1] == MEASURED:
                    latencies.append(received - unpack(value, 1)[0])
                elif not ready:
                    ready = True
                    results.put("ready")
    finally:
        consumer.close()
        results.put(latencies)


def measure(
    bootstrap: str, topic: str, rate: int, seconds: float, size: int = 100
) -> dict[str, Any]:
    """
    Send records at C{rate} a second for C{seconds} and time each one's trip.

    @return: C{records} received, C{p50_ms}, C{p99_ms}, C{max_ms}, C{sent_rate}
        (the rate the producer kept).
    @raise RuntimeError: if the consumer never got ready or records went missing.
    """
    from confluent_kafka import Producer

    count = max(20, int(rate * seconds))
    create_topic(bootstrap, topic)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[Any] = context.Queue()
    reader = context.Process(
        target=read_live, args=(bootstrap, topic, count, results), daemon=True
    )
    reader.start()
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 0})
    try:
        padding = b"." * max(0, size - 1 - STAMP.size)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            producer.produce(topic, WARM_UP + padding, partition=0)
            producer.flush(10)
            try:
                answer = results.get(timeout=1.0)
            except queue.Empty:
                if time.monotonic() > deadline or not reader.is_alive():
                    raise RuntimeError("the latency consumer did not start") from None
            else:
                if answer != "ready":
                    raise RuntimeError("the latency consumer stopped before reading")
                break
        clock = time.perf_counter
        pack = STAMP.pack
        produce = producer.produce
        started = clock()
        for index in range(count):
            due = started + index / rate
            now = clock()
            if due > now:
                time.sleep(due - now)
            produce(topic, MEASURED + pack(clock()) + padding, partition=0)
            producer.poll(0)
        sent = clock() - started
        producer.flush(30)
        latencies = sorted(results.get(timeout=DEADLINE_SECONDS + 30))
    finally:
        reader.join(30)
        if reader.is_alive():
            reader.kill()
            reader.join(10)
    if len(latencies) < count:
        raise RuntimeError(f"received {len(latencies)} of {count} records")
    return {
        "records": len(latencies),
        "sent_rate": count / sent if sent > 0 else None,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": latencies[-1] * 1000,
    }


def percentile(ordered: list[float], fraction: float) -> float:
    """@return: the nearest-rank C{fraction} percentile of sorted C{ordered}."""
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
