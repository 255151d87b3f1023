"""
C{odradek-console-producer} and C{odradek-console-consumer} end to end, run as
console scripts against an Odradek broker and Tansu: lines piped in with keys and
headers come back out with the fields Kafka's formatter prints, confluent-kafka (a
third-party client) reads what the producer sent and writes what the consumer
prints, a group's offsets are committed where the consumer stopped, and Ctrl-C or
SIGTERM ends the consumer cleanly.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import rdkafka
from conftest import Broker
from scenarios import Record

from odradek.client import AdminClient, TopicPartition

BIN = Path(sys.executable).parent
PRODUCER = str(BIN / "odradek-console-producer")
CONSUMER = str(BIN / "odradek-console-consumer")
RUN_TIMEOUT = 60.0
# Tansu answers a group's first JoinGroup after about half the session timeout
# (23 s with the default 45 s): a shorter one keeps these tests quick.
GROUP_SETTINGS = (
    "--consumer-property",
    "session.timeout.ms=6000",
    "--consumer-property",
    "heartbeat.interval.ms=1000",
)


def produce_lines(
    broker: Broker, topic: str, text: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Pipe C{text} into the console producer and wait for it."""
    return subprocess.run(
        [PRODUCER, "--bootstrap-server", broker.bootstrap, "--topic", topic, *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def consume(broker: Broker, topic: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the console consumer and wait for it to exit by itself."""
    return subprocess.run(
        [
            CONSUMER,
            "--bootstrap-server",
            broker.bootstrap,
            "--topic",
            topic,
            *GROUP_SETTINGS,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def properties(*settings: str) -> list[str]:
    """@return: a C{--property} flag for each setting."""
    return [word for setting in settings for word in ("--property", setting)]


def assert_total(result: subprocess.CompletedProcess[str], count: int) -> None:
    """The consumer exited 0 and reported C{count} records, and nothing else."""
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"Processed a total of {count} messages"


def read_line(process: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """@return: the next line the process prints, waiting C{timeout} at most."""
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.append(stdout.readline()), daemon=True
    )
    reader.start()
    reader.join(timeout)
    assert lines, f"no line printed within {timeout}s"
    return lines[0]


def test_round_trip(each_broker: Broker, topic: str) -> None:
    """
    Lines with headers and keys go in (gzip) and come back with every field, in
    Kafka's order; confluent-kafka reads the same keys, values and headers.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic)
    before = int(time.time() * 1000)
    lines = "h1:a,h2:b\tk1\tv1\nh1:c\tk2\tv 2\n"
    sent = produce_lines(
        each_broker,
        topic,
        lines,
        "--property",
        "parse.headers=true",
        "--property",
        "parse.key=true",
        "--compression-codec",
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stderr == ""
    printed = consume(
        each_broker,
        topic,
        "--from-beginning",
        "--max-messages",
        "2",
        *properties(
            "print.key=true",
            "print.partition=true",
            "print.offset=true",
            "print.timestamp=true",
            "print.headers=true",
        ),
    )
    assert_total(printed, 2)
    rows = [line.split("\t") for line in printed.stdout.splitlines()]
    assert [row[1:] for row in rows] == [
        ["Partition:0", "Offset:0", "h1:a,h2:b", "k1", "v1"],
        ["Partition:0", "Offset:1", "h1:c", "k2", "v 2"],
    ]
    for row in rows:
        kind, stamp = row[0].split(":")
        assert kind == "CreateTime"
        assert before - 60_000 <= int(stamp) <= time.time() * 1000 + 60_000

    messages = rdkafka.consume(each_broker.bootstrap, topic, 2)
    assert [rdkafka.as_record(m, timestamp=False) for m in messages] == [
        Record(b"k1", b"v1", (("h1", b"a"), ("h2", b"b"))),
        Record(b"k2", b"v 2", (("h1", b"c"),)),
    ]


def test_key_separator_and_bad_line(each_broker: Broker, topic: str) -> None:
    """
    With key.separator=: a line without a colon stops the producer with Kafka's
    message naming it (status 1); the lines before it are delivered.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic)
    sent = produce_lines(
        each_broker,
        topic,
        "user-1:hello:world\nno separator\nuser-2:late\n",
        "--sync",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
    )
    assert sent.returncode == 1
    assert sent.stderr.strip() == (
        "Error: No key separator found on line number 2: 'no separator'"
    )
    messages = rdkafka.consume(each_broker.bootstrap, topic, 1)
    assert [(m.key(), m.value()) for m in messages] == [(b"user-1", b"hello:world")]
    ignored = produce_lines(
        each_broker,
        topic,
        "no separator\n",
        "--property",
        "parse.key=true",
        "--property",
        "key.separator=:",
        "--property",
        "ignore.error=true",
    )
    assert ignored.returncode == 0, ignored.stderr
    printed = consume(
        each_broker,
        topic,
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--max-messages",
        "2",
        "--property",
        "print.key=true",
        "--property",
        "key.separator=-",
    )
    assert_total(printed, 2)
    assert printed.stdout.splitlines() == ["user-1-hello:world", "null-no separator"]


def test_prints_what_confluent_sent(each_broker: Broker, topic: str) -> None:
    """
    Records written by confluent-kafka print with their keys, null keys and
    values, headers and offsets; --partition with --offset N starts at N.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic, partitions=2)
    client = rdkafka.producer(each_broker.bootstrap)
    records = [
        Record(b"a", b"one", (("h", b"x"),)),
        Record(None, b"two"),
        Record(b"c", None),
        Record(b"d", "f\u00fcnf".encode(), (("h", b"1"), ("h", None))),
    ]
    rdkafka.produce(client, topic, records, partition=1)
    printed = consume(
        each_broker,
        topic,
        "--partition",
        "1",
        "--offset",
        "1",
        "--max-messages",
        "3",
        *properties(
            "print.key=true",
            "print.offset=true",
            "print.headers=true",
            "null.literal=NULL",
        ),
    )
    assert_total(printed, 3)
    assert printed.stdout.splitlines() == [
        "Offset:1\tNO_HEADERS\tNULL\ttwo",
        "Offset:2\tNO_HEADERS\tc\tNULL",
        "Offset:3\th:1,h:NULL\td\tf\u00fcnf",
    ]


def test_group_commits_where_it_stopped(each_broker: Broker, topic: str) -> None:
    """
    With --group and --max-messages 3 of 5 records the group's committed offset
    is 3 (records polled but not printed are not committed); the next run of the
    group prints the other 2.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic)
    sent = produce_lines(each_broker, topic, "".join(f"r{i}\n" for i in range(5)))
    assert sent.returncode == 0, sent.stderr
    group = f"{topic}-group"
    first = consume(
        each_broker, topic, "--group", group, "--from-beginning", "--max-messages", "3"
    )
    assert_total(first, 3)
    assert first.stdout.splitlines() == ["r0", "r1", "r2"]
    admin = AdminClient({"bootstrap.servers": each_broker.bootstrap})
    try:
        committed = admin.list_consumer_group_offsets(
            group, [TopicPartition(topic, 0)], timeout=30
        )
    finally:
        admin.close()
    stored = committed[TopicPartition(topic, 0)]
    assert stored is not None and stored.offset == 3
    second = consume(each_broker, topic, "--group", group, "--max-messages", "2")
    assert_total(second, 2)
    assert second.stdout.splitlines() == ["r3", "r4"]


def test_timeout_ms(each_broker: Broker, topic: str) -> None:
    """With --timeout-ms the consumer exits 0 once no record came for that long."""
    rdkafka.create_topic(each_broker.bootstrap, topic)
    started = time.monotonic()
    result = consume(each_broker, topic, "--from-beginning", "--timeout-ms", "1500")
    assert_total(result, 0)
    assert result.stdout == ""
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_cleanly(
    each_broker: Broker, topic: str, signum: signal.Signals
) -> None:
    """
    Ctrl-C (or SIGTERM) ends a consumer waiting for records at once: status 0,
    the count on standard error.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic)
    rdkafka.produce(
        rdkafka.producer(each_broker.bootstrap), topic, [Record(b"k", b"first")]
    )
    process = subprocess.Popen(
        [
            CONSUMER,
            "--bootstrap-server",
            each_broker.bootstrap,
            "--include",
            re.escape(topic),
            "--from-beginning",
            *GROUP_SETTINGS,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(process) == "first\n"
        process.send_signal(signum)
        sent = time.monotonic()
        out, err = process.communicate(timeout=20)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert err.strip() == "Processed a total of 1 messages"
    assert out == ""
    assert elapsed < 5, f"took {elapsed:.1f}s to stop"


def test_unreachable_broker() -> None:
    """A producer that cannot reach the broker says so in one line and exits 1."""
    result = subprocess.run(
        [
            PRODUCER,
            "--bootstrap-server",
            "127.0.0.1:1",
            "--topic",
            "t",
            "--max-block-ms",
            "1500",
        ],
        input="x\n",
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")


def test_producer_ctrl_c_delivers(each_broker: Broker, topic: str) -> None:
    """
    Ctrl-C ends a producer waiting for input: the lines it read are delivered
    and it exits 0.
    """
    rdkafka.create_topic(each_broker.bootstrap, topic)
    process = subprocess.Popen(
        [PRODUCER, "--bootstrap-server", each_broker.bootstrap, "--topic", topic],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None
        process.stdin.write("one\n")
        process.stdin.flush()
        # Once "one" is stored the producer is up and waiting for a line.
        rdkafka.consume(each_broker.bootstrap, topic, 1, timeout=30)
        process.stdin.write("two\n")
        process.stdin.flush()
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert err == ""
    messages = rdkafka.consume(each_broker.bootstrap, topic, 2)
    assert rdkafka.values(messages) == [b"one", b"two"]
