"""
Show which partitions the group gave this consumer (the seeds' ``assignment()``).

    python consumer_assignment.py [bootstrap.servers] [topic] [group.id]

The assignment is known once the consumer has joined its group, which happens inside
``poll``; it changes with every rebalance.
"""

import sys
import time

from odradek.client import Consumer


def main(
    bootstrap: str = "localhost:9092", topic: str = "test", group: str = "test-group"
) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.5)
        for tp in sorted(consumer.assignment()):
            print(f"assigned: {tp.topic} {tp.partition}")
    finally:
        consumer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
