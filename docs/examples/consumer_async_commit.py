"""
Commit without waiting for the broker, and learn the outcome in a callback (the
seeds' commitAsync with an OffsetCommitCallback).

    python consumer_async_commit.py [bootstrap.servers] [topic] [group.id] [records]

The callback runs on the application's thread during a later ``poll``,
``commit_sync`` or ``close``.
"""

import sys
from collections.abc import Mapping

from odradek.client import Consumer, OffsetAndMetadata, TopicPartition


def on_complete(
    offsets: Mapping[TopicPartition, OffsetAndMetadata], error: BaseException | None
) -> None:
    if error is not None:
        print(f"Commit failed for offsets {offsets}: {error}", file=sys.stderr)
    else:
        for tp, offset in sorted(offsets.items()):
            print(f"committed: {tp.partition} {offset.offset}")


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
            if polled:
                consumer.commit_async(callback=on_complete)
        consumer.commit_sync()  # the last positions, for sure, before leaving
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
