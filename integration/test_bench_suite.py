"""
The benchmark suite (C{integration/bench/suite.py}) run with tiny counts, so that CI
exercises every workload against every system without benchmarking anything: the
run must exit 0 and its JSON file must hold every cell, with no figure checked
against a target or a time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SUITE = Path(__file__).resolve().parent / "bench" / "suite.py"
CLIENTS = ("odradek", "aiokafka", "kafka-python", "confluent-kafka")
BROKERS = ("odradek", "tansu")
RUN_TIMEOUT_SECONDS = 200.0
MATRIX_CASES = 16


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """
    Run the suite once for the module with C{--quick --scale 0.01}.

    @return: C{{"returncode", "output", "results"}}, the JSON file parsed (or
        C{None} if none was written).
    """
    workdir = tmp_path_factory.mktemp("bench-suite")
    path = workdir / "results.json"
    env = {key: value for key, value in os.environ.items() if key != "PYTHONUNBUFFERED"}
    process = subprocess.Popen(
        [sys.executable, str(SUITE), "--quick", "--scale", "0.01", "--json", str(path)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            # SIGTERM first: the suite then stops the brokers it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    results = json.loads(path.read_text()) if path.exists() else None
    yield {"returncode": process.returncode, "output": output, "results": results}


def results_of(suite_run: dict[str, Any]) -> dict[str, Any]:
    """@return: the parsed JSON file, failing with the suite's output if missing."""
    assert suite_run["results"] is not None, suite_run["output"]
    results: dict[str, Any] = suite_run["results"]
    return results


def cells(results: dict[str, Any], group: str, workload: str) -> list[dict[str, Any]]:
    return [
        m
        for m in results["measurements"]
        if (m["group"], m["workload"]) == (group, workload)
    ]


def test_exits_cleanly(suite_run: dict[str, Any]) -> None:
    """The suite exits 0, having printed its tables and the targets."""
    assert suite_run["returncode"] == 0, suite_run["output"]
    assert "targets" in suite_run["output"]
    assert "Odradek / system" in suite_run["output"]


def test_run_described(suite_run: dict[str, Any]) -> None:
    """The JSON file says when, on what machine and at which commit it ran."""
    results = results_of(suite_run)
    assert results["schema"] == 1
    assert results["timestamp"].endswith("Z")
    assert {"cpu_count", "python", "platform"} <= set(results["machine"])
    assert results["git"] is None or len(results["git"]["commit"]) == 40
    assert results["options"]["complete"] is True
    assert results["options"]["quick"] is True


def test_no_measurement_failed(suite_run: dict[str, Any]) -> None:
    """Every measurement has figures and no error."""
    results = results_of(suite_run)
    failed = [m for m in results["measurements"] if m["error"]]
    assert not failed, failed


def test_broker_matrix_complete(suite_run: dict[str, Any]) -> None:
    """Each of the 16 cases is produced and consumed on both brokers, with rates."""
    results = results_of(suite_run)
    for workload in ("produce", "consume"):
        found = cells(results, "broker", workload)
        keys = {
            (
                m["system"],
                m["parameters"]["size"],
                m["parameters"]["partitions"],
                m["parameters"]["acks"],
                m["parameters"]["compression"],
            )
            for m in found
        }
        expected = {
            (system, size, partitions, acks, compression)
            for system in BROKERS
            for size in (100, 1000)
            for partitions in (1, 6)
            for acks in ("1", "all")
            for compression in ("none", "lz4")
        }
        assert keys == expected
        assert len(found) == MATRIX_CASES * len(BROKERS)
        assert all(m["records_per_second"] > 0 for m in found)
        assert all(m["mb_per_second"] > 0 for m in found)
        # One round at --quick: the rates of the rounds are that round's.
        assert all(m["round_rates"] == [m["records_per_second"]] for m in found)


def test_latency_and_rss(suite_run: dict[str, Any]) -> None:
    """Latency percentiles and RSS figures are there for both brokers."""
    results = results_of(suite_run)
    latency = {m["system"]: m for m in cells(results, "broker", "latency")}
    assert set(latency) == set(BROKERS)
    for m in latency.values():
        assert 0 <= m["latency_p50_ms"] <= m["latency_p99_ms"] <= m["latency_max_ms"]
    rss = {m["system"]: m for m in cells(results, "broker", "rss")}
    assert set(rss) == set(BROKERS)
    for m in rss.values():
        assert min(m["rss_start_kib"], m["rss_stored_kib"], m["rss_read_kib"]) > 0


def test_clients_complete(suite_run: dict[str, Any]) -> None:
    """Each client's producer and consumer is measured against the Odradek broker."""
    results = results_of(suite_run)
    for workload in ("producer", "consumer"):
        found = {m["system"]: m for m in cells(results, "client", workload)}
        assert set(found) == set(CLIENTS)
        assert all(m["records_per_second"] > 0 for m in found.values())
        assert all(
            m["round_rates"] == [m["records_per_second"]] for m in found.values()
        )


def test_ratios_and_targets(suite_run: dict[str, Any]) -> None:
    """Ratios pair Odradek with each peer; each of the five targets is judged."""
    results = results_of(suite_run)
    ratios = {
        (r["group"], r["workload"], r["peer"], r["metric"]) for r in results["ratios"]
    }
    assert ("broker", "produce", "tansu", "records_per_second") in ratios
    assert ("broker", "consume", "tansu", "records_per_second") in ratios
    assert ("broker", "latency", "tansu", "latency_p99_ms") in ratios
    for peer in CLIENTS[1:]:
        assert ("client", "producer", peer, "records_per_second") in ratios
        assert ("client", "consumer", peer, "records_per_second") in ratios
    assert all(r["ratio"] is not None for r in results["ratios"])
    targets = {(t["workload"], t["peer"]): t for t in results["targets"]}
    assert set(targets) == {
        ("produce", "tansu"),
        ("consume", "tansu"),
        ("producer", "aiokafka"),
        ("producer", "kafka-python"),
        ("consumer", "aiokafka"),
    }
    assert targets[("produce", "tansu")]["cases"] == MATRIX_CASES
    assert all(isinstance(t["met"], bool) for t in targets.values())
