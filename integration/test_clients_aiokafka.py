"""
aiokafka against one broker: produce and consume with every codec, LogAppendTime,
message.max.bytes, offsets by time, the admin API, the idempotent producer and a
restart. Consumers have no group (C{group_id=None}) and are assigned their
partition; aiokafka checks every batch's CRC (C{check_crcs}). Each test runs its
coroutine with C{asyncio.run} under a deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import InvalidPartitionsError, MessageSizeTooLargeError
from aiokafka.structs import ConsumerRecord
from conftest import Broker, BrokerFactory
from harness import CLEAN_EXIT_CODES
from scenarios import (
    CODECS,
    MESSAGE_MAX_BYTES,
    Record,
    assert_offsets_contiguous,
    assert_stored_as,
    sample_records,
    value_size_for_batch,
)

TIMEOUT_SECONDS = 60
CREATE_TIME, LOG_APPEND_TIME = 0, 1
TOPIC_ALREADY_EXISTS, INVALID_TOPIC = 36, 17
INVALID_REPLICATION_FACTOR, INVALID_CONFIG, UNKNOWN_TOPIC = 38, 40, 3
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 120) -> T:
    """Run C{coroutine} on a new event loop, cancelled after C{timeout} seconds."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


async def produce(
    broker: Broker,
    topic: str,
    records: Iterable[Record],
    partition: int = 0,
    **config: Any,
) -> list[Any]:
    """@return: the RecordMetadata of each record, once all are acknowledged."""
    settings: dict[str, Any] = {"bootstrap_servers": broker.bootstrap, "linger_ms": 20}
    settings.update(config)
    client = AIOKafkaProducer(**settings)
    await client.start()
    try:
        futures = [
            await client.send(
                topic,
                value=record.value,
                key=record.key,
                partition=partition,
                timestamp_ms=record.timestamp,
                headers=list(record.headers),
            )
            for record in records
        ]
        return list(await asyncio.gather(*futures))
    finally:
        await client.stop()


async def consume(
    broker: Broker, topic: str, count: int, partition: int = 0, offset: int = 0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read C{count} records of one partition from C{offset}, without a group."""
    client = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        check_crcs=True,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await client.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        tp = TopicPartition(topic, partition)
        client.assign([tp])
        client.seek(tp, offset)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while len(records) < count and time.monotonic() < deadline:
            for batch in (await client.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await client.stop()
    assert len(records) >= count, f"read {len(records)} of {count} records"
    return records


def as_record(
    consumed: ConsumerRecord[bytes, bytes], *, timestamp: bool = True
) -> Record:
    return Record(
        consumed.key,
        consumed.value,
        tuple(consumed.headers),
        consumed.timestamp if timestamp else None,
    )


def aiokafka_records(records: Sequence[Record]) -> list[Record]:
    """aiokafka sends no null header values."""
    return [
        Record(
            r.key, r.value, tuple(h for h in r.headers if h[1] is not None), r.timestamp
        )
        for r in records
    ]


async def started_admin(broker: Broker) -> AIOKafkaAdminClient:
    client = AIOKafkaAdminClient(
        bootstrap_servers=broker.bootstrap, request_timeout_ms=30000
    )
    await client.start()
    return client


def topic_errors(response: Any) -> dict[str, int]:
    """@return: the error code of each topic of a Create/DeleteTopics response."""
    body = response.to_object()
    entries = body.get("topic_errors") or body.get("topic_error_codes") or []
    return {entry["topic"]: entry["error_code"] for entry in entries}


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume(broker: Broker, topic: str, codec: str) -> None:
    """Keys, null values, headers and CreateTime timestamps survive each codec."""
    records = aiokafka_records(sample_records())

    async def scenario() -> None:
        metadata = await produce(
            broker, topic, records, compression_type=None if codec == "none" else codec
        )
        assert_offsets_contiguous([m.offset for m in metadata])
        consumed = await consume(broker, topic, len(records))
        assert [as_record(c) for c in consumed] == records
        assert {c.timestamp_type for c in consumed} == {CREATE_TIME}

    run(scenario())
    if broker.kind == "odradek":
        assert_stored_as(broker, topic, codec)


def test_log_append_time(broker: Broker, topic: str) -> None:
    """A LogAppendTime topic stamps records with the broker's clock."""
    records = aiokafka_records(sample_records(base_timestamp=1_000_000))

    async def scenario() -> None:
        admin = await started_admin(broker)
        try:
            response = await admin.create_topics(
                [
                    NewTopic(
                        topic,
                        1,
                        1,
                        topic_configs={"message.timestamp.type": "LogAppendTime"},
                    )
                ]
            )
            assert topic_errors(response) == {topic: 0}
        finally:
            await admin.close()
        before = int(time.time() * 1000)
        metadata = await produce(broker, topic, records, compression_type="zstd")
        after = int(time.time() * 1000)
        for item in metadata:
            assert item.timestamp_type == LOG_APPEND_TIME, item
            assert before - 1000 <= item.timestamp <= after + 1000, item
        consumed = await consume(broker, topic, len(records))
        assert [as_record(c, timestamp=False) for c in consumed] == [
            r.without_timestamp() for r in records
        ]
        for item in consumed:
            assert item.timestamp_type == LOG_APPEND_TIME, item
            assert before - 1000 <= item.timestamp <= after + 1000, item

    run(scenario())


def test_message_max_bytes(broker: Broker, topic: str) -> None:
    """A batch of exactly message.max.bytes is stored; one byte more is refused."""
    size = value_size_for_batch(MESSAGE_MAX_BYTES)

    async def scenario() -> None:
        settings = {
            "max_request_size": 4_000_000,
            "max_batch_size": 4_000_000,
            "linger_ms": 0,
        }
        [stored] = await produce(broker, topic, [Record(None, b"x" * size)], **settings)
        with pytest.raises(MessageSizeTooLargeError):
            await produce(broker, topic, [Record(None, b"y" * (size + 1))], **settings)
        [consumed] = await consume(broker, topic, 1, offset=stored.offset)
        assert consumed.value == b"x" * size

    run(scenario())


def test_offsets_for_times(broker: Broker, topic: str) -> None:
    """ListOffsets by timestamp, earliest and latest."""
    records = aiokafka_records(sample_records(base_timestamp=1_700_000_000_000))
    first, last = records[0].timestamp, records[-1].timestamp
    assert first is not None and last is not None

    async def scenario() -> None:
        await produce(broker, topic, records)
        client = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
        await client.start()
        tp = TopicPartition(topic, 0)
        try:
            for stamp, offset in [
                (first - 5000, 0),
                (first, 0),
                (first + 3000, 3),
                (first + 3001, 4),
                (last, len(records) - 1),
            ]:
                found = await client.offsets_for_times({tp: stamp})
                assert found[tp] is not None and found[tp].offset == offset, (
                    stamp,
                    found,
                )
            assert (await client.offsets_for_times({tp: last + 1}))[tp] is None
            assert await client.beginning_offsets([tp]) == {tp: 0}
            assert await client.end_offsets([tp]) == {tp: len(records)}
        finally:
            await client.stop()

    run(scenario())


def test_admin_topics(broker: Broker, topic: str) -> None:
    """Create (validate_only, configs, errors), describe, partitions, delete."""

    async def scenario() -> None:
        admin = await started_admin(broker)
        try:
            response = await admin.create_topics(
                [NewTopic(topic + "-dry", 2, 1)], validate_only=True
            )
            assert topic_errors(response) == {topic + "-dry": 0}
            assert topic + "-dry" not in await admin.list_topics()
            response = await admin.create_topics(
                [NewTopic(topic, 2, 1, topic_configs={"retention.ms": "3600000"})]
            )
            assert topic_errors(response) == {topic: 0}
            response = await admin.create_topics(
                [
                    NewTopic(topic, 2, 1),
                    NewTopic("bad name", 1, 1),
                    NewTopic(topic + "-rf", 1, 2),
                ]
            )
            assert topic_errors(response) == {
                topic: TOPIC_ALREADY_EXISTS,
                "bad name": INVALID_TOPIC,
                topic + "-rf": INVALID_REPLICATION_FACTOR,
            }
            [description] = await admin.describe_topics([topic])
            assert description["error_code"] == 0, description
            assert [p["partition"] for p in description["partitions"]] == [0, 1]
            cluster = await admin.describe_cluster()
            assert cluster["cluster_id"]
            assert [b["port"] for b in cluster["brokers"]] == [broker.port]

            response = await admin.create_partitions({topic: NewPartitions(3)})
            assert [e[1] for e in response.topic_errors] == [0], response
            with pytest.raises(InvalidPartitionsError):
                await admin.create_partitions({topic: NewPartitions(2)})

            response = await admin.delete_topics([topic])
            assert topic_errors(response) == {topic: 0}
            response = await admin.delete_topics([topic])
            assert topic_errors(response) == {topic: UNKNOWN_TOPIC}
            assert topic not in await admin.list_topics()
        finally:
            await admin.close()

    run(scenario())


def test_admin_configs(broker: Broker, topic: str) -> None:
    """DescribeConfigs (values and sources) and AlterConfigs on a topic."""

    async def describe(admin: AIOKafkaAdminClient) -> dict[str, dict[str, Any]]:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)]
        )
        [resource] = response.to_object()["resources"]
        assert resource["error_code"] == 0, resource
        return {entry["config_names"]: entry for entry in resource["config_entries"]}

    async def scenario() -> None:
        admin = await started_admin(broker)
        try:
            await admin.create_topics(
                [NewTopic(topic, 1, 1, topic_configs={"retention.ms": "3600000"})]
            )
            entries = await describe(admin)
            assert entries["retention.ms"]["config_value"] == "3600000"
            assert entries["retention.ms"]["config_source"] == DYNAMIC_TOPIC_CONFIG
            assert entries["segment.bytes"]["config_source"] == DEFAULT_CONFIG
            [response] = await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, topic, {"retention.bytes": "1048576"}
                    )
                ]
            )
            assert [r[0] for r in response.resources] == [0], response
            entries = await describe(admin)
            assert entries["retention.bytes"]["config_value"] == "1048576"
            # AlterConfigs replaces the topic's whole set of overrides.
            assert entries["retention.ms"]["config_source"] == DEFAULT_CONFIG
            [response] = await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, topic, {"retention.ms": "soon"}
                    )
                ]
            )
            assert [r[0] for r in response.resources] == [INVALID_CONFIG], response
        finally:
            await admin.close()

    run(scenario())


def test_delete_records(broker: Broker, topic: str) -> None:
    """DeleteRecords moves the log start offset."""
    records = [Record(None, b"%d" % i) for i in range(10)]

    async def scenario() -> None:
        await produce(broker, topic, records)
        tp = TopicPartition(topic, 0)
        admin = await started_admin(broker)
        try:
            result = await admin.delete_records({tp: RecordsToDelete(6)})
            assert result == {tp: 6}
        finally:
            await admin.close()
        consumed = await consume(broker, topic, 4, offset=6)
        assert [c.value for c in consumed] == [b"6", b"7", b"8", b"9"]

    run(scenario())


def test_idempotent_producer(broker: Broker, topic: str) -> None:
    """enable_idempotence=True: every record once, in order."""
    records = [Record(b"%d" % (i % 7), b"value-%05d" % i) for i in range(3000)]

    async def scenario() -> None:
        metadata = await produce(
            broker, topic, records, enable_idempotence=True, compression_type="snappy"
        )
        assert_offsets_contiguous([m.offset for m in metadata])
        consumed = await consume(broker, topic, len(records))
        assert [c.value for c in consumed] == [r.value for r in records]

    run(scenario())


@pytest.mark.slow
def test_restart_keeps_data_and_topics(
    broker_factory: BrokerFactory, topic: str
) -> None:
    """After SIGTERM and a restart, the topic and its records are all there."""
    broker = broker_factory()
    records = aiokafka_records(sample_records())
    run(produce(broker, topic, records, compression_type="lz4"))
    assert broker.stop() in CLEAN_EXIT_CODES, broker.log_text()
    broker.start()

    async def after_restart() -> None:
        admin = await started_admin(broker)
        try:
            assert topic in await admin.list_topics()
        finally:
            await admin.close()
        consumed = await consume(broker, topic, len(records))
        assert [as_record(c) for c in consumed] == records

    run(after_restart())
