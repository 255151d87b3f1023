"""
Record batches written by real Kafka producers decode as those producers meant.

The files in C{data/} were captured by C{integration/capture_batches.py}: for each
client and codec, the records of its Produce requests (C{.bin}) and what it was asked
to send (C{.json}).
"""

from __future__ import annotations

import json
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from odradek.client.records import (
    CompressionType,
    Record,
    RecordBatchReader,
    TimestampType,
)

DATA = Path(__file__).parent / "data"
CLIENTS = ("librdkafka", "kafka-python")
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")


class CapturedBatchesTests(SynchronousTestCase):
    """
    Tests decoding the captured batches.
    """

    def test_all_present(self) -> None:
        """Every client and codec has its capture."""
        names = {path.name for path in DATA.iterdir()}
        for client in CLIENTS:
            for codec in CODECS:
                self.assertIn(f"{client}-{codec}.bin", names)
                self.assertIn(f"{client}-{codec}.json", names)

    def test_decode(self) -> None:
        """Each capture decodes to the records sent, with the producer's state."""
        for client in CLIENTS:
            for codec in CODECS:
                with self.subTest(client=client, codec=codec):
                    self.check(client, codec)

    def check(self, client: str, codec: str) -> None:
        """
        Decode one capture and compare it with its JSON.

        @param client: the producing client.
        @param codec: the compression codec.
        """
        expected = json.loads((DATA / f"{client}-{codec}.json").read_text())
        reader = RecordBatchReader((DATA / f"{client}-{codec}.bin").read_bytes())
        records: list[Record] = []
        for batch in reader:
            batch.validate()
            self.assertEqual(
                batch.compression_type, CompressionType.from_kafka_name(codec)
            )
            self.assertEqual(batch.timestamp_type, TimestampType.CREATE_TIME)
            self.assertEqual(batch.producer_id, expected["producer_id"])
            self.assertEqual(batch.producer_epoch, expected["producer_epoch"])
            self.assertEqual(batch.base_sequence, len(records))
            self.assertFalse(batch.is_transactional or batch.is_control_batch)
            decoded = list(batch)
            self.assertEqual(len(decoded), batch.records_count)
            self.assertTrue(
                all(
                    batch.first_timestamp <= r.timestamp <= batch.max_timestamp
                    for r in decoded
                )
            )
            records.extend(decoded)
        self.assertFalse(reader.partial)
        self.assertEqual(len(records), expected["count"])
        self.assertEqual(
            [
                {
                    "key": None if r.key is None else r.key.hex(),
                    "value": None if r.value is None else r.value.hex(),
                    "headers": [
                        [k, None if v is None else v.hex()] for k, v in r.headers
                    ],
                }
                for r in records
            ],
            expected["records"],
        )
