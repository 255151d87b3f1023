"""
The record batch format v2 (magic 2) of the Kafka protocol: building batches
(L{RecordBatchBuilder}), reading them lazily (L{RecordBatchReader},
L{DefaultRecordBatch}), compression codecs, control records and the in-place header
rewrites: a partition leader's on append (L{assign_offsets}) and an idempotent
producer's when it renumbers a batch (L{restamp_producer_state}).

Sans-IO: nothing here touches a socket, a file or a reactor.
"""

from odradek.client.records._errors import ChecksumMismatchError
from odradek.client.records.builder import MAX_RECORD_OVERHEAD, RecordBatchBuilder
from odradek.client.records.codecs import CompressionType, compress, decompress
from odradek.client.records.control import (
    ControlRecordType,
    EndTransactionMarker,
    build_end_transaction_marker_batch,
)
from odradek.client.records.layout import (
    NO_PARTITION_LEADER_EPOCH,
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    NO_SEQUENCE,
    NO_TIMESTAMP,
    RECORD_BATCH_OVERHEAD,
    Header,
    Record,
    TimestampType,
)
from odradek.client.records.offsets import assign_offsets, restamp_producer_state
from odradek.client.records.reader import (
    DefaultRecordBatch,
    RecordBatchReader,
    iter_batches,
)

__all__ = [
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
