"""
Produce, consume and administer through confluent-kafka (librdkafka), with deadlines.

Consumers use manual assignment at explicit offsets and commit nothing: they set a
C{group.id} (confluent-kafka requires one) but never need the group coordinator,
since the start offset is given and nothing is stored. Every consumer checks CRCs
(C{check.crcs=true}), so a corrupt batch served by the broker fails the read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic
from scenarios import Record

DEADLINE_SECONDS = 60.0


class DeliveryFailed(AssertionError):
    """Some records were not delivered; C{errors} holds librdkafka's errors."""

    def __init__(self, errors: list[KafkaError]) -> None:
        super().__init__(f"{len(errors)} records not delivered: {errors[:5]}")
        self.errors = errors


def producer(bootstrap: str, **config: Any) -> Producer:
    """
    @param config: librdkafka settings, with C{_} for C{.} in their names.
    """
    settings = {"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"}
    settings.update({key.replace("_", "."): value for key, value in config.items()})
    return Producer(settings)


def produce(
    client: Producer,
    topic: str,
    records: Iterable[Record],
    partition: int = 0,
    timeout: float = DEADLINE_SECONDS,
) -> list[Message]:
    """
    Produce C{records} and wait for every delivery report.

    @return: the delivered messages, in the order produced.
    @raise DeliveryFailed: if any failed.
    """
    reports: list[tuple[int, KafkaError | None, Message]] = []
    count = 0
    for index, record in enumerate(records):
        kwargs: dict[str, Any] = {"partition": partition}
        if record.timestamp is not None:
            kwargs["timestamp"] = record.timestamp
        if record.headers:
            kwargs["headers"] = list(record.headers)

        def report(
            error: KafkaError | None, message: Message, index: int = index
        ) -> None:
            reports.append((index, error, message))

        client.produce(topic, record.value, record.key, on_delivery=report, **kwargs)
        client.poll(0)
        count += 1
    remaining = client.flush(timeout)
    assert remaining == 0, f"{remaining} records still queued after {timeout}s"
    assert len(reports) == count
    errors = [error for _, error, _ in reports if error is not None]
    if errors:
        raise DeliveryFailed(errors)
    return [message for _, _, message in sorted(reports, key=lambda r: r[0])]


def consumer(bootstrap: str, **config: Any) -> Consumer:
    settings = {
        "bootstrap.servers": bootstrap,
        "group.id": "odradek-it-assign-only",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "check.crcs": True,
        "fetch.wait.max.ms": 100,
        "auto.offset.reset": "error",
    }
    settings.update({key.replace("_", "."): value for key, value in config.items()})
    return Consumer(settings)


def consume(
    bootstrap: str,
    topic: str,
    count: int,
    partition: int = 0,
    offset: int = 0,
    timeout: float = DEADLINE_SECONDS,
    **config: Any,
) -> list[Message]:
    """
    Read C{count} records of one partition from C{offset}, by manual assignment.

    @raise KafkaException: if the consumer reports an error (a CRC mismatch among
        them).
    @raise AssertionError: if fewer records arrive before the deadline.
    """
    client = consumer(bootstrap, **config)
    messages: list[Message] = []
    try:
        client.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            message = client.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                raise KafkaException(message.error())
            messages.append(message)
    finally:
        client.close()
    assert len(messages) >= count, (
        f"read {len(messages)} of {count} records of {topic}[{partition}] "
        f"from offset {offset} within {timeout}s"
    )
    return messages


def as_record(message: Message, *, timestamp: bool = True) -> Record:
    """@return: a consumed message as a L{Record}."""
    kind, stamp = message.timestamp()
    return Record(
        message.key(),
        message.value(),
        tuple(message.headers() or ()),
        stamp if timestamp and kind != TIMESTAMP_NOT_AVAILABLE else None,
    )


def admin(bootstrap: str, **config: Any) -> AdminClient:
    settings = {"bootstrap.servers": bootstrap}
    settings.update({key.replace("_", "."): value for key, value in config.items()})
    return AdminClient(settings)


def wait(futures: dict[Any, Any], timeout: float = DEADLINE_SECONDS) -> dict[Any, Any]:
    """
    @return: the result of each future of an admin call, by key.
    @raise KafkaException: the first failure.
    """
    return {key: future.result(timeout=timeout) for key, future in futures.items()}


def create_topic(
    bootstrap: str,
    topic: str,
    partitions: int = 1,
    config: dict[str, str] | None = None,
) -> None:
    """Create a topic with confluent-kafka's admin client and wait for it."""
    client = admin(bootstrap)
    wait(
        client.create_topics(
            [NewTopic(topic, partitions, 1, config=config or {})],
            operation_timeout=30,
            request_timeout=30,
        )
    )
    wait_for_topic(bootstrap, topic, partitions)


def wait_for_topic(
    bootstrap: str, topic: str, partitions: int, timeout: float = 30.0
) -> None:
    """Wait until Metadata shows C{topic} with C{partitions} partitions, all led."""
    client = admin(bootstrap)
    deadline = time.monotonic() + timeout
    seen: Any = None
    while time.monotonic() < deadline:
        metadata = client.list_topics(topic, timeout=10)
        seen = metadata.topics.get(topic)
        if (
            seen is not None
            and seen.error is None
            and len(seen.partitions) == partitions
            and all(p.leader >= 0 for p in seen.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise AssertionError(
        f"topic {topic} not ready with {partitions} partitions: {seen}"
    )


def values(messages: Sequence[Message]) -> list[bytes | None]:
    return [message.value() for message in messages]
