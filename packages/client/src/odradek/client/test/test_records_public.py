"""
The public surface of L{odradek.client.records}.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors, records

PUBLIC_NAMES = [
    "MAX_RECORD_OVERHEAD",
    "NO_PARTITION_LEADER_EPOCH",
    "NO_PRODUCER_EPOCH",
    "NO_PRODUCER_ID",
    "NO_SEQUENCE",
    "NO_TIMESTAMP",
    "RECORD_BATCH_OVERHEAD",
    "ChecksumMismatchError",
    "CompressionType",
    "ControlRecordType",
    "DefaultRecordBatch",
    "EndTransactionMarker",
    "Header",
    "Record",
    "RecordBatchBuilder",
    "RecordBatchReader",
    "TimestampType",
    "assign_offsets",
    "build_end_transaction_marker_batch",
    "compress",
    "decompress",
    "iter_batches",
    "restamp_producer_state",
]


class PublicNamesTests(SynchronousTestCase):
    """
    Tests pinning what C{odradek.client.records} exports.
    """

    def test_all(self) -> None:
        """__all__ lists exactly the public names, each of which exists."""
        self.assertEqual(sorted(records.__all__), sorted(PUBLIC_NAMES))
        for name in PUBLIC_NAMES:
            self.assertTrue(hasattr(records, name), name)

    def test_errors_are_kafka_errors(self) -> None:
        """The precise CRC error is caught as Kafka's CORRUPT_MESSAGE."""
        self.assertTrue(
            issubclass(records.ChecksumMismatchError, errors.CorruptRecordError)
        )
        self.assertEqual(records.ChecksumMismatchError.code, 2)

    def test_sans_io(self) -> None:
        """No records module imports Twisted or the client's I/O packages."""
        package = Path(inspect.getfile(records)).parent
        forbidden = (
            "twisted",
            "odradek.client.network",
            "odradek.client.producer",
            "odradek.client.consumer",
        )
        for path in package.glob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                else:
                    continue
                for module in modules:
                    self.assertFalse(
                        module.startswith(forbidden), f"{path.name}: {module}"
                    )

    def test_modules_small(self) -> None:
        """Each records module stays under 500 lines."""
        package = Path(inspect.getfile(records)).parent
        for path in package.glob("*.py"):
            self.assertLess(len(path.read_text().splitlines()), 500, path.name)
        self.assertIn("odradek.client.records", sys.modules)
