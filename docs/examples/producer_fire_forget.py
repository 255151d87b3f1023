"""
Send records without waiting to hear whether they arrived ("fire and forget").

    python producer_fire_forget.py [bootstrap.servers] [topic]

The fastest way to send, and the one that tells you least: a record the broker
refuses is lost without a word. ``close()`` still waits for every record sent to be
delivered or to fail.
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
            producer.send(record)  # the result is not looked at
    finally:
        producer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
