"""
The broker matrix of the benchmark suite: confluent-kafka produces to and consumes
from Odradek and Tansu, running side by side, for every combination of record size
(100 B, 1 KB), partitions (1, 6), acks (1, all) and compression (none, lz4).

Each case gets a fresh topic on each broker: N records are produced (no key, so
librdkafka's sticky partitioner spreads them over the partitions), then read back
from offset 0 of every partition, then the topic is deleted. The brokers take
turns case by case, so that a load that comes and goes on the machine weighs on
both alike. Each figure is the best of the rounds; the broker's CPU time during the
best run is kept beside it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench_broker import consume_alone, create_topic, produce_alone
from bench_report import Measurement
from confluent_kafka.admin import AdminClient
from harness import BrokerProcess, TansuProcess

SIZES = (100, 1000)
PARTITIONS = (1, 6)
ACKS = ("1", "all")
COMPRESSIONS = ("none", "lz4")

Broker = BrokerProcess | TansuProcess


@dataclass(frozen=True)
class Case:
    """One produce case of the matrix (its topic is consumed back after)."""

    size: int
    partitions: int
    acks: str
    compression: str

    def parameters(self) -> dict[str, object]:
        return {
            "size": self.size,
            "partitions": self.partitions,
            "acks": self.acks,
            "compression": self.compression,
        }

    def topic(self, round_number: int) -> str:
        return (
            f"bench-{self.size}b-{self.partitions}p-acks{self.acks}-"
            f"{self.compression}-r{round_number}"
        )


def cases() -> list[Case]:
    """@return: the 16 cases of the matrix, smallest records first."""
    return [
        Case(size, partitions, acks, compression)
        for size, partitions, acks, compression in itertools.product(
            SIZES, PARTITIONS, ACKS, COMPRESSIONS
        )
    ]


def delete_topic(bootstrap: str, topic: str) -> None:
    """Delete C{topic}, so that a broker does not hold every case's data at once."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        for future in admin.delete_topics([topic], operation_timeout=30).values():
            future.result(timeout=60)
    except Exception as error:
        print(f"    (could not delete {topic}: {error})", flush=True)


def run_matrix(
    brokers: dict[str, Broker],
    counts: dict[int, int],
    rounds: int,
    report: Callable[[Measurement], Measurement],
    selected: Iterable[Case] | None = None,
) -> None:
    """
    Run every case against every broker, C{rounds} times, and C{report} one
    produce and one consume measurement per case and broker (the best round).

    @param brokers: the running brokers by system name.
    @param counts: records per case by record size.
    """
    for case in cases() if selected is None else selected:
        best: dict[tuple[str, str], Measurement] = {}
        rates: dict[tuple[str, str], list[float]] = {}
        count = counts[case.size]
        for round_number, (system, broker) in itertools.product(
            range(rounds), brokers.items()
        ):
            for measurement in _run_case(system, broker, case, count, round_number):
                key = (system, measurement.workload)
                if measurement.records_per_second is not None:
                    rates.setdefault(key, []).append(measurement.records_per_second)
                kept = best.get(key)
                if kept is None or _faster(measurement, kept):
                    best[key] = measurement
        for key, measurement in best.items():
            measurement.rounds = rounds
            measurement.round_rates = rates.get(key, [])
            report(measurement)


def _faster(new: Measurement, old: Measurement) -> bool:
    if new.error:
        return False
    if old.error:
        return True
    return (new.records_per_second or 0) > (old.records_per_second or 0)


def _run_case(
    system: str, broker: Broker, case: Case, count: int, round_number: int
) -> list[Measurement]:
    """Produce and consume one case once on one broker."""
    produced = Measurement("broker", "produce", system, case.parameters())
    consumed = Measurement("broker", "consume", system, case.parameters())
    topic = case.topic(round_number)
    try:
        create_topic(broker.bootstrap, topic, case.partitions)
        cpu = broker.cpu_seconds()
        started, finished = produce_alone(
            broker.bootstrap,
            topic,
            case.size,
            count,
            acks=case.acks,
            compression=case.compression,
            partition=None,
        )
        produced.broker_cpu_seconds = broker.cpu_seconds() - cpu
        produced.set_rate(count, finished - started, case.size)
    except Exception as error:
        produced.error = consumed.error = f"{type(error).__name__}: {error}"
    else:
        try:
            cpu = broker.cpu_seconds()
            started, finished = consume_alone(
                broker.bootstrap, topic, count, case.partitions
            )
            consumed.broker_cpu_seconds = broker.cpu_seconds() - cpu
            consumed.set_rate(count, finished - started, case.size)
        except Exception as error:
            consumed.error = f"{type(error).__name__}: {error}"
    delete_topic(broker.bootstrap, topic)
    _progress(system, case, produced, consumed)
    return [produced, consumed]


def _progress(
    system: str, case: Case, produced: Measurement, consumed: Measurement
) -> None:
    def rate(m: Measurement) -> str:
        if m.error:
            return f"FAILED {m.error}"
        return f"{m.records_per_second:>10,.0f}/s"

    print(
        f"  {time.strftime('%H:%M:%S')} {system:8} {case.size:>5} B "
        f"{case.partitions}p acks={case.acks:3} {case.compression:4}: "
        f"produce {rate(produced)}  consume {rate(consumed)}",
        flush=True,
    )
