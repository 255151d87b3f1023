"""
The client workloads of the benchmark suite: the Odradek producer and consumer
against aiokafka, kafka-python and confluent-kafka (a C library, for reference),
all against one Odradek broker.

The clients are run by C{bench_producer.run_client} and C{bench_consumer.run_client},
each in a process of its own so that no client's threads or event loop slow
another; see those modules for each client's settings. The producers each send N
records to a fresh one-partition topic with C{acks=1}; the consumers each read one
topic, filled once beforehand, from the beginning. The clients take turns round by
round; each figure is the best of the rounds.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence

import bench_consumer
import bench_producer
from bench_broker import create_topic
from bench_report import Measurement
from harness import BrokerProcess

CLIENTS = bench_producer.CLIENTS


def _in_child(function: Callable[..., float], *args: object) -> float:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def run_producers(
    broker: BrokerProcess,
    clients: Sequence[str],
    size: int,
    count: int,
    rounds: int,
    report: Callable[[Measurement], Measurement],
) -> None:
    """Measure each client's producer; C{report} the best round of each."""
    parameters = {"size": size, "partitions": 1, "acks": "1"}
    best = _best_of(
        "producer",
        clients,
        rounds,
        parameters,
        size,
        count,
        lambda client, round_number: _produce(
            broker, client, size, count, round_number
        ),
    )
    for measurement in best:
        report(measurement)


def _produce(
    broker: BrokerProcess, client: str, size: int, count: int, round_number: int
) -> float:
    topic = f"bench-producer-{client}-{round_number}"
    create_topic(broker.bootstrap, topic)
    return _in_child(
        bench_producer.run_client, client, broker.bootstrap, topic, size, count
    )


def run_consumers(
    broker: BrokerProcess,
    clients: Sequence[str],
    size: int,
    count: int,
    rounds: int,
    report: Callable[[Measurement], Measurement],
) -> None:
    """Fill one topic, measure each client's consumer; C{report} the best rounds."""
    parameters = {"size": size, "partitions": 1}
    topic = "bench-consumer"
    try:
        create_topic(broker.bootstrap, topic)
        bench_consumer.fill(broker.bootstrap, topic, size, count)
    except Exception as error:
        for client in clients:
            failed = Measurement("client", "consumer", client, parameters)
            failed.error = f"filling the topic: {type(error).__name__}: {error}"
            report(failed)
        return
    best = _best_of(
        "consumer",
        clients,
        rounds,
        parameters,
        size,
        count,
        lambda client, _round: _in_child(
            bench_consumer.run_client, client, broker.bootstrap, topic, count
        ),
    )
    for measurement in best:
        report(measurement)


def _best_of(
    workload: str,
    clients: Sequence[str],
    rounds: int,
    parameters: dict[str, object],
    size: int,
    count: int,
    run: Callable[[str, int], float],
) -> list[Measurement]:
    best = {
        client: Measurement("client", workload, client, dict(parameters), rounds=rounds)
        for client in clients
    }
    for round_number in range(rounds):
        for client in clients:
            kept = best[client]
            try:
                seconds = run(client, round_number)
            except Exception as error:
                text = f"{type(error).__name__}: {error}"
                print(f"  {workload} {client:16} FAILED {text}", flush=True)
                if kept.seconds is None:
                    kept.error = text
                continue
            print(
                f"  {time.strftime('%H:%M:%S')} round {round_number + 1} {workload} "
                f"{client:16} {count / seconds:>12,.0f} records/s",
                flush=True,
            )
            kept.round_rates.append(count / seconds)
            if kept.seconds is None or seconds < kept.seconds:
                kept.set_rate(count, seconds, size)
                kept.error = None
    return list(best.values())
