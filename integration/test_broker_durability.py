"""
Crash safety: C{kill -9} the broker in the middle of a produce stream, restart it,
and read everything back with each client that checks CRCs. Every acknowledged
record must be there, at the offset it was acknowledged with, in order, and no
corrupt batch may be served.

The producer is confluent-kafka, idempotent with C{acks=all}, so that retries after
a lost response cannot reorder or duplicate records; it is purged after the kill
(records not yet acknowledged may or may not be in the log). Two rounds of
produce-and-kill run against the same log, so the second recovery starts from a log
that was itself recovered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import rdkafka
from confluent_kafka import KafkaError, Message, TopicPartition
from conftest import Broker, BrokerFactory

ROUNDS = 2
ACKED_BEFORE_KILL = 20_000
PRODUCE_AFTER_KILL_SECONDS = 0.5
STREAM_DEADLINE_SECONDS = 90


def value_of(sequence: int) -> bytes:
    return b"%010d:" % sequence + b"p" * (sequence % 300)


def produce_until_killed(
    broker: Broker, topic: str, first_sequence: int
) -> tuple[dict[int, int], int]:
    """
    Produce a stream of numbered records; SIGKILL the broker once
    L{ACKED_BEFORE_KILL} of them are acknowledged, keep producing a moment longer,
    then drop whatever is unacknowledged.

    @return: C{{sequence: offset}} of the acknowledged records, and the next
        sequence number.
    """
    acked: dict[int, int] = {}
    failures: list[KafkaError] = []

    def report(error: KafkaError | None, message: Message) -> None:
        if error is None:
            sequence = int(message.value()[:10])
            acked[sequence] = message.offset()
        else:
            failures.append(error)

    client = rdkafka.producer(
        broker.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        compression_type="lz4",
        message_timeout_ms=20000,
    )
    sequence = first_sequence
    killed_at: float | None = None
    deadline = time.monotonic() + STREAM_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        try:
            client.produce(
                topic,
                value_of(sequence),
                b"%d" % (sequence % 13),
                partition=0,
                on_delivery=report,
            )
            sequence += 1
        except BufferError:
            client.poll(0.01)
        client.poll(0)
        if killed_at is None and len(acked) >= ACKED_BEFORE_KILL:
            broker.kill9()
            killed_at = time.monotonic()
        if (
            killed_at is not None
            and time.monotonic() - killed_at > PRODUCE_AFTER_KILL_SECONDS
        ):
            break
    assert killed_at is not None, (
        f"only {len(acked)} records acknowledged in {STREAM_DEADLINE_SECONDS}s; "
        f"errors: {failures[:5]}"
    )
    client.purge(in_queue=True, in_flight=True, blocking=False)
    client.flush(5)
    return acked, sequence


def read_all_confluent(broker: Broker, topic: str, end: int) -> list[tuple[int, bytes]]:
    messages = rdkafka.consume(broker.bootstrap, topic, end, timeout=120)
    return [(m.offset(), m.value()) for m in messages[:end]]


def read_all_kafka_python(
    broker: Broker, topic: str, end: int
) -> list[tuple[int, bytes]]:
    from test_clients_kafka_python import consume

    return [(r.offset, r.value) for r in consume(broker, topic, end)[:end]]


def read_all_aiokafka(broker: Broker, topic: str, end: int) -> list[tuple[int, bytes]]:
    from test_clients_aiokafka import consume, run

    return [(r.offset, r.value) for r in run(consume(broker, topic, end))[:end]]


def read_all_kcat(broker: Broker, topic: str, end: int) -> list[tuple[int, bytes]]:
    from test_clients_kcat import kcat

    completed = kcat(
        broker,
        "-C",
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        "beginning",
        "-c",
        str(end),
        "-e",
        "-J",
        "-X",
        "check.crcs=true",
    )
    envelopes = [
        json.loads(line) for line in completed.stdout.decode().splitlines() if line
    ]
    return [(e["offset"], e["payload"].encode()) for e in envelopes]


READERS: dict[str, Callable[[Broker, str, int], list[tuple[int, bytes]]]] = {
    "confluent-kafka": read_all_confluent,
    "kafka-python": read_all_kafka_python,
    "aiokafka": read_all_aiokafka,
    "kcat": read_all_kcat,
}


@pytest.mark.slow
@pytest.mark.parametrize("reader", sorted(READERS))
def test_kill9_during_produce_keeps_acknowledged_records(
    broker_factory: BrokerFactory, topic: str, reader: str
) -> None:
    """Every acknowledged record survives kill -9, in order; no corrupt batch."""
    broker = broker_factory()
    rdkafka.create_topic(broker.bootstrap, topic)
    acked: dict[int, int] = {}
    sequence = 0
    for _ in range(ROUNDS):
        round_acked, sequence = produce_until_killed(broker, topic, sequence)
        acked.update(round_acked)
        broker.start()

    consumer = rdkafka.consumer(broker.bootstrap)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    finally:
        consumer.close()
    assert low == 0
    assert high > max(acked.values()), (high, max(acked.values()))

    records = READERS[reader](broker, topic, high)
    assert [offset for offset, _ in records] == list(range(high))
    stored = dict(records)
    missing = [s for s, offset in acked.items() if stored.get(offset) != value_of(s)]
    assert not missing, (
        f"{len(missing)} acknowledged records lost or moved, e.g. {missing[:5]}"
    )
    sequences = [int(value[:10]) for _, value in records]
    assert sequences == sorted(set(sequences)), "records out of order or duplicated"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "kill9"])
def test_idempotent_producer_rides_through_restart(
    broker_factory: BrokerFactory, topic: str, how: str
) -> None:
    """
    An idempotent producer keeps sending while the broker restarts: once it has
    retried what was in flight, every record is in the log exactly once, in order
    (the broker rebuilt its producer state and dropped the duplicate batches).
    """
    broker = broker_factory()
    rdkafka.create_topic(broker.bootstrap, topic)
    total = 60_000
    acked: dict[int, int] = {}
    failures: list[KafkaError] = []

    def report(error: KafkaError | None, message: Message) -> None:
        if error is None:
            acked[int(message.value()[:10])] = message.offset()
        else:
            failures.append(error)

    client = rdkafka.producer(
        broker.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=2,
        compression_type="zstd",
        message_timeout_ms=120_000,
        reconnect_backoff_max_ms=200,
    )
    restarted = False

    def restart_once_a_quarter_is_acknowledged() -> None:
        nonlocal restarted
        if not restarted and len(acked) >= total // 4:
            if how == "kill9":
                broker.kill9()
            else:
                broker.stop()
            broker.start()
            restarted = True

    for sequence in range(total):
        while True:
            try:
                client.produce(
                    topic, value_of(sequence), partition=0, on_delivery=report
                )
                break
            except BufferError:
                client.poll(0.01)
        client.poll(0)
        restart_once_a_quarter_is_acknowledged()
    deadline = time.monotonic() + 60
    while not restarted and time.monotonic() < deadline:
        client.poll(0.001)
        restart_once_a_quarter_is_acknowledged()
    remaining = client.flush(150)
    assert restarted
    assert remaining == 0 and not failures, (remaining, failures[:5])
    assert sorted(acked) == list(range(total))

    records = read_all_confluent(broker, topic, total)
    sequences = [int(value[:10]) for _, value in records]
    assert sequences == list(range(total)), "records lost, duplicated or reordered"
    stored = dict(records)
    assert all(stored[offset] == value_of(s) for s, offset in acked.items())
