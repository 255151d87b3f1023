"""
Benchmark the Odradek consumer against aiokafka, kafka-python and confluent-kafka,
in the same run, against the same Odradek broker.

One broker is started on a free loopback port and C{--records} records of C{--size}
bytes are produced once (with confluent-kafka) into a one-partition topic. Each
client then, in a process of its own (so that no client's threads or event loop slow
another), assigns itself the partition, reads from the beginning and stops when it
has received every record, deserializing nothing (raw bytes). Records/s are reported
for each client, with the ratio of Odradek's rate to each other client's (above 1
means Odradek is faster). Each figure is the best of C{--rounds} runs. No assertion
is made.

    python integration/bench/bench_consumer.py [--records N] [--size B]
        [--rounds N] [--only odradek,aiokafka,...]

Every client keeps its own fetch defaults. confluent-kafka is a C library and is
shown for reference only.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_broker import create_topic
from harness import BrokerProcess

CLIENTS = ("odradek", "aiokafka", "kafka-python", "confluent-kafka")
DEADLINE_SECONDS = 600.0


def consume_odradek(bootstrap: str, topic: str, count: int) -> float:
    from odradek.client import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "auto.offset.reset": "earliest"}
    )
    try:
        consumer.assign([TopicPartition(topic, 0)])
        poll = consumer.poll
        seen = 0
        started = time.perf_counter()
        deadline = started + DEADLINE_SECONDS
        while seen < count and time.perf_counter() < deadline:
            seen += len(poll(1.0))
        return _elapsed(started, seen, count)
    finally:
        consumer.close(10)


def consume_aiokafka(bootstrap: str, topic: str, count: int) -> float:
    import asyncio

    from aiokafka import AIOKafkaConsumer
    from aiokafka import TopicPartition as AioTopicPartition

    async def run() -> float:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            consumer.assign([AioTopicPartition(topic, 0)])
            seen = 0
            started = time.perf_counter()
            deadline = started + DEADLINE_SECONDS
            while seen < count and time.perf_counter() < deadline:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    seen += len(records)
            return _elapsed(started, seen, count)
        finally:
            await consumer.stop()

    return asyncio.run(run())


def consume_kafka_python(bootstrap: str, topic: str, count: int) -> float:
    from kafka import KafkaConsumer
    from kafka import TopicPartition as KpTopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    try:
        consumer.assign([KpTopicPartition(topic, 0)])
        seen = 0
        started = time.perf_counter()
        deadline = started + DEADLINE_SECONDS
        while seen < count and time.perf_counter() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                seen += len(records)
        return _elapsed(started, seen, count)
    finally:
        consumer.close()


def consume_confluent(bootstrap: str, topic: str, count: int) -> float:
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as RdTopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "bench-confluent",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.assign([RdTopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen = 0
        started = time.perf_counter()
        deadline = started + DEADLINE_SECONDS
        while seen < count and time.perf_counter() < deadline:
            # consume() waits out its timeout for a batch it cannot fill.
            for message in consumer.consume(min(10000, count - seen), 1.0):
                if message.error() is None:
                    seen += 1
        return _elapsed(started, seen, count)
    finally:
        consumer.close()


def _elapsed(started: float, seen: int, count: int) -> float:
    elapsed = time.perf_counter() - started
    if seen < count:
        raise RuntimeError(f"only {seen} of {count} records arrived")
    return elapsed


RUNNERS = {
    "odradek": consume_odradek,
    "aiokafka": consume_aiokafka,
    "kafka-python": consume_kafka_python,
    "confluent-kafka": consume_confluent,
}


def run_client(client: str, bootstrap: str, topic: str, count: int) -> float:
    """Run one client's consume in this (child) process; @return: seconds."""
    return RUNNERS[client](bootstrap, topic, count)


def fill(bootstrap: str, topic: str, size: int, count: int) -> None:
    """Produce C{count} records of C{size} bytes into partition 0 of C{topic}."""
    from confluent_kafka import Producer

    value = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    produce = producer.produce
    for _ in range(count):
        while True:
            try:
                produce(topic, value, partition=0)
                break
            except BufferError:
                producer.poll(0.005)
    remaining = producer.flush(DEADLINE_SECONDS)
    if remaining:
        raise RuntimeError(f"{remaining} records undelivered")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="report the best of N")
    parser.add_argument(
        "--only", default=",".join(CLIENTS), help="comma-separated clients to run"
    )
    options = parser.parse_args()
    clients = [name.strip() for name in options.only.split(",") if name.strip()]
    unknown = sorted(set(clients) - set(CLIENTS))
    if unknown:
        parser.error(f"unknown client(s) {', '.join(unknown)}; choose from {CLIENTS}")
    root = Path(tempfile.mkdtemp(prefix="odradek-bench-consumer-"))
    best: dict[str, float] = {}
    context = multiprocessing.get_context("spawn")
    broker = BrokerProcess(root / "broker")
    broker.start()
    topic = "bench-consume"
    try:
        create_topic(broker.bootstrap, topic)
        fill(broker.bootstrap, topic, options.size, options.records)
        for round_number in range(options.rounds):
            for client in clients:
                with context.Pool(1) as pool:
                    seconds = pool.apply(
                        run_client, (client, broker.bootstrap, topic, options.records)
                    )
                rate = options.records / seconds
                print(
                    f"  round {round_number + 1} {client:16} {seconds:7.2f}s "
                    f"{rate:>12,.0f} records/s",
                    flush=True,
                )
                best[client] = min(best.get(client, seconds), seconds)
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(
        f"{options.records:,} records of {options.size} B from one partition, "
        f"best of {options.rounds}"
    )
    for client in clients:
        rate = options.records / best[client]
        line = f"  {client:16} {rate:>12,.0f} records/s"
        if client != "odradek" and "odradek" in best:
            line += f"   Odradek / {client}: {best[client] / best['odradek']:.2f}x"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
