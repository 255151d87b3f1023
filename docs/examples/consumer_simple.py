"""
Join a consumer group and print every record that arrives (the seeds'
SimpleConsumer).

    python consumer_simple.py [bootstrap.servers] [topic] [group.id] [records]

With the default ``enable.auto.commit=true`` the consumer commits the positions
every ``auto.commit.interval.ms`` (5 s) from inside ``poll``, and once more when it
closes. It stops after ``records`` records (by default it runs until killed).
"""

import sys

from odradek.client import Consumer


def main(
    bootstrap: str = "localhost:9092",
    topic: str = "test",
    group: str = "test-group",
    records: str = "0",
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "key.deserializer": "str",
            "value.deserializer": "str",
        }
    )
    wanted = int(records)
    seen = 0
    try:
        consumer.subscribe([topic])
        while not wanted or seen < wanted:
            for record in consumer.poll(1.0):
                print(f"record: {record.partition} {record.offset} {record.value}")
                seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
