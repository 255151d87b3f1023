"""
confluent-kafka (librdkafka 2.x) against one broker: produce and consume with every
codec, LogAppendTime, message.max.bytes, offsets by time, the admin API, acks, the
idempotent producer, and a restart.
"""

from __future__ import annotations

import time

import pytest
import rdkafka
from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    KafkaError,
    KafkaException,
    TopicCollection,
    TopicPartition,
)
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)
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


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume(broker: Broker, topic: str, codec: str) -> None:
    """Keys, null values, headers and CreateTime timestamps survive each codec."""
    records = sample_records()
    client = rdkafka.producer(broker.bootstrap, compression_type=codec, linger_ms=50)
    delivered = rdkafka.produce(client, topic, records)
    assert_offsets_contiguous([m.offset() for m in delivered])
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m) for m in messages] == records
    assert_offsets_contiguous([m.offset() for m in messages])
    assert {m.timestamp()[0] for m in messages} == {TIMESTAMP_CREATE_TIME}
    if broker.kind == "odradek":
        assert_stored_as(broker, topic, codec)


def test_log_append_time(broker: Broker, topic: str) -> None:
    """A LogAppendTime topic stamps records with the broker's clock, on produce too."""
    rdkafka.create_topic(
        broker.bootstrap, topic, config={"message.timestamp.type": "LogAppendTime"}
    )
    records = sample_records(base_timestamp=1_000_000)
    before = int(time.time() * 1000)
    client = rdkafka.producer(broker.bootstrap, compression_type="lz4")
    delivered = rdkafka.produce(client, topic, records)
    after = int(time.time() * 1000)
    for message in delivered:
        kind, stamp = message.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME, message.timestamp()
        assert before - 1000 <= stamp <= after + 1000
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m, timestamp=False) for m in messages] == [
        r.without_timestamp() for r in records
    ]
    for message in messages:
        kind, stamp = message.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME, message.timestamp()
        assert before - 1000 <= stamp <= after + 1000


def test_message_max_bytes(broker: Broker, topic: str) -> None:
    """A batch of exactly message.max.bytes is stored; one byte more is refused."""
    size = value_size_for_batch(MESSAGE_MAX_BYTES)
    client = rdkafka.producer(
        broker.bootstrap,
        compression_type="none",
        linger_ms=0,
        message_max_bytes=4_000_000,
        batch_size=4_000_000,
    )
    exact = Record(None, b"x" * size)
    [delivered] = rdkafka.produce(client, topic, [exact])
    with pytest.raises(rdkafka.DeliveryFailed) as raised:
        rdkafka.produce(client, topic, [Record(None, b"y" * (size + 1))])
    [error] = raised.value.errors
    assert error.code() == KafkaError.MSG_SIZE_TOO_LARGE, error
    [message] = rdkafka.consume(
        broker.bootstrap, topic, 1, offset=delivered.offset(), fetch_max_bytes=4_000_000
    )
    assert message.value() == exact.value


def test_offsets_for_times(broker: Broker, topic: str) -> None:
    """ListOffsets by timestamp finds the first record at or after it."""
    records = sample_records(base_timestamp=1_700_000_000_000)
    rdkafka.produce(rdkafka.producer(broker.bootstrap), topic, records)
    first = records[0].timestamp
    last = records[-1].timestamp
    assert first is not None and last is not None
    client = rdkafka.consumer(broker.bootstrap)
    try:
        queries = {
            first - 5000: 0,
            first: 0,
            first + 3000: 3,
            first + 3001: 4,
            last: len(records) - 1,
            last + 1: -1,
        }
        # One query per call: a partition may appear once in a ListOffsets request.
        found = [
            client.offsets_for_times([TopicPartition(topic, 0, stamp)], timeout=30)[0]
            for stamp in queries
        ]
        assert [tp.offset for tp in found] == list(queries.values())
        low, high = client.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        assert (low, high) == (0, len(records))
    finally:
        client.close()


def test_list_offsets_admin(broker: Broker, topic: str) -> None:
    """The admin client's list_offsets: earliest, latest, max timestamp, by time."""
    stamps = [1_700_000_000_000, 1_700_000_009_000, 1_700_000_003_000]
    records = [Record(b"k", b"v%d" % i, (), t) for i, t in enumerate(stamps)]
    rdkafka.produce(rdkafka.producer(broker.bootstrap, linger_ms=0), topic, records)
    client = rdkafka.admin(broker.bootstrap)
    partition = TopicPartition(topic, 0)
    specs = {
        "earliest": (OffsetSpec.earliest(), 0),
        "latest": (OffsetSpec.latest(), 3),
        "max_timestamp": (OffsetSpec.max_timestamp(), 1),
        "for_timestamp": (OffsetSpec.for_timestamp(1_700_000_002_000), 1),
    }
    for name, (spec, offset) in specs.items():
        [info] = rdkafka.wait(client.list_offsets({partition: spec})).values()
        assert info.offset == offset, (name, info)


def test_create_describe_delete_topics(broker: Broker, topic: str) -> None:
    """CreateTopics (validate_only, configs, errors), Metadata, DeleteTopics."""
    client = rdkafka.admin(broker.bootstrap)
    config = {"retention.ms": "3600000", "cleanup.policy": "delete"}
    rdkafka.wait(
        client.create_topics(
            [NewTopic(topic + "-dry", 3, 1, config=config)], validate_only=True
        )
    )
    assert topic + "-dry" not in client.list_topics(timeout=10).topics
    rdkafka.wait(client.create_topics([NewTopic(topic, 3, 1, config=config)]))
    rdkafka.wait_for_topic(broker.bootstrap, topic, 3)

    with pytest.raises(KafkaException) as exists:
        rdkafka.wait(client.create_topics([NewTopic(topic, 1, 1)]))
    assert exists.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    with pytest.raises(KafkaException) as bad_name:
        rdkafka.wait(client.create_topics([NewTopic("bad/name", 1, 1)]))
    assert bad_name.value.args[0].code() == KafkaError.TOPIC_EXCEPTION
    with pytest.raises(KafkaException) as bad_factor:
        rdkafka.wait(client.create_topics([NewTopic(topic + "-rf", 1, 3)]))
    assert bad_factor.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR

    [description] = rdkafka.wait(
        client.describe_topics(TopicCollection([topic]))
    ).values()
    assert description.name == topic
    assert [p.id for p in description.partitions] == [0, 1, 2]
    for partition in description.partitions:
        assert partition.leader.port == broker.port
        assert [node.id for node in partition.replicas] == [partition.leader.id]
        assert [node.id for node in partition.isr] == [partition.leader.id]
    cluster = client.describe_cluster().result(timeout=30)
    assert cluster.cluster_id
    assert [node.port for node in cluster.nodes] == [broker.port]
    assert cluster.controller is not None

    rdkafka.wait(client.delete_topics([topic], operation_timeout=30))
    deadline = time.monotonic() + 30
    while (
        topic in client.list_topics(timeout=10).topics and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert topic not in client.list_topics(timeout=10).topics
    with pytest.raises(KafkaException) as unknown:
        rdkafka.wait(client.delete_topics([topic], operation_timeout=30))
    assert unknown.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


# AlterConfigs is deprecated in favour of IncrementalAlterConfigs, but clients still
# send it, so the broker must still answer it.
@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated")
def test_topic_configs(broker: Broker, topic: str) -> None:
    """DescribeConfigs with sources, IncrementalAlterConfigs and AlterConfigs."""
    rdkafka.create_topic(broker.bootstrap, topic, config={"retention.ms": "3600000"})
    client = rdkafka.admin(broker.bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)

    def describe() -> dict[str, ConfigEntry]:
        [entries] = rdkafka.wait(client.describe_configs([resource])).values()
        return dict(entries)

    entries = describe()
    assert entries["retention.ms"].value == "3600000"
    assert entries["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert entries["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert entries["max.message.bytes"].value == str(MESSAGE_MAX_BYTES)
    assert entries["cleanup.policy"].value == "delete"

    change = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "segment.bytes", "10485760", incremental_operation=AlterConfigOpType.SET
            ),
            ConfigEntry(
                "retention.ms", None, incremental_operation=AlterConfigOpType.DELETE
            ),
        ],
    )
    rdkafka.wait(client.incremental_alter_configs([change]))
    entries = describe()
    assert entries["segment.bytes"].value == "10485760"
    assert entries["segment.bytes"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert entries["retention.ms"].source == ConfigSource.DEFAULT_CONFIG.value

    replace = ConfigResource(
        ConfigResource.Type.TOPIC, topic, set_config={"retention.bytes": "1048576"}
    )
    rdkafka.wait(client.alter_configs([replace]))
    entries = describe()
    assert entries["retention.bytes"].value == "1048576"
    # AlterConfigs replaces the whole set: segment.bytes is back to its default.
    assert entries["segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value

    bad = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "retention.ms", "soon", incremental_operation=AlterConfigOpType.SET
            )
        ],
    )
    with pytest.raises(KafkaException) as invalid:
        rdkafka.wait(client.incremental_alter_configs([bad]))
    assert invalid.value.args[0].code() == KafkaError.INVALID_CONFIG

    broker_resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    [broker_entries] = rdkafka.wait(client.describe_configs([broker_resource])).values()
    assert broker_entries["message.max.bytes"].value == str(MESSAGE_MAX_BYTES)


def test_create_partitions(broker: Broker, topic: str) -> None:
    """CreatePartitions grows a topic and refuses to shrink it; new ones take data."""
    rdkafka.create_topic(broker.bootstrap, topic, partitions=2)
    client = rdkafka.admin(broker.bootstrap)
    rdkafka.wait(client.create_partitions([NewPartitions(topic, 4)]))
    rdkafka.wait_for_topic(broker.bootstrap, topic, 4)
    with pytest.raises(KafkaException) as shrink:
        rdkafka.wait(client.create_partitions([NewPartitions(topic, 3)]))
    assert shrink.value.args[0].code() == KafkaError.INVALID_PARTITIONS
    records = [Record(b"k", b"on partition 3")]
    rdkafka.produce(rdkafka.producer(broker.bootstrap), topic, records, partition=3)
    [message] = rdkafka.consume(broker.bootstrap, topic, 1, partition=3)
    assert message.value() == b"on partition 3"


def test_delete_records(broker: Broker, topic: str) -> None:
    """DeleteRecords moves the log start offset; reads before it are out of range."""
    records = [Record(None, b"%d" % i) for i in range(10)]
    rdkafka.produce(rdkafka.producer(broker.bootstrap), topic, records)
    client = rdkafka.admin(broker.bootstrap)
    [result] = rdkafka.wait(
        client.delete_records([TopicPartition(topic, 0, 6)])
    ).values()
    assert result.low_watermark == 6
    consumer = rdkafka.consumer(broker.bootstrap)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    finally:
        consumer.close()
    assert (low, high) == (6, 10)
    messages = rdkafka.consume(broker.bootstrap, topic, 4, offset=6)
    assert [m.value() for m in messages] == [b"6", b"7", b"8", b"9"]
    messages = rdkafka.consume(
        broker.bootstrap, topic, 4, offset=2, auto_offset_reset="earliest"
    )
    assert [m.offset() for m in messages] == [6, 7, 8, 9]


@pytest.mark.parametrize("acks", ["0", "1", "all"])
def test_acks(broker: Broker, topic: str, acks: str) -> None:
    """Each acks setting stores every record (acks=0 gets no offsets back)."""
    records = [Record(b"k%d" % i, b"v%d" % i) for i in range(200)]
    client = rdkafka.producer(broker.bootstrap, acks=acks, linger_ms=5)
    delivered = rdkafka.produce(client, topic, records)
    if acks != "0":
        assert_offsets_contiguous([m.offset() for m in delivered])
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m, timestamp=False) for m in messages] == records


def test_idempotent_producer(broker: Broker, topic: str) -> None:
    """enable.idempotence=true: InitProducerId, sequences, no duplicates, in order."""
    records = [Record(b"%d" % (i % 7), b"value-%05d" % i) for i in range(5000)]
    client = rdkafka.producer(
        broker.bootstrap,
        enable_idempotence=True,
        linger_ms=2,
        batch_num_messages=100,
        compression_type="zstd",
    )
    delivered = rdkafka.produce(client, topic, records)
    assert_offsets_contiguous([m.offset() for m in delivered])
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [m.value() for m in messages] == [r.value for r in records]


@pytest.mark.slow
def test_restart_keeps_data_and_topics(
    broker_factory: BrokerFactory, topic: str
) -> None:
    """After SIGTERM and a restart, topics, configs and records are all there."""
    broker = broker_factory()
    rdkafka.create_topic(
        broker.bootstrap, topic, partitions=2, config={"retention.ms": "7200000"}
    )
    records = sample_records()
    rdkafka.produce(
        rdkafka.producer(broker.bootstrap, compression_type="gzip"), topic, records
    )
    assert broker.stop() in CLEAN_EXIT_CODES, broker.log_text()
    broker.start()
    rdkafka.wait_for_topic(broker.bootstrap, topic, 2)
    client = rdkafka.admin(broker.bootstrap)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    [entries] = rdkafka.wait(client.describe_configs([resource])).values()
    assert entries["retention.ms"].value == "7200000"
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m) for m in messages] == records
    more = rdkafka.produce(
        rdkafka.producer(broker.bootstrap), topic, [Record(b"after", b"restart")]
    )
    assert more[0].offset() == len(records)
