"""
Shut a consumer down cleanly on SIGTERM (the seeds' shutdown hook calling
``wakeup()``).

    python consumer_wakeup.py [bootstrap.servers] [topic] [group.id]

``wakeup()`` is safe in a signal handler: the ``poll`` blocked in the main thread
raises ``WakeupError`` at once, and ``close()`` in the ``finally`` commits and
leaves the group, so the other members take the partitions over without waiting
for the session timeout.
"""

import signal
import sys

from odradek.client import Consumer, WakeupError


def main(
    bootstrap: str = "localhost:9092", topic: str = "test", group: str = "test-group"
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

    def shutdown_hook(signum: int, frame: object) -> None:
        print("Shutdown hook", flush=True)
        consumer.wakeup()

    signal.signal(signal.SIGTERM, shutdown_hook)
    try:
        consumer.subscribe([topic])
        print("polling", flush=True)
        while True:
            for record in consumer.poll(60.0):
                print(f"record: {record.partition} {record.offset} {record.value}")
            consumer.commit_sync()
    except WakeupError:
        print("poll() was woken up", flush=True)
    finally:
        consumer.close()
        print("Consumer close", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
