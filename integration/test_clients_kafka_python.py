"""
kafka-python against one broker: produce and consume with every codec,
LogAppendTime, message.max.bytes, offsets by time, the admin API, the idempotent
producer and a restart. Consumers have no group (C{group_id=None}) and are assigned
their partition; kafka-python checks every batch's CRC (C{check_crcs}).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from conftest import Broker, BrokerFactory
from harness import CLEAN_EXIT_CODES
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    AlterConfigOp,
    ConfigResource,
    ConfigResourceType,
    KafkaAdminClient,
    OffsetSpec,
)
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    InvalidConfigurationError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
)
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
TIMEOUT_MS = TIMEOUT_SECONDS * 1000
CREATE_TIME, LOG_APPEND_TIME = 0, 1


def producer(broker: Broker, **config: Any) -> KafkaProducer:
    settings: dict[str, Any] = {
        "bootstrap_servers": broker.bootstrap,
        "enable_idempotence": False,
        "linger_ms": 20,
        "request_timeout_ms": 30000,
    }
    settings.update(config)
    return KafkaProducer(**settings)


def produce(
    client: KafkaProducer, topic: str, records: Iterable[Record], partition: int = 0
) -> list[Any]:
    """@return: the RecordMetadata of each record, once all are acknowledged."""
    futures = [
        client.send(
            topic,
            value=record.value,
            key=record.key,
            headers=list(record.headers),
            partition=partition,
            timestamp_ms=record.timestamp,
        )
        for record in records
    ]
    client.flush(timeout=TIMEOUT_SECONDS)
    return [future.get(timeout=TIMEOUT_SECONDS) for future in futures]


def consume(
    broker: Broker, topic: str, count: int, partition: int = 0, offset: int = 0
) -> list[ConsumerRecord]:
    """Read C{count} records of one partition from C{offset}, without a group."""
    client = KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        check_crcs=True,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    records: list[ConsumerRecord] = []
    try:
        tp = TopicPartition(topic, partition)
        client.assign([tp])
        client.seek(tp, offset)
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while len(records) < count and time.monotonic() < deadline:
            for batch in client.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        client.close()
    assert len(records) >= count, f"read {len(records)} of {count} records"
    return records


def as_record(consumed: ConsumerRecord, *, timestamp: bool = True) -> Record:
    return Record(
        consumed.key,
        consumed.value,
        tuple(consumed.headers),
        consumed.timestamp if timestamp else None,
    )


def admin(broker: Broker) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=broker.bootstrap, request_timeout_ms=30000
    )


def kafka_python_records(records: Sequence[Record]) -> list[Record]:
    """kafka-python sends no null header values."""
    return [
        Record(
            r.key, r.value, tuple(h for h in r.headers if h[1] is not None), r.timestamp
        )
        for r in records
    ]


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume(broker: Broker, topic: str, codec: str) -> None:
    """Keys, null values, headers and CreateTime timestamps survive each codec."""
    records = kafka_python_records(sample_records())
    client = producer(broker, compression_type=None if codec == "none" else codec)
    try:
        metadata = produce(client, topic, records)
    finally:
        client.close(timeout=10)
    assert_offsets_contiguous([m.offset for m in metadata])
    consumed = consume(broker, topic, len(records))
    assert [as_record(c) for c in consumed] == records
    assert {c.timestamp_type for c in consumed} == {CREATE_TIME}
    if broker.kind == "odradek":
        assert_stored_as(broker, topic, codec)


def test_log_append_time(broker: Broker, topic: str) -> None:
    """A LogAppendTime topic stamps records with the broker's clock."""
    client = admin(broker)
    try:
        client.create_topics(
            {
                topic: {
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "configs": {"message.timestamp.type": "LogAppendTime"},
                }
            },
            wait_for_metadata=True,
        )
    finally:
        client.close()
    records = kafka_python_records(sample_records(base_timestamp=1_000_000))
    before = int(time.time() * 1000)
    sender = producer(broker, compression_type="gzip")
    try:
        metadata = produce(sender, topic, records)
    finally:
        sender.close(timeout=10)
    after = int(time.time() * 1000)
    for item in metadata:
        assert before - 1000 <= item.timestamp <= after + 1000, item
    consumed = consume(broker, topic, len(records))
    assert [as_record(c, timestamp=False) for c in consumed] == [
        r.without_timestamp() for r in records
    ]
    for item in consumed:
        assert item.timestamp_type == LOG_APPEND_TIME, item
        assert before - 1000 <= item.timestamp <= after + 1000, item


def test_message_max_bytes(broker: Broker, topic: str) -> None:
    """A batch of exactly message.max.bytes is stored; one byte more is refused."""
    size = value_size_for_batch(MESSAGE_MAX_BYTES)
    client = producer(
        broker, linger_ms=0, max_request_size=4_000_000, batch_size=4_000_000, retries=0
    )
    try:
        [stored] = produce(client, topic, [Record(None, b"x" * size)])
        with pytest.raises(MessageSizeTooLargeError):
            produce(client, topic, [Record(None, b"y" * (size + 1))])
    finally:
        client.close(timeout=10)
    [consumed] = consume(broker, topic, 1, offset=stored.offset)
    assert consumed.value == b"x" * size


def test_offsets_for_times(broker: Broker, topic: str) -> None:
    """ListOffsets by timestamp, earliest and latest."""
    records = kafka_python_records(sample_records(base_timestamp=1_700_000_000_000))
    sender = producer(broker)
    try:
        produce(sender, topic, records)
    finally:
        sender.close(timeout=10)
    first, last = records[0].timestamp, records[-1].timestamp
    assert first is not None and last is not None
    client = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None)
    tp = TopicPartition(topic, 0)
    try:
        for stamp, offset in [
            (first - 5000, 0),
            (first, 0),
            (first + 3000, 3),
            (first + 3001, 4),
            (last, len(records) - 1),
        ]:
            found = client.offsets_for_times({tp: stamp}, timeout_ms=TIMEOUT_MS)
            assert found[tp] is not None and found[tp].offset == offset, (stamp, found)
        assert (
            client.offsets_for_times({tp: last + 1}, timeout_ms=TIMEOUT_MS)[tp] is None
        )
        assert client.beginning_offsets([tp], timeout_ms=TIMEOUT_MS) == {tp: 0}
        assert client.end_offsets([tp], timeout_ms=TIMEOUT_MS) == {tp: len(records)}
    finally:
        client.close()
    client_admin = admin(broker)
    try:
        found = client_admin.list_partition_offsets({tp: OffsetSpec.MAX_TIMESTAMP})
        assert found[tp].offset == len(records) - 1, found
    finally:
        client_admin.close()


def test_admin_topics(broker: Broker, topic: str) -> None:
    """Create (validate_only, configs, errors), describe, partitions, delete."""
    client = admin(broker)
    try:
        spec = {"num_partitions": 2, "replication_factor": 1}
        client.create_topics({topic + "-dry": spec}, validate_only=True)
        assert topic + "-dry" not in client.list_topics()
        client.create_topics(
            {topic: {**spec, "configs": {"retention.ms": "3600000"}}},
            wait_for_metadata=True,
        )
        assert topic in client.list_topics()
        with pytest.raises(TopicAlreadyExistsError):
            client.create_topics({topic: spec})
        with pytest.raises(InvalidTopicError):
            client.create_topics({"bad name": spec})
        with pytest.raises(InvalidReplicationFactorError):
            client.create_topics(
                {topic + "-rf": {"num_partitions": 1, "replication_factor": 2}}
            )

        [description] = client.describe_topics([topic])
        assert description["error_code"] == 0
        assert [p["partition_index"] for p in description["partitions"]] == [0, 1]
        cluster = client.describe_cluster()
        assert cluster["cluster_id"]
        assert [b["port"] for b in cluster["brokers"]] == [broker.port]

        client.create_partitions({topic: 3})
        with pytest.raises(InvalidPartitionsError):
            client.create_partitions({topic: 2})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [description] = client.describe_topics([topic])
            if len(description["partitions"]) == 3:
                break
            time.sleep(0.1)
        assert len(description["partitions"]) == 3

        client.delete_topics([topic])
        with pytest.raises(UnknownTopicOrPartitionError):
            client.delete_topics([topic])
        assert topic not in client.list_topics()
    finally:
        client.close()


def test_admin_configs(broker: Broker, topic: str) -> None:
    """DescribeConfigs, IncrementalAlterConfigs and AlterConfigs on a topic."""
    client = admin(broker)
    resource = ConfigResource(ConfigResourceType.TOPIC, topic)

    def describe() -> dict[str, dict[str, Any]]:
        result = client.describe_configs([resource], config_filter="all")
        entries: dict[str, dict[str, Any]] = result["topic"][topic]
        return entries

    try:
        client.create_topics(
            {
                topic: {
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "configs": {"retention.ms": "3600000"},
                }
            },
            wait_for_metadata=True,
        )
        entries = describe()
        assert entries["retention.ms"]["value"] == "3600000"
        assert entries["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
        assert entries["segment.bytes"]["config_source"] == "DEFAULT_CONFIG"

        client.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topic,
                    {
                        "segment.bytes": (AlterConfigOp.SET, "10485760"),
                        "retention.ms": (AlterConfigOp.DELETE, None),
                    },
                )
            ],
            incremental=True,
        )
        entries = describe()
        assert entries["segment.bytes"]["value"] == "10485760"
        assert entries["retention.ms"]["config_source"] == "DEFAULT_CONFIG"

        client.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, topic, {"retention.bytes": "1048576"}
                )
            ],
            incremental=False,
        )
        entries = describe()
        assert entries["retention.bytes"]["value"] == "1048576"

        # kafka-python reports each resource's error in the result, not by raising.
        result = client.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "soon"})],
            incremental=True,
        )
        assert InvalidConfigurationError.__name__ in str(result["topic"][topic]), result
    finally:
        client.close()


def test_delete_records_and_log_dirs(broker: Broker, topic: str) -> None:
    """DeleteRecords moves the log start offset; DescribeLogDirs lists the partition."""
    records = [Record(None, b"%d" % i) for i in range(10)]
    sender = producer(broker)
    try:
        produce(sender, topic, records)
    finally:
        sender.close(timeout=10)
    tp = TopicPartition(topic, 0)
    client = admin(broker)
    try:
        result = client.delete_records({tp: 6})
        assert result[tp]["low_watermark"] == 6, result
        dirs = client.describe_log_dirs([topic])
    finally:
        client.close()
    text = repr(dirs)
    assert topic in text, dirs
    consumed = consume(broker, topic, 4, offset=6)
    assert [c.value for c in consumed] == [b"6", b"7", b"8", b"9"]


def test_idempotent_producer(broker: Broker, topic: str) -> None:
    """enable_idempotence=True: every record once, in order."""
    records = [Record(b"%d" % (i % 7), b"value-%05d" % i) for i in range(3000)]
    client = producer(
        broker, enable_idempotence=True, compression_type="lz4", linger_ms=5
    )
    try:
        metadata = produce(client, topic, records)
    finally:
        client.close(timeout=10)
    assert_offsets_contiguous([m.offset for m in metadata])
    consumed = consume(broker, topic, len(records))
    assert [c.value for c in consumed] == [r.value for r in records]


@pytest.mark.slow
def test_restart_keeps_data_and_topics(
    broker_factory: BrokerFactory, topic: str
) -> None:
    """After SIGTERM and a restart, the topic and its records are all there."""
    broker = broker_factory()
    records = kafka_python_records(sample_records())
    sender = producer(broker, compression_type="snappy")
    try:
        produce(sender, topic, records)
    finally:
        sender.close(timeout=10)
    assert broker.stop() in CLEAN_EXIT_CODES, broker.log_text()
    broker.start()
    client = admin(broker)
    try:
        assert topic in client.list_topics()
    finally:
        client.close()
    consumed = consume(broker, topic, len(records))
    assert [as_record(c) for c in consumed] == records
