"""
Capture record batches from real producers (librdkafka, kafka-python) live, and
check that Odradek's reader decodes them to the records they were asked to send.

Each producer runs in a child process with a deadline; the capture broker's thread and
sockets are closed when the test ends, pass or fail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from capture_batches import CLIENTS, CODECS, CaptureBroker, capture

from odradek.client.records import CompressionType, RecordBatchReader


def _records_as_json(data: bytes) -> tuple[list[dict[str, object]], list[int]]:
    """
    Decode a capture as the JSON describes records, checking each batch's CRC.

    @param data: the captured records.
    @return: the records, and each batch's compression id.
    """
    records: list[dict[str, object]] = []
    codecs = []
    reader = RecordBatchReader(data)
    for batch in reader:
        batch.validate()
        codecs.append(int(batch.compression_type))
        records.extend(
            {
                "key": None if r.key is None else r.key.hex(),
                "value": None if r.value is None else r.value.hex(),
                "headers": [[k, None if v is None else v.hex()] for k, v in r.headers],
            }
            for r in batch
        )
    assert not reader.partial
    return records, codecs


@pytest.fixture(scope="module")
def broker() -> Iterator[CaptureBroker]:
    """A capture broker, stopped (thread joined, sockets closed) after the module."""
    threads_before = set(threading.enumerate())
    with CaptureBroker() as running:
        yield running
    assert not running.unexpected, running.unexpected
    leftover = [t for t in threading.enumerate() if t not in threads_before]
    assert not leftover, leftover


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("client", CLIENTS)
def test_capture_and_decode(
    broker: CaptureBroker, client: str, codec: str, tmp_path: Path
) -> None:
    """A real producer's batches decode to the records it sent, in its codec."""
    records_path, json_path = capture(broker, client, codec, tmp_path)
    expected = json.loads(json_path.read_text())
    records, codecs = _records_as_json(records_path.read_bytes())
    assert records == expected["records"]
    assert set(codecs) == {int(CompressionType.from_kafka_name(codec))}
