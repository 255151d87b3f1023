"""
Send records one at a time and wait for the broker's answer to each ("synchronous").

    python producer_sync.py [bootstrap.servers] [topic]

``send()`` returns a future; ``get()`` blocks until the broker has stored the record
and returns its metadata, or raises the error that stopped it.
"""

import sys

from odradek.client import Producer, ProducerRecord


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
            metadata = producer.send(record).get(timeout=30)
            print(
                f"Topic: {metadata.topic}, Partition: {metadata.partition}, "
                f"Offset: {metadata.offset}, Key: {record.key}, "
                f"Received Message: {record.value}"
            )
    finally:
        producer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
