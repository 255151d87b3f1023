"""
The results of the benchmark suite (C{suite.py}): measurements, the ratios of
Odradek to each peer, the targets, the printed tables and the JSON file.

Every ratio is Odradek's figure divided by the peer's, measured in the same run:
for rates (records/s) above 1 means Odradek is faster, for latencies below 1 means
Odradek is quicker. Targets are printed beside the ratios as MET or MISSED; nothing
is asserted.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MB = 1_000_000
REPOSITORY = Path(__file__).resolve().parents[2]
SCHEMA_VERSION = 1

BROKER_PEER = "tansu"
CLIENT_PEERS = ("aiokafka", "kafka-python", "confluent-kafka")


@dataclass
class Measurement:
    """
    One cell of the results: a workload run against one system.

    @ivar group: C{"broker"} (Odradek vs Tansu) or C{"client"} (clients against one
        Odradek broker).
    @ivar workload: C{"produce"}, C{"consume"}, C{"latency"}, C{"rss"},
        C{"producer"} or C{"consumer"}.
    @ivar system: the broker (C{"odradek"}, C{"tansu"}) or the client measured.
    @ivar parameters: what defines the case (record size, partitions, acks ...).
    @ivar error: why the measurement failed, or C{None}; its figures are then
        C{None}.
    @ivar round_rates: records/s of every round that ran, the best of which is
        C{records_per_second}; how far apart they are is the run-to-run spread.
    """

    group: str
    workload: str
    system: str
    parameters: dict[str, Any]
    records: int | None = None
    seconds: float | None = None
    records_per_second: float | None = None
    mb_per_second: float | None = None
    broker_cpu_seconds: float | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    rss_start_kib: int | None = None
    rss_stored_kib: int | None = None
    rss_read_kib: int | None = None
    rounds: int = 1
    error: str | None = None
    round_rates: list[float] = field(default_factory=list)

    def set_rate(self, records: int, seconds: float, size: int) -> None:
        """Fill records, seconds, records/s and MB/s (of values) from one run."""
        self.records = records
        self.seconds = seconds
        self.records_per_second = records / seconds if seconds > 0 else None
        self.mb_per_second = records * size / MB / seconds if seconds > 0 else None

    @property
    def spread(self) -> float | None:
        """
        @return: how much slower the slowest round was than the best, as a
            fraction of the best, or C{None} with fewer than two rounds.
        """
        if len(self.round_rates) < 2:
            return None
        return 1 - min(self.round_rates) / max(self.round_rates)

    def key(self) -> tuple[str, str, str]:
        """@return: what identifies the cell but for the system."""
        return (self.group, self.workload, case_label(self.parameters))


@dataclass
class Ratio:
    """
    Odradek's figure over a peer's, for one case.

    @ivar metric: the figure compared (C{records_per_second}, C{latency_p50_ms} ...).
    @ivar better: C{"higher"} or C{"lower"}: which side of 1 favours Odradek.
    @ivar target: the least (or, for C{"lower"}, the most) ratio the issue asks
        for, or C{None}.
    @ivar met: whether the target is met, or C{None} without a target or a ratio.
    """

    group: str
    workload: str
    parameters: dict[str, Any]
    peer: str
    metric: str
    better: str
    ratio: float | None
    target: float | None = None
    met: bool | None = None


@dataclass
class Results:
    """Everything one run of the suite found, as written to the JSON file."""

    options: dict[str, Any]
    measurements: list[Measurement] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def add(self, measurement: Measurement) -> Measurement:
        self.measurements.append(measurement)
        return measurement

    def find(self, key: tuple[str, str, str], system: str) -> Measurement | None:
        for measurement in self.measurements:
            if measurement.system == system and measurement.key() == key:
                return measurement
        return None


def case_label(parameters: dict[str, Any]) -> str:
    """@return: the parameters as C{k=v} pairs in a stable order."""
    return " ".join(f"{key}={parameters[key]}" for key in sorted(parameters))


def short_label(parameters: dict[str, Any]) -> str:
    """@return: the parameters as the tables print them (C{100B 6p acks=all lz4})."""
    known = {
        "size": "{}B",
        "partitions": "{}p",
        "acks": "acks={}",
        "compression": "{}",
        "rate": "{}/s",
        "seconds": "{}s",
        "gigabytes": "{} GB",
    }
    return " ".join(
        known.get(key, key + "={}").format(value) for key, value in parameters.items()
    )


TARGETS: dict[tuple[str, str, str], float] = {
    ("broker", "produce", BROKER_PEER): 1.0,
    ("broker", "consume", BROKER_PEER): 1.0,
    ("client", "producer", "aiokafka"): 2.0,
    ("client", "producer", "kafka-python"): 4.0,
    ("client", "consumer", "aiokafka"): 1.0,
}
"""The issue's targets: Odradek's rate over the peer's must be at least this."""


def ratios(results: Results) -> list[Ratio]:
    """
    @return: Odradek over each peer for every case measured on both sides.
    """
    found = []
    seen: set[tuple[str, str, str]] = set()
    for mine in results.measurements:
        if mine.system != "odradek" or mine.key() in seen:
            continue
        seen.add(mine.key())
        peers = CLIENT_PEERS if mine.group == "client" else (BROKER_PEER,)
        for peer in peers:
            theirs = results.find(mine.key(), peer)
            if theirs is None:
                continue
            for metric, better in _compared(mine.workload):
                ours, other = getattr(mine, metric), getattr(theirs, metric)
                value = ours / other if ours and other else None
                target = TARGETS.get((mine.group, mine.workload, peer))
                met = None if target is None or value is None else value >= target
                found.append(
                    Ratio(
                        mine.group,
                        mine.workload,
                        mine.parameters,
                        peer,
                        metric,
                        better,
                        value,
                        target,
                        met,
                    )
                )
    return found


def _compared(workload: str) -> list[tuple[str, str]]:
    if workload == "latency":
        return [("latency_p50_ms", "lower"), ("latency_p99_ms", "lower")]
    if workload == "rss":
        return []  # Tansu keeps everything in memory: its RSS is for scale only
    return [("records_per_second", "higher")]


def target_summary(found: list[Ratio]) -> list[dict[str, Any]]:
    """
    @return: for each target, how many cases met it and the geometric mean of the
        ratios.
    """
    summary = []
    for (group, workload, peer), target in TARGETS.items():
        values = [
            r.ratio
            for r in found
            if (r.group, r.workload, r.peer) == (group, workload, peer)
            and r.ratio is not None
        ]
        mean = math.exp(sum(map(math.log, values)) / len(values)) if values else None
        summary.append(
            {
                "group": group,
                "workload": workload,
                "peer": peer,
                "target": target,
                "cases": len(values),
                "cases_met": sum(value >= target for value in values),
                "geometric_mean": mean,
                "met": None if mean is None else all(v >= target for v in values),
            }
        )
    return summary


def machine() -> dict[str, Any]:
    """@return: what the figures depend on: CPUs, Python, platform."""
    return {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": _cpu_model(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def git_commit() -> dict[str, Any] | None:
    """@return: the checked-out commit and whether the tree has changes, if known."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"commit": commit, "dirty": bool(status.strip())}


def to_json(results: Results) -> dict[str, Any]:
    """@return: the results as the JSON file holds them."""
    found = ratios(results)
    return {
        "schema": SCHEMA_VERSION,
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(results.started)),
        "duration_seconds": round(time.time() - results.started, 1),
        "machine": machine(),
        "git": git_commit(),
        "options": results.options,
        "measurements": [asdict(m) for m in results.measurements],
        "ratios": [asdict(r) for r in found],
        "targets": target_summary(found),
    }


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(results), indent=2) + "\n")


def _number(value: float | None, fmt: str = ",.0f") -> str:
    return "-" if value is None else format(value, fmt)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _verdict(ratio: Ratio | None) -> str:
    if ratio is None or ratio.ratio is None:
        return ""
    text = f"{ratio.ratio:.2f}x"
    if ratio.target is not None:
        text += f" {'MET' if ratio.met else 'MISSED'} (>= {ratio.target:g}x)"
    return text


def _pair(first: str, second: str) -> str:
    return f"{first}, {second}" if first and second else ""


def print_tables(results: Results) -> None:
    """Print the broker and client tables, then the targets."""
    found = ratios(results)
    by_case = {
        (r.group, r.workload, case_label(r.parameters), r.peer, r.metric): r
        for r in found
    }
    _print_throughput(results, by_case, "broker", ("produce", "consume"))
    _print_latency(results, by_case)
    _print_rss(results)
    _print_throughput(results, by_case, "client", ("producer", "consumer"))
    _print_targets(found)
    failed = [m for m in results.measurements if m.error]
    if failed:
        print()
        print(f"{len(failed)} measurement(s) failed:")
        for m in failed:
            print(
                f"  {m.group} {m.workload} {m.system} {case_label(m.parameters)}: "
                f"{m.error}"
            )


def _print_throughput(
    results: Results, by_case: dict[Any, Ratio], group: str, workloads: tuple[str, ...]
) -> None:
    rows = [
        m for m in results.measurements if m.group == group and m.workload in workloads
    ]
    if not rows:
        return
    rows.sort(key=lambda m: workloads.index(m.workload))
    print()
    title = (
        "broker: Odradek vs Tansu, confluent-kafka as the client"
        if group == "broker"
        else "clients against one Odradek broker"
    )
    print(title)
    cpu = group == "broker"
    header = (
        f"{'workload':9} {'case':26} {'system':16} {'records/s':>11} "
        f"{'spread':>6} {'MB/s':>7} {'cpu s' if cpu else '':>6}  Odradek / system"
    )
    print(header)
    print("-" * (len(header) + 24))
    for m in rows:
        ratio = by_case.get(
            (
                group,
                m.workload,
                case_label(m.parameters),
                m.system,
                "records_per_second",
            )
        )
        print(
            f"{m.workload:9} {short_label(m.parameters):26} {m.system:16} "
            f"{_number(m.records_per_second):>11} "
            f"{_percent(m.spread):>6} "
            f"{_number(m.mb_per_second, '.1f'):>7} "
            f"{_number(m.broker_cpu_seconds, '.2f') if cpu else '':>6}  "
            f"{'FAILED' if m.error else _verdict(ratio)}"
        )


def _print_latency(results: Results, by_case: dict[Any, Ratio]) -> None:
    rows = [m for m in results.measurements if m.workload == "latency"]
    if not rows:
        return
    print()
    print("end-to-end latency (send to receive), lower is better")
    print(
        f"{'case':26} {'system':8} {'records':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>8}  Odradek / system p50, p99"
    )
    for m in rows:
        label = case_label(m.parameters)
        p50 = by_case.get(("broker", "latency", label, m.system, "latency_p50_ms"))
        p99 = by_case.get(("broker", "latency", label, m.system, "latency_p99_ms"))
        print(
            f"{short_label(m.parameters):26} {m.system:8} {_number(m.records):>8} "
            f"{_number(m.latency_p50_ms, '.2f'):>8} "
            f"{_number(m.latency_p99_ms, '.2f'):>8} "
            f"{_number(m.latency_max_ms, '.2f'):>8}  "
            f"{'FAILED' if m.error else _pair(_verdict(p50), _verdict(p99))}"
        )


def _print_rss(results: Results) -> None:
    rows = [m for m in results.measurements if m.workload == "rss"]
    if not rows:
        return
    print()
    print(
        "broker VmRSS in MiB: at start / after storing / after reading back "
        "(Tansu stores in memory: beside for scale only)"
    )
    for m in rows:
        figures = [m.rss_start_kib, m.rss_stored_kib, m.rss_read_kib]
        text = " / ".join(_number(None if f is None else f / 1024) for f in figures)
        print(
            f"  {short_label(m.parameters):8} {m.system:8} "
            f"{'FAILED' if m.error else text}"
        )


def _print_targets(found: list[Ratio]) -> None:
    summary = target_summary(found)
    if not any(item["cases"] for item in summary):
        return
    print()
    print("targets (Odradek / peer, records/s; every case must meet it)")
    for item in summary:
        if not item["cases"]:
            continue
        verdict = "MET" if item["met"] else "MISSED"
        print(
            f"  {item['group']:6} {item['workload']:8} >= {item['target']:g}x "
            f"{item['peer']:13} {verdict:6} {item['cases_met']}/{item['cases']} "
            f"cases, geometric mean {item['geometric_mean']:.2f}x"
        )
