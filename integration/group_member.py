"""
One member of a consumer group, run as its own process by the group tests, with a
real client library (confluent-kafka, kafka-python or aiokafka) or the Odradek SDK.

It subscribes to one topic, polls, and after each poll that returned records it
prints them and then commits them synchronously; so a record printed but not
committed may be printed again by the member that takes its partition over, and a
committed record never is. Every event is one JSON line on standard output:

    {"event": "started", "library": "kafka-python 2.3.3"}  (kafka-python only)
    {"event": "assigned", "partitions": [...], "at": <monotonic seconds>}
    {"event": "revoked", "partitions": [...], "at": ...}
    {"event": "records", "records": [[partition, offset, value], ...]}
    {"event": "committed", "ok": true | false, "error": "..."}
    {"event": "closed"}

C{assigned} and C{revoked} come from the client's rebalance callbacks (with
cooperative-sticky they list only the partitions that moved). SIGTERM closes the
consumer cleanly, which leaves the group at once.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

_stopping = False


def _stop(signum: int, frame: object) -> None:
    global _stopping
    _stopping = True


def emit(event: str, **fields: Any) -> None:
    """Print one event as a JSON line."""
    fields["event"] = event
    fields["at"] = time.monotonic()
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def commit_and_report(commit: Any, errors: Any) -> None:
    """Commit synchronously and print whether it worked."""
    try:
        commit()
    except errors as error:
        emit("committed", ok=False, error=repr(error))
    else:
        emit("committed", ok=True)


def _stall(options: argparse.Namespace, seen: int) -> None:
    """Stop polling once, for C{--stall-seconds}, after C{--stall-after} records."""
    if options.stall_after is not None and seen >= options.stall_after:
        options.stall_after = None
        emit("stalling", seconds=options.stall_seconds)
        time.sleep(options.stall_seconds)
        emit("stalled")


def run_confluent(options: argparse.Namespace) -> None:
    from confluent_kafka import Consumer, KafkaException

    config: dict[str, Any] = {
        "bootstrap.servers": options.bootstrap,
        "group.id": options.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": options.session_timeout_ms,
        "heartbeat.interval.ms": min(1000, options.session_timeout_ms // 3),
        "max.poll.interval.ms": options.max_poll_interval_ms,
        "partition.assignment.strategy": options.strategy or "range,roundrobin",
    }
    if options.instance_id:
        config["group.instance.id"] = options.instance_id
    consumer = Consumer(config)

    def assigned(consumer: Any, partitions: Sequence[Any]) -> None:
        emit("assigned", partitions=sorted(p.partition for p in partitions))

    def revoked(consumer: Any, partitions: Sequence[Any]) -> None:
        emit("revoked", partitions=sorted(p.partition for p in partitions))

    consumer.subscribe([options.topic], on_assign=assigned, on_revoke=revoked)
    seen = 0
    try:
        while not _stopping:
            messages = consumer.consume(500, 0.2)
            batch = [
                [m.partition(), m.offset(), (m.value() or b"").decode()]
                for m in messages
                if m.error() is None
            ]
            if not batch:
                continue
            emit("records", records=batch)
            seen += len(batch)
            commit_and_report(
                lambda: consumer.commit(asynchronous=False), KafkaException
            )
            _stall(options, seen)
    finally:
        consumer.close()
        emit("closed")


def run_kafka_python(options: argparse.Namespace) -> None:
    import kafka
    from kafka import ConsumerRebalanceListener, KafkaConsumer
    from kafka.errors import KafkaError

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        def on_partitions_assigned(self, assigned: Any) -> None:
            emit("assigned", partitions=sorted(tp.partition for tp in assigned))

        def on_partitions_revoked(self, revoked: Any) -> None:
            emit("revoked", partitions=sorted(tp.partition for tp in revoked))

    settings: dict[str, Any] = {}
    if options.instance_id:
        settings["group_instance_id"] = options.instance_id
    emit("started", library=f"kafka-python {kafka.__version__}")
    consumer = KafkaConsumer(
        bootstrap_servers=options.bootstrap,
        group_id=options.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=options.session_timeout_ms,
        heartbeat_interval_ms=min(1000, options.session_timeout_ms // 3),
        max_poll_interval_ms=options.max_poll_interval_ms,
        **settings,
    )
    consumer.subscribe([options.topic], listener=Listener())
    seen = 0
    try:
        while not _stopping:
            polled = consumer.poll(timeout_ms=200, max_records=500)
            batch = [
                [record.partition, record.offset, (record.value or b"").decode()]
                for records in polled.values()
                for record in records
            ]
            if not batch:
                continue
            emit("records", records=batch)
            seen += len(batch)
            commit_and_report(consumer.commit, KafkaError)
            _stall(options, seen)
    finally:
        consumer.close()
        emit("closed")


def run_aiokafka(options: argparse.Namespace) -> None:
    import asyncio

    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.errors import KafkaError

    class Listener(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_assigned(self, assigned: Any) -> None:
            emit("assigned", partitions=sorted(tp.partition for tp in assigned))

        async def on_partitions_revoked(self, revoked: Any) -> None:
            emit("revoked", partitions=sorted(tp.partition for tp in revoked))

    async def main() -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=options.bootstrap,
            group_id=options.group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=options.session_timeout_ms,
            heartbeat_interval_ms=min(1000, options.session_timeout_ms // 3),
            max_poll_interval_ms=options.max_poll_interval_ms,
        )
        consumer.subscribe([options.topic], listener=Listener())
        await consumer.start()
        seen = 0
        try:
            while not _stopping:
                polled = await consumer.getmany(timeout_ms=200, max_records=500)
                batch = [
                    [record.partition, record.offset, (record.value or b"").decode()]
                    for records in polled.values()
                    for record in records
                ]
                if not batch:
                    continue
                emit("records", records=batch)
                seen += len(batch)
                try:
                    await consumer.commit()
                except KafkaError as error:
                    emit("committed", ok=False, error=repr(error))
                else:
                    emit("committed", ok=True)
                if options.stall_after is not None and seen >= options.stall_after:
                    options.stall_after = None
                    emit("stalling", seconds=options.stall_seconds)
                    await asyncio.sleep(options.stall_seconds)
                    emit("stalled")
        finally:
            await consumer.stop()
            emit("closed")

    asyncio.run(main())


def run_odradek(options: argparse.Namespace) -> None:
    from odradek.client import Consumer, RebalanceListener
    from odradek.client.errors import KafkaError

    class Listener(RebalanceListener):
        def on_partitions_assigned(self, assigned: Any) -> None:
            emit("assigned", partitions=sorted(tp.partition for tp in assigned))

        def on_partitions_revoked(self, revoked: Any) -> None:
            emit("revoked", partitions=sorted(tp.partition for tp in revoked))

    config: dict[str, Any] = {
        "bootstrap.servers": options.bootstrap,
        "group.id": options.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": options.session_timeout_ms,
        "heartbeat.interval.ms": min(1000, options.session_timeout_ms // 3),
        "max.poll.interval.ms": options.max_poll_interval_ms,
    }
    if options.strategy:
        config["partition.assignment.strategy"] = options.strategy
    if options.instance_id:
        config["group.instance.id"] = options.instance_id
    consumer = Consumer(config)
    consumer.subscribe([options.topic], listener=Listener())
    seen = 0
    try:
        while not _stopping:
            polled = consumer.poll(0.2)
            batch = [
                [record.partition, record.offset, (record.value or b"").decode()]
                for record in polled
            ]
            if not batch:
                continue
            emit("records", records=batch)
            seen += len(batch)
            commit_and_report(consumer.commit_sync, KafkaError)
            _stall(options, seen)
    finally:
        consumer.close()
        emit("closed")


CLIENTS = {
    "odradek": run_odradek,
    "confluent": run_confluent,
    "kafka-python": run_kafka_python,
    "aiokafka": run_aiokafka,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", choices=sorted(CLIENTS), required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--instance-id")
    parser.add_argument("--strategy")
    parser.add_argument("--session-timeout-ms", type=int, default=10000)
    parser.add_argument("--max-poll-interval-ms", type=int, default=300000)
    parser.add_argument("--stall-after", type=int)
    parser.add_argument("--stall-seconds", type=float, default=0.0)
    options = parser.parse_args(argv)
    # The tests send SIGUSR1 to a member that stops making progress: every
    # thread's stack goes to standard error, which the failure message shows.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    # ODRADEK_MEMBER_DEBUG=1 puts the client library's debug log there too.
    if os.environ.get("ODRADEK_MEMBER_DEBUG"):
        logging.basicConfig(
            level=logging.DEBUG,
            format="%(relativeCreated)d %(threadName)s %(name)s %(message)s",
        )
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    CLIENTS[options.client](options)


if __name__ == "__main__":
    main()
