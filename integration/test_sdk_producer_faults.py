"""
The Odradek SDK's producer when its broker misbehaves, against an Odradek broker of
each test's own: a restart in the middle of an idempotent stream loses and
duplicates nothing, and a stalled broker (SIGSTOP) makes C{send} block for
C{max.block.ms} and then fail, while the records it took are delivered once the
broker runs again. Tansu is left out: its memory storage loses everything on a
restart.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import pytest
import rdkafka
from confluent_kafka import Message
from harness import BrokerProcess

from odradek.client import FutureRecordMetadata, Producer, ProducerRecord
from odradek.client.errors import RequestTimedOutError
from odradek.client.producer.buffer import BufferExhaustedError

ProducerFactory = Callable[..., Producer]
ReadTopic = Callable[..., dict[int, list[Message]]]

STREAM_RECORDS = 20_000
SENT_BEFORE_RESTART = 8_000
ACKED_BEFORE_RESTART = 5_000
SENT_BEFORE_BROKER_BACK = 15_000
PHASE_TIMEOUT_SECONDS = 90.0


def stream_value(index: int) -> bytes:
    return b"%08d" % index


@pytest.mark.slow
def test_restart_mid_stream(
    own_odradek_broker: BrokerProcess,
    topic: str,
    sdk_producer: ProducerFactory,
    read_topic: ReadTopic,
) -> None:
    """A broker restart mid-stream loses and duplicates no idempotent record."""
    broker = own_odradek_broker
    rdkafka.create_topic(broker.bootstrap, topic)
    producer = sdk_producer(
        broker.bootstrap,
        acks="all",
        enable_idempotence=True,
        delivery_timeout_ms=120_000,
        request_timeout_ms=10_000,
        linger_ms=5,
    )
    futures: list[FutureRecordMetadata] = []
    acked = 0
    acked_lock = threading.Lock()
    enough_acked = threading.Event()
    restarting = threading.Event()
    broker_back = threading.Event()
    sent_while_restarting: list[int] = []
    send_errors: list[BaseException] = []

    def count(metadata: object, error: BaseException | None) -> None:
        nonlocal acked
        with acked_lock:
            acked += error is None
            if acked >= ACKED_BEFORE_RESTART:
                enough_acked.set()

    def send(index: int) -> None:
        record = ProducerRecord(topic, stream_value(index))
        futures.append(producer.send(record, callback=count))

    def send_all() -> None:
        try:
            for index in range(SENT_BEFORE_RESTART):
                send(index)
            assert restarting.wait(PHASE_TIMEOUT_SECONDS)
            index = SENT_BEFORE_RESTART
            while index < SENT_BEFORE_BROKER_BACK and not broker_back.is_set():
                send(index)
                sent_while_restarting.append(index)
                index += 1
                if index % 10 == 0:
                    time.sleep(0.001)  # spread these over the restart
            assert broker_back.wait(PHASE_TIMEOUT_SECONDS)
            for rest in range(index, STREAM_RECORDS):
                send(rest)
        except BaseException as error:
            send_errors.append(error)

    sender = threading.Thread(target=send_all, name="restart-stream-sender")
    sender.start()
    try:
        assert enough_acked.wait(PHASE_TIMEOUT_SECONDS), f"only {acked} acked"
        restarting.set()
        broker.restart()
    finally:
        restarting.set()
        broker_back.set()
        sender.join(PHASE_TIMEOUT_SECONDS)
    assert not sender.is_alive()
    assert send_errors == []
    assert sent_while_restarting, "no record was sent during the restart"
    assert len(futures) == STREAM_RECORDS
    producer.flush(PHASE_TIMEOUT_SECONDS)
    assert [future.get(0).offset for future in futures] == list(range(STREAM_RECORDS))
    assert acked == STREAM_RECORDS
    messages = read_topic(broker.bootstrap, topic)[0]
    assert [m.value() for m in messages] == [
        stream_value(index) for index in range(STREAM_RECORDS)
    ]


BUFFER_MEMORY = 64 * 1024
MAX_BLOCK_MS = 500
RECORD_VALUE_SIZE = 1024


def stalled_value(index: int) -> bytes:
    return (b"%06d:" % index).ljust(RECORD_VALUE_SIZE, b"x")


def test_back_pressure_when_broker_stalls(
    own_odradek_broker: BrokerProcess,
    topic: str,
    sdk_producer: ProducerFactory,
    read_topic: ReadTopic,
) -> None:
    """A stalled broker makes send() raise BufferExhaustedError after max.block.ms."""
    assert issubclass(BufferExhaustedError, RequestTimedOutError)
    broker = own_odradek_broker
    rdkafka.create_topic(broker.bootstrap, topic)
    producer = sdk_producer(
        broker.bootstrap,
        buffer_memory=BUFFER_MEMORY,
        batch_size=16 * 1024,
        max_block_ms=MAX_BLOCK_MS,
        linger_ms=5,
    )
    producer.send(ProducerRecord(topic, b"before the stall")).get(30)
    accepted: list[FutureRecordMetadata] = []
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        stalled_at = time.monotonic()
        with pytest.raises(BufferExhaustedError):
            for index in range(10 * BUFFER_MEMORY // RECORD_VALUE_SIZE):
                began = time.monotonic()
                accepted.append(
                    producer.send(ProducerRecord(topic, stalled_value(index)))
                )
        refused_at = time.monotonic()
    finally:
        os.kill(broker.pid, signal.SIGCONT)
    blocked = refused_at - began
    assert MAX_BLOCK_MS / 1000 * 0.9 <= blocked <= MAX_BLOCK_MS / 1000 + 1.5, blocked
    assert refused_at - stalled_at < MAX_BLOCK_MS / 1000 + 5
    assert len(accepted) >= BUFFER_MEMORY // (2 * RECORD_VALUE_SIZE)
    assert len(accepted) <= BUFFER_MEMORY // RECORD_VALUE_SIZE
    producer.flush(60)
    assert [future.get(0).offset for future in accepted] == list(
        range(1, len(accepted) + 1)
    )
    messages = read_topic(broker.bootstrap, topic)[0]
    assert [m.value() for m in messages] == [b"before the stall"] + [
        stalled_value(index) for index in range(len(accepted))
    ]
