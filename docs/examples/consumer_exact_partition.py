"""
Read one chosen partition without a consumer group rebalance (the seeds'
ConsumerWithExactPartition), and show what is assigned.

    python consumer_exact_partition.py [bootstrap.servers] [topic] [partition]
        [records]

``assign`` takes the partitions as given: no group coordinator decides, and no other
consumer shares them. ``assignment()`` tells which partitions a consumer has, for an
assigned consumer as for one in a group.
"""

import sys

from odradek.client import Consumer, TopicPartition


def main(
    bootstrap: str = "localhost:9092",
    topic: str = "test",
    partition: str = "0",
    records: str = "0",
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "auto.offset.reset": "earliest",
            "value.deserializer": "str",
        }
    )
    wanted = int(records)
    seen = 0
    try:
        consumer.assign([TopicPartition(topic, int(partition))])
        print(f"assignment: {sorted(str(tp) for tp in consumer.assignment())}")
        while not wanted or seen < wanted:
            for record in consumer.poll(1.0):
                print(f"record: {record.partition} {record.offset} {record.value}")
                seen += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
