"""
Benchmark the Odradek producer against aiokafka, kafka-python and confluent-kafka,
in the same run, against the same Odradek broker.

One broker is started on a free loopback port. Each client, in a process of its own
(so that no client's threads or event loop slow another), sends C{--records}
records of C{--size} bytes (no key) with C{acks=1} to a fresh one-partition topic,
and waits for every acknowledgement. Records/s are reported for each client, with
the ratio of Odradek's rate to each other client's (above 1 means Odradek is
faster). Each figure is the best of C{--rounds} runs. No assertion is made.

    python integration/bench/bench_producer.py [--records N] [--size B]
        [--rounds N] [--only odradek,aiokafka,...]

Every client keeps its own defaults but for C{acks=1} and C{linger.ms=5} (the Java
client's default since Kafka 4.0): batch sizes are 16 KB for the three Python
clients and librdkafka's own for confluent-kafka, which is a C library and is shown
for reference only.
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


def produce_odradek(bootstrap: str, topic: str, value: bytes, count: int) -> float:
    from odradek.client import Producer, ProducerRecord

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5})
    try:
        producer.send(ProducerRecord(topic, value=value)).get(60)
        send = producer.send
        started = time.perf_counter()
        for _ in range(count):
            send(ProducerRecord(topic, value=value))
        producer.flush(DEADLINE_SECONDS)
        return time.perf_counter() - started
    finally:
        producer.close(60)


def produce_aiokafka(bootstrap: str, topic: str, value: bytes, count: int) -> float:
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def run() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
        await producer.start()
        try:
            await (await producer.send(topic, value))
            send = producer.send
            started = time.perf_counter()
            futures = [await send(topic, value) for _ in range(count)]
            await producer.flush()
            await asyncio.gather(*futures)
            return time.perf_counter() - started
        finally:
            await producer.stop()

    return asyncio.run(run())


def produce_kafka_python(bootstrap: str, topic: str, value: bytes, count: int) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    try:
        producer.send(topic, value).get(60)
        send = producer.send
        started = time.perf_counter()
        for _ in range(count):
            send(topic, value)
        producer.flush(DEADLINE_SECONDS)
        return time.perf_counter() - started
    finally:
        producer.close(60)


def produce_confluent(bootstrap: str, topic: str, value: bytes, count: int) -> float:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5})
    produce = producer.produce
    started = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                produce(topic, value)
                break
            except BufferError:
                producer.poll(0.005)
    remaining = producer.flush(DEADLINE_SECONDS)
    elapsed = time.perf_counter() - started
    if remaining:
        raise RuntimeError(f"{remaining} records undelivered")
    return elapsed


RUNNERS = {
    "odradek": produce_odradek,
    "aiokafka": produce_aiokafka,
    "kafka-python": produce_kafka_python,
    "confluent-kafka": produce_confluent,
}


def run_client(client: str, bootstrap: str, topic: str, size: int, count: int) -> float:
    """Run one client's produce in this (child) process; @return: seconds."""
    value = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    return RUNNERS[client](bootstrap, topic, value, count)


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
    root = Path(tempfile.mkdtemp(prefix="odradek-bench-producer-"))
    best: dict[str, float] = {}
    context = multiprocessing.get_context("spawn")
    broker = BrokerProcess(root / "broker")
    broker.start()
    try:
        for round_number in range(options.rounds):
            for client in clients:
                topic = f"bench-{client}-{round_number}"
                create_topic(broker.bootstrap, topic)
                with context.Pool(1) as pool:
                    seconds = pool.apply(
                        run_client,
                        (
                            client,
                            broker.bootstrap,
                            topic,
                            options.size,
                            options.records,
                        ),
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
        f"{options.records:,} records of {options.size} B, acks=1, linger.ms=5, "
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
