"""
Tests of L{odradek.admin.cli.console_producer}: how lines become records, the
producer settings the flags give, and bad command lines.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import console_producer
from odradek.admin.cli._common import ToolError, run_tool
from odradek.admin.cli.console_producer import LineReader, producer_config, read_lines
from odradek.client import ProducerConfig, ProducerRecord


def _options(*argv: str) -> argparse.Namespace:
    return console_producer._parser().parse_args(
        ["--bootstrap-server", "b:9092", "--topic", "t", *argv]
    )


class LineReaderTests(SynchronousTestCase):
    """
    L{LineReader} parses a line as Kafka's C{LineMessageReader} does.
    """

    def test_value_only(self) -> None:
        """By default the whole line is the value, with no key and no headers."""
        record = LineReader().record("t", "a\tb:c", 1)
        self.assertEqual(record, ProducerRecord("t", value=b"a\tb:c"))

    def test_key_tab(self) -> None:
        """With parse.key the text before the first TAB is the key."""
        record = LineReader(parse_key=True).record("t", "k\tv\tw", 1)
        self.assertEqual((record.key, record.value), (b"k", b"v\tw"))

    def test_key_separator(self) -> None:
        """key.separator may be any string, several characters long too."""
        reader = LineReader.from_properties(
            {"parse.key": "true", "key.separator": "::"}
        )
        record = reader.record("t", "user-1::hello:world", 1)
        self.assertEqual((record.key, record.value), (b"user-1", b"hello:world"))

    def test_empty_key_and_value(self) -> None:
        """A line that is only the separator has an empty key and an empty value."""
        record = LineReader(parse_key=True, key_separator=":").record("t", ":", 1)
        self.assertEqual((record.key, record.value), (b"", b""))

    def test_missing_key_separator(self) -> None:
        """A line without the key separator is an error naming the line."""
        reader = LineReader(parse_key=True, key_separator=":")
        with self.assertRaises(ToolError) as caught:
            reader.record("t", "no key here", 3)
        self.assertEqual(
            str(caught.exception),
            "No key separator found on line number 3: 'no key here'",
        )

    def test_ignore_error(self) -> None:
        """With ignore.error such a line is sent whole as the value, without a key."""
        reader = LineReader.from_properties(
            {"parse.key": "true", "key.separator": ":", "ignore.error": "TRUE"}
        )
        record = reader.record("t", "no key here", 3)
        self.assertEqual((record.key, record.value), (None, b"no key here"))

    def test_headers_key_value(self) -> None:
        """With both parse flags a line is C{h1:v1,h2:v2<TAB>key<TAB>value}."""
        reader = LineReader.from_properties(
            {"parse.headers": "true", "parse.key": "true"}
        )
        record = reader.record("t", "h1:v1,h2:v:2\tk\tv", 1)
        self.assertEqual(record.headers, (("h1", b"v1"), ("h2", b"v:2")))
        self.assertEqual((record.key, record.value), (b"k", b"v"))

    def test_headers_custom_separators(self) -> None:
        """headers.delimiter, headers.separator and headers.key.separator are used."""
        reader = LineReader.from_properties(
            {
                "parse.headers": "true",
                "headers.delimiter": "|",
                "headers.separator": ";",
                "headers.key.separator": "=",
            }
        )
        record = reader.record("t", "a=1;b=2|value", 1)
        self.assertEqual(record.headers, (("a", b"1"), ("b", b"2")))
        self.assertEqual(record.value, b"value")

    def test_header_without_separator(self) -> None:
        """A header pair without its key separator is an error naming pair and line."""
        reader = LineReader(parse_headers=True)
        with self.assertRaises(ToolError) as caught:
            reader.record("t", "h1\tv", 2)
        self.assertEqual(
            str(caught.exception),
            "No header key separator found in pair 'h1' on line number 2",
        )

    def test_header_without_separator_ignored(self) -> None:
        """With ignore.error such a pair is a header with a null value."""
        record = LineReader(parse_headers=True, ignore_error=True).record(
            "t", "h1\tv", 2
        )
        self.assertEqual((record.headers, record.value), ((("h1", None),), b"v"))

    def test_missing_headers_delimiter(self) -> None:
        """A line without the headers delimiter is an error naming the line."""
        with self.assertRaises(ToolError) as caught:
            LineReader(parse_headers=True).record("t", "v", 5)
        self.assertEqual(
            str(caught.exception), "No headers delimiter found on line number 5: 'v'"
        )

    def test_null_marker(self) -> None:
        """Key, value and header values equal to null.marker are sent as null."""
        reader = LineReader.from_properties(
            {"parse.headers": "true", "parse.key": "true", "null.marker": "NULL"}
        )
        record = reader.record("t", "h:NULL\tNULL\tNULL", 1)
        self.assertEqual(
            (record.headers, record.key, record.value), ((("h", None),), None, None)
        )

    def test_null_marker_header_key(self) -> None:
        """A header key equal to null.marker is refused."""
        reader = LineReader(parse_headers=True, null_marker="N")
        self.assertRaises(ToolError, reader.record, "t", "N:v\tx", 1)

    def test_equal_separators(self) -> None:
        """Separators that would make a line ambiguous are refused, as Kafka does."""
        with self.assertRaises(ToolError) as caught:
            LineReader.from_properties({"headers.separator": ":"})
        self.assertEqual(
            str(caught.exception),
            "headers.separator and headers.key.separator may not be equal",
        )

    def test_unknown_property(self) -> None:
        """An unknown property (a typo) is refused, naming it."""
        with self.assertRaises(ToolError) as caught:
            LineReader.from_properties({"parse.keys": "true"})
        self.assertIn("'parse.keys'", str(caught.exception))

    def test_non_utf8_bytes(self) -> None:
        """Bytes that are not UTF-8 reach the record unchanged."""
        stdin: Any = _Binary(b"k\t\xff\xfe\r\nplain\nlast")
        lines = list(read_lines(stdin))
        record = LineReader(parse_key=True).record("t", lines[0], 1)
        self.assertEqual((record.key, record.value), (b"k", b"\xff\xfe"))
        self.assertEqual(lines[1:], ["plain", "last"])


class _Binary:
    """A stand-in for standard input, with a binary C{buffer}."""

    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


class ProducerConfigTests(SynchronousTestCase):
    """
    L{producer_config} maps the flags to producer settings as Kafka's tool does.
    """

    def test_defaults(self) -> None:
        """Without flags: bytes in and out, client.id console-producer, nothing else."""
        self.assertEqual(
            producer_config(_options()),
            {
                "bootstrap.servers": "b:9092",
                "client.id": "console-producer",
                "key.serializer": "bytes",
                "value.serializer": "bytes",
            },
        )

    def test_flags(self) -> None:
        """Each flag sets its producer key; --timeout is linger.ms in milliseconds."""
        config = producer_config(
            _options(
                "--timeout",
                "250",
                "--request-required-acks",
                "1",
                "--batch-size",
                "1024",
                "--max-memory-bytes",
                "4096000",
                "--max-block-ms",
                "5000",
            )
        )
        self.assertEqual(config["linger.ms"], 250)
        self.assertEqual(config["acks"], "1")
        self.assertEqual(config["batch.size"], 1024)
        self.assertEqual(config["buffer.memory"], 4096000)
        self.assertEqual(config["max.block.ms"], 5000)
        ProducerConfig.of(config, {})

    def test_bare_compression_codec(self) -> None:
        """--compression-codec without a value means gzip."""
        config = producer_config(_options("--compression-codec"))
        self.assertEqual(config["compression.type"], "gzip")

    def test_compression_codec(self) -> None:
        """--compression-codec lz4 sets compression.type."""
        config = producer_config(_options("--compression-codec", "lz4"))
        self.assertEqual(config["compression.type"], "lz4")

    def test_producer_properties(self) -> None:
        """--producer-property wins over the file; flags given win over both."""
        path = Path(self.mktemp())
        path.write_text("linger.ms=7\nclient.id=from-file\nacks=0\n")
        config = producer_config(
            _options(
                "--producer.config",
                str(path),
                "--producer-property",
                "acks=1",
                "--producer-property",
                "linger.ms=9",
                "--timeout",
                "11",
            )
        )
        self.assertEqual(
            (config["client.id"], config["acks"], config["linger.ms"]),
            ("from-file", "1", 11),
        )

    def test_bad_producer_property(self) -> None:
        """A --producer-property without C{=} is refused, naming it."""
        with self.assertRaises(ToolError) as caught:
            producer_config(_options("--producer-property", "acks"))
        self.assertIn("'acks'", str(caught.exception))


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
            return run_tool(console_producer.main, list(argv), stderr=self.stderr)
        except SystemExit as e:
            return int(e.code or 0)

    def _assert_one_line(self, status: int, text: str) -> None:
        self.assertEqual(status, 1)
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(text, lines[0])

    def test_topic_required(self) -> None:
        """--topic is required."""
        self._assert_one_line(self._main("--bootstrap-server", "b:1"), "--topic")

    def test_bootstrap_required(self) -> None:
        """--bootstrap-server is required."""
        self._assert_one_line(self._main("--topic", "t"), "--bootstrap-server")

    def test_bad_codec(self) -> None:
        """An unknown compression codec is refused."""
        status = self._main(
            "--bootstrap-server", "b:1", "--topic", "t", "--compression-codec", "brotli"
        )
        self._assert_one_line(status, "brotli")

    def test_bad_number(self) -> None:
        """A flag that takes a number refuses other text."""
        status = self._main(
            "--bootstrap-server", "b:1", "--topic", "t", "--batch-size", "big"
        )
        self._assert_one_line(status, "--batch-size")

    def test_bad_property(self) -> None:
        """An unknown reader property is refused before connecting."""
        status = self._main(
            "--bootstrap-server", "b:1", "--topic", "t", "--property", "x=1"
        )
        self._assert_one_line(status, "Error: unknown reader property 'x'")
