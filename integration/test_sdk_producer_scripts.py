"""
The Odradek SDK's producer as users run it, in processes of their own, against an
Odradek broker and Tansu (each started once for this module): the four examples of
C{docs/examples} and a small Twisted program with C{TwistedProducer}. Each must exit
0, and what it produced is read back with confluent-kafka.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import rdkafka
from confluent_kafka import Message
from conftest import Broker

from odradek.client.producer import murmur2, to_positive

ReadTopic = Callable[..., dict[int, list[Message]]]

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
SCRIPT_TIMEOUT_SECONDS = 120.0
BASIC_VALUES = [
    f"Apache Kafka is a distributed streaming platform - {index}" for index in range(3)
]
PRINTED = re.compile(
    r"Topic: (?P<topic>\S+), Partition: (?P<partition>\d+), "
    r"Offset: (?P<offset>\d+), Key: None, Received Message: (?P<value>.*)"
)


def run_script(script: Path, *args: str) -> str:
    """
    Run C{script} with this Python and C{args}.

    @return: its standard output.
    @raise AssertionError: if it does not exit 0 in time; the message holds its
        output.
    """
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, (
        f"{script.name} exited with {done.returncode}\n"
        f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
    )
    return done.stdout


def located(read_back: dict[int, list[Message]]) -> dict[tuple[int, int], str]:
    """@return: each record's value, by C{(partition, offset)}."""
    return {
        (partition, message.offset()): message.value().decode()
        for partition, messages in read_back.items()
        for message in messages
    }


def assert_in_send_order(read_back: dict[int, list[Message]], sent: list[str]) -> None:
    """Check that each partition holds its share of C{sent} in send order."""
    for partition, messages in read_back.items():
        order = [sent.index(message.value().decode()) for message in messages]
        assert order == sorted(order), f"partition {partition} out of order"


@pytest.mark.parametrize(
    "example",
    ["producer_fire_forget.py", "producer_sync.py", "producer_async.py"],
)
def test_basic_example(
    each_broker: Broker, topic: str, example: str, read_topic: ReadTopic
) -> None:
    """Each basic example delivers its three values and prints where they went."""
    output = run_script(EXAMPLES / example, each_broker.bootstrap, topic)
    read_back = read_topic(each_broker.bootstrap, topic, at_least=len(BASIC_VALUES))
    stored = located(read_back)
    assert sorted(stored.values()) == BASIC_VALUES
    assert_in_send_order(read_back, BASIC_VALUES)
    printed = [PRINTED.fullmatch(line) for line in output.splitlines()]
    if example == "producer_fire_forget.py":
        assert output == ""
        return
    assert all(printed), output
    assert {
        (int(m["partition"]), int(m["offset"])): m["value"] for m in printed if m
    } == stored
    assert {m["topic"] for m in printed if m} == {topic}
    if example == "producer_sync.py":
        assert [m["value"] for m in printed if m] == BASIC_VALUES


def test_custom_partitioner_example(
    each_broker: Broker, topic: str, read_topic: ReadTopic
) -> None:
    """The custom partitioner puts "backtony" in partition 0, other keys by hash."""
    partitions = 3
    rdkafka.create_topic(each_broker.bootstrap, topic, partitions=partitions)
    run_script(
        EXAMPLES / "producer_custom_partitioner.py", each_broker.bootstrap, topic
    )
    read_back = read_topic(each_broker.bootstrap, topic, at_least=4)
    where = {
        (message.key(), message.value()): partition
        for partition, messages in read_back.items()
        for message in messages
    }
    assert [(m.key(), m.value()) for m in read_back[0]].count(
        (b"backtony", b"hello from backtony")
    ) == 2
    assert sum(len(messages) for messages in read_back.values()) == 4
    for key in (b"alice", b"bob"):
        expected = to_positive(murmur2(key)) % partitions
        assert where[key, b"hello from " + key] == expected


TWISTED_PROGRAM = """
import sys

from twisted.internet import defer, task

from odradek.client import ProducerRecord, TwistedProducer


async def main(reactor, bootstrap, topic):
    producer = TwistedProducer(
        {"bootstrap.servers": bootstrap, "value.serializer": "str"}, reactor=reactor
    )
    try:
        for index in range(3):
            metadata = await producer.send(ProducerRecord(topic, f"twisted-{index}"))
            print(metadata.topic, metadata.partition, metadata.offset)
    finally:
        await producer.close()


task.react(
    lambda reactor, *args: defer.Deferred.fromCoroutine(main(reactor, *args)),
    sys.argv[1:],
)
"""


def test_twisted_producer_program(
    each_broker: Broker, topic: str, tmp_path: Path, read_topic: ReadTopic
) -> None:
    """A task.react program awaits each TwistedProducer.send for its metadata."""
    rdkafka.create_topic(each_broker.bootstrap, topic)
    program = tmp_path / "twisted_producer.py"
    program.write_text(TWISTED_PROGRAM)
    output = run_script(program, each_broker.bootstrap, topic)
    assert output.splitlines() == [f"{topic} 0 {offset}" for offset in range(3)]
    messages = read_topic(each_broker.bootstrap, topic)[0]
    assert [m.value() for m in messages] == [b"twisted-%d" % i for i in range(3)]
