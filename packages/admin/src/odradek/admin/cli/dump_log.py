"""
C{odradek-dump-log}: Kafka's C{kafka-dump-log.sh} (C{DumpLogSegments}). Print the
batches of log segment files (C{.log}), with C{--deep-iteration} their records and
with C{--print-data-log} their keys and payloads, and the entries of offset and
time indexes (C{.index}, C{.timeindex}), checked against their segment's C{.log}.
Reads files only: no broker is needed, and it works on a stopped broker's
C{log.dirs} or on files copied from any Kafka-compatible broker that writes Kafka's
format.

Example::

    odradek-dump-log --print-data-log \\
        --files /var/lib/odradek/orders-0/00000000000000000000.log
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from odradek.admin.cli._common import EXIT_ERROR, ToolParser, run_tool
from odradek.admin.cli._segments import (
    DumpOptions,
    IndexProblems,
    check_offset_index,
    check_time_index,
    log_lines,
    offset_index_entries,
    time_index_entries,
)

__all__ = ["build_parser", "main", "run"]


class _FileError(Exception):
    """A file cannot be dumped; the message says why."""


def build_parser() -> ToolParser:
    """
    @return: the parser of Kafka's flags.
    """
    parser = ToolParser(
        prog="odradek-dump-log",
        description="Print the contents of log segment and index files.",
    )
    parser.add_argument(
        "--files",
        required=True,
        metavar="FILE1,FILE2,...",
        help="the comma-separated .log, .index and .timeindex files to dump",
    )
    parser.add_argument(
        "--print-data-log",
        action="store_true",
        help="print each record's key and payload (implies --deep-iteration)",
    )
    parser.add_argument(
        "--deep-iteration",
        action="store_true",
        help="print each record, not only each batch",
    )
    parser.add_argument(
        "--skip-record-metadata",
        action="store_true",
        help="leave offsets, timestamps and sizes out of the record lines",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        metavar="SIZE",
        help="read only the first SIZE bytes of each .log file",
    )
    parser.add_argument(
        "--verify-index-only",
        action="store_true",
        help="check index entries against the log without printing them",
    )
    parser.add_argument(
        "--index-sanity-check",
        action="store_true",
        help="only check that each index is well formed",
    )
    for flag in ("--offsets-decoder", "--transaction-log-decoder"):
        parser.add_argument(flag, action="store_true", help="not supported yet")
    return parser


def _read(path: Path, limit: int | None = None) -> bytes:
    """
    @return: the bytes of C{path}, the first C{limit} of them if given.
    @raise _FileError: if the file cannot be read.
    """
    try:
        with path.open("rb") as f:
            return f.read() if limit is None else f.read(limit)
    except OSError as e:
        raise _FileError(f"cannot read {path}: {e.strerror}") from None


def _base_offset(path: Path) -> int:
    """
    @return: the segment's base offset, the digits of the file's name.
    @raise _FileError: if the name does not start with an offset.
    """
    stem = path.name.split(".")[0]
    try:
        return int(stem)
    except ValueError:
        raise _FileError(
            f"{path.name} is not named after a base offset (like"
            " 00000000000000000000.log)"
        ) from None


def _segment_log(path: Path) -> Path:
    """@return: the C{.log} file of the segment of an index file."""
    return path.with_name(path.name.split(".")[0] + ".log")


def _dump_log(path: Path, options: argparse.Namespace, problems: IndexProblems) -> None:
    out = sys.stdout
    print(f"Log starting offset: {_base_offset(path)}", file=out)
    data = _read(path, options.max_bytes)
    dump_options = DumpOptions(
        print_data_log=options.print_data_log,
        deep_iteration=options.deep_iteration,
        skip_record_metadata=options.skip_record_metadata,
        max_bytes=options.max_bytes,
    )
    for line in log_lines(data, path.name, dump_options, problems):
        print(line, file=out)


def _sanity_check(path: Path, data: bytes, entry_size: int) -> None:
    """
    Check an index's size and that its offsets (relative) increase.

    @raise _FileError: if it is not well formed.
    """
    if len(data) % entry_size:
        raise _FileError(
            f"corrupt index {path}: its size {len(data)} is not a multiple of the"
            f" entry size {entry_size}"
        )
    print(f"{path} passed sanity check.", file=sys.stdout)


def _log_beside(path: Path) -> bytes | None:
    """@return: the segment's C{.log} bytes, or C{None} if there is none."""
    log = _segment_log(path)
    if not log.is_file():
        print(f"{log} not found: the index is not checked against it", file=sys.stderr)
        return None
    return _read(log)


def _dump_index(
    path: Path, options: argparse.Namespace, problems: IndexProblems
) -> None:
    base = _base_offset(path)
    data = _read(path)
    if options.index_sanity_check:
        _sanity_check(path, data, 8)
        return
    entries = list(offset_index_entries(data, base))
    if not entries:
        print(f"{path} is empty.", file=sys.stdout)
        return
    log_data = _log_beside(path)
    for offset, position in entries:
        if log_data is not None:
            check_offset_index(log_data, offset, position, problems)
        if not options.verify_index_only:
            print(f"offset: {offset} position: {position}", file=sys.stdout)


def _dump_time_index(
    path: Path, options: argparse.Namespace, problems: IndexProblems
) -> None:
    base = _base_offset(path)
    data = _read(path)
    if options.index_sanity_check:
        _sanity_check(path, data, 12)
        return
    entries = list(time_index_entries(data, base))
    log_data = _log_beside(path)
    if log_data is not None:
        check_time_index(log_data, entries, problems)
    if not options.verify_index_only:
        for timestamp, offset in entries:
            print(f"timestamp: {timestamp} offset: {offset}", file=sys.stdout)


def _report(name: str, problems: IndexProblems) -> None:
    """Print the problems found in one file on standard error, in Kafka's words."""
    err = sys.stderr
    if problems.mismatches:
        print(f"Mismatches in :{name}", file=err)
        for index_offset, log_offset in problems.mismatches:
            print(f"  Index offset: {index_offset}, log offset: {log_offset}", file=err)
    if problems.time_mismatches:
        print(f"Found timestamp mismatch in :{name}", file=err)
        for index_ts, log_ts in problems.time_mismatches:
            print(f"  Index timestamp: {index_ts}, log timestamp: {log_ts}", file=err)
    if problems.out_of_order:
        print(f"Found out of order timestamp in :{name}", file=err)
        for index_ts, previous in problems.out_of_order:
            print(
                f"  Index timestamp: {index_ts}, Previously indexed timestamp:"
                f" {previous}",
                file=err,
            )
    if problems.not_found:
        print("The following indexed offsets are not found in the log.", file=err)
        for index_offset, log_offset in problems.not_found:
            print(
                f"Indexed offset: {index_offset}, found log offset: {log_offset}",
                file=err,
            )
    if problems.non_consecutive:
        print(f"Non-consecutive offsets in {name}", file=err)
        for first, second in problems.non_consecutive:
            print(f"  {first} is followed by {second}", file=err)


_DUMPERS = {".log": _dump_log, ".index": _dump_index, ".timeindex": _dump_time_index}


def main(argv: list[str]) -> int:
    """
    Dump the files.

    @param argv: the command line's arguments.
    @return: the exit status: 1 if a file could not be read, else 0 (damage
        found in a file is reported, as Kafka's tool reports it, with status 0).
    """
    options = build_parser().parse_args(argv)
    parser_error = None
    if options.offsets_decoder or options.transaction_log_decoder:
        parser_error = (
            "--offsets-decoder and --transaction-log-decoder are not supported yet"
        )
    elif options.max_bytes is not None and options.max_bytes <= 0:
        parser_error = "--max-bytes must be greater than 0"
    if parser_error is not None:
        print(f"Error: {parser_error}", file=sys.stderr)
        return EXIT_ERROR
    status = 0
    found: list[tuple[str, IndexProblems]] = []
    for name in (item.strip() for item in options.files.split(",")):
        if not name:
            continue
        path = Path(name)
        print(f"Dumping {name}", file=sys.stdout)
        dumper = _DUMPERS.get(path.suffix)
        if dumper is None:
            print(f"Ignoring unknown file {name}", file=sys.stderr)
            continue
        problems = IndexProblems()
        try:
            dumper(path, options, problems)
        except _FileError as e:
            print(f"Error: {e}", file=sys.stderr)
            status = EXIT_ERROR
        found.append((str(path.absolute()), problems))
    sys.stdout.flush()
    for absolute, problems in found:
        _report(absolute, problems)
    return status


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
