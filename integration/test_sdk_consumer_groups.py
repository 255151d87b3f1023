"""
Odradek SDK consumers in consumer groups, each member its own process
(L{group_member}), against an Odradek broker and Tansu: mixed groups with
confluent-kafka members, a member killed with SIGKILL, cooperative rebalancing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdkafka
from conftest import Broker
from groups import (
    PARTITIONS,
    Member,
    balanced,
    consumed,
    produce_values,
    start_member,
    wait_until,
)
from scenarios import unique_name


@pytest.fixture
def members() -> Iterator[list[Member]]:
    """The members a test starts; each is killed when the test ends."""
    started: list[Member] = []
    yield started
    for member in started:
        member.kill9()


def test_mixed_group_shares_partitions(
    each_broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    Three Odradek consumers and one confluent-kafka consumer in one group get
    disjoint assignments covering every partition, whoever leads, and every record
    is read exactly once.
    """
    topic = unique_name("sdk-groups-mixed")
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, PARTITIONS)
    started = time.monotonic()
    for _ in range(3):
        start_member(members, tmp_path, "odradek", each_broker, group, topic)
    start_member(members, tmp_path, "confluent", each_broker, group, topic)
    wait_until(lambda: balanced(members, PARTITIONS), "four balanced members", members)
    print(f"\nmixed group stable {time.monotonic() - started:.2f} s after first start")
    values = [f"v{i}" for i in range(2000)]
    produce_values(each_broker, topic, values)
    wait_until(
        lambda: set(consumed(members)) == set(values), "every record read", members
    )
    for member in members:
        assert member.terminate() == 0, member.describe()
    counts = consumed(members)
    duplicates = {value: n for value, n in counts.items() if n > 1}
    assert not duplicates, f"read more than once: {list(duplicates.items())[:10]}"


def test_killed_member_loses_nothing(
    each_broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    When an Odradek member is killed with SIGKILL, the others take its partitions
    over from its last commit once its session times out: every record is read.
    """
    topic = unique_name("sdk-groups-kill")
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, PARTITIONS)
    session = ("--session-timeout-ms", "6000")
    for _ in range(3):
        start_member(members, tmp_path, "odradek", each_broker, group, topic, *session)
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    first = [f"a{i}" for i in range(600)]
    produce_values(each_broker, topic, first)
    wait_until(lambda: set(first) <= set(consumed(members)), "first records", members)
    victim = members[0]
    victim.kill9()
    survivors = members[1:]
    second = [f"b{i}" for i in range(600)]
    produce_values(each_broker, topic, second)
    took = wait_until(
        lambda: set(first + second) <= set(consumed(members)),
        "every record read after the kill",
        survivors,
    )
    print(f"\nkilled member's partitions consumed {took:.1f} s after the kill")
    wait_until(lambda: balanced(survivors, PARTITIONS), "survivors balanced", survivors)


def test_cooperative_members(
    each_broker: Broker, members: list[Member], tmp_path: Path
) -> None:
    """
    Odradek members with cooperative-sticky share the partitions, and when one
    leaves the others pick its partitions up without giving up their own.
    """
    topic = unique_name("sdk-groups-coop")
    group = f"{topic}-g"
    rdkafka.create_topic(each_broker.bootstrap, topic, PARTITIONS)
    strategy = ("--strategy", "cooperative-sticky")
    for _ in range(3):
        start_member(members, tmp_path, "odradek", each_broker, group, topic, *strategy)
    wait_until(lambda: balanced(members, PARTITIONS), "three balanced members", members)
    kept = [member.assignment() or set() for member in members[1:]]
    assert members[0].terminate() == 0, members[0].describe()
    survivors = members[1:]
    wait_until(lambda: balanced(survivors, PARTITIONS), "two balanced", survivors)
    for before, member in zip(kept, survivors, strict=True):
        assert before <= (member.assignment() or set()), member.describe()
    values = [f"c{i}" for i in range(600)]
    produce_values(each_broker, topic, values)
    wait_until(
        lambda: set(values) <= set(consumed(survivors)), "every record", survivors
    )
