"""
The consumer and admin examples of C{docs/examples} (the seeds' Java examples in
Python) as users run them, in processes of their own, against an Odradek broker and
Tansu: each must exit 0 having read every record, committed what it says it
commits, and the wakeup example must end a blocked poll within 100 ms of SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
import rdkafka
from conftest import Broker
from groups import committed_offsets
from scenarios import Record, unique_name
from test_sdk_producer_scripts import EXAMPLES, run_script

PARTITIONS = 3
PER_PARTITION = 4
RECORD_LINE = re.compile(r"^record: (\d+) (\d+) (.*)$", re.MULTILINE)


def fill(broker: Broker, topic: str, partitions: int = PARTITIONS) -> set[str]:
    """Create C{topic}, put C{PER_PARTITION} values in each partition; @return: them."""
    rdkafka.create_topic(broker.bootstrap, topic, partitions)
    producer = rdkafka.producer(broker.bootstrap)
    values = set()
    for partition in range(partitions):
        chunk = [f"value-{partition}-{i}" for i in range(PER_PARTITION)]
        rdkafka.produce(
            producer, topic, [Record(None, v.encode()) for v in chunk], partition
        )
        values.update(chunk)
    return values


def printed(output: str) -> dict[tuple[int, int], str]:
    """@return: the records an example printed, by (partition, offset)."""
    return {(int(p), int(o)): value for p, o, value in RECORD_LINE.findall(output)}


@pytest.mark.parametrize(
    "example",
    [
        "consumer_simple.py",
        "consumer_sync_commit.py",
        "consumer_commit_map.py",
        "consumer_async_commit.py",
        "consumer_rebalance_listener.py",
    ],
)
def test_group_example(each_broker: Broker, example: str) -> None:
    """
    Each group example reads every record once, at its offset, and leaves the
    group's committed offsets at the end of each partition.
    """
    topic = unique_name(example.removesuffix(".py").replace("_", "-"))
    group = f"{topic}-g"
    values = fill(each_broker, topic)
    total = len(values)
    output = run_script(
        EXAMPLES / example, each_broker.bootstrap, topic, group, str(total)
    )
    records = printed(output)
    assert set(records.values()) == values, output
    for (partition, offset), value in records.items():
        assert value == f"value-{partition}-{offset}"
    offsets = committed_offsets(each_broker, group, topic)
    assert {p: offsets[p] for p in range(PARTITIONS)} == dict.fromkeys(
        range(PARTITIONS), PER_PARTITION
    ), output
    if example == "consumer_async_commit.py":
        assert "committed: " in output
    if example == "consumer_rebalance_listener.py":
        assert "Partitions are assigned: " in output
        assert "Partitions are revoked: " in output


def test_exact_partition_example(each_broker: Broker) -> None:
    """The assign example reads only its partition and shows its assignment."""
    topic = unique_name("consumer-exact-partition")
    fill(each_broker, topic)
    output = run_script(
        EXAMPLES / "consumer_exact_partition.py",
        each_broker.bootstrap,
        topic,
        "1",
        str(PER_PARTITION),
    )
    assert f"assignment: ['{topic}-1']" in output
    records = printed(output)
    assert records == {
        (1, offset): f"value-1-{offset}" for offset in range(PER_PARTITION)
    }


def test_assignment_example(each_broker: Broker) -> None:
    """The assignment example prints the partitions the group gave it: all of them."""
    topic = unique_name("consumer-assignment")
    fill(each_broker, topic)
    output = run_script(
        EXAMPLES / "consumer_assignment.py", each_broker.bootstrap, topic, f"{topic}-g"
    )
    assert output.split("\n")[:PARTITIONS] == [
        f"assigned: {topic} {p}" for p in range(PARTITIONS)
    ]


def test_wakeup_example(each_broker: Broker, tmp_path: Path) -> None:
    """
    SIGTERM while the example's poll is blocked: the poll raises WakeupError within
    100 ms, the consumer closes and the process exits 0.
    """
    topic = unique_name("consumer-wakeup")
    fill(each_broker, topic)
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "consumer_wakeup.py"),
            each_broker.bootstrap,
            topic,
            f"{topic}-g",
        ],
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr").open("w"),
        text=True,
        bufsize=1,
        # Each line as it is printed: the test times the wakeup by them.
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[tuple[float, str]] = []

    def read(stream: IO[str]) -> None:
        while line := stream.readline():
            lines.append((time.monotonic(), line))

    def wait_for(condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "".join(line for _, line in lines)
            time.sleep(0.005)

    try:
        assert process.stdout is not None
        threading.Thread(target=read, args=(process.stdout,), daemon=True).start()
        # Wait until every record was printed: the poll then blocks for 60 s.
        wait_for(
            lambda: (
                len(RECORD_LINE.findall("".join(line for _, line in lines)))
                >= PARTITIONS * PER_PARTITION
            ),
            60,
        )
        time.sleep(0.5)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        wait_for(
            lambda: any(line.startswith("poll() was woken up") for _, line in lines),
            10,
        )
        woken_at = next(
            at for at, line in lines if line.startswith("poll() was woken up")
        )
        delay = woken_at - sent
        print(f"\nwakeup ended the blocked poll {delay * 1000:.0f} ms after SIGTERM")
        assert delay < 0.1, f"woken after {delay:.3f} s"
        assert process.wait(30) == 0, (tmp_path / "stderr").read_text()
        wait_for(lambda: any("Consumer close" in line for _, line in lines), 10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
