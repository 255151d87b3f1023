"""
C{odradek-console-consumer}: print the records of a topic on standard output,
one line each, as Kafka's C{kafka-console-consumer.sh} does, and end with
C{Processed a total of N messages} on standard error.

Without C{--group} the tool joins a group of its own (C{console-consumer-NNNNN})
and commits nothing unless told to; with C{--partition} it reads that one
partition by assignment, from C{--offset} (the end by default). Ctrl-C and
SIGTERM end it cleanly: it leaves its group and exits 0.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

import attrs

from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    add_connection_flags,
    parse_key_values,
    read_properties,
    run_tool,
)
from odradek.admin.cli._formatter import MessageFormatter
from odradek.client import Consumer, ConsumerRecord, TopicPartition, WakeupError

__all__ = [
    "EARLIEST",
    "LATEST",
    "consumer_config",
    "main",
    "parse_offset",
    "process",
    "run",
]

EARLIEST = "earliest"
"""C{--offset earliest}: the start of the partition."""

LATEST = "latest"
"""C{--offset latest}: the end of the partition (the default)."""

_POLL_SECONDS = 1.0


class _PollingConsumer(Protocol):
    """What L{process} needs of a consumer."""

    def poll(self, timeout: float) -> list[ConsumerRecord]: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...


def parse_offset(text: str) -> int | str:
    """
    Read C{--offset}: C{earliest}, C{latest} (any case) or a non-negative number.

    @param text: the flag's value.
    @return: L{EARLIEST}, L{LATEST} or the offset.
    @raise ToolError: for anything else.
    """
    lowered = text.strip().lower()
    if lowered in (EARLIEST, LATEST):
        return lowered
    try:
        offset = int(text)
    except ValueError:
        offset = -1
    if offset < 0:
        raise ToolError(
            f"The provided offset value '{text}' is incorrect. Valid values are"
            " 'earliest', 'latest', or a non-negative long."
        )
    return offset


def _parser() -> ToolParser:
    parser = ToolParser(
        prog="odradek-console-consumer",
        description="Read records from topics and print them on standard output.",
    )
    add_connection_flags(parser)
    parser.add_argument("--topic", help="the topic to consume")
    parser.add_argument(
        "--include", metavar="REGEX", help="consume every topic matching REGEX"
    )
    parser.add_argument(
        "--partition",
        type=int,
        help="read only this partition, from its end unless --offset is given",
    )
    parser.add_argument(
        "--offset",
        help="with --partition: earliest, latest (the default) or an offset",
    )
    parser.add_argument(
        "--from-beginning",
        action="store_true",
        help="start from the earliest record where the group has no offset",
    )
    parser.add_argument("--group", help="the consumer group to join")
    parser.add_argument(
        "--max-messages", type=int, metavar="N", help="exit after N records"
    )
    parser.add_argument(
        "--timeout-ms",
        type=int,
        metavar="MS",
        help="exit when no record came for MS milliseconds",
    )
    parser.add_argument(
        "--property",
        "--formatter-property",
        dest="property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a formatter setting: print.timestamp, print.partition, print.offset,"
        " print.headers, print.key, print.value, key.separator (TAB),"
        " line.separator, headers.separator (,), null.literal (null)",
    )
    parser.add_argument(
        "--formatter-config",
        metavar="FILE",
        help="a properties file of formatter settings",
    )
    parser.add_argument(
        "--consumer-property",
        "--command-property",
        dest="consumer_property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a consumer setting (repeatable); wins over the file",
    )
    parser.add_argument(
        "--consumer.config",
        dest="command_config",
        metavar="FILE",
        help="a properties file of consumer settings (as --command-config)",
    )
    parser.add_argument(
        "--isolation-level",
        choices=("read_committed", "read_uncommitted"),
        help="read_committed hides records of open and aborted transactions",
    )
    parser.add_argument(
        "--skip-message-on-error",
        action="store_true",
        help="skip a record that cannot be printed instead of stopping",
    )
    return parser


def _check_arguments(options: argparse.Namespace) -> None:
    """@raise ToolError: for flags that do not go together, as Kafka words it."""
    if (options.topic is None) == (options.include is None):
        raise ToolError("Exactly one of --topic or --include must be given.")
    if options.partition is not None:
        if options.topic is None:
            raise ToolError("The topic is required when partition is specified.")
        if options.partition < 0:
            raise ToolError(
                f"Invalid partition {options.partition}: must not be negative."
            )
        if options.from_beginning and options.offset is not None:
            raise ToolError(
                "Options from-beginning and offset cannot be specified together."
            )
    elif options.offset is not None:
        raise ToolError("The partition is required when offset is specified.")
    if options.max_messages is not None and options.max_messages < 0:
        raise ToolError(f"Invalid --max-messages {options.max_messages}.")
    if options.include is not None:
        try:
            re.compile(options.include)
        except re.error as e:
            raise ToolError(
                f"Invalid --include pattern {options.include!r}: {e}"
            ) from None


def consumer_config(
    options: argparse.Namespace, group_suffix: Callable[[], int] | None = None
) -> dict[str, object]:
    """
    The consumer's settings, as Kafka's console consumer builds them: the
    C{--consumer.config} file, the C{--consumer-property} settings,
    C{auto.offset.reset} (C{earliest} with C{--from-beginning}, else
    C{latest}), C{bootstrap.servers}, C{client.id} (C{console-consumer} unless
    set), C{--isolation-level}, and the group: C{--group}, or one of the tool's
    own (C{console-consumer-NNNNN}, with C{enable.auto.commit=false} unless set),
    or none with C{--partition}. Keys and values are read as bytes.

    @param options: the parsed command line.
    @param group_suffix: makes the number of the tool's own group.
    @return: the settings.
    @raise ToolError: for group ids that disagree, a group with
        C{--partition}, or C{--from-beginning} against C{auto.offset.reset}.
    """
    config: dict[str, object] = {}
    if options.command_config:
        config.update(read_properties(options.command_config))
    config.update(parse_key_values(options.consumer_property, "consumer property"))
    groups = {
        str(group)
        for group in (options.group, config.get("group.id"))
        if group is not None
    }
    if len(groups) > 1:
        detected = ", ".join(f"'{group}'" for group in sorted(groups))
        raise ToolError(
            "The group ids provided in different places (directly using '--group',"
            " via '--consumer-property', or via '--consumer.config') do not match."
            f" Detected group ids: {detected}"
        )
    if groups and options.partition is not None:
        raise ToolError("Options group and partition cannot be specified together.")
    reset = config.get("auto.offset.reset")
    if reset is None:
        config["auto.offset.reset"] = EARLIEST if options.from_beginning else LATEST
    elif options.from_beginning and reset != EARLIEST:
        raise ToolError(
            "Can't simultaneously specify --from-beginning and"
            f" 'auto.offset.reset={reset}', please remove one option"
        )
    config["bootstrap.servers"] = options.bootstrap_server
    config.setdefault("client.id", "console-consumer")
    if options.isolation_level is not None:
        config["isolation.level"] = options.isolation_level
    if groups:
        config["group.id"] = groups.pop()
    elif options.partition is None:
        suffix = group_suffix() if group_suffix else random.randrange(100_000)
        config["group.id"] = f"console-consumer-{suffix}"
        config.setdefault("enable.auto.commit", "false")
    config["key.deserializer"] = "bytes"
    config["value.deserializer"] = "bytes"
    return config


def _formatter(options: argparse.Namespace) -> MessageFormatter:
    properties: dict[str, str] = {}
    if options.formatter_config:
        properties.update(read_properties(options.formatter_config))
    properties.update(parse_key_values(options.property))
    return MessageFormatter.from_properties(properties)


def _start(consumer: Consumer, options: argparse.Namespace) -> None:
    """Subscribe, or assign the one partition and move to C{--offset}."""
    if options.partition is None:
        if options.include is not None:
            consumer.subscribe(re.compile(options.include))
        else:
            consumer.subscribe([options.topic])
        return
    partition = TopicPartition(options.topic, options.partition)
    consumer.assign([partition])
    offset = parse_offset(options.offset) if options.offset is not None else None
    if offset is None:
        offset = EARLIEST if options.from_beginning else LATEST
    if offset == EARLIEST:
        consumer.seek_to_beginning([partition])
    elif offset == LATEST:
        consumer.seek_to_end([partition])
    else:
        consumer.seek(partition, int(offset))


@attrs.define
class Progress:
    """
    How far L{process} got.

    @ivar count: the records handed to the formatter.
    @ivar buffered: records polled but not yet printed.
    """

    count: int = 0
    buffered: deque[ConsumerRecord] = attrs.field(factory=deque)

    def rewind(self, consumer: _PollingConsumer) -> None:
        """
        Move each partition back to its first record polled but not printed, so
        that closing does not commit records that were never shown.
        """
        first: dict[TopicPartition, int] = {}
        for record in self.buffered:
            first.setdefault(
                TopicPartition(record.topic, record.partition), record.offset
            )
        self.buffered.clear()
        for partition, offset in first.items():
            consumer.seek(partition, offset)


def _receive(
    consumer: _PollingConsumer,
    progress: Progress,
    timeout_ms: int | None,
    now: Callable[[], float],
) -> ConsumerRecord | None:
    """
    @return: the next record, or C{None} if none came within C{timeout_ms}.
    @raise WakeupError: if the consumer was woken.
    """
    started = now()
    while not progress.buffered:
        wait = _POLL_SECONDS
        if timeout_ms is not None:
            left = timeout_ms / 1000 - (now() - started)
            if left <= 0:
                return None
            wait = min(wait, left)
        progress.buffered.extend(consumer.poll(wait))
    return progress.buffered.popleft()


def process(
    consumer: _PollingConsumer,
    formatter: MessageFormatter,
    progress: Progress,
    max_messages: int | None = None,
    timeout_ms: int | None = None,
    skip_message_on_error: bool = False,
    now: Callable[[], float] = time.monotonic,
) -> None:
    """
    Print records until C{max_messages} were printed, none came for
    C{timeout_ms}, or the consumer is woken.

    @param consumer: the consumer, subscribed or assigned.
    @param formatter: how to print a record.
    @param progress: where the count and the records not yet printed are kept.
    @param max_messages: how many records to print at most; C{None}: no limit.
    @param timeout_ms: the longest wait for a record; C{None}: no limit.
    @param skip_message_on_error: whether a record that cannot be printed is
        reported and skipped rather than ending the tool.
    @param now: the clock, in seconds.
    @raise ToolError: for a record that cannot be printed, unless skipped.
    """
    while max_messages is None or progress.count < max_messages:
        try:
            if not progress.buffered:
                sys.stdout.flush()
            record = _receive(consumer, progress, timeout_ms, now)
        except WakeupError:
            break
        if record is None:
            break
        progress.count += 1
        try:
            text = formatter.format(record)
        except Exception as e:
            if not skip_message_on_error:
                raise ToolError(f"cannot print the record at {record}: {e}") from e
            print(
                f"Error processing message, skipping this message: {e}", file=sys.stderr
            )
            continue
        sys.stdout.write(text)
    sys.stdout.flush()


@contextmanager
def _wakeup_on_signals(consumer: Consumer) -> Iterator[None]:
    """Make SIGINT and SIGTERM wake the consumer for the time of the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def wake(signum: int, frame: object) -> None:
        consumer.wakeup()

    kept = {
        number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)
    }
    for number in kept:
        signal.signal(number, wake)
    try:
        yield
    finally:
        for number, handler in kept.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


def main(argv: list[str]) -> int:
    """
    Print records of C{--topic} (or the topics C{--include} matches) until
    C{--max-messages}, C{--timeout-ms}, Ctrl-C or SIGTERM; then leave the group
    and report the count on standard error.

    @param argv: the command line, without the program's name.
    @return: 0.
    @raise ToolError: for flags that do not go together or a bad setting.
    """
    options = _parser().parse_args(argv)
    _check_arguments(options)
    formatter = _formatter(options)
    config = consumer_config(options)
    if options.offset is not None:
        parse_offset(options.offset)
    progress = Progress()
    consumer = Consumer(config)
    with _wakeup_on_signals(consumer):
        try:
            _start(consumer, options)
            process(
                consumer,
                formatter,
                progress,
                options.max_messages,
                options.timeout_ms,
                options.skip_message_on_error,
            )
        finally:
            try:
                try:
                    progress.rewind(consumer)
                finally:
                    consumer.close(timeout=options.timeout)
            finally:
                print(
                    f"Processed a total of {progress.count} messages", file=sys.stderr
                )
    return 0


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
