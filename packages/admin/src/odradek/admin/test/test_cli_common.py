"""
Tests for L{odradek.admin.cli._common}: what every command-line tool shares.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli._common import (
    DEFAULT_TIMEOUT,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    ToolError,
    ToolParser,
    add_connection_flags,
    client_config,
    format_table,
    parse_key_values,
    read_properties,
    run_tool,
)
from odradek.client import errors
from odradek.client.config import ConfigError


def _parser() -> ToolParser:
    parser = ToolParser(prog="odradek-test")
    add_connection_flags(parser)
    return parser


class ToolParserTests(SynchronousTestCase):
    """
    Tests for L{ToolParser} and L{add_connection_flags}.
    """

    def test_badFlagIsOneLine(self) -> None:
        """An unknown flag prints one line naming it and exits with status 1."""
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        error = self.assertRaises(
            SystemExit, _parser().parse_args, ["--bootstrap-server", "h:1", "--nope"]
        )
        self.assertEqual(error.code, EXIT_ERROR)
        lines = stderr.getvalue().splitlines()
        self.assertEqual(len(lines), 1)
        self.assertIn("--nope", lines[0])
        self.assertTrue(lines[0].startswith("odradek-test: error:"))

    def test_bootstrapRequired(self) -> None:
        """Without --bootstrap-server the tool refuses to start, saying so."""
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        self.assertRaises(SystemExit, _parser().parse_args, [])
        self.assertIn("--bootstrap-server", stderr.getvalue())

    def test_defaults(self) -> None:
        """The timeout defaults to L{DEFAULT_TIMEOUT} and no command config."""
        options = _parser().parse_args(["--bootstrap-server", "h:1"])
        self.assertEqual(options.timeout, DEFAULT_TIMEOUT)
        self.assertIsNone(options.command_config)


class PropertiesTests(SynchronousTestCase):
    """
    Tests for L{read_properties}, L{parse_key_values} and L{client_config}.
    """

    def test_readProperties(self) -> None:
        """Both separators, comments and blank lines are read as Java does."""
        path = Path(self.mktemp())
        path.write_text(
            "# a comment\n! another\n\nsecurity.protocol=SSL\n"
            "client.id : tool\nempty=\nurl=a=b\n"
        )
        self.assertEqual(
            read_properties(path),
            {
                "security.protocol": "SSL",
                "client.id": "tool",
                "empty": "",
                "url": "a=b",
            },
        )

    def test_missingFile(self) -> None:
        """A properties file that cannot be read is a L{ToolError} naming it."""
        error = self.assertRaises(ToolError, read_properties, "/no/such/file")
        self.assertIn("/no/such/file", str(error))

    def test_lineWithoutKey(self) -> None:
        """A line with no key is refused, naming the file and line."""
        path = Path(self.mktemp())
        path.write_text("a=1\n=2\n")
        error = self.assertRaises(ToolError, read_properties, path)
        self.assertIn("line 2", str(error))

    def test_parseKeyValues(self) -> None:
        """Items split at the first separator; later items win."""
        self.assertEqual(
            parse_key_values(["a=1", "b=x=y", "a=3"]), {"a": "3", "b": "x=y"}
        )

    def test_badKeyValue(self) -> None:
        """An item without a separator is refused, naming it."""
        error = self.assertRaises(
            ToolError, parse_key_values, ["a=1", "oops"], "config"
        )
        self.assertIn("'oops'", str(error))
        self.assertIn("config", str(error))

    def test_clientConfig(self) -> None:
        """Bootstrap, then the command config file, then the tool's settings."""
        path = Path(self.mktemp())
        path.write_text("client.id=file\nacks=1\n")
        options = argparse.Namespace(bootstrap_server="h:9", command_config=str(path))
        self.assertEqual(
            client_config(options, {"acks": "all"}),
            {"bootstrap.servers": "h:9", "client.id": "file", "acks": "all"},
        )


class FormatTableTests(SynchronousTestCase):
    """
    Tests for L{format_table}.
    """

    def test_aligned(self) -> None:
        """Columns are as wide as their widest cell; None prints as a dash."""
        table = format_table(
            ["GROUP", "TOPIC", "LAG"], [["g", "orders", 5], ["group-2", "t", None]]
        )
        self.assertEqual(
            table.splitlines(),
            ["GROUP   TOPIC  LAG", "g       orders 5", "group-2 t      -"],
        )

    def test_noRows(self) -> None:
        """With no rows, the headers alone are printed."""
        self.assertEqual(format_table(["A", "B"], []), "A B")


class RunToolTests(SynchronousTestCase):
    """
    Tests for L{run_tool}.
    """

    def run_failing(self, error: BaseException) -> tuple[int, str]:
        def main(argv: list[str]) -> int:
            raise error

        stderr = io.StringIO()
        return run_tool(main, [], stderr), stderr.getvalue()

    def test_status(self) -> None:
        """The tool's own exit status is returned; its arguments are passed."""
        seen: list[list[str]] = []

        def main(argv: list[str]) -> int:
            seen.append(argv)
            return 3

        self.assertEqual(run_tool(main, ["--a"]), 3)
        self.assertEqual(seen, [["--a"]])

    def test_toolError(self) -> None:
        """A L{ToolError} prints one line and exits with status 1."""
        status, text = self.run_failing(ToolError("bad value 'x'"))
        self.assertEqual((status, text), (EXIT_ERROR, "Error: bad value 'x'\n"))

    def test_kafkaError(self) -> None:
        """A Kafka error prints its name and message on one line."""
        status, text = self.run_failing(
            errors.TopicExistsError("Topic 'a' already exists.")
        )
        self.assertEqual(status, EXIT_ERROR)
        self.assertEqual(
            text, "Error: TOPIC_ALREADY_EXISTS: Topic 'a' already exists.\n"
        )

    def test_kafkaErrorWithoutMessage(self) -> None:
        """A Kafka error without a message prints its name alone."""
        status, text = self.run_failing(errors.TopicExistsError())
        self.assertEqual((status, text), (EXIT_ERROR, "Error: TOPIC_ALREADY_EXISTS\n"))

    def test_timeout(self) -> None:
        """A timeout says the cluster did not answer, and why."""
        status, text = self.run_failing(
            errors.RequestTimedOutError("listTopics timed out; connection refused")
        )
        self.assertEqual(status, EXIT_ERROR)
        self.assertEqual(len(text.splitlines()), 1)
        self.assertIn("did not answer", text)
        self.assertIn("connection refused", text)

    def test_configError(self) -> None:
        """A bad client setting is reported as such."""
        status, text = self.run_failing(ConfigError("acks: bad value 'x'"))
        self.assertEqual(status, EXIT_ERROR)
        self.assertIn("invalid client configuration", text)

    def test_interrupted(self) -> None:
        """Ctrl-C exits with status 130, quietly."""
        self.assertEqual(self.run_failing(KeyboardInterrupt()), (EXIT_INTERRUPTED, ""))
