"""
kafkajs (npm, run with node) against one broker: produce with every codec, keys,
null values, headers, timestamps, LogAppendTime, message.max.bytes, offsets by time,
the admin API, the idempotent producer and a restart.

kafkajs's consumer always joins a consumer group, which arrives with the group
coordinator; until then what kafkajs produces is read back with confluent-kafka.
The node script is C{js/kafkajs_client.js}; its packages are installed from
C{js/package-lock.json} (C{npm ci}) by C{dev.py}, or by the first test if missing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import rdkafka
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME
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

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "kafkajs_client.js"
NODE_TIMEOUT_SECONDS = 120
TOPIC_RESOURCE = 2
DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5


@pytest.fixture(scope="module", autouse=True)
def node_modules() -> None:
    """Install kafkajs from the lock file if C{dev.py} has not."""
    if (JS_DIR / "node_modules" / "kafkajs").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed for the kafkajs tests (dev.py installs it)"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, timeout=300
    )


def kafkajs(broker: Broker, *steps: dict[str, Any]) -> list[dict[str, Any]]:
    """
    Run C{steps} in one kafkajs process.

    @return: each step's outcome, C{{"ok": result}} or C{{"error": {...}}}.
    """
    request = json.dumps({"brokers": [broker.bootstrap], "steps": list(steps)})
    completed = subprocess.run(
        ["node", str(SCRIPT)],
        input=request,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_SECONDS,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, (
        f"kafkajs printed nothing (exit {completed.returncode}):\n{completed.stderr}"
    )
    answer = json.loads(lines[-1])
    assert "fatal" not in answer, f"{answer['fatal']}\n{completed.stderr[-4000:]}"
    results: list[dict[str, Any]] = answer["results"]
    return results


def ok(outcome: dict[str, Any]) -> Any:
    """@return: a step's result, failing the test with its error if it failed."""
    assert "ok" in outcome, json.dumps(outcome.get("error"), indent=1)
    return outcome["ok"]


def encode(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def as_js(record: Record) -> dict[str, Any]:
    return {
        "key": encode(record.key),
        "value": encode(record.value),
        "headers": [[name, encode(value)] for name, value in record.headers],
        "timestamp": record.timestamp,
    }


def kafkajs_records(records: list[Record]) -> list[Record]:
    """
    The records as kafkajs sends them: headers are an object, so a repeated header
    name carries its values together, where the name first appears; there are no
    null header values.
    """
    converted = []
    for record in records:
        grouped: dict[str, list[bytes]] = {}
        for name, value in record.headers:
            if value is not None:
                grouped.setdefault(name, []).append(value)
        headers = tuple((name, v) for name, values in grouped.items() for v in values)
        converted.append(Record(record.key, record.value, headers, record.timestamp))
    return converted


def produce_step(topic: str, records: list[Record], **options: Any) -> dict[str, Any]:
    return {
        "op": "produce",
        "topic": topic,
        "records": [as_js(r) for r in records],
        **options,
    }


def config_values(outcome: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [resource] = ok(outcome)["resources"]
    assert resource["errorCode"] == 0, resource
    return {entry["configName"]: entry for entry in resource["configEntries"]}


@pytest.mark.parametrize("codec", CODECS)
def test_produce(broker: Broker, topic: str, codec: str) -> None:
    """kafkajs's batches with each codec read back intact (by confluent-kafka)."""
    records = kafkajs_records(sample_records())
    [outcome] = kafkajs(broker, produce_step(topic, records, codec=codec))
    [metadata] = ok(outcome)
    assert metadata["errorCode"] == 0 and int(metadata["baseOffset"]) == 0, metadata
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m) for m in messages] == records
    assert {m.timestamp()[0] for m in messages} == {TIMESTAMP_CREATE_TIME}
    if broker.kind == "odradek":
        assert_stored_as(broker, topic, codec)


def test_log_append_time(broker: Broker, topic: str) -> None:
    """A LogAppendTime topic stamps kafkajs's records with the broker's clock."""
    records = kafkajs_records(sample_records(base_timestamp=1_000_000))
    before = int(time.time() * 1000)
    created, produced = kafkajs(
        broker,
        {
            "op": "createTopics",
            "topics": [
                {
                    "topic": topic,
                    "numPartitions": 1,
                    "replicationFactor": 1,
                    "configEntries": [
                        {"name": "message.timestamp.type", "value": "LogAppendTime"}
                    ],
                }
            ],
        },
        produce_step(topic, records, codec="gzip"),
    )
    assert ok(created) is True
    [metadata] = ok(produced)
    after = int(time.time() * 1000)
    assert before - 1000 <= int(metadata["logAppendTime"]) <= after + 1000, metadata
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m, timestamp=False) for m in messages] == [
        r.without_timestamp() for r in records
    ]
    for message in messages:
        kind, stamp = message.timestamp()
        assert kind == TIMESTAMP_LOG_APPEND_TIME
        assert before - 1000 <= stamp <= after + 1000


def test_message_max_bytes(broker: Broker, topic: str) -> None:
    """A batch of exactly message.max.bytes is stored; one byte more is refused."""
    size = value_size_for_batch(MESSAGE_MAX_BYTES)
    exact, over = kafkajs(
        broker,
        produce_step(topic, [Record(None, b"x" * size)]),
        produce_step(topic, [Record(None, b"y" * (size + 1))], retries=0),
    )
    [metadata] = ok(exact)
    assert "error" in over, over
    error = over["error"]
    causes = [error, *([error["cause"]] if "cause" in error else [])]
    assert any(e["type"] == "MESSAGE_TOO_LARGE" for e in causes), error
    [message] = rdkafka.consume(
        broker.bootstrap,
        topic,
        1,
        offset=int(metadata["baseOffset"]),
        fetch_max_bytes=4_000_000,
    )
    assert len(message.value()) == size


def test_offsets_by_timestamp(broker: Broker, topic: str) -> None:
    """fetchTopicOffsetsByTimestamp and fetchTopicOffsets (ListOffsets)."""
    records = kafkajs_records(sample_records(base_timestamp=1_700_000_000_000))
    first = records[0].timestamp
    assert first is not None
    queries = {first - 5000: 0, first: 0, first + 3000: 3, first + 3001: 4}
    produced, *found, offsets = kafkajs(
        broker,
        produce_step(topic, records),
        *(
            {"op": "fetchTopicOffsetsByTimestamp", "topic": topic, "timestamp": stamp}
            for stamp in queries
        ),
        {"op": "fetchTopicOffsets", "topic": topic},
    )
    ok(produced)
    assert [int(ok(f)[0]["offset"]) for f in found] == list(queries.values())
    [partition] = ok(offsets)
    assert (int(partition["low"]), int(partition["high"])) == (0, len(records))


def test_admin_topics(broker: Broker, topic: str) -> None:
    """Create (validate_only, configs, errors), metadata, partitions, delete."""
    spec = {"topic": topic, "numPartitions": 2, "replicationFactor": 1}
    outcomes = kafkajs(
        broker,
        {
            "op": "createTopics",
            "topics": [{**spec, "topic": topic + "-dry"}],
            "validateOnly": True,
            # kafkajs would wait for the leaders of a topic that validate_only does
            # not create (and fail with UNKNOWN_TOPIC_OR_PARTITION, on any broker).
            "waitForLeaders": False,
        },
        {
            "op": "createTopics",
            "topics": [
                {
                    **spec,
                    "configEntries": [{"name": "retention.ms", "value": "3600000"}],
                }
            ],
        },
        {"op": "createTopics", "topics": [spec]},
        {"op": "createTopics", "topics": [{**spec, "topic": "bad name"}]},
        {"op": "listTopics"},
        {"op": "fetchTopicMetadata", "topics": [topic]},
        {"op": "describeCluster"},
        {"op": "createPartitions", "topicPartitions": [{"topic": topic, "count": 3}]},
        {"op": "createPartitions", "topicPartitions": [{"topic": topic, "count": 2}]},
        {"op": "fetchTopicMetadata", "topics": [topic]},
        {"op": "deleteTopics", "topics": [topic]},
        {"op": "listTopics"},
    )
    (
        dry,
        created,
        again,
        bad,
        listed,
        metadata,
        cluster,
        grow,
        shrink,
        grown,
        deleted,
        after,
    ) = outcomes
    assert ok(dry) is True
    assert ok(created) is True
    assert ok(again) is False  # kafkajs reports TOPIC_ALREADY_EXISTS as false
    assert "INVALID_TOPIC_EXCEPTION" in json.dumps(bad), bad
    assert topic in ok(listed) and topic + "-dry" not in ok(listed)
    [described] = ok(metadata)["topics"]
    assert [p["partitionId"] for p in described["partitions"]] == [0, 1]
    assert all(p["partitionErrorCode"] == 0 for p in described["partitions"])
    cluster_info = ok(cluster)
    assert cluster_info["clusterId"]
    assert [b["port"] for b in cluster_info["brokers"]] == [broker.port]
    ok(grow)
    assert "INVALID_PARTITIONS" in json.dumps(shrink), shrink
    [described] = ok(grown)["topics"]
    assert len(described["partitions"]) == 3
    ok(deleted)
    assert topic not in ok(after)


def test_admin_configs(broker: Broker, topic: str) -> None:
    """DescribeConfigs (values and sources) and AlterConfigs on a topic."""
    resource = {"type": TOPIC_RESOURCE, "name": topic}
    created, before, altered, after, bad = kafkajs(
        broker,
        {
            "op": "createTopics",
            "topics": [
                {
                    "topic": topic,
                    "numPartitions": 1,
                    "replicationFactor": 1,
                    "configEntries": [{"name": "retention.ms", "value": "3600000"}],
                }
            ],
        },
        {"op": "describeConfigs", "resources": [resource]},
        {
            "op": "alterConfigs",
            "resources": [
                {
                    **resource,
                    "configEntries": [{"name": "retention.bytes", "value": "1048576"}],
                }
            ],
        },
        {"op": "describeConfigs", "resources": [resource]},
        {
            "op": "alterConfigs",
            "resources": [
                {
                    **resource,
                    "configEntries": [{"name": "retention.ms", "value": "soon"}],
                }
            ],
        },
    )
    assert ok(created) is True
    entries = config_values(before)
    assert entries["retention.ms"]["configValue"] == "3600000"
    assert entries["retention.ms"]["configSource"] == DYNAMIC_TOPIC_CONFIG
    assert entries["segment.bytes"]["configSource"] == DEFAULT_CONFIG
    assert entries["max.message.bytes"]["configValue"] == str(MESSAGE_MAX_BYTES)
    ok(altered)
    entries = config_values(after)
    assert entries["retention.bytes"]["configValue"] == "1048576"
    assert entries["retention.ms"]["configSource"] == DEFAULT_CONFIG
    assert "INVALID_CONFIG" in json.dumps(bad), bad


def test_delete_records(broker: Broker, topic: str) -> None:
    """deleteTopicRecords moves the log start offset."""
    records = [Record(None, b"%d" % i) for i in range(10)]
    produced, deleted, offsets = kafkajs(
        broker,
        produce_step(topic, records),
        {
            "op": "deleteTopicRecords",
            "topic": topic,
            "partitions": [{"partition": 0, "offset": "6"}],
        },
        {"op": "fetchTopicOffsets", "topic": topic},
    )
    ok(produced)
    ok(deleted)
    [partition] = ok(offsets)
    assert (int(partition["low"]), int(partition["high"])) == (6, 10)


def test_idempotent_producer(broker: Broker, topic: str) -> None:
    """An idempotent kafkajs producer: every record once, in order."""
    records = [Record(b"%d" % (i % 7), b"value-%05d" % i) for i in range(2000)]
    [outcome] = kafkajs(
        broker, produce_step(topic, records, idempotent=True, batches=20, codec="lz4")
    )
    metadata = ok(outcome)
    assert [int(m["baseOffset"]) for m in metadata] == list(range(0, 2000, 100))
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [m.value() for m in messages] == [r.value for r in records]
    assert_offsets_contiguous([m.offset() for m in messages])


@pytest.mark.slow
def test_restart_keeps_data_and_topics(
    broker_factory: BrokerFactory, topic: str
) -> None:
    """After SIGTERM and a restart, kafkajs sees the topic and its offsets."""
    broker = broker_factory()
    records = kafkajs_records(sample_records())
    [produced] = kafkajs(broker, produce_step(topic, records, codec="snappy"))
    ok(produced)
    assert broker.stop() in CLEAN_EXIT_CODES, broker.log_text()
    broker.start()
    listed, offsets = kafkajs(
        broker, {"op": "listTopics"}, {"op": "fetchTopicOffsets", "topic": topic}
    )
    assert topic in ok(listed)
    [partition] = ok(offsets)
    assert int(partition["high"]) == len(records)
    messages = rdkafka.consume(broker.bootstrap, topic, len(records))
    assert [rdkafka.as_record(m) for m in messages] == records
