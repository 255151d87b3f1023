"""
Send records with a callback that reports each one's fate ("asynchronous").

    python producer_async.py [bootstrap.servers] [topic]

The callback runs on the producer's I/O thread once the broker has answered: keep it
short, and never block in it.
"""

import sys

from odradek.client import Producer, ProducerRecord, RecordMetadata


class PeterProducerCallback:
    """Print where a record went, or why it did not."""

    def __init__(self, record: ProducerRecord) -> None:
        self.record = record

    def __call__(
        self, metadata: RecordMetadata | None, error: BaseException | None
    ) -> None:
        if error is not None:
            print(f"Failed to send {self.record.value!r}: {error}", file=sys.stderr)
        else:
            assert metadata is not None
            print(
                f"Topic: {metadata.topic}, Partition: {metadata.partition}, "
                f"Offset: {metadata.offset}, Key: {self.record.key}, "
                f"Received Message: {self.record.value}"
            )


def main(bootstrap: str = "localhost:9092", topic: str = "peter-basic01") -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "key.serializer": "str",
            "value.serializer": "str",
        }
    )
    try:
        for i in range(3):
            record = ProducerRecord(
                topic, f"Apache Kafka is a distributed streaming platform - {i}"
            )
            producer.send(record, callback=PeterProducerCallback(record))
    finally:
        producer.close()  # waits for the callbacks of every record sent


if __name__ == "__main__":
    main(*sys.argv[1:])
