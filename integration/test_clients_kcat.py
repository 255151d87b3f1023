"""
kcat from Debian (librdkafka 2.0.2) against one broker: produce and consume with
every codec, keys, null values, headers, LogAppendTime, message.max.bytes, offsets
by time (C{-Q}), metadata (C{-L}), the idempotent producer and a restart.

kcat has no admin commands: topics it needs with settings are created with
confluent-kafka, and what it cannot send (producer timestamps) is produced with
confluent-kafka and queried or read with kcat. Consumers use C{-C} with a partition
and start offset, without a group (C{-G}), and check CRCs (C{check.crcs=true}).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import rdkafka
from conftest import Broker, BrokerFactory
from harness import CLEAN_EXIT_CODES
from scenarios import (
    CODECS,
    MESSAGE_MAX_BYTES,
    assert_stored_as,
    sample_records,
    value_size_for_batch,
)

KCAT_TIMEOUT_SECONDS = 90
KEY_DELIMITER = "\x01"


def kcat(
    broker: Broker, *arguments: str, data: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """
    Run kcat against C{broker}.

    @param check: fail the test, with kcat's output, if it exits non-zero.
    """
    binary = shutil.which("kcat")
    assert binary is not None, "kcat is needed (dev.py installs Debian's kcat)"
    completed = subprocess.run(
        [binary, "-b", broker.bootstrap, "-m", "30", *arguments],
        input=data,
        capture_output=True,
        timeout=KCAT_TIMEOUT_SECONDS,
        check=False,
    )
    if check:
        assert completed.returncode == 0, (
            f"kcat {' '.join(arguments)} exited {completed.returncode}:\n"
            + completed.stderr.decode(errors="replace")[-4000:]
        )
    return completed


def produce(
    broker: Broker, topic: str, lines: list[tuple[str | None, str]], *options: str
) -> None:
    """
    Produce one record per C{(key, value)} to partition 0; a C{None} key is sent as
    a line without the key delimiter, which kcat sends with a null key.
    """
    text = "".join(
        (value if key is None else f"{key}{KEY_DELIMITER}{value}") + "\n"
        for key, value in lines
    )
    kcat(
        broker,
        "-P",
        "-t",
        topic,
        "-p",
        "0",
        "-K",
        r"\x01",
        "-X",
        "check.crcs=true",
        *options,
        data=text.encode(),
    )


def consume(
    broker: Broker, topic: str, count: int, offset: int | str = "beginning"
) -> list[dict[str, Any]]:
    """@return: C{count} records from partition 0 as kcat's JSON envelopes."""
    completed = kcat(
        broker,
        "-C",
        "-t",
        topic,
        "-p",
        "0",
        "-o",
        str(offset),
        "-c",
        str(count),
        "-e",
        "-J",
        "-X",
        "check.crcs=true",
    )
    envelopes = [
        json.loads(line) for line in completed.stdout.decode().splitlines() if line
    ]
    assert len(envelopes) == count, (envelopes, completed.stderr.decode()[-3000:])
    return envelopes


def headers_of(envelope: dict[str, Any]) -> list[tuple[str, str]]:
    """kcat's JSON gives headers as a flat list C{[name, value, name, value...]}."""
    flat = envelope.get("headers") or []
    if isinstance(flat, dict):
        return list(flat.items())
    return list(zip(flat[0::2], flat[1::2], strict=True))


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume(broker: Broker, topic: str, codec: str) -> None:
    """Keys, null keys, empty values and headers survive each codec."""
    lines: list[tuple[str | None, str]] = [
        ("key-0", "plain value"),
        (None, "null key"),
        ("empty value", ""),
        ("", "empty key"),
        ("large", "0123456789abcdef" * 4096),
        ("unicode-\u00e9", "value-\u2603"),
    ]
    before = int(time.time() * 1000)
    produce(
        broker,
        topic,
        lines,
        "-H",
        "trace-id=abc123",
        "-H",
        "empty=",
        "-X",
        f"compression.codec={codec}",
        "-X",
        "linger.ms=50",
    )
    after = int(time.time() * 1000)
    envelopes = consume(broker, topic, len(lines))
    assert [(e["key"], e["payload"]) for e in envelopes] == lines
    assert [e["offset"] for e in envelopes] == list(range(len(lines)))
    for envelope in envelopes:
        assert headers_of(envelope) == [("trace-id", "abc123"), ("empty", "")]
        assert envelope["tstype"] == "create"
        assert before - 1000 <= envelope["ts"] <= after + 1000
    if broker.kind == "odradek":
        assert_stored_as(broker, topic, codec)


def test_null_values(broker: Broker, topic: str) -> None:
    """-Z sends empty lines as null values; kcat reads them back as null."""
    produce(broker, topic, [("tombstone", ""), ("kept", "value")], "-Z")
    envelopes = consume(broker, topic, 2)
    assert [(e["key"], e["payload"]) for e in envelopes] == [
        ("tombstone", None),
        ("kept", "value"),
    ]


def test_producer_timestamps_read_by_kcat(broker: Broker, topic: str) -> None:
    """CreateTime timestamps given by a producer are what kcat reads."""
    records = sample_records(binary=False)
    rdkafka.produce(rdkafka.producer(broker.bootstrap), topic, records)
    envelopes = consume(broker, topic, len(records))
    assert [e["ts"] for e in envelopes] == [r.timestamp for r in records]
    assert {e["tstype"] for e in envelopes} == {"create"}
    assert [e["payload"] for e in envelopes] == [
        None if r.value is None else r.value.decode() for r in records
    ]


def test_log_append_time(broker: Broker, topic: str) -> None:
    """A LogAppendTime topic: kcat reads the broker's stamps."""
    rdkafka.create_topic(
        broker.bootstrap, topic, config={"message.timestamp.type": "LogAppendTime"}
    )
    before = int(time.time() * 1000)
    produce(broker, topic, [("a", "1"), ("b", "2")], "-X", "compression.codec=snappy")
    after = int(time.time() * 1000)
    for envelope in consume(broker, topic, 2):
        assert envelope["tstype"] == "logappend", envelope
        assert before - 1000 <= envelope["ts"] <= after + 1000


def test_message_max_bytes(broker: Broker, topic: str, tmp_path: Path) -> None:
    """A batch of exactly message.max.bytes is stored; one byte more is refused."""
    size = value_size_for_batch(MESSAGE_MAX_BYTES)
    exact = tmp_path / "exact"
    exact.write_bytes(b"x" * size)
    over = tmp_path / "over"
    over.write_bytes(b"y" * (size + 1))
    settings = ["-X", "message.max.bytes=4000000", "-X", "compression.codec=none"]
    kcat(broker, "-P", "-t", topic, "-p", "0", *settings, str(exact))
    refused = kcat(
        broker, "-P", "-t", topic, "-p", "0", *settings, str(over), check=False
    )
    stderr = refused.stderr.decode(errors="replace")
    assert "Message size too large" in stderr, (refused.returncode, stderr)
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
        "1",
        "-e",
        "-f",
        "%o %S\\n",
        "-X",
        "check.crcs=true",
    )
    assert completed.stdout.decode().split() == ["0", str(size)]


def test_query_offsets_by_time(broker: Broker, topic: str) -> None:
    """kcat -Q: the offset of the first record at or after a timestamp."""
    records = sample_records(base_timestamp=1_700_000_000_000)
    rdkafka.produce(rdkafka.producer(broker.bootstrap), topic, records)
    first = records[0].timestamp
    assert first is not None
    for stamp, expected in [
        (first - 5000, 0),
        (first, 0),
        (first + 3000, 3),
        (first + 3001, 4),
    ]:
        completed = kcat(broker, "-Q", "-t", f"{topic}:0:{stamp}")
        text = completed.stdout.decode()
        assert f"offset {expected}" in text, (stamp, text)


def test_metadata_listing(broker: Broker, topic: str) -> None:
    """kcat -L shows a topic's partitions, leaders and replicas, and the broker."""
    rdkafka.create_topic(broker.bootstrap, topic, partitions=3)
    completed = kcat(broker, "-L", "-J", "-t", topic)
    listing = json.loads(completed.stdout)
    [described] = listing["topics"]
    assert described["topic"] == topic
    assert [p["partition"] for p in described["partitions"]] == [0, 1, 2]
    for partition in described["partitions"]:
        assert partition["leader"] == listing["brokers"][0]["id"]
        assert [r["id"] for r in partition["replicas"]] == [partition["leader"]]
    assert listing["brokers"][0]["name"] == broker.bootstrap


def test_idempotent_producer(broker: Broker, topic: str) -> None:
    """kcat with enable.idempotence=true: every record once, in order."""
    lines = [(str(i % 7), f"value-{i:05d}") for i in range(3000)]
    produce(
        broker,
        topic,
        lines,
        "-X",
        "enable.idempotence=true",
        "-X",
        "compression.codec=zstd",
    )
    envelopes = consume(broker, topic, len(lines))
    assert [e["payload"] for e in envelopes] == [value for _, value in lines]


@pytest.mark.slow
def test_restart_keeps_data_and_topics(
    broker_factory: BrokerFactory, topic: str
) -> None:
    """After SIGTERM and a restart, kcat lists the topic and reads every record."""
    broker = broker_factory()
    lines = [(f"k{i}", f"v{i}") for i in range(100)]
    produce(broker, topic, lines, "-X", "compression.codec=gzip")
    assert broker.stop() in CLEAN_EXIT_CODES, broker.log_text()
    broker.start()
    listing = json.loads(kcat(broker, "-L", "-J", "-t", topic).stdout)
    assert [t["topic"] for t in listing["topics"]] == [topic]
    envelopes = consume(broker, topic, len(lines))
    assert [(e["key"], e["payload"]) for e in envelopes] == lines
