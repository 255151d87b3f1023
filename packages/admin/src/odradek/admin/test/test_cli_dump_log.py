"""
Tests for L{odradek.admin.cli.dump_log} and L{odradek.admin.cli._segments}: segment
and index files built in a temporary directory with C{RecordBatchBuilder}, plain,
compressed, transactional, corrupt and truncated, dumped in Kafka's words.
"""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.admin.cli import dump_log
from odradek.admin.cli._common import run_tool
from odradek.admin.cli._segments import (
    DumpOptions,
    IndexProblems,
    batch_line,
    log_lines,
    record_line,
)
from odradek.client.records import (
    CompressionType,
    ControlRecordType,
    DefaultRecordBatch,
    EndTransactionMarker,
    RecordBatchBuilder,
    build_end_transaction_marker_batch,
)

BASE = 1700000000000
NAME = "00000000000000000000"


def plain_batch(base_offset: int = 0, count: int = 3) -> bytes:
    """@return: a batch of C{count} records C{hello0 ...}, no key, header C{h}."""
    builder = RecordBatchBuilder(base_offset=base_offset, partition_leader_epoch=0)
    for index in range(count):
        builder.append(BASE + index, None, b"hello%d" % index, headers=[("h", b"v")])
    return builder.build()


def keyed_batch(base_offset: int, compression: CompressionType) -> bytes:
    """@return: a compressed batch of an idempotent producer, one keyed record."""
    builder = RecordBatchBuilder(
        compression_type=compression,
        base_offset=base_offset,
        partition_leader_epoch=0,
        producer_id=7,
        producer_epoch=1,
        base_sequence=5,
    )
    builder.append(BASE + 10, b"k", b"zipped")
    builder.append(BASE + 11, b"k2", None)
    return builder.build()


class LinesTests(SynchronousTestCase):
    """
    The batch and record lines have Kafka's fields and words.
    """

    def test_batch_line(self) -> None:
        """A batch line lists Kafka's fields in Kafka's order."""
        batch = DefaultRecordBatch.from_buffer(plain_batch())
        self.assertEqual(
            batch_line(batch, 0),
            "baseOffset: 0 lastOffset: 2 count: 3 baseSequence: -1 lastSequence: -1"
            " producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 0"
            " isTransactional: false isControl: false deleteHorizonMs:"
            f" OptionalLong.empty position: 0 CreateTime: {BASE + 2} size:"
            f" {batch.size_in_bytes} magic: 2 compresscodec: none crc: {batch.crc}"
            " isvalid: true",
        )

    def test_record_line(self) -> None:
        """A record line has its metadata and, with --print-data-log, its payload."""
        batch = DefaultRecordBatch.from_buffer(plain_batch())
        record = next(iter(batch))
        self.assertEqual(
            record_line(batch, record, DumpOptions(print_data_log=True)),
            f"| offset: 0 CreateTime: {BASE} keySize: -1 valueSize: 6 sequence: -1"
            " headerKeys: [h] payload: hello0",
        )
        self.assertEqual(
            record_line(batch, record, DumpOptions(deep_iteration=True)),
            f"| offset: 0 CreateTime: {BASE} keySize: -1 valueSize: 6 sequence: -1"
            " headerKeys: [h]",
        )

    def test_skip_metadata(self) -> None:
        """--skip-record-metadata leaves only the key and payload."""
        batch = DefaultRecordBatch.from_buffer(keyed_batch(3, CompressionType.NONE))
        record = next(iter(batch))
        options = DumpOptions(print_data_log=True, skip_record_metadata=True)
        self.assertEqual(
            record_line(batch, record, options), "| key: k payload: zipped"
        )

    def test_sequences(self) -> None:
        """Each record's sequence is the base sequence plus its offset delta."""
        batch = DefaultRecordBatch.from_buffer(keyed_batch(3, CompressionType.NONE))
        lines = [record_line(batch, r, DumpOptions(True)) for r in batch]
        self.assertIn("sequence: 5 ", lines[0])
        self.assertIn("sequence: 6 ", lines[1])
        self.assertTrue(lines[1].endswith("headerKeys: [] key: k2"))

    def test_control_batch(self) -> None:
        """A transaction marker's line names it; no payload is printed."""
        data = build_end_transaction_marker_batch(
            EndTransactionMarker(ControlRecordType.COMMIT, 4),
            producer_id=9,
            producer_epoch=0,
            timestamp=BASE,
            base_offset=5,
        )
        lines = list(
            log_lines(data, "x.log", DumpOptions(print_data_log=True), IndexProblems())
        )
        self.assertIn("isTransactional: true isControl: true", lines[0])
        self.assertTrue(
            lines[1].endswith("endTxnMarker: COMMIT coordinatorEpoch: 4"), lines[1]
        )


def _run(argv: list[str]) -> tuple[int, str, str]:
    """Run the tool's main as run_tool does, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    real_out, real_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            status = run_tool(dump_log.main, argv, stderr=err)
        except SystemExit as e:
            status = int(e.code or 0)
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    return status, out.getvalue(), err.getvalue()


class DumpLogTests(SynchronousTestCase):
    """
    C{odradek-dump-log} on segment files in a temporary directory.
    """

    def setUp(self) -> None:
        self.directory = Path(self.mktemp())
        self.directory.mkdir()
        self.first = plain_batch()
        self.second = keyed_batch(3, CompressionType.GZIP)

    def write(self, suffix: str, data: bytes, name: str = NAME) -> str:
        path = self.directory / (name + suffix)
        path.write_bytes(data)
        return str(path)

    def test_print_data_log(self) -> None:
        """Kafka's heading, batch lines and record lines with payloads."""
        path = self.write(".log", self.first + self.second)
        status, out, err = _run(["--files", path, "--print-data-log"])
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(lines[:2], [f"Dumping {path}", "Log starting offset: 0"])
        self.assertEqual(
            [line.split(" CreateTime")[0] for line in lines[2:]],
            [
                "baseOffset: 0 lastOffset: 2 count: 3 baseSequence: -1 lastSequence: -1"
                " producerId: -1 producerEpoch: -1 partitionLeaderEpoch: 0"
                " isTransactional: false isControl: false deleteHorizonMs:"
                " OptionalLong.empty position: 0",
                "| offset: 0",
                "| offset: 1",
                "| offset: 2",
                "baseOffset: 3 lastOffset: 4 count: 2 baseSequence: 5 lastSequence: 6"
                " producerId: 7 producerEpoch: 1 partitionLeaderEpoch: 0"
                " isTransactional: false isControl: false deleteHorizonMs:"
                f" OptionalLong.empty position: {len(self.first)}",
                "| offset: 3",
                "| offset: 4",
            ],
        )
        self.assertIn("compresscodec: gzip", lines[6])
        self.assertTrue(lines[7].endswith("key: k payload: zipped"))

    def test_shallow(self) -> None:
        """Without --deep-iteration only batches are printed."""
        path = self.write(".log", self.first + self.second)
        _, out, _ = _run(["--files", path])
        self.assertEqual(len(out.splitlines()), 4)

    def test_compressed_codecs(self) -> None:
        """Each codec's batch is named and its records read."""
        for codec in (
            CompressionType.SNAPPY,
            CompressionType.LZ4,
            CompressionType.ZSTD,
        ):
            path = self.write(".log", keyed_batch(0, codec))
            _, out, _ = _run(["--files", path, "--print-data-log"])
            self.assertIn(f"compresscodec: {codec.kafka_name}", out)
            self.assertIn("payload: zipped", out)

    def test_bad_crc(self) -> None:
        """A damaged batch is reported isvalid: false, no traceback."""
        data = bytearray(self.first)
        data[-1] ^= 0xFF
        path = self.write(".log", bytes(data))
        status, out, err = _run(["--files", path, "--deep-iteration"])
        self.assertEqual((status, err), (0, ""))
        self.assertIn("isvalid: false", out)

    def test_undecodable_records(self) -> None:
        """Records that do not decompress are reported and the walk goes on."""
        data = bytearray(self.second)
        data[-8:] = b"\x00" * 8
        path = self.write(".log", bytes(data) + plain_batch(5, 1))
        status, out, _ = _run(["--files", path, "--print-data-log"])
        self.assertEqual(status, 0)
        self.assertIn("| cannot read the records of this batch", out)
        self.assertIn("baseOffset: 5", out)

    def test_truncated(self) -> None:
        """A torn last batch is counted as invalid bytes at the end."""
        path = self.write(".log", self.first + self.second[:30])
        status, out, _ = _run(["--files", path])
        self.assertEqual(status, 0)
        self.assertEqual(
            out.splitlines()[-1], f"Found 30 invalid bytes at the end of {NAME}.log"
        )

    def test_bad_header(self) -> None:
        """A batch with a bad magic stops the walk with a message."""
        data = bytearray(self.second)
        data[16] = 9
        path = self.write(".log", self.first + bytes(data))
        _, out, _ = _run(["--files", path])
        lines = out.splitlines()
        self.assertTrue(
            lines[-2].startswith(f"Found a corrupt batch at position {len(self.first)}")
        )
        self.assertIn("invalid magic 9", lines[-2])
        self.assertEqual(
            lines[-1], f"Found {len(data)} invalid bytes at the end of {NAME}.log"
        )

    def test_max_bytes(self) -> None:
        """--max-bytes reads only the batches within the limit, silently."""
        path = self.write(".log", self.first + self.second)
        _, out, _ = _run(["--files", path, "--max-bytes", str(len(self.first) + 5)])
        self.assertEqual(len(out.splitlines()), 3)

    def test_non_consecutive(self) -> None:
        """Offsets that skip are reported on standard error at the end."""
        path = self.write(".log", self.first + plain_batch(10, 1))
        _, _, err = _run(["--files", path, "--deep-iteration"])
        self.assertEqual(
            err.splitlines(),
            [
                f"Non-consecutive offsets in {Path(path).absolute()}",
                "  2 is followed by 10",
            ],
        )

    def test_offset_index(self) -> None:
        """Index entries print as offset and position; the zero tail is ignored."""
        self.write(".log", self.first + self.second)
        entries = struct.pack(">ii", 2, 0) + struct.pack(">ii", 4, len(self.first))
        path = self.write(".index", entries + bytes(80))
        status, out, err = _run(["--files", path])
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(
            out.splitlines()[1:],
            ["offset: 2 position: 0", f"offset: 4 position: {len(self.first)}"],
        )

    def test_index_base_offset(self) -> None:
        """Offsets are relative to the base offset of the file's name."""
        path = self.write(
            ".index", struct.pack(">ii", 2, 0), name="00000000000000000100"
        )
        _status, out, err = _run(["--files", path])
        self.assertIn("offset: 102 position: 0", out)
        self.assertIn("not found: the index is not checked", err)

    def test_index_mismatch(self) -> None:
        """A wrong entry is reported; --verify-index-only hides the entries."""
        self.write(".log", self.first + self.second)
        path = self.write(".index", struct.pack(">ii", 3, 0))
        status, out, err = _run(["--files", path, "--verify-index-only"])
        self.assertEqual(status, 0)
        self.assertEqual(out.splitlines(), [f"Dumping {path}"])
        self.assertEqual(
            err.splitlines(),
            [
                f"Mismatches in :{Path(path).absolute()}",
                "  Index offset: 3, log offset: 2",
            ],
        )

    def test_empty_index(self) -> None:
        """An index without entries says it is empty."""
        path = self.write(".index", b"")
        _, out, _ = _run(["--files", path])
        self.assertIn(f"{path} is empty.", out)

    def test_time_index(self) -> None:
        """Time index entries print as timestamp and offset, checked against the log."""
        self.write(".log", self.first + self.second)
        entries = struct.pack(">qi", BASE + 2, 2) + struct.pack(">qi", BASE + 5, 3)
        path = self.write(".timeindex", entries + bytes(24))
        status, out, err = _run(["--files", path])
        self.assertEqual(status, 0)
        self.assertEqual(
            out.splitlines()[1:],
            [f"timestamp: {BASE + 2} offset: 2", f"timestamp: {BASE + 5} offset: 3"],
        )
        self.assertEqual(
            err.splitlines(),
            [
                "The following indexed offsets are not found in the log.",
                "Indexed offset: 3, found log offset: 4",
            ],
        )

    def test_time_index_mismatch(self) -> None:
        """A wrong or decreasing timestamp is reported."""
        self.write(".log", self.first + self.second)
        entries = struct.pack(">qi", BASE + 50, 2) + struct.pack(">qi", BASE + 11, 4)
        path = self.write(".timeindex", entries)
        _, _, err = _run(["--files", path])
        absolute = Path(path).absolute()
        self.assertEqual(
            err.splitlines(),
            [
                f"Found timestamp mismatch in :{absolute}",
                f"  Index timestamp: {BASE + 50}, log timestamp: {BASE + 2}",
                f"Found out of order timestamp in :{absolute}",
                f"  Index timestamp: {BASE + 11}, Previously indexed timestamp:"
                f" {BASE + 50}",
            ],
        )

    def test_sanity_check(self) -> None:
        """--index-sanity-check passes a well-formed index and fails a torn one."""
        good = self.write(".index", struct.pack(">ii", 2, 0))
        bad = self.write(".timeindex", bytes(13))
        status, out, err = _run(["--files", f"{good},{bad}", "--index-sanity-check"])
        self.assertEqual(status, 1)
        self.assertIn(f"{good} passed sanity check.", out)
        self.assertIn("not a multiple of the entry size 12", err)

    def test_missing_file(self) -> None:
        """A file that cannot be read is one error line; the others are dumped."""
        path = self.write(".log", self.first)
        missing = str(self.directory / "00000000000000000009.log")
        status, out, err = _run(["--files", f"{missing},{path}"])
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 1)
        self.assertIn("No such file", err)
        self.assertIn("baseOffset: 0", out)

    def test_unknown_file(self) -> None:
        """A file of another kind is ignored, as Kafka ignores it."""
        path = self.write(".txt", b"")
        status, _, err = _run(["--files", path])
        self.assertEqual(status, 0)
        self.assertEqual(err, f"Ignoring unknown file {path}\n")

    def test_bad_name(self) -> None:
        """A segment not named after its base offset is a clear error."""
        path = self.directory / "segment.log"
        path.write_bytes(self.first)
        status, _, err = _run(["--files", str(path)])
        self.assertEqual(status, 1)
        self.assertIn("is not named after a base offset", err)

    def test_bad_flags(self) -> None:
        """Bad or unsupported flags give one line and exit status 1."""
        for argv in (
            [],
            ["--files", "x.log", "--bogus"],
            ["--files", "x.log", "--offsets-decoder"],
            ["--files", "x.log", "--max-bytes", "0"],
        ):
            status, out, err = _run(argv)
            self.assertEqual((status, out), (1, ""), argv)
            self.assertEqual(len(err.splitlines()), 1, err)
