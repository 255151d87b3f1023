"""
Consumer groups with real clients (confluent-kafka / librdkafka, kafka-python 2.x
(see L{groups}), aiokafka), each member its own process (L{group_member}):
balanced assignments, every record consumed once, a killed member's partitions
taken over from its last commit, a clean close leaving at once, cooperative
rebalancing, static membership, group state across a broker restart, and a stalled
poll loop.

Each test prints how long its first rebalance took (the first member started to all
members holding a balanced assignment): pytest shows it with C{-s}, and the issue
note records the figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdkafka
from confluent_kafka import TopicPartition as RdTopicPartition
from conftest import Broker, BrokerFactory
from groups import (
    PARTITIONS,
    Member,
    balanced,
    committed_offsets,
    consumed,
    produce_values,
    start_member,
    wait_until,
)
from scenarios import unique_name

CLIENTS = ("confluent", "kafka-python", "aiokafka")


@pytest.fixture
def members(tmp_path: Path) -> Iterator[list[Member]]:
    """The members a test starts; each is killed when the test ends."""
    started: list[Member] = []
    yield started
    for member in started:
        member.kill9()


@pytest.mark.parametrize("client", CLIENTS)
def test_three_members_share_and_consume_once(
    client: str, broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    Three members of one group on a six-partition topic get disjoint assignments
    covering every partition, and every record is consumed exactly once.
    """
    topic = unique_name(f"groups-three-{client}")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    started = time.monotonic()
    for _ in range(3):
        start_member(members, tmp_path, client, broker, group, topic)
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    rebalance = time.monotonic() - started
    print(f"\n{client}: 3-member group stable {rebalance:.2f} s after the first start")
    values = [f"v{i}" for i in range(3000)]
    produce_values(broker, topic, values)
    wait_until(
        lambda: set(consumed(members)) == set(values), "every record read", members
    )
    for member in members:
        assert member.terminate() == 0, member.describe()
    counts = consumed(members)
    assert set(counts) == set(values)
    duplicates = {value: n for value, n in counts.items() if n > 1}
    assert not duplicates, f"read more than once: {list(duplicates.items())[:10]}"
    assert all(m.count("committed") > 0 for m in members if m.records())
    offsets = committed_offsets(broker, group, topic)
    assert offsets == {p: len(values[p::PARTITIONS]) for p in range(PARTITIONS)}


@pytest.mark.parametrize("client", CLIENTS)
def test_killed_member_partitions_move(
    client: str, broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    A member killed with SIGKILL: after its session timeout its partitions move
    to the others, which resume from its last commit, skipping nothing.
    """
    topic = unique_name(f"groups-kill-{client}")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    timeout = ("--session-timeout-ms", "6000")
    for _ in range(3):
        start_member(members, tmp_path, client, broker, group, topic, *timeout)
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    first = [f"a{i}" for i in range(600)]
    produce_values(broker, topic, first)
    wait_until(lambda: set(consumed(members)) >= set(first), "first records", members)
    victim, survivors = members[0], members[1:]
    victim.kill9()
    killed = time.monotonic()
    second = [f"b{i}" for i in range(600)]
    produce_values(broker, topic, second)
    wait_until(
        lambda: balanced(survivors, PARTITIONS),
        "the survivors to take every partition",
        survivors,
    )
    moved = time.monotonic() - killed
    print(f"\n{client}: partitions moved {moved:.2f} s after SIGKILL (session 6 s)")
    wait_until(
        lambda: set(consumed(members)) >= set(first + second),
        "every record after the kill",
        survivors,
    )
    for member in survivors:
        assert member.terminate() == 0, member.describe()


@pytest.mark.parametrize("client", CLIENTS)
def test_clean_close_leaves_at_once(
    client: str, broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    A member that closes cleanly leaves the group at once: the other takes its
    partitions long before the (30 s) session timeout.
    """
    topic = unique_name(f"groups-leave-{client}")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    timeout = ("--session-timeout-ms", "30000")
    for _ in range(2):
        start_member(members, tmp_path, client, broker, group, topic, *timeout)
    wait_until(lambda: balanced(members, PARTITIONS), "two balanced members", members)
    leaving, staying = members
    assert leaving.terminate() == 0, leaving.describe()
    took = wait_until(
        lambda: staying.assignment() == set(range(PARTITIONS)),
        "the remaining member to hold every partition",
        members,
        timeout=20,
    )
    print(f"\n{client}: remaining member took over {took:.2f} s after a clean close")
    assert staying.terminate() == 0, staying.describe()


def test_cooperative_sticky(
    broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    With librdkafka's cooperative-sticky assignor a third member joining takes
    partitions without the others giving up the ones they keep.
    """
    topic = unique_name("groups-cooperative")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    strategy = ("--strategy", "cooperative-sticky")
    for _ in range(2):
        start_member(members, tmp_path, "confluent", broker, group, topic, *strategy)
    wait_until(lambda: balanced(members, PARTITIONS), "two balanced members", members)
    before = [set(m.assignment() or ()) for m in members]
    marks = [len(m.snapshot()) for m in members]
    start_member(members, tmp_path, "confluent", broker, group, topic, *strategy)
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    for member, held, mark in zip(members[:2], before, marks, strict=True):
        kept = member.assignment() or set()
        assert kept <= held, member.describe()
        revoked = [e for e in member.snapshot()[mark:] if e["event"] == "revoked"]
        # Each gives up only what moves to the newcomer, never all it holds.
        assert all(set(e["partitions"]) < held for e in revoked), member.describe()
    for member in members:
        assert member.terminate() == 0, member.describe()


def test_static_member_rejoins_without_rebalance(
    broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    A static member (group.instance.id) restarted within its session timeout
    gets its partitions back and the others see no rebalance.
    """
    topic = unique_name("groups-static")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    settings = ("--session-timeout-ms", "30000")
    for index in range(3):
        start_member(
            members,
            tmp_path,
            "confluent",
            broker,
            group,
            topic,
            *settings,
            "--instance-id",
            f"instance-{index}",
        )
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    restarted, others = members[0], members[1:]
    held = restarted.assignment()
    counts = [(m.count("assigned"), m.count("revoked")) for m in others]
    restarted.kill9()
    again = start_member(
        members,
        tmp_path,
        "confluent",
        broker,
        group,
        topic,
        *settings,
        "--instance-id",
        "instance-0",
        name="confluent-0-again",
    )
    wait_until(lambda: again.assignment() == held, "the same partitions back", members)
    time.sleep(2)  # a rebalance, if any, would show in the others' callbacks by now
    assert [(m.count("assigned"), m.count("revoked")) for m in others] == counts
    for member in [again, *others]:
        assert member.terminate() == 0, member.describe()


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS)
def test_offsets_survive_restart(
    client: str, broker_factory: BrokerFactory, members: list[Member], tmp_path: Path
) -> None:
    """
    Committed offsets and the group survive a broker restart: a member started
    afterwards reads only the records produced since.
    """
    broker = broker_factory()
    topic = unique_name(f"groups-restart-{client}")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    first = [f"a{i}" for i in range(300)]
    produce_values(broker, topic, first)
    member = start_member(members, tmp_path, client, broker, group, topic)
    wait_until(lambda: set(consumed([member])) == set(first), "first records", members)
    assert member.terminate() == 0, member.describe()
    before = committed_offsets(broker, group, topic)
    broker.restart()
    assert committed_offsets(broker, group, topic) == before
    second = [f"b{i}" for i in range(300)]
    produce_values(broker, topic, second)
    later = start_member(members, tmp_path, client, broker, group, topic)
    wait_until(lambda: set(consumed([later])) == set(second), "new records", members)
    assert not set(consumed([later])) & set(first), later.describe()
    assert later.terminate() == 0, later.describe()


@pytest.mark.parametrize("client", ["confluent", "kafka-python"])
def test_stalled_poll_loop_removed_and_rejoins(
    client: str, broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    A member whose poll loop stalls beyond max.poll.interval.ms is removed from
    the group (the other takes its partitions) and rejoins when it polls again.
    """
    topic = unique_name(f"groups-stall-{client}")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, PARTITIONS)
    settings = ("--session-timeout-ms", "6000", "--max-poll-interval-ms", "7000")
    stalling = start_member(
        members,
        tmp_path,
        client,
        broker,
        group,
        topic,
        *settings,
        "--stall-after",
        "1",
        "--stall-seconds",
        "15",
    )
    other = start_member(members, tmp_path, client, broker, group, topic, *settings)
    wait_until(lambda: balanced(members, PARTITIONS), "two balanced members", members)
    produce_values(broker, topic, [f"v{i}" for i in range(60)])
    wait_until(lambda: stalling.count("stalling") == 1, "the stall", members)
    wait_until(
        lambda: other.assignment() == set(range(PARTITIONS)),
        "the other member to take every partition",
        members,
        timeout=30,
    )
    wait_until(lambda: stalling.count("stalled") == 1, "the stall's end", members)
    wait_until(lambda: balanced(members, PARTITIONS), "the member back", members)
    for member in members:
        member.terminate()


def test_bad_commits_get_kafka_errors(broker: Broker) -> None:
    """
    Commits for a partition the topic lacks, or with metadata over
    offset.metadata.max.bytes, are refused with Kafka's error codes, per
    partition; the good partition's commit is kept and the broker carries on.
    """
    from confluent_kafka import KafkaError, KafkaException

    topic = unique_name("groups-bad-commit")
    group = f"{topic}-group"
    rdkafka.create_topic(broker.bootstrap, topic, 2)
    consumer = rdkafka.consumer(broker.bootstrap, group_id=group)
    offsets = [
        RdTopicPartition(topic, 0, 5),
        RdTopicPartition(topic, 7, 5),
        RdTopicPartition(topic, 1, 3, metadata="m" * 5000),
    ]
    try:
        try:
            result = consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as raised:
            # librdkafka raises the first partition error of a synchronous commit.
            codes = {raised.args[0].code()}
        else:
            codes = {tp.error.code() for tp in result if tp.error is not None}
        assert codes, "the bad commits were not refused"
        assert codes <= {
            KafkaError.UNKNOWN_TOPIC_OR_PART,
            KafkaError.OFFSET_METADATA_TOO_LARGE,
        }, codes
        stored = consumer.committed(
            [RdTopicPartition(topic, 0), RdTopicPartition(topic, 1)], timeout=30
        )
        assert [(tp.partition, tp.offset) for tp in stored] == [(0, 5), (1, -1001)]
    finally:
        consumer.close()
