"""
Commit what was processed when partitions are taken away (the seeds'
ConsumerWithRebalanceListener).

    python consumer_rebalance_listener.py [bootstrap.servers] [topic] [group.id]
        [records]

``on_partitions_revoked`` runs before a rebalance takes partitions away: committing
there means the next owner starts right after the last processed record.
``on_partitions_assigned`` runs after the new assignment arrives. Both run on the
application's thread, inside ``poll``, so they may call the consumer.
"""

import sys

from odradek.client import (
    Consumer,
    OffsetAndMetadata,
    RebalanceListener,
    TopicPartition,
)


class CommittingListener(RebalanceListener):
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer
        self.current_offsets: dict[TopicPartition, OffsetAndMetadata] = {}

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        print(f"Partitions are assigned: {sorted(str(tp) for tp in partitions)}")

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        print(f"Partitions are revoked: {sorted(str(tp) for tp in partitions)}")
        self.consumer.commit_sync(self.current_offsets)
        self.current_offsets.clear()


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
    listener = CommittingListener(consumer)
    wanted = int(records)
    seen = 0
    try:
        consumer.subscribe([topic], listener=listener)
        while not wanted or seen < wanted:
            for record in consumer.poll(1.0):
                print(f"record: {record.partition} {record.offset} {record.value}")
                listener.current_offsets[
                    TopicPartition(record.topic, record.partition)
                ] = OffsetAndMetadata(record.offset + 1)
                consumer.commit_sync(listener.current_offsets)
                seen += 1
    finally:
        consumer.close()  # runs on_partitions_revoked once more, then leaves


if __name__ == "__main__":
    main(*sys.argv[1:])
