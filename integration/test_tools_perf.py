"""
C{odradek-producer-perf-test}, C{odradek-consumer-perf-test} and
C{odradek-dump-log} run as console scripts: the producer perf test sends 20,000
records of 100 bytes to an Odradek broker and to Tansu, the consumer perf test
reads them back, and the dump tool prints the Odradek broker's segment file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Broker
from harness import BrokerProcess

from odradek.client import AdminClient, NewTopic

BIN = Path(sys.executable).parent
RECORDS = 20_000
RECORD_SIZE = 100
TOOL_TIMEOUT_SECONDS = 90.0
FINAL_LINE = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg"
    r" latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms"
    r" 99th, (\d+) ms 99\.9th\.$"
)
CONSUMER_HEADER = (
    "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,"
    " nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
)
RECORD_LINE = re.compile(
    r"^\| offset: (\d+) CreateTime: \d+ keySize: -1 valueSize: 100 sequence: \d+"
    r" headerKeys: \[\] payload: ([A-Z]{100})$"
)


def tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a console script to its end, capturing its output."""
    return subprocess.run(
        [str(BIN / name), *args],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


def create_topic(bootstrap: str, topic: str) -> None:
    """Create a topic of one partition."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        created = admin.create_topics([NewTopic(topic, 1, 1)], timeout=30)
        assert not created.errors, created.errors
    finally:
        admin.close()


def produce(bootstrap: str, topic: str) -> None:
    """Run the producer perf test and check its summary."""
    done = tool(
        "odradek-producer-perf-test",
        "--topic",
        topic,
        "--num-records",
        str(RECORDS),
        "--record-size",
        str(RECORD_SIZE),
        "--throughput",
        "-1",
        "--producer-props",
        f"bootstrap.servers={bootstrap}",
        "linger.ms=5",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    final = FINAL_LINE.match(lines[-1])
    assert final is not None, done.stdout
    assert int(final.group(1)) == RECORDS
    assert float(final.group(2)) > 0
    assert int(final.group(6)) <= int(final.group(7)) <= int(final.group(9))
    assert all(line.endswith(" ms max latency.") for line in lines[:-1]), lines


def test_producer_then_consumer(each_broker: Broker, topic: str) -> None:
    """The records the producer perf test sent, the consumer perf test reads."""
    create_topic(each_broker.bootstrap, topic)
    produce(each_broker.bootstrap, topic)
    done = tool(
        "odradek-consumer-perf-test",
        "--bootstrap-server",
        each_broker.bootstrap,
        "--topic",
        topic,
        "--messages",
        str(RECORDS),
        "--timeout",
        "30000",
        "--reporting-interval",
        "1000",
    )
    assert done.returncode == 0, done.stderr
    header, figures = done.stdout.splitlines()
    assert header == CONSUMER_HEADER
    fields = figures.split(", ")
    assert len(fields) == 10
    assert int(fields[4]) == RECORDS
    assert float(fields[2]) == pytest.approx(RECORDS * RECORD_SIZE / 2**20, abs=1e-4)
    assert float(fields[5]) > 0
    assert "records consumed" in done.stderr or done.stderr == ""


def test_bad_broker() -> None:
    """A broker that is not there: a one-line error, not a traceback."""
    done = tool(
        "odradek-producer-perf-test",
        "--topic",
        "t",
        "--num-records",
        "1",
        "--record-size",
        "1",
        "--throughput",
        "-1",
        "--bootstrap-server",
        "127.0.0.1:1",
        "--producer-props",
        "max.block.ms=2000",
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("Error:")


def test_dump_log(broker: Broker, topic: str) -> None:
    """The dump of the Odradek broker's segment shows every record's payload."""
    if not isinstance(broker, BrokerProcess):
        pytest.skip("Tansu keeps its data in memory")
    create_topic(broker.bootstrap, topic)
    produce(broker.bootstrap, topic)
    segment = broker.log_dir / f"{topic}-0" / "00000000000000000000.log"
    done = tool("odradek-dump-log", "--print-data-log", "--files", str(segment))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [f"Dumping {segment}", "Log starting offset: 0"]
    assert lines[2].startswith("baseOffset: 0 lastOffset: ")
    assert "isvalid: true" in lines[2]
    offsets = [int(m.group(1)) for m in map(RECORD_LINE.match, lines) if m]
    assert offsets == list(range(RECORDS))
    assert not any(line.startswith("Found ") for line in lines)
    index = segment.with_suffix(".index")
    done = tool("odradek-dump-log", "--verify-index-only", "--files", str(index))
    assert done.returncode == 0
    assert "Mismatches" not in done.stderr, done.stderr
