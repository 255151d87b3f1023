"""
The broker process harness itself: start, ApiVersions readiness, stop, restart,
kill -9, and a start-up failure reported with the broker's own words.
"""

from __future__ import annotations

import os
import signal

import pytest
from conftest import BROKER_KIND, BrokerFactory
from harness import (
    API_VERSIONS_KEY,
    CLEAN_EXIT_CODES,
    BrokerStartError,
    api_versions,
    leftover_processes,
)


def test_start_answers_api_versions(broker_factory: BrokerFactory) -> None:
    """A started broker answers ApiVersions and advertises ApiVersions itself."""
    broker = broker_factory()
    versions = api_versions(broker.host, broker.port)
    assert API_VERSIONS_KEY in versions
    assert broker.rss_kib() > 0


def test_stop_restart_kill9(broker_factory: BrokerFactory) -> None:
    """SIGTERM stops a broker, restart reuses its port, kill -9 leaves nothing."""
    broker = broker_factory()
    port = broker.port
    first_pid = broker.pid
    code = broker.stop()
    assert code in CLEAN_EXIT_CODES, broker.log_text()
    assert first_pid not in leftover_processes()
    broker.start()
    assert broker.port == port
    assert broker.pid != first_pid
    broker.kill9()
    assert broker.process is not None
    assert broker.process.returncode == -signal.SIGKILL
    assert broker.pid not in leftover_processes()
    broker.restart()
    assert api_versions(broker.host, broker.port)


@pytest.mark.skipif(BROKER_KIND != "odradek", reason="Odradek's configuration")
def test_bad_configuration_is_reported(broker_factory: BrokerFactory) -> None:
    """A bad setting stops start-up; the error names the key and shows the log."""
    with pytest.raises(BrokerStartError) as raised:
        broker_factory({"log.segment.bytes": "abc"})
    assert "log.segment.bytes" in str(raised.value)
    assert "abc" in str(raised.value)
    assert not [pid for pid in leftover_processes() if pid != os.getpid()]
