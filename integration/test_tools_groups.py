"""
C{odradek-consumer-groups} end to end, run as a console script against an
Odradek broker and Tansu: groups formed by confluent-kafka (a third-party client)
and by the Odradek consumer, described while active and after; offsets reset
(dry run, execute, shift, by time, exported and read back), deleted, and groups
deleted.

Tansu 0.6 answers ListOffsets for the latest offset and by timestamp wrongly, so
log-end offsets, lag and the resets that rest on them are asserted on Odradek
only; it lacks OffsetDelete, where the tool's one-line error is asserted instead.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rdkafka
from confluent_kafka import TopicPartition as RdTopicPartition
from conftest import Broker
from scenarios import Record

TOOL = str(Path(sys.executable).parent / "odradek-consumer-groups")
RUN_TIMEOUT = 60.0


def run(broker: Broker, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the tool against C{broker} and wait for it."""
    return subprocess.run(
        [TOOL, "--bootstrap-server", broker.bootstrap, "--timeout", "20", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def table(stdout: str) -> list[list[str]]:
    """@return: the rows of the table the tool printed, the header first."""
    return [line.split() for line in stdout.splitlines() if line.strip()]


def rows_by_partition(stdout: str) -> dict[int, dict[str, str]]:
    """@return: the rows of an offsets table, by partition, as header -> cell."""
    header, *rows = table(stdout)
    return {int(row[2]): dict(zip(header, row, strict=True)) for row in rows}


def produce(
    broker: Broker, topic: str, counts: dict[int, int], base_ms: int = 0
) -> None:
    """Produce C{counts[p]} records to each partition C{p}, stamped from C{base_ms}."""
    client = rdkafka.producer(broker.bootstrap)
    for partition, count in counts.items():
        records = [
            Record(None, b"v%d" % i, timestamp=base_ms + i * 1000 if base_ms else None)
            for i in range(count)
        ]
        rdkafka.produce(client, topic, records, partition=partition)


def commit(broker: Broker, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Commit offsets for a group with no members, by confluent-kafka."""
    client = rdkafka.consumer(broker.bootstrap, group_id=group)
    try:
        client.commit(
            offsets=[RdTopicPartition(t, p, o) for (t, p), o in offsets.items()],
            asynchronous=False,
        )
    finally:
        client.close()


def committed(broker: Broker, group: str, topic: str, partitions: int) -> list[int]:
    """@return: the group's committed offset of each partition (-1001 for none)."""
    client = rdkafka.consumer(broker.bootstrap, group_id=group)
    try:
        asked = [RdTopicPartition(topic, p) for p in range(partitions)]
        return [tp.offset for tp in client.committed(asked, timeout=20)]
    finally:
        client.close()


@pytest.fixture
def active() -> Iterator[list[Any]]:
    """Consumers a test starts; each still open is closed when the test ends."""
    started: list[Any] = []
    yield started
    for client in started:
        client.close()


def join(broker: Broker, group: str, topic: str, active: list[Any]) -> Any:
    """Start a confluent-kafka member of C{group} and wait until it holds partitions."""
    client = rdkafka.consumer(
        broker.bootstrap,
        group_id=group,
        client_id="rd-member",
        auto_offset_reset="earliest",
        session_timeout_ms=10000,
    )
    active.append(client)
    client.subscribe([topic])
    deadline = time.monotonic() + 30
    while not client.assignment():
        assert time.monotonic() < deadline, "the consumer was assigned nothing"
        client.poll(0.2)
    return client


def test_describe_active_then_empty(
    each_broker: Broker, topic: str, active: list[Any]
) -> None:
    """
    While a confluent-kafka member is active, --describe shows its partitions with
    committed offsets, log-end offsets and lag, --members and --state show it,
    --list lists the group, and --reset-offsets refuses; once it leaves, the
    group has no active members and its offsets remain.
    """
    odradek = each_broker.kind == "odradek"
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 2)
    produce(each_broker, topic, {0: 10, 1: 6})
    member = join(each_broker, group, topic, active)
    member.commit(
        offsets=[RdTopicPartition(topic, 0, 4), RdTopicPartition(topic, 1, 2)],
        asynchronous=False,
    )

    described = run(each_broker, "--describe", "--group", group)
    assert described.returncode == 0, described.stderr
    rows = rows_by_partition(described.stdout)
    assert sorted(rows) == [0, 1]
    assert [rows[p]["CURRENT-OFFSET"] for p in (0, 1)] == ["4", "2"]
    if odradek:
        # Tansu's DescribeGroups gives members no client id, host or assignment,
        # and its ListOffsets(latest) answer is wrong.
        assert {rows[p]["CLIENT-ID"] for p in (0, 1)} == {"rd-member"}
        assert rows[0]["CONSUMER-ID"].startswith("rd-member")
        assert [rows[p]["LOG-END-OFFSET"] for p in (0, 1)] == ["10", "6"]
        assert [rows[p]["LAG"] for p in (0, 1)] == ["6", "4"]

    members = run(each_broker, "--describe", "--group", group, "--members", "--verbose")
    assert members.returncode == 0, members.stderr
    header, row = table(members.stdout)
    assert header == [
        "GROUP",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
        "#PARTITIONS",
        "ASSIGNMENT",
    ]
    assert row[0] == group and row[1].startswith("rd-member")
    if odradek:  # Tansu's members have no client id, host or assignment.
        assert row[3:] == ["rd-member", "2", f"{topic}(0,1)"]

    state = run(each_broker, "--describe", "--group", group, "--state")
    assert state.returncode == 0, state.stderr
    assert state.stdout.splitlines()[1].split() == [
        "GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"
    ]  # fmt: skip
    values = table(state.stdout)[1]
    assert values[0] == group and values[-2:] == ["Stable", "1"]

    listed = run(each_broker, "--list")
    assert listed.returncode == 0, listed.stderr
    assert group in listed.stdout.split()
    with_state = run(each_broker, "--list", "--state", "stable")
    assert with_state.returncode == 0, with_state.stderr
    states = dict(row for row in table(with_state.stdout) if len(row) == 2)
    assert group in states
    if odradek:  # Tansu's ListGroups tells no state.
        assert states[group] == "Stable"

    refused = run(
        each_broker, "--reset-offsets", "--group", group, "--topic", topic,
        "--to-earliest", "--execute",
    )  # fmt: skip
    assert refused.returncode == 1
    assert (
        f"Error: Assignments can only be reset if the group '{group}' is inactive, "
        "but the current state is Stable."
    ) in refused.stderr

    member.close()
    active.remove(member)
    empty = run(each_broker, "--describe", "--group", group)
    assert empty.returncode == 0, empty.stderr
    assert f"Consumer group '{group}' has no active members." in empty.stderr
    rows = rows_by_partition(empty.stdout)
    assert [rows[p]["CURRENT-OFFSET"] for p in (0, 1)] == ["4", "2"]
    assert {rows[p]["CONSUMER-ID"] for p in (0, 1)} == {"-"}


def test_describe_odradek_member(each_broker: Broker, topic: str) -> None:
    """An Odradek consumer in a group shows up in --describe with its offsets."""
    from odradek.client import Consumer

    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 1)
    produce(each_broker, topic, {0: 5})
    consumer = Consumer(
        {
            "bootstrap.servers": each_broker.bootstrap,
            "group.id": group,
            "client.id": "odr-member",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        read: list[Any] = []
        deadline = time.monotonic() + 30
        while len(read) < 5:
            assert time.monotonic() < deadline, f"read {len(read)} of 5 records"
            read += consumer.poll(0.5)
        consumer.commit_sync()
        described = run(each_broker, "--describe", "--group", group)
        assert described.returncode == 0, described.stderr
        row = rows_by_partition(described.stdout)[0]
        assert row["CURRENT-OFFSET"] == "5", described.stdout
        if each_broker.kind == "odradek":
            # Tansu's members have no client id or assignment, and its
            # ListOffsets(latest) answer is wrong.
            assert row["CLIENT-ID"] == "odr-member", described.stdout
            assert row["LAG"] == "0"
    finally:
        consumer.close()


def test_reset_offsets(each_broker: Broker, topic: str, tmp_path: Path) -> None:
    """
    --reset-offsets plans without changing anything by default, commits with
    --execute, shifts and clamps, exports a plan that --from-file reads back.
    """
    odradek = each_broker.kind == "odradek"
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 2)
    produce(each_broker, topic, {0: 10, 1: 10})
    commit(each_broker, group, {(topic, 0): 5, (topic, 1): 7})
    scope = ("--reset-offsets", "--group", group, "--topic", topic)

    dry = run(each_broker, *scope, "--to-earliest")
    assert dry.returncode == 0, dry.stderr
    assert "--execute option is missing" in dry.stderr
    assert table(dry.stdout) == [
        ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        [group, topic, "0", "0"],
        [group, topic, "1", "0"],
    ]
    assert committed(each_broker, group, topic, 2) == [5, 7]

    done = run(each_broker, *scope, "--to-earliest", "--execute")
    assert done.returncode == 0, done.stderr
    assert committed(each_broker, group, topic, 2) == [0, 0]

    if not odradek:
        return  # The rest clamps to the latest offset, which Tansu answers wrongly.
    one = run(each_broker, "--reset-offsets", "--group", group, "--topic",
              f"{topic}:1", "--to-offset", "3", "--execute")  # fmt: skip
    assert one.returncode == 0, one.stderr
    assert committed(each_broker, group, topic, 2) == [0, 3]

    shifted = run(each_broker, *scope, "--shift-by", "8", "--execute")
    assert shifted.returncode == 0, shifted.stderr
    assert "Value will be set to 10" in shifted.stderr
    assert committed(each_broker, group, topic, 2) == [8, 10]

    exported = run(each_broker, *scope, "--shift-by", "-5", "--dry-run", "--export")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"{topic},0,3\n{topic},1,5\n"
    plan = tmp_path / "plan.csv"
    plan.write_text(exported.stdout)
    from_file = run(each_broker, "--reset-offsets", "--group", group,
                    "--from-file", str(plan), "--execute")  # fmt: skip
    assert from_file.returncode == 0, from_file.stderr
    assert committed(each_broker, group, topic, 2) == [3, 5]

    latest = run(each_broker, "--reset-offsets", "--group", group, "--all-topics",
                 "--to-latest", "--execute")  # fmt: skip
    assert latest.returncode == 0, latest.stderr
    assert committed(each_broker, group, topic, 2) == [10, 10]


def test_reset_to_datetime(each_broker: Broker, topic: str) -> None:
    """--to-datetime and --by-duration find the first record at or after the time."""
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 1)
    base = 1_700_000_000_000  # 2023-11-14T22:13:20Z; records 1 s apart.
    produce(each_broker, topic, {0: 10}, base_ms=base)
    commit(each_broker, group, {(topic, 0): 0})
    at = run(each_broker, "--reset-offsets", "--group", group, "--topic", topic,
             "--to-datetime", "2023-11-14T22:13:24.500Z", "--dry-run")  # fmt: skip
    assert at.returncode == 0, at.stderr
    recent = run(each_broker, "--reset-offsets", "--group", group, "--topic", topic,
                 "--by-duration", "PT1M", "--dry-run")  # fmt: skip
    assert recent.returncode == 0, recent.stderr
    if each_broker.kind == "odradek":  # Tansu's ListOffsets by time is wrong.
        assert table(at.stdout)[1] == [group, topic, "0", "5"]
        # No record is that recent: Kafka falls back to the end.
        assert (
            "is empty. Falling back to latest known offset."
            in recent.stdout + recent.stderr
        )
        assert table(recent.stdout)[1] == [group, topic, "0", "10"]


def test_delete_offsets(each_broker: Broker, topic: str) -> None:
    """--delete-offsets deletes an inactive group's offsets of a topic."""
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 2)
    commit(each_broker, group, {(topic, 0): 0, (topic, 1): 0})
    result = run(each_broker, "--delete-offsets", "--group", group, "--topic", topic)
    if each_broker.kind == "tansu":  # Tansu 0.6 has no OffsetDelete.
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("Error: "), result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert (
        f"Request succeed for deleting offsets with topic {topic} group {group}"
        in result.stdout
    )
    assert table(result.stdout)[1:] == [
        ["TOPIC", "PARTITION", "STATUS"],
        [topic, "0", "Successful"],
        [topic, "1", "Successful"],
    ]
    assert committed(each_broker, group, topic, 2) == [-1001, -1001]


def test_delete_and_unknown_groups(each_broker: Broker, topic: str) -> None:
    """--delete deletes an empty group; an unknown group is a one-line error."""
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, 1)
    commit(each_broker, group, {(topic, 0): 0})
    deleted = run(each_broker, "--delete", "--group", group)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == (
        f"Deletion of requested consumer groups ('{group}') was successful."
    )
    if each_broker.kind == "tansu":
        return  # Tansu still describes a deleted group, as Empty.
    gone = run(each_broker, "--describe", "--group", group)
    assert gone.returncode == 1
    assert gone.stderr.strip() == f"Error: Consumer group '{group}' does not exist."
    again = run(each_broker, "--delete", "--group", group)
    assert again.returncode == 1
    assert f"* Group '{group}' could not be deleted due to: " in again.stderr


def test_bad_values_and_unreachable_broker() -> None:
    """
    Bad flags and values give one line and status 1, before connecting; so does a
    broker that is not there.
    """

    def tool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [TOOL, "--bootstrap-server", "127.0.0.1:1", "--timeout", "2", *args],
            capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
        )  # fmt: skip

    bad = tool("--reset-offsets", "--group", "g", "--topic", "t",
               "--to-datetime", "yesterday", "--dry-run")  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: invalid --to-datetime 'yesterday'"), bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    none = tool("--group", "g")
    assert none.returncode == 1
    assert len(none.stderr.strip().splitlines()) == 1, none.stderr
    down = tool("--list")
    assert down.returncode == 1
    assert len(down.stderr.strip().splitlines()) == 1, down.stderr
