"""
Commit explicitly after each poll's records are processed (the seeds'
ConsumerWithSyncCommit).

    python consumer_sync_commit.py [bootstrap.servers] [topic] [group.id] [records]

``commit_sync()`` commits the positions after the last ``poll`` (the offset after
the last record it returned, per partition) and waits for the broker's answer.
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
            "value.deserializer": "str",
            "enable.auto.commit": False,
        }
    )
    wanted = int(records)
    seen = 0
    try:
        consumer.subscribe([topic])
        while not wanted or seen < wanted:
            polled = consumer.poll(1.0)
            for record in polled:
                print(f"record: {record.partition} {record.offset} {record.value}")
            seen += len(polled)
            consumer.commit_sync()
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
