"""
C{odradek-console-producer}: send the lines of standard input to a topic, one
record per line, as Kafka's C{kafka-console-producer.sh} does.

With C{--property parse.key=true} each line is C{key<TAB>value} (the separator is
C{key.separator}); with C{parse.headers=true} the line starts with
C{h1:v1,h2:v2<TAB>}. C{--timeout} is Kafka's: the milliseconds a record may wait
for its batch to fill (C{linger.ms}), not the seconds the other tools wait for an
answer.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from types import FrameType

import attrs

from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    parse_key_values,
    read_properties,
    run_tool,
)
from odradek.admin.cli._formatter import property_settings
from odradek.client import Producer, ProducerRecord, RecordMetadata

__all__ = ["LineReader", "main", "producer_config", "read_lines", "run"]

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
"""The values C{--compression-codec} takes."""

_FLAGS = {
    "parse.key": "parse_key",
    "parse.headers": "parse_headers",
    "ignore.error": "ignore_error",
}

_TEXTS = {
    "key.separator": "key_separator",
    "headers.delimiter": "headers_delimiter",
    "headers.separator": "headers_separator",
    "headers.key.separator": "headers_key_separator",
    "null.marker": "null_marker",
}

# Flags that set one producer setting each, as Kafka's console producer maps them.
_SETTINGS = {
    "timeout": "linger.ms",
    "request_required_acks": "acks",
    "request_timeout_ms": "request.timeout.ms",
    "message_send_max_retries": "retries",
    "retry_backoff_ms": "retry.backoff.ms",
    "socket_buffer_size": "send.buffer.bytes",
    "max_memory_bytes": "buffer.memory",
    "batch_size": "batch.size",
    "max_partition_memory_bytes": "batch.size",
    "metadata_expiry_ms": "metadata.max.age.ms",
    "max_block_ms": "max.block.ms",
}


def _encode(text: str) -> bytes:
    """@return: C{text} as UTF-8, giving back bytes that did not decode as such."""
    return text.encode("utf-8", errors="surrogateescape")


@attrs.frozen
class LineReader:
    """
    How a line of input becomes a record: Kafka's C{LineMessageReader}.

    @ivar parse_key: whether a line starts with a key.
    @ivar key_separator: what ends the key.
    @ivar parse_headers: whether a line starts with headers.
    @ivar headers_delimiter: what ends the headers.
    @ivar headers_separator: what separates two headers.
    @ivar headers_key_separator: what separates a header's key from its value.
    @ivar ignore_error: whether a line without a separator is sent anyway (the
        whole line as the value) instead of being an error.
    @ivar null_marker: a key, value or header value equal to it is sent as null.
    """

    parse_key: bool = False
    key_separator: str = "\t"
    parse_headers: bool = False
    headers_delimiter: str = "\t"
    headers_separator: str = ","
    headers_key_separator: str = ":"
    ignore_error: bool = False
    null_marker: str | None = None

    @classmethod
    def from_properties(cls, properties: Mapping[str, str]) -> LineReader:
        """
        Build the reader the C{--property} settings describe.

        @param properties: the settings, by Kafka's names.
        @return: the reader.
        @raise ToolError: for an unknown property, or separators that would make
            lines ambiguous (Kafka's checks).
        """
        settings = property_settings(properties, _FLAGS, _TEXTS, "reader")
        reader = cls(**settings)  # type: ignore[arg-type]
        reader._check()
        return reader

    def _check(self) -> None:
        """@raise ToolError: if two separators that must differ are equal."""
        pairs = [
            ("headers.delimiter", "headers.separator"),
            ("headers.delimiter", "headers.key.separator"),
            ("headers.separator", "headers.key.separator"),
            ("null.marker", "key.separator"),
            ("null.marker", "headers.separator"),
            ("null.marker", "headers.delimiter"),
            ("null.marker", "headers.key.separator"),
        ]
        for first, second in pairs:
            if getattr(self, _TEXTS[first]) == getattr(self, _TEXTS[second]):
                raise ToolError(f"{first} and {second} may not be equal")
        for name in _TEXTS:
            if name != "null.marker" and getattr(self, _TEXTS[name]) == "":
                raise ToolError(f"{name} may not be empty")

    def _field(
        self, line: str, start: int, separator: str, what: str, number: int
    ) -> str | None:
        """
        @return: the text from C{start} to the next C{separator}, or C{None} if
            there is none and errors are ignored.
        @raise ToolError: if there is none.
        """
        end = line.find(separator, start)
        if end < 0:
            if self.ignore_error:
                return None
            raise ToolError(f"No {what} found on line number {number}: '{line}'")
        return line[start:end]

    def _nullable(self, text: str | None) -> bytes | None:
        if text is None or text == self.null_marker:
            return None
        return _encode(text)

    def _headers(self, text: str, number: int) -> list[tuple[str, bytes | None]]:
        """
        @return: the headers of C{text} (C{h1:v1,h2:v2}).
        @raise ToolError: for a pair without its key separator (unless errors are
            ignored: the pair is then a key with a null value), or a key equal to
            the null marker.
        """
        headers: list[tuple[str, bytes | None]] = []
        for pair in text.split(self.headers_separator):
            key, found, value = pair.partition(self.headers_key_separator)
            if not found:
                if not self.ignore_error:
                    raise ToolError(
                        f"No header key separator found in pair '{pair}' on line"
                        f" number {number}"
                    )
                headers.append((pair, None))
                continue
            if key == self.null_marker:
                raise ToolError(
                    f"Header keys should not be equal to the null marker"
                    f" '{self.null_marker}' as they can't be null"
                )
            headers.append((key, self._nullable(value)))
        return headers

    def record(self, topic: str, line: str, number: int) -> ProducerRecord:
        """
        Turn one line (without its line ending) into a record.

        @param topic: the topic to send to.
        @param line: the line.
        @param number: the line's number, from 1, for error messages.
        @return: the record, with bytes (or C{None}) as key, value and header
            values.
        @raise ToolError: for a line that lacks a separator it must have,
            naming the line.
        """
        start = 0
        headers: list[tuple[str, bytes | None]] = []
        if self.parse_headers:
            text = self._field(
                line, 0, self.headers_delimiter, "headers delimiter", number
            )
            if text is not None:
                start = len(text) + len(self.headers_delimiter)
                if text != self.null_marker:
                    headers = self._headers(text, number)
        key = None
        if self.parse_key:
            key = self._field(line, start, self.key_separator, "key separator", number)
            if key is not None:
                start += len(key) + len(self.key_separator)
        return ProducerRecord(
            topic,
            value=self._nullable(line[start:]),
            key=self._nullable(key),
            headers=headers,
        )


def read_lines(stream: Iterable[str]) -> Iterator[str]:
    """
    The lines of a stream without their line endings (C{\\n}, C{\\r\\n}).
    A binary stream's bytes that are not UTF-8 survive into the records.

    @param stream: a text stream, or one with a binary C{buffer} (standard input).
    @return: the lines.
    """
    source: Iterable[bytes | str] = getattr(stream, "buffer", stream)
    for raw in source:
        line = (
            raw.decode("utf-8", errors="surrogateescape")
            if isinstance(raw, bytes)
            else raw
        )
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        yield line


def _parser() -> ToolParser:
    parser = ToolParser(
        prog="odradek-console-producer",
        description="Send each line of standard input as a record to a topic.",
    )
    parser.add_argument(
        "--bootstrap-server",
        required=True,
        metavar="HOST:PORT[,HOST:PORT...]",
        help="the brokers to connect to",
    )
    parser.add_argument("--topic", required=True, help="the topic to produce to")
    parser.add_argument(
        "--producer.config",
        "--command-config",
        dest="command_config",
        metavar="FILE",
        help="a properties file of producer settings",
    )
    parser.add_argument(
        "--producer-property",
        "--command-property",
        dest="producer_property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a producer setting (repeatable); wins over the file",
    )
    parser.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a line reader setting: parse.key, key.separator (TAB), parse.headers,"
        " headers.delimiter (TAB), headers.separator (,), headers.key.separator (:),"
        " ignore.error, null.marker",
    )
    parser.add_argument(
        "--reader-config",
        metavar="FILE",
        help="a properties file of line reader settings",
    )
    parser.add_argument(
        "--sync",
        action="store_true",
        help="send each record and wait for it before the next",
    )
    parser.add_argument(
        "--compression-codec",
        nargs="?",
        const="gzip",
        choices=CODECS,
        help="compress batches (gzip if given without a value)",
    )
    number_flags = [
        ("--timeout", "MS", "the longest a record waits for its batch (linger.ms)"),
        ("--request-required-acks", "ACKS", "acks: all, -1, 0 or 1"),
        ("--request-timeout-ms", "MS", "request.timeout.ms"),
        ("--message-send-max-retries", "N", "retries"),
        ("--retry-backoff-ms", "MS", "retry.backoff.ms"),
        ("--socket-buffer-size", "BYTES", "send.buffer.bytes"),
        ("--max-memory-bytes", "BYTES", "buffer.memory"),
        ("--batch-size", "BYTES", "batch.size"),
        ("--max-partition-memory-bytes", "BYTES", "batch.size"),
        ("--metadata-expiry-ms", "MS", "metadata.max.age.ms"),
        ("--max-block-ms", "MS", "max.block.ms"),
    ]
    for flag, metavar, text in number_flags:
        kind = str if flag == "--request-required-acks" else int
        parser.add_argument(flag, type=kind, metavar=metavar, help=text)
    return parser


def producer_config(options: argparse.Namespace) -> dict[str, object]:
    """
    The producer's settings: C{bootstrap.servers}, the C{--producer.config}
    file, the C{--producer-property} settings, then the flags given (flags not
    given leave the client's defaults). Keys and values are sent as bytes, and
    C{client.id} is C{console-producer} unless set.

    @param options: the parsed command line.
    @return: the settings.
    @raise ToolError: for a bad C{--producer-property} or an unreadable file.
    """
    config: dict[str, object] = {"bootstrap.servers": options.bootstrap_server}
    if options.command_config:
        config.update(read_properties(options.command_config))
    config.update(parse_key_values(options.producer_property, "producer property"))
    config.setdefault("client.id", "console-producer")
    for dest, key in _SETTINGS.items():
        value = getattr(options, dest)
        if value is not None:
            config[key] = value
    if options.compression_codec is not None:
        config["compression.type"] = options.compression_codec
    config["key.serializer"] = "bytes"
    config["value.serializer"] = "bytes"
    return config


def _reader(options: argparse.Namespace) -> LineReader:
    properties: dict[str, str] = {}
    if options.reader_config:
        properties.update(read_properties(options.reader_config))
    properties.update(parse_key_values(options.property))
    return LineReader.from_properties(properties)


@attrs.define
class _Deliveries:
    """The failures the producer's callbacks reported (on its I/O thread)."""

    failed: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def callback_for(self, record: ProducerRecord) -> object:
        """@return: a send callback that reports C{record}'s failure."""

        def done(metadata: RecordMetadata | None, error: BaseException | None) -> None:
            if error is None:
                return
            with self.lock:
                self.failed += 1
            print(
                f"Error when sending message to topic {record.topic} with key:"
                f" {_size(record.key)}, value: {_size(record.value)} with error:"
                f" {_describe(error)}",
                file=sys.stderr,
            )

        return done


def _size(data: object) -> str:
    return "null" if data is None else f"{len(data)} bytes"  # type: ignore[arg-type]


def _describe(error: BaseException) -> str:
    name = getattr(error, "name", type(error).__name__)
    message = getattr(error, "message", None) or str(error)
    return f"{name}: {message}"


def _send_all(
    producer: Producer,
    reader: LineReader,
    topic: str,
    sync: bool,
    deliveries: _Deliveries,
) -> None:
    """Send every line of standard input; @raise ToolError: for a bad line."""
    stdin = sys.stdin
    prompt = stdin.isatty()
    out = sys.stdout
    lines = read_lines(stdin)
    number = 0
    while True:
        if prompt:
            out.write(">")
            out.flush()
        line = next(lines, None)
        if line is None:
            return
        number += 1
        record = reader.record(topic, line, number)
        if sync:
            producer.send(record).get()
        else:
            producer.send(record, callback=deliveries.callback_for(record))  # type: ignore[arg-type]


def main(argv: list[str]) -> int:
    """
    Send the lines of standard input to C{--topic}; at the end of the input (or
    on Ctrl-C or SIGTERM) deliver what was read and exit.

    @param argv: the command line, without the program's name.
    @return: 0, or 1 if a record could not be delivered.
    @raise ToolError: for a bad line, naming it, or a bad setting.
    """
    options = _parser().parse_args(argv)
    reader = _reader(options)
    producer = Producer(producer_config(options))
    deliveries = _Deliveries()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main_thread else None
    try:
        if in_main_thread:
            signal.signal(signal.SIGTERM, _interrupt)
        # Ctrl-C: what was read is delivered below, and the tool ends well.
        with contextlib.suppress(KeyboardInterrupt):
            _send_all(producer, reader, options.topic, options.sync, deliveries)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)
        producer.close()
    return 1 if deliveries.failed else 0


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Treat SIGTERM as Ctrl-C."""
    raise KeyboardInterrupt


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
