"""
Commit after every record, naming the offset to commit (the seeds' per-record
commit with a map).

    python consumer_commit_map.py [bootstrap.servers] [topic] [group.id] [records]

The committed offset is the offset of the *next* record to read: the processed
record's offset plus one.
"""

import sys

from odradek.client import Consumer, OffsetAndMetadata, TopicPartition


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
            "value.deserializer": "str",
            "enable.auto.commit": False,
        }
    )
    wanted = int(records)
    seen = 0
    try:
        consumer.subscribe([topic])
        while not wanted or seen < wanted:
            for record in consumer.poll(1.0):
                print(f"record: {record.partition} {record.offset} {record.value}")
                current_offset = {
                    TopicPartition(record.topic, record.partition): OffsetAndMetadata(
                        record.offset + 1
                    )
                }
                consumer.commit_sync(current_offset)
                seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
