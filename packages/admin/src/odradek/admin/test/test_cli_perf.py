"""
Tests for L{odradek.admin.cli.producer_perf} and L{odradek.admin.cli.consumer_perf}:
the flags, and both tools' C{main} run against fake clients and a fake clock.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import consumer_perf, producer_perf
from odradek.admin.cli._common import run_tool
from odradek.admin.cli._perfstats import (
    CONSUMER_HEADER,
)
from odradek.admin.test._perftools import FINAL_LINE, WINDOW_LINE, FakeClock
from odradek.client import ConsumerRecord, RecordMetadata, TopicPartition
from odradek.client.errors import NotLeaderOrFollowerError
from odradek.client.records import TimestampType


def args(text: str) -> list[str]:
    """@return: a command line written as one string, split at spaces."""
    return text.split()


def _run(main: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str, str]:
    """Run a tool's main as run_tool does, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            status = run_tool(main, argv, stderr=err)
        except SystemExit as e:
            status = int(e.code or 0)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    return status, out.getvalue(), err.getvalue()


class FakeProducer:
    """A producer that acknowledges each record after a fixed time."""

    made: list[FakeProducer] = []

    def __init__(self, config: dict[str, object], clock: FakeClock, fail: int) -> None:
        self.config = config
        self.clock = clock
        self.failures = fail
        self.sent: list[bytes] = []
        self.closed = False
        FakeProducer.made.append(self)

    def send(self, record: object, callback: Callable[..., object]) -> None:
        value = record.value  # type: ignore[attr-defined]
        self.sent.append(value)
        self.clock.now_ms += 2.0
        if len(self.sent) <= self.failures:
            callback(None, NotLeaderOrFollowerError("moved"))
        else:
            callback(
                RecordMetadata(
                    topic="t",
                    partition=0,
                    offset=len(self.sent) - 1,
                    timestamp=0,
                    serialized_key_size=-1,
                    serialized_value_size=len(value),
                ),
                None,
            )

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


class ProducerPerfTests(SynchronousTestCase):
    """
    L{producer_perf.main} parses Kafka's flags, sends, and prints Kafka's summary.
    """

    def setUp(self) -> None:
        self.clock = FakeClock()
        self.patch(producer_perf, "_now_ms", self.clock.ms)
        self.patch(time, "sleep", self.clock.sleep)
        FakeProducer.made = []
        self.failures = 0
        self.patch(
            producer_perf,
            "Producer",
            lambda config: FakeProducer(config, self.clock, self.failures),
        )

    def test_run(self) -> None:
        """A run sends every record of the size asked and prints the summary."""
        status, out, err = _run(
            producer_perf.main,
            args(
                "--topic t --num-records 3000 --record-size 100 --throughput "
                "-1 --bootstrap-server b:9092"
            ),
        )
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertTrue(all(WINDOW_LINE.match(line) for line in lines[:-1]))
        self.assertEqual(len(lines), 2)
        match = FINAL_LINE.match(lines[-1])
        assert match is not None, lines[-1]
        self.assertEqual(match.group(1), "3000")
        self.assertEqual(match.group(6), "2")
        producer = FakeProducer.made[0]
        self.assertTrue(producer.closed)
        self.assertEqual({len(v) for v in producer.sent}, {100})
        self.assertTrue(all(v.isalpha() and v.isupper() for v in producer.sent))
        self.assertEqual(producer.config["client.id"], "perf-producer-client")

    def test_throughput(self) -> None:
        """--throughput makes the tool sleep to hold the rate."""
        start = self.clock.ms()
        status, _out, _ = _run(
            producer_perf.main,
            args(
                "--topic t --num-records 100 --payload-monotonic --throughput "
                "50 --producer-props bootstrap.servers=b:1"
            ),
        )
        self.assertEqual(status, 0)
        self.assertTrue(self.clock.slept)
        self.assertApproximates((self.clock.ms() - start) / 1000, 2.0, 0.1)
        self.assertEqual(FakeProducer.made[0].sent[:3], [b"0", b"1", b"2"])

    def test_failures(self) -> None:
        """Failed records are told once and give exit status 1."""
        self.failures = 2
        status, out, err = _run(
            producer_perf.main,
            args(
                "--topic t --num-records 5 --record-size 1 --throughput -1 "
                "--bootstrap-server b:1"
            ),
        )
        self.assertEqual(status, 1)
        self.assertEqual(
            err.splitlines(),
            [
                "Error: a send failed: NOT_LEADER_OR_FOLLOWER: moved",
                "Error: 2 of 5 records failed",
            ],
        )
        self.assertTrue(out.startswith("3 records sent"))

    def test_payload_file(self) -> None:
        """--payload-file payloads are split at the delimiter and picked from."""
        path = Path(self.mktemp())
        path.write_text("a|bb|ccc|", encoding="utf-8")
        status, out, _ = _run(
            producer_perf.main,
            [
                "--topic",
                "t",
                "--num-records",
                "20",
                "--payload-file",
                str(path),
                "--payload-delimiter",
                "|",
                "--throughput",
                "-1",
                "--bootstrap-server",
                "b:1",
            ],
        )
        self.assertEqual(status, 0)
        self.assertIn("Number of messages read: 3", out)
        self.assertLessEqual(set(FakeProducer.made[0].sent), {b"a", b"bb", b"ccc"})

    def test_config_order(self) -> None:
        """--producer-props win over --producer.config; --bootstrap-server over both."""
        path = Path(self.mktemp())
        path.write_text("acks=1\nbootstrap.servers=file:1\nlinger.ms=5\n")
        options = producer_perf.build_parser().parse_args(
            [
                "--topic",
                "t",
                "--num-records",
                "1",
                "--record-size",
                "1",
                "--throughput",
                "-1",
                "--producer.config",
                str(path),
                "--producer-props",
                "acks=all",
                "bootstrap.servers=props:1",
            ]
        )
        config = producer_perf.producer_config(options)
        self.assertEqual(
            (config["acks"], config["linger.ms"], config["bootstrap.servers"]),
            ("all", "5", "props:1"),
        )

    def assertFailsWith(self, argv: list[str], message: str) -> None:
        status, _out, err = _run(producer_perf.main, argv)
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(message, err)
        self.assertEqual(FakeProducer.made, [])

    def test_bad_flags(self) -> None:
        """Bad or missing flags give one line and exit status 1."""
        base = ["--topic", "t", "--num-records", "5", "--throughput", "-1"]
        self.assertFailsWith([*base, "--bootstrap-server", "b:1"], "--record-size")
        self.assertFailsWith([*base, "--record-size", "1"], "no brokers")
        self.assertFailsWith(
            [*base, "--record-size", "0", "--bootstrap-server", "b:1"],
            "--record-size should be greater than zero",
        )
        self.assertFailsWith(
            args(
                "--topic t --num-records 5 --throughput 0 --record-size 1 "
                "--bootstrap-server b:1"
            ),
            "--throughput",
        )
        self.assertFailsWith(
            [
                *base,
                *[
                    "--record-size",
                    "1",
                    "--bootstrap-server",
                    "b:1",
                    "--transactional-id",
                    "x",
                ],
            ],
            "transactions are not supported",
        )
        self.assertFailsWith(
            [*base, "--record-size", "1", "--producer-props", "novalue"],
            "invalid producer property 'novalue'",
        )


class FakeConsumer:
    """A consumer that hands out a fixed number of records, 100 a poll."""

    made: list[FakeConsumer] = []

    def __init__(self, config: dict[str, object], clock: FakeClock, total: int) -> None:
        self.config = config
        self.clock = clock
        self.left = total
        self.closed = False
        self.listener: object = None
        FakeConsumer.made.append(self)

    def subscribe(self, topics: object, listener: object) -> None:
        self.topics = topics
        self.listener = listener

    def poll(self, timeout: float) -> list[ConsumerRecord]:
        if self.listener is not None:
            self.clock.now_ms += 300
            self.listener.on_partitions_assigned([TopicPartition("t", 0)])  # type: ignore[attr-defined]
            self.listener = None
        self.clock.now_ms += 1000
        count = min(100, self.left)
        self.left -= count
        return [
            ConsumerRecord(
                "t",
                0,
                0,
                0,
                TimestampType.CREATE_TIME,
                None,
                b"x" * 10,
                serialized_key_size=-1,
                serialized_value_size=10,
            )
            for _ in range(count)
        ]

    def close(self, timeout: float | None = None) -> None:
        self.closed = True


class ConsumerPerfTests(SynchronousTestCase):
    """
    L{consumer_perf.main} consumes, reports progress and prints Kafka's CSV.
    """

    def setUp(self) -> None:
        self.clock = FakeClock()
        self.patch(consumer_perf, "_now_ms", self.clock.ms)
        FakeConsumer.made = []
        self.total = 1000
        self.patch(
            consumer_perf,
            "Consumer",
            lambda config: FakeConsumer(config, self.clock, self.total),
        )

    def test_run(self) -> None:
        """The header and one line of figures, progress on standard error."""
        status, out, err = _run(
            consumer_perf.main,
            args(
                "--bootstrap-server b:1 --topic t --messages 1000 "
                "--reporting-interval 3000"
            ),
        )
        self.assertEqual(status, 0)
        header, figures = out.splitlines()
        self.assertEqual(header, CONSUMER_HEADER)
        fields = figures.split(", ")
        self.assertEqual(fields[4], "1000")
        self.assertEqual(fields[6], "300")
        self.assertEqual(fields[7], str(10_000))
        self.assertEqual(
            err.splitlines()[0], "300 records consumed, 90.9 records/sec (0.00 MB/sec)."
        )
        consumer = FakeConsumer.made[0]
        self.assertTrue(consumer.closed)
        self.assertEqual(consumer.config["auto.offset.reset"], "earliest")
        self.assertEqual(consumer.config["max.partition.fetch.bytes"], 1024 * 1024)

    def test_detailed(self) -> None:
        """--show-detailed-stats prints interval lines and no summary."""
        status, out, err = _run(
            consumer_perf.main,
            args(
                "--bootstrap-server b:1 --topic t --messages 500 "
                "--show-detailed-stats --hide-header --reporting-interval "
                "2000"
            ),
        )
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(all(len(line.split(", ")) == 10 for line in lines))

    def test_timeout(self) -> None:
        """Too few records: Kafka's warning after --timeout ms without records."""
        self.total = 200
        status, out, _ = _run(
            consumer_perf.main,
            args("--bootstrap-server b:1 --topic t --messages 500 --timeout 2500"),
        )
        self.assertEqual(status, 0)
        self.assertIn("WARNING: Exiting before consuming the expected number", out)
        self.assertEqual(out.splitlines()[-1].split(", ")[4], "200")

    def test_config(self) -> None:
        """The flags set Kafka's consumer settings over --consumer.config's."""
        path = Path(self.mktemp())
        path.write_text("group.id=file\nclient.id=mine\nfetch.min.bytes=5\n")
        options = consumer_perf.build_parser().parse_args(
            [
                "--bootstrap-server",
                "b:1",
                "--topic",
                "t",
                "--messages",
                "1",
                "--group",
                "g",
                "--from-latest",
                "--fetch-size",
                "10",
                "--consumer.config",
                str(path),
            ]
        )
        config = consumer_perf.consumer_config(options)
        self.assertEqual(config["group.id"], "g")
        self.assertEqual(config["client.id"], "mine")
        self.assertEqual(config["auto.offset.reset"], "latest")
        self.assertEqual(config["max.partition.fetch.bytes"], 10)
        self.assertEqual(config["fetch.min.bytes"], "5")

    def test_bad_flags(self) -> None:
        """Bad or missing flags give one line and exit status 1."""
        for argv, message in [
            (["--bootstrap-server", "b:1", "--topic", "t"], "--messages"),
            (["--topic", "t", "--messages", "5"], "--bootstrap-server"),
            (["--bootstrap-server", "b:1", "--messages", "5"], "--topic"),
            (
                ["--bootstrap-server", "b:1", "--topic", "t", "--messages", "0"],
                "--messages must be greater than 0",
            ),
            (
                args("--bootstrap-server b:1 --topic t --messages 5 --date-format EEE"),
                "--date-format",
            ),
            (
                args("--bootstrap-server b:1 --topic t --messages 5 --timeout 1.5"),
                "--timeout",
            ),
        ]:
            status, _, err = _run(consumer_perf.main, argv)
            self.assertEqual(status, 1, argv)
            self.assertEqual(len(err.splitlines()), 1, err)
            self.assertIn(message, err)
        self.assertEqual(FakeConsumer.made, [])
