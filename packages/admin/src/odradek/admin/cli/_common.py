"""
What every command-line tool shares: an argument parser whose errors are one
line and a non-zero exit, Kafka's connection flags (C{--bootstrap-server},
C{--command-config}), Java-style properties files, C{key=value} lists, tables
aligned as Kafka's tools align them, and L{run_tool}, which turns the errors a tool
meets into a one-line message and an exit status instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, NoReturn, TypeVar

from odradek.client.admin import AdminClient
from odradek.client.config import ConfigError
from odradek.client.errors import KafkaError, RequestTimedOutError

__all__ = [
    "DEFAULT_TIMEOUT",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "ToolError",
    "ToolParser",
    "add_connection_flags",
    "client_config",
    "format_table",
    "parse_key_values",
    "read_properties",
    "run_tool",
    "with_admin",
]

_T = TypeVar("_T")

DEFAULT_TIMEOUT = 30.0
"""Seconds a tool waits for the cluster's answer to one call, by default."""

EXIT_ERROR = 1
"""The exit status of a tool that failed (bad flags, a Kafka error)."""

EXIT_INTERRUPTED = 130
"""The exit status of a tool interrupted with Ctrl-C, as a shell reports SIGINT."""


class ToolError(Exception):
    """
    A tool cannot go on; its message (one line, naming the bad value) is printed
    as C{Error: message} and the tool exits with L{EXIT_ERROR}.
    """


class ToolParser(argparse.ArgumentParser):
    """
    An argument parser whose errors are one line on standard error and exit
    status L{EXIT_ERROR}, rather than argparse's usage text and status 2.
    """

    def error(self, message: str) -> NoReturn:
        """
        Report a bad command line in one line and exit.

        @param message: what is wrong.
        """
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see --help)\n")


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    """
    Add the flags every tool that talks to a cluster takes: C{--bootstrap-server}
    (required), C{--command-config} (a properties file of client settings) and
    C{--timeout} (seconds to wait for each answer).

    @param parser: the tool's parser.
    """
    parser.add_argument(
        "--bootstrap-server",
        required=True,
        metavar="HOST:PORT[,HOST:PORT...]",
        help="the brokers to connect to",
    )
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        help="a properties file of client settings (e.g. security.protocol)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds to wait for the cluster to answer (default %(default)g)",
    )


def read_properties(path: str | Path) -> dict[str, str]:
    """
    Read a Java-style properties file: C{key=value} or C{key: value} lines,
    C{#} and C{!} comments, blank lines ignored.

    @param path: the file.
    @return: the properties, in file order.
    @raise ToolError: if the file cannot be read or a line has no key.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ToolError(f"cannot read properties file {path}: {e.strerror}") from None
    properties: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key, value = (line, "") if cut < 0 else (line[:cut], line[cut + 1 :])
        if not key.strip():
            raise ToolError(f"{path}, line {number}: no key in {raw!r}")
        properties[key.strip()] = value.strip()
    return properties


def parse_key_values(
    items: Iterable[str], what: str = "property", separator: str = "="
) -> dict[str, str]:
    """
    Parse C{key=value} items, as C{--property}, C{--config} and
    C{--producer-property} take them; an item may also hold several pairs
    separated by commas (C{a=1,b=2}), as C{--add-config} does.

    @param items: the items as given on the command line.
    @param what: what an item is, for the error message.
    @param separator: what separates a key from its value.
    @return: the values by key, later items winning.
    @raise ToolError: for an item without C{separator} or with an empty key,
        naming it.
    """
    parsed: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(separator)
        if not found or not key.strip():
            raise ToolError(f"invalid {what} {item!r}: expected key{separator}value")
        parsed[key.strip()] = value
    return parsed


def client_config(
    options: argparse.Namespace, extra: Mapping[str, object] | None = None
) -> dict[str, object]:
    """
    The client settings of a tool: C{bootstrap.servers} from
    C{--bootstrap-server}, then the C{--command-config} file, then C{extra}.

    @param options: the parsed command line (with L{add_connection_flags}'s
        flags).
    @param extra: settings of the tool's own (which win).
    @return: a configuration for a client of C{odradek.client}.
    """
    config: dict[str, object] = {"bootstrap.servers": options.bootstrap_server}
    if options.command_config:
        config.update(read_properties(options.command_config))
    if extra:
        config.update(extra)
    return config


def with_admin(options: argparse.Namespace, work: Callable[[AdminClient], _T]) -> _T:
    """
    Run C{work} with an admin client configured by L{client_config}, closed
    afterwards (waiting at most C{--timeout}).

    @param options: the parsed command line (with L{add_connection_flags}'s
        flags).
    @param work: what to do with the client.
    @return: what C{work} returns.
    """
    admin = AdminClient(client_config(options))
    try:
        return work(admin)
    finally:
        admin.close(timeout=options.timeout)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """
    Lay out rows under headers in left-aligned columns, each as wide as its
    widest cell, separated by a space, as Kafka's tools print groups and offsets.
    C{None} prints as C{-}.

    @param headers: the column titles.
    @param rows: the rows, one cell per column.
    @return: the table's lines joined with newlines, with no trailing space.
    """
    cells = [list(headers)] + [
        ["-" if cell is None else str(cell) for cell in row] for row in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join(
        " ".join(
            cell.ljust(width) for cell, width in zip(row, widths, strict=True)
        ).rstrip()
        for row in cells
    )


def run_tool(
    main: Callable[[list[str]], int],
    argv: Sequence[str] | None = None,
    stderr: IO[str] | None = None,
) -> int:
    """
    Run a tool's C{main} and turn what ends it into an exit status: a
    L{ToolError}, a configuration error or a Kafka error prints one line
    (C{Error: ...}) on standard error and gives L{EXIT_ERROR}; a timeout says
    the cluster did not answer; Ctrl-C gives L{EXIT_INTERRUPTED}; a closed
    standard output (C{| head}) ends quietly.

    @param main: the tool, given its arguments, returning its exit status.
    @param argv: the arguments (C{sys.argv[1:]} if C{None}).
    @param stderr: where errors go (C{sys.stderr} if C{None}).
    @return: the exit status.
    """
    err = sys.stderr if stderr is None else stderr
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return main(args)
    except ToolError as e:
        print(f"Error: {e}", file=err)
    except ConfigError as e:
        print(f"Error: invalid client configuration: {e}", file=err)
    except RequestTimedOutError as e:
        print(
            "Error: the cluster did not answer in time (is the broker running, and"
            f" is --bootstrap-server right?): {e.message}",
            file=err,
        )
    except KafkaError as e:
        detail = f": {e.message}" if e.message else ""
        print(f"Error: {e.name}{detail}", file=err)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): nothing more to say, and nowhere to say it.
        _silence_stdout()
        return 0
    return EXIT_ERROR


def _silence_stdout() -> None:
    """Point standard output at /dev/null so that its final flush cannot fail."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
