"""
Tests of L{odradek.admin.cli.console_consumer} and its formatter: how a record
prints, the consumer settings the flags give, the loop that prints records, and
bad command lines.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import console_consumer
from odradek.admin.cli._common import ToolError, run_tool
from odradek.admin.cli._formatter import MessageFormatter
from odradek.admin.cli.console_consumer import (
    Progress,
    consumer_config,
    parse_offset,
    process,
)
from odradek.client import ConsumerConfig, ConsumerRecord, TopicPartition, WakeupError
from odradek.client.records.layout import TimestampType


def _record(
    offset: int = 5,
    key: bytes | None = b"k",
    value: bytes | None = b"v",
    headers: tuple[tuple[str, bytes | None], ...] = (),
    partition: int = 0,
    timestamp_type: TimestampType = TimestampType.CREATE_TIME,
) -> ConsumerRecord:
    return ConsumerRecord(
        "t", partition, offset, 1234, timestamp_type, key, value, headers
    )


def _options(*argv: str) -> argparse.Namespace:
    return console_consumer._parser().parse_args(
        ["--bootstrap-server", "b:9092", *argv]
    )


class MessageFormatterTests(SynchronousTestCase):
    """
    L{MessageFormatter} prints a record as Kafka's C{DefaultMessageFormatter}.
    """

    def test_value_only(self) -> None:
        """By default only the value prints, ended by a newline."""
        self.assertEqual(MessageFormatter().format(_record()), "v\n")

    def test_all_fields_in_order(self) -> None:
        """Timestamp, partition, offset, headers, key, value, TAB-separated."""
        formatter = MessageFormatter.from_properties(
            {
                "print.timestamp": "true",
                "print.partition": "true",
                "print.offset": "true",
                "print.headers": "true",
                "print.key": "true",
            }
        )
        record = _record(headers=(("h1", b"v1"), ("h2", b"v2")), partition=2)
        self.assertEqual(
            formatter.format(record),
            "CreateTime:1234\tPartition:2\tOffset:5\th1:v1,h2:v2\tk\tv\n",
        )

    def test_log_append_time(self) -> None:
        """A broker's timestamp prints as LogAppendTime."""
        formatter = MessageFormatter(print_timestamp=True)
        record = _record(timestamp_type=TimestampType.LOG_APPEND_TIME)
        self.assertEqual(formatter.format(record), "LogAppendTime:1234\tv\n")

    def test_no_headers(self) -> None:
        """A record without headers prints NO_HEADERS."""
        formatter = MessageFormatter(print_headers=True)
        self.assertEqual(formatter.format(_record()), "NO_HEADERS\tv\n")

    def test_nulls(self) -> None:
        """Null key, value and header value print as null.literal."""
        formatter = MessageFormatter.from_properties(
            {"print.key": "true", "print.headers": "true", "null.literal": "<nil>"}
        )
        record = _record(key=None, value=None, headers=(("h", None),))
        self.assertEqual(formatter.format(record), "h:<nil>\t<nil>\t<nil>\n")

    def test_default_null(self) -> None:
        """A null key prints as C{null} by default."""
        formatter = MessageFormatter(print_key=True)
        self.assertEqual(formatter.format(_record(key=None)), "null\tv\n")

    def test_separators(self) -> None:
        """key.separator, line.separator and headers.separator are used as given."""
        formatter = MessageFormatter.from_properties(
            {
                "print.key": "true",
                "print.headers": "true",
                "key.separator": " - ",
                "line.separator": "|",
                "headers.separator": ";",
            }
        )
        record = _record(headers=(("a", b"1"), ("b", b"2")))
        self.assertEqual(formatter.format(record), "a:1;b:2 - k - v|")

    def test_no_value(self) -> None:
        """With print.value=false the key ends the line."""
        formatter = MessageFormatter.from_properties(
            {"print.key": "true", "print.value": "false"}
        )
        self.assertEqual(formatter.format(_record()), "k\n")

    def test_nothing(self) -> None:
        """With no field chosen nothing prints, not even a newline."""
        formatter = MessageFormatter(print_value=False)
        self.assertEqual(formatter.format(_record()), "")

    def test_invalid_utf8(self) -> None:
        """Bytes that are not UTF-8 print as replacement characters."""
        self.assertEqual(
            MessageFormatter().format(_record(value=b"a\xffb")), "a\ufffdb\n"
        )

    def test_flag_values(self) -> None:
        """Only C{true} (any case, spaces ignored) turns a field on."""
        formatter = MessageFormatter.from_properties(
            {"print.key": " TRUE ", "print.offset": "yes"}
        )
        self.assertEqual((formatter.print_key, formatter.print_offset), (True, False))

    def test_unknown_property(self) -> None:
        """An unknown property is refused, naming it."""
        with self.assertRaises(ToolError) as caught:
            MessageFormatter.from_properties({"print.keys": "true"})
        self.assertIn("'print.keys'", str(caught.exception))


class ParseOffsetTests(SynchronousTestCase):
    """
    L{parse_offset} reads C{--offset} as Kafka's tool does.
    """

    def test_names(self) -> None:
        """earliest and latest, in any case."""
        self.assertEqual(
            (parse_offset("earliest"), parse_offset("LATEST")), ("earliest", "latest")
        )

    def test_number(self) -> None:
        """A non-negative number is an offset."""
        self.assertEqual(parse_offset("42"), 42)

    def test_bad(self) -> None:
        """A negative number or other text is refused with Kafka's message."""
        for text in ("-1", "first"):
            with self.assertRaises(ToolError) as caught:
                parse_offset(text)
            self.assertIn(
                f"The provided offset value '{text}' is incorrect",
                str(caught.exception),
            )


class ConsumerConfigTests(SynchronousTestCase):
    """
    L{consumer_config} builds the consumer's settings as Kafka's tool does.
    """

    def test_own_group(self) -> None:
        """Without --group: a console-consumer-NNNNN group that commits nothing."""
        config = consumer_config(_options("--topic", "t"), group_suffix=lambda: 4711)
        self.assertEqual(
            config,
            {
                "bootstrap.servers": "b:9092",
                "client.id": "console-consumer",
                "group.id": "console-consumer-4711",
                "enable.auto.commit": "false",
                "auto.offset.reset": "latest",
                "key.deserializer": "bytes",
                "value.deserializer": "bytes",
            },
        )
        ConsumerConfig.of(config, {})

    def test_group(self) -> None:
        """--group sets group.id, auto-commit stays on; --from-beginning: earliest."""
        config = consumer_config(
            _options("--topic", "t", "--group", "g", "--from-beginning")
        )
        self.assertEqual(config["group.id"], "g")
        self.assertNotIn("enable.auto.commit", config)
        self.assertEqual(config["auto.offset.reset"], "earliest")

    def test_partition_without_group(self) -> None:
        """With --partition no group is set: the partition is assigned."""
        config = consumer_config(_options("--topic", "t", "--partition", "0"))
        self.assertNotIn("group.id", config)

    def test_group_and_partition(self) -> None:
        """--group and --partition do not go together."""
        with self.assertRaises(ToolError) as caught:
            consumer_config(
                _options("--topic", "t", "--group", "g", "--partition", "1")
            )
        self.assertEqual(
            str(caught.exception),
            "Options group and partition cannot be specified together.",
        )

    def test_group_ids_disagree(self) -> None:
        """A --group other than the group.id of --consumer-property is refused."""
        with self.assertRaises(ToolError) as caught:
            consumer_config(
                _options(
                    "--topic", "t", "--group", "a", "--consumer-property", "group.id=b"
                )
            )
        self.assertIn("Detected group ids: 'a', 'b'", str(caught.exception))

    def test_from_beginning_against_reset(self) -> None:
        """--from-beginning with auto.offset.reset=latest is refused."""
        with self.assertRaises(ToolError) as caught:
            consumer_config(
                _options(
                    "--topic",
                    "t",
                    "--from-beginning",
                    "--consumer-property",
                    "auto.offset.reset=latest",
                )
            )
        self.assertIn("auto.offset.reset=latest", str(caught.exception))

    def test_properties_and_file(self) -> None:
        """The file, then --consumer-property, then --isolation-level."""
        path = Path(self.mktemp())
        path.write_text(
            "client.id=mine\nmax.poll.records=7\nisolation.level=read_uncommitted\n"
        )
        config = consumer_config(
            _options(
                "--topic",
                "t",
                "--consumer.config",
                str(path),
                "--consumer-property",
                "max.poll.records=9",
                "--isolation-level",
                "read_committed",
                "--consumer-property",
                "enable.auto.commit=true",
            )
        )
        self.assertEqual(
            (
                config["client.id"],
                config["max.poll.records"],
                config["isolation.level"],
                config["enable.auto.commit"],
            ),
            ("mine", "9", "read_committed", "true"),
        )


class _FakeConsumer:
    """Hands out prepared polls; time passes by the wait of each empty poll."""

    def __init__(self, polls: list[list[ConsumerRecord] | BaseException]) -> None:
        self.polls = polls
        self.now = 0.0
        self.seeks: list[tuple[TopicPartition, int]] = []

    def poll(self, timeout: float) -> list[ConsumerRecord]:
        if not self.polls:
            self.now += timeout
            return []
        result = self.polls.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


class ProcessTests(SynchronousTestCase):
    """
    L{process} prints records until a limit, a quiet spell or a wakeup.
    """

    def setUp(self) -> None:
        self.stdout = io.StringIO()
        self.patch(sys, "stdout", self.stdout)

    def test_max_messages(self) -> None:
        """It stops after max_messages; the rest are rewound, not committed."""
        consumer = _FakeConsumer(
            [[_record(0, value=b"a"), _record(1, value=b"b"), _record(2, value=b"c")]]
        )
        progress = Progress()
        process(consumer, MessageFormatter(), progress, max_messages=2)
        self.assertEqual((self.stdout.getvalue(), progress.count), ("a\nb\n", 2))
        progress.rewind(consumer)
        self.assertEqual(consumer.seeks, [(TopicPartition("t", 0), 2)])

    def test_rewind_per_partition(self) -> None:
        """Each partition goes back to its first record not printed."""
        consumer = _FakeConsumer([])
        progress = Progress()
        progress.buffered.extend(
            [_record(7, partition=1), _record(3, partition=0), _record(8, partition=1)]
        )
        progress.rewind(consumer)
        self.assertEqual(
            consumer.seeks, [(TopicPartition("t", 1), 7), (TopicPartition("t", 0), 3)]
        )

    def test_timeout(self) -> None:
        """Without records for timeout_ms it stops."""
        consumer = _FakeConsumer([[_record(0)]])
        progress = Progress()
        process(
            consumer,
            MessageFormatter(),
            progress,
            timeout_ms=2500,
            now=lambda: consumer.now,
        )
        self.assertEqual((progress.count, consumer.now), (1, 2.5))

    def test_wakeup(self) -> None:
        """A wakeup ends the loop quietly, keeping what was printed."""
        consumer = _FakeConsumer([[_record(0)], WakeupError("woken")])
        progress = Progress()
        process(consumer, MessageFormatter(), progress)
        self.assertEqual((self.stdout.getvalue(), progress.count), ("v\n", 1))

    def test_format_error(self) -> None:
        """A record that cannot be printed ends the tool, naming it."""
        consumer = _FakeConsumer([[_record(4)]])
        with self.assertRaises(ToolError) as caught:
            process(consumer, _Failing(), Progress(), max_messages=1)
        self.assertIn("t-0@4", str(caught.exception))

    def test_skip_message_on_error(self) -> None:
        """With skip_message_on_error such a record is reported and skipped."""
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        consumer = _FakeConsumer([[_record(4), _record(5)]])
        progress = Progress()
        process(
            consumer, _Failing(), progress, max_messages=2, skip_message_on_error=True
        )
        self.assertEqual(progress.count, 2)
        self.assertIn("skipping this message: broken", stderr.getvalue())


class _Failing(MessageFormatter):
    def format(self, record: ConsumerRecord) -> str:
        raise ValueError("broken")


class ArgumentTests(SynchronousTestCase):
    """
    Bad command lines end with one line on standard error and status 1, before
    any connection is made.
    """

    def setUp(self) -> None:
        self.stderr = io.StringIO()
        self.patch(sys, "stderr", self.stderr)

    def _main(self, *argv: str) -> int:
        try:
            return run_tool(
                console_consumer.main,
                ["--bootstrap-server", "b:1", *argv],
                stderr=self.stderr,
            )
        except SystemExit as e:
            return int(e.code or 0)

    def _assert_one_line(self, status: int, text: str) -> None:
        self.assertEqual(status, 1)
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(text, lines[0])

    def test_topic_or_include(self) -> None:
        """Exactly one of --topic and --include is needed."""
        self._assert_one_line(self._main(), "Exactly one of --topic or --include")
        self.stderr.truncate(0)
        self.stderr.seek(0)
        self._assert_one_line(
            self._main("--topic", "a", "--include", "b.*"),
            "Exactly one of --topic or --include",
        )

    def test_offset_without_partition(self) -> None:
        """--offset needs --partition."""
        self._assert_one_line(
            self._main("--topic", "t", "--offset", "3"),
            "The partition is required when offset is specified.",
        )

    def test_partition_without_topic(self) -> None:
        """--partition needs --topic."""
        self._assert_one_line(
            self._main("--include", "t.*", "--partition", "0"),
            "The topic is required when partition is specified.",
        )

    def test_from_beginning_and_offset(self) -> None:
        """--from-beginning and --offset do not go together."""
        self._assert_one_line(
            self._main(
                "--topic", "t", "--partition", "0", "--offset", "1", "--from-beginning"
            ),
            "Options from-beginning and offset cannot be specified together.",
        )

    def test_bad_offset(self) -> None:
        """A bad --offset is refused before connecting."""
        self._assert_one_line(
            self._main("--topic", "t", "--partition", "0", "--offset", "soon"),
            "The provided offset value 'soon' is incorrect",
        )

    def test_bad_pattern(self) -> None:
        """An --include that is not a regular expression is refused."""
        self._assert_one_line(
            self._main("--include", "(unclosed"), "Invalid --include pattern"
        )

    def test_bad_property(self) -> None:
        """An unknown formatter property is refused."""
        self._assert_one_line(
            self._main("--topic", "t", "--property", "print.everything=true"),
            "unknown formatter property 'print.everything'",
        )

    def test_bad_isolation_level(self) -> None:
        """--isolation-level takes read_committed or read_uncommitted."""
        self._assert_one_line(
            self._main("--topic", "t", "--isolation-level", "dirty"),
            "--isolation-level",
        )
