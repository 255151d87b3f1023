"""
The admin tools end to end: C{odradek-topics}, C{odradek-configs} and
C{odradek-acls} run as console scripts against an Odradek broker and, where it
has the API, Tansu; where Tansu lacks one the tool's one-line error is checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Broker

BIN = Path(sys.executable).parent
RUN_TIMEOUT_SECONDS = 60.0
CALL_TIMEOUT = "20"


def tool(name: str, bootstrap: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run a console script against C{bootstrap} and return what it did."""
    return subprocess.run(
        [
            str(BIN / name),
            "--bootstrap-server",
            bootstrap,
            "--timeout",
            CALL_TIMEOUT,
            *argv,
        ],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def assert_one_line_error(
    done: subprocess.CompletedProcess[str], *fragments: str
) -> None:
    """The tool failed with status 1 and a one-line message holding C{fragments}."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def topics(broker: Broker, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run odradek-topics."""
    return tool("odradek-topics", broker.bootstrap, *argv)


def configs(broker: Broker, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run odradek-configs."""
    return tool("odradek-configs", broker.bootstrap, *argv)


def test_topic_lifecycle(each_broker: Broker, topic: str) -> None:
    """Create, list, describe and delete a topic; creating it twice fails."""
    created = topics(
        each_broker,
        "--create",
        "--topic",
        topic,
        "--partitions",
        "2",
        "--config",
        "retention.ms=3600000",
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines()[-1] == f"Created topic {topic}."
    listed = topics(each_broker, "--list")
    assert topic in listed.stdout.splitlines()
    described = topics(each_broker, "--describe", "--topic", topic)
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert lines[0].startswith(f"Topic: {topic}\t")
    assert "\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: " in lines[0]
    if each_broker.kind == "odradek":
        # Tansu 0.6 marks every value of a topic as a default one.
        assert "retention.ms=3600000" in lines[0]
    assert [line.split("\t")[1:3] for line in lines[1:]] == [
        [f"Topic: {topic}", "Partition: 0"],
        [f"Topic: {topic}", "Partition: 1"],
    ]
    assert all("\tLeader: " in line and "\tIsr: " in line for line in lines[1:])
    again = topics(each_broker, "--create", "--topic", topic)
    if each_broker.kind == "odradek":
        assert_one_line_error(again, f"Topic '{topic}' already exists.")
        skipped = topics(each_broker, "--create", "--topic", topic, "--if-not-exists")
        assert (skipped.returncode, skipped.stdout) == (0, "")
    deleted = topics(each_broker, "--delete", "--topic", topic)
    assert deleted.returncode == 0, deleted.stderr
    assert topic not in topics(each_broker, "--list").stdout.splitlines()


def test_topic_errors(broker: Broker, topic: str) -> None:
    """An unknown topic, a bad flag and a bad partition count: one line, exit 1."""
    assert_one_line_error(
        topics(broker, "--describe", "--topic", topic),
        f"Topic '{topic}' does not exist as expected",
    )
    assert_one_line_error(topics(broker, "--list", "--bogus"), "--bogus")
    assert_one_line_error(
        topics(broker, "--create", "--topic", topic, "--partitions", "0"), "at least 1"
    )


def test_alter_partitions(each_broker: Broker, topic: str) -> None:
    """--alter grows a topic; fewer partitions are refused (Tansu: no API)."""
    assert topics(each_broker, "--create", "--topic", topic).returncode == 0
    grown = topics(each_broker, "--alter", "--topic", topic, "--partitions", "3")
    if each_broker.kind == "tansu":
        # Tansu 0.6 has no CreatePartitions API.
        assert_one_line_error(grown, "does not support adding partitions")
        return
    assert grown.returncode == 0, grown.stderr
    described = topics(each_broker, "--describe", "--topic", topic)
    assert "\tPartitionCount: 3\t" in described.stdout.splitlines()[0]
    assert_one_line_error(
        topics(each_broker, "--alter", "--topic", topic, "--partitions", "2"),
        "INVALID_PARTITIONS",
    )


def test_topic_configs(each_broker: Broker, topic: str) -> None:
    """odradek-configs sets, describes and deletes a topic's configs."""
    assert topics(each_broker, "--create", "--topic", topic).returncode == 0
    altered = configs(
        each_broker,
        "--alter",
        "--topic",
        topic,
        "--add-config",
        "retention.ms=1800000,cleanup.policy=[compact,delete]",
    )
    assert altered.returncode == 0, altered.stderr
    assert altered.stdout == f"Completed updating config for topic {topic}.\n"
    described = configs(
        each_broker, "--describe", "--entity-type", "topics", "--entity-name", topic
    )
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert lines[0] == f"Dynamic configs for topic {topic} are:"
    if each_broker.kind == "tansu":
        # Tansu 0.6 does not tell where a value comes from, so no value shows
        # as the topic's own; --all shows them.
        everything = configs(each_broker, "--describe", "--topic", topic, "--all")
        assert "  retention.ms=1800000 sensitive=false" in everything.stdout
        return
    assert lines[1:] == [
        "  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG"
        ":cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}",
        "  retention.ms=1800000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG"
        ":retention.ms=1800000, DEFAULT_CONFIG:log.retention.hours=168}",
    ]
    removed = configs(
        each_broker,
        "--alter",
        "--topic",
        topic,
        "--delete-config",
        "retention.ms,cleanup.policy",
    )
    assert removed.returncode == 0, removed.stderr
    after = configs(each_broker, "--describe", "--topic", topic)
    assert after.stdout == f"Dynamic configs for topic {topic} are:\n"
    assert_one_line_error(
        configs(
            each_broker, "--alter", "--topic", topic, "--delete-config", "segment.ms"
        ),
        "Invalid config(s): segment.ms",
    )


def test_describe_broker(each_broker: Broker) -> None:
    """--entity-type brokers describes each broker and the default; --all lists
    a broker's every config."""
    everyone = configs(each_broker, "--describe", "--entity-type", "brokers")
    assert everyone.returncode == 0, everyone.stderr
    headers = [line for line in everyone.stdout.splitlines() if line.endswith(" are:")]
    assert headers[-1] == "Default configs for brokers in the cluster are:"
    assert headers[0].startswith("Dynamic configs for broker ")
    node_id = headers[0].split()[-2]
    described = configs(each_broker, "--describe", "--broker", node_id, "--all")
    assert described.returncode == 0, described.stderr
    lines = described.stdout.splitlines()
    assert lines[0] == f"All configs for broker {node_id} are:"
    if each_broker.kind == "odradek":
        assert any(
            line.startswith("  num.partitions=1 sensitive=false") for line in lines
        )
    else:
        # Tansu 0.6 describes no key of a broker.
        assert lines[1:] == []


def test_configs_errors(broker: Broker, topic: str) -> None:
    """An unknown topic and bad flags: one line, exit 1."""
    assert_one_line_error(
        configs(broker, "--describe", "--topic", topic), "UNKNOWN_TOPIC_OR_PARTITION"
    )
    assert_one_line_error(configs(broker, "--alter", "--topic", topic), "--add-config")
    assert_one_line_error(configs(broker, "--describe", "--broker", "x"), "broker id")


def test_acls_without_authorizer(each_broker: Broker, topic: str) -> None:
    """
    Odradek has no authorizer: --add, --list and --remove say so in one line.
    Tansu 0.6 lists no ACLs and has no DeleteAcls (its CreateAcls answer is
    malformed, so --add is not run against it).
    """
    add = (
        "--add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--topic",
        topic,
    )
    remove = ("--remove", "--topic", topic, "--force")
    if each_broker.kind == "tansu":
        listed = tool("odradek-acls", each_broker.bootstrap, "--list")
        assert (listed.returncode, listed.stdout) == (0, ""), listed.stderr
        assert_one_line_error(
            tool("odradek-acls", each_broker.bootstrap, *remove), "does not support"
        )
        return
    for argv in (add, ("--list",), remove):
        done = tool("odradek-acls", each_broker.bootstrap, *argv)
        assert_one_line_error(done, "no authorizer configured", "SECURITY_DISABLED")
    assert_one_line_error(
        tool("odradek-acls", each_broker.bootstrap, "--add", "--topic", topic),
        "--allow-principal",
    )


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("odradek-topics", ["--list"]),
        ("odradek-configs", ["--describe", "--entity-type", "topics"]),
        ("odradek-acls", ["--list"]),
    ],
)
def test_unreachable(name: str, argv: list[str]) -> None:
    """A broker that can't be reached is one line naming the problem, exit 1."""
    done = subprocess.run(
        [str(BIN / name), "--bootstrap-server", "127.0.0.1:1", "--timeout", "3", *argv],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
    assert_one_line_error(done, "did not answer in time", "127.0.0.1:1")
