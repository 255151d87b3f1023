"""
Running consumer group members (L{group_member}) as processes and watching them:
what each was assigned, what it read and committed, and when.

The kafka-python members run the 2.x line, installed apart by tox into
C{$ODRADEK_IT_KAFKA_PYTHON_2} (without it, the installed kafka-python). kafka-python
3.0.x moved its network loop to an I/O thread that the caller's thread hands each
call to and then waits for, with no timeout; under load a member's poll() was seen
to wait there forever during a rebalance while the I/O thread sat idle in select(),
so the member stopped heartbeating and the test timed out, against any broker.
The other tests drive kafka-python 3.

When a wait times out, every member still running prints its threads' stacks
(SIGUSR1) into the failure message.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rdkafka
from confluent_kafka import ConsumerGroupTopicPartitions
from confluent_kafka import TopicPartition as RdTopicPartition
from scenarios import Record

if TYPE_CHECKING:
    from conftest import Broker

MEMBER_SCRIPT = Path(__file__).with_name("group_member.py")
#: How many partitions the group tests' topics have.
PARTITIONS = 6
DEADLINE_SECONDS = 60.0


class Member:
    """
    One group member process, its events collected by a reader thread.

    @ivar name: a label for messages.
    @ivar events: every event printed so far, in order.
    @ivar env: variables set in the process's environment on top of ours.
    """

    def __init__(
        self, name: str, *arguments: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.arguments = arguments
        self.env = env or {}
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.stderr_path: Path | None = None

    def start(self, workdir: Path) -> Member:
        """Start the process, with its standard error in C{workdir}."""
        self.stderr_path = workdir / f"{self.name}-{len(self.events)}.stderr"
        with open(self.stderr_path, "w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(MEMBER_SCRIPT), *self.arguments],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
            )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def snapshot(self) -> list[dict[str, Any]]:
        """@return: the events so far."""
        with self._lock:
            return list(self.events)

    def assignment(self) -> set[int] | None:
        """
        @return: the partitions the member holds now, as its rebalance callbacks
            told (eager: the last assignment; cooperative: added and removed), or
            C{None} before its first assignment.
        """
        held: set[int] | None = None
        for event in self.snapshot():
            if event["event"] == "assigned":
                held = (held or set()) | set(event["partitions"])
            elif event["event"] == "revoked" and held is not None:
                held -= set(event["partitions"])
        return held

    def records(self) -> list[tuple[int, int, str]]:
        """@return: every record the member printed, as (partition, offset, value)."""
        return [
            (p, o, v)
            for event in self.snapshot()
            if event["event"] == "records"
            for p, o, v in event["records"]
        ]

    def count(self, kind: str) -> int:
        """@return: how many events of C{kind} were printed."""
        return sum(1 for event in self.snapshot() if event["event"] == kind)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """Stop it cleanly (SIGTERM: the client closes and leaves the group)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def kill9(self) -> None:
        """Kill it with SIGKILL: it leaves nothing behind, not even a LeaveGroup."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def dump_stacks(self) -> None:
        """Have a running member print every thread's stack to its standard error."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1)

    def describe(self) -> str:
        """@return: the member's recent events and standard error, for failures."""
        events = "\n".join(json.dumps(e) for e in self.snapshot()[-15:])
        stderr = self.stderr_path.read_text()[-3000:] if self.stderr_path else ""
        return f"--- {self.name} events:\n{events}\n--- {self.name} stderr:\n{stderr}"


def wait_until(
    condition: Callable[[], bool],
    what: str,
    members: Iterable[Member] = (),
    timeout: float = DEADLINE_SECONDS,
) -> float:
    """
    Wait for C{condition}.

    @return: how long it took, in seconds.
    @raise AssertionError: naming C{what}, with the members' events, on timeout.
    """
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            for member in members:
                member.dump_stacks()
            time.sleep(0.5)
            details = "\n".join(member.describe() for member in members)
            raise AssertionError(f"timed out waiting for {what}\n{details}")
        time.sleep(0.05)
    return time.monotonic() - started


def balanced(members: Iterable[Member], partitions: int) -> bool:
    """
    @return: whether the members' assignments are disjoint, cover every
        partition and differ in size by at most one.
    """
    held = [member.assignment() for member in members]
    if any(h is None for h in held):
        return False
    sizes = [len(h or ()) for h in held]
    union: Counter[int] = Counter(p for h in held for p in (h or ()))
    return (
        set(union) == set(range(partitions))
        and all(n == 1 for n in union.values())
        and max(sizes) - min(sizes) <= 1
    )


def consumed(members: Iterable[Member]) -> Counter[str]:
    """@return: how many times each value was printed, over all members."""
    return Counter(value for member in members for _, _, value in member.records())


def start_member(
    members: list[Member],
    workdir: Path,
    client: str,
    broker: Broker,
    group: str,
    topic: str,
    *extra: str,
    name: str | None = None,
) -> Member:
    """Start one member and remember it for clean-up."""
    env = {}
    kafka_python_2 = os.environ.get("ODRADEK_IT_KAFKA_PYTHON_2")
    if client == "kafka-python" and kafka_python_2:
        if not Path(kafka_python_2, "kafka").is_dir():
            raise RuntimeError(f"no kafka-python in {kafka_python_2}")
        env["PYTHONPATH"] = kafka_python_2
    member = Member(
        name or f"{client}-{len(members)}",
        "--client",
        client,
        "--bootstrap",
        broker.bootstrap,
        "--group",
        group,
        "--topic",
        topic,
        *extra,
        env=env,
    )
    members.append(member)
    return member.start(workdir)


def produce_values(broker: Broker, topic: str, values: list[str]) -> None:
    """Produce C{values} round-robin over the topic's partitions."""
    producer = rdkafka.producer(broker.bootstrap)
    for partition in range(PARTITIONS):
        chunk = values[partition::PARTITIONS]
        rdkafka.produce(
            producer,
            topic,
            [Record(None, value.encode()) for value in chunk],
            partition=partition,
        )


def committed_offsets(broker: Broker, group: str, topic: str) -> dict[int, int]:
    """@return: the group's committed offset of each partition (-1001: none)."""
    admin = rdkafka.admin(broker.bootstrap)
    request = ConsumerGroupTopicPartitions(
        group, [RdTopicPartition(topic, p) for p in range(PARTITIONS)]
    )
    futures = admin.list_consumer_group_offsets([request])
    result = rdkafka.wait(futures)[group]
    return {tp.partition: tp.offset for tp in result.topic_partitions}
