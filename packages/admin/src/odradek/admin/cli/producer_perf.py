"""
C{odradek-producer-perf-test}: Kafka's C{kafka-producer-perf-test.sh}
(C{ProducerPerformance}). Send C{--num-records} records of C{--record-size} bytes
(or payloads from a file) to a topic, at most C{--throughput} a second, and print,
in Kafka's words, a line every 5 seconds and a summary with the latency
percentiles. A record's latency is the time from its C{send} to its
acknowledgement.

Example::

    odradek-producer-perf-test --topic perf --num-records 100000 \\
        --record-size 100 --throughput -1 --bootstrap-server localhost:9092
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from odradek.admin.cli._common import (
    ToolError,
    ToolParser,
    parse_key_values,
    read_properties,
    run_tool,
)
from odradek.admin.cli._perfstats import ProducerStats, ThroughputThrottler
from odradek.client import KafkaError, Producer, ProducerRecord, RecordMetadata

__all__ = ["build_parser", "main", "make_payloads", "producer_config", "run"]

_RANDOM_POOL_BYTES = 1 << 16
"""The size of the block of random letters that payloads are cut from."""


def build_parser() -> ToolParser:
    """
    @return: the parser of the tool's flags, Kafka's with C{--bootstrap-server}
        added.
    """
    parser = ToolParser(
        prog="odradek-producer-perf-test",
        description="Measure the producer's throughput and latency.",
    )
    parser.add_argument("--topic", required=True, help="produce to this topic")
    parser.add_argument(
        "--num-records",
        required=True,
        type=int,
        metavar="NUM-RECORDS",
        help="the number of records to produce",
    )
    payload = parser.add_mutually_exclusive_group(required=True)
    payload.add_argument(
        "--record-size",
        type=int,
        metavar="RECORD-SIZE",
        help="each record's size in bytes (random upper-case letters)",
    )
    payload.add_argument(
        "--payload-file",
        metavar="PAYLOAD-FILE",
        help="a UTF-8 file of payloads, one picked at random for each record",
    )
    payload.add_argument(
        "--payload-monotonic",
        action="store_true",
        help="each record's payload is its number (0, 1, 2 ...)",
    )
    parser.add_argument(
        "--payload-delimiter",
        default="\\n",
        metavar="PAYLOAD-DELIMITER",
        help="what separates the payloads of --payload-file (default: new line)",
    )
    parser.add_argument(
        "--throughput",
        required=True,
        type=float,
        metavar="THROUGHPUT",
        help="at most about this many records a second; -1 for no limit",
    )
    parser.add_argument(
        "--producer-props",
        nargs="+",
        default=[],
        metavar="PROP-NAME=PROP-VALUE",
        help="producer settings (bootstrap.servers, acks ...); they win over"
        " --producer.config",
    )
    parser.add_argument(
        "--producer.config",
        dest="producer_config",
        metavar="CONFIG-FILE",
        help="a properties file of producer settings",
    )
    parser.add_argument(
        "--bootstrap-server",
        metavar="HOST:PORT[,HOST:PORT...]",
        help="the brokers (else bootstrap.servers of --producer-props or"
        " --producer.config)",
    )
    parser.add_argument(
        "--print-metrics",
        action="store_true",
        help="accepted for Kafka's sake; the Odradek client keeps no metrics yet",
    )
    parser.add_argument(
        "--transactional-id",
        metavar="TRANSACTIONAL-ID",
        help="not supported: the Odradek producer has no transactions yet",
    )
    parser.add_argument(
        "--transaction-duration-ms",
        type=int,
        metavar="TRANSACTION-DURATION",
        help="not supported: the Odradek producer has no transactions yet",
    )
    parser.add_argument(
        "--warmup-records",
        type=int,
        default=0,
        metavar="WARMUP-RECORDS",
        help="records left out of a second, steady-state summary (default 0)",
    )
    return parser


def producer_config(options: argparse.Namespace) -> dict[str, object]:
    """
    The producer's settings: C{--producer.config}, then C{--producer-props}, then
    C{--bootstrap-server}; C{client.id} is C{perf-producer-client} unless given.

    @param options: the parsed command line.
    @return: the settings.
    @raise ToolError: without brokers to connect to, for a bad property, or for a
        transactional setting.
    """
    config: dict[str, object] = {}
    if options.producer_config:
        config.update(read_properties(options.producer_config))
    config.update(parse_key_values(options.producer_props, "producer property"))
    if options.bootstrap_server:
        config["bootstrap.servers"] = options.bootstrap_server
    if not config.get("bootstrap.servers"):
        raise ToolError(
            "no brokers: give --bootstrap-server, or bootstrap.servers in"
            " --producer-props or --producer.config"
        )
    config.setdefault("client.id", "perf-producer-client")
    if (
        options.transactional_id is not None
        or options.transaction_duration_ms is not None
        or config.get("transactional.id")
    ):
        raise ToolError(
            "transactions are not supported: the Odradek producer has no"
            " transactions yet"
        )
    return config


def check_options(options: argparse.Namespace) -> None:
    """
    Check the values of the flags as Kafka does.

    @param options: the parsed command line.
    @raise ToolError: naming the bad value.
    """
    if options.num_records <= 0:
        raise ToolError("--num-records should be greater than zero")
    if options.record_size is not None and options.record_size <= 0:
        raise ToolError("--record-size should be greater than zero")
    if options.warmup_records < 0 or options.warmup_records >= options.num_records:
        raise ToolError(
            "--warmup-records must be at least 0 and fewer than --num-records"
        )
    if options.throughput == 0:
        raise ToolError("--throughput must be positive, or -1 for no limit")


def read_payloads(path: str, delimiter: str) -> list[bytes]:
    """
    Read the payloads of C{--payload-file}.

    @param path: the file.
    @param delimiter: what separates payloads (C{\\n} written as two characters
        means a new line).
    @return: the non-empty payloads, UTF-8 encoded.
    @raise ToolError: if the file cannot be read or holds none.
    """
    separator = "\n" if delimiter == "\\n" else delimiter
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ToolError(f"cannot read payload file {path}: {e}") from None
    payloads = [item.encode("utf-8") for item in text.split(separator) if item]
    if not payloads:
        raise ToolError(f"payload file {path} holds no payload")
    return payloads


def make_payloads(
    options: argparse.Namespace, payload_list: list[bytes], seed: int = 0
) -> Callable[[int], bytes]:
    """
    Choose how each record's payload is made.

    @param options: the parsed command line.
    @param payload_list: the payloads of C{--payload-file}, or empty.
    @param seed: the seed of the random choices.
    @return: a function of the record's number giving its payload: a random
        choice of C{payload_list}, C{record_size} random upper-case letters, or the
        number itself.
    """
    chooser = random.Random(seed)
    if payload_list:
        return lambda _: chooser.choice(payload_list)
    if options.record_size is not None:
        size = options.record_size
        letters = bytes(65 + byte % 26 for byte in range(256))
        pool = chooser.randbytes(_RANDOM_POOL_BYTES).translate(letters)
        pool = pool * (size // len(pool) + 2)
        limit = len(pool) - size
        return lambda _: pool[(start := chooser.randrange(limit)) : start + size]
    return lambda number: str(number).encode("ascii")


def _now_ms() -> float:
    """@return: the monotonic clock, in milliseconds."""
    return time.monotonic() * 1000.0


class _Run:
    """
    One run's figures and the callbacks that feed them from the producer's I/O
    thread.
    """

    def __init__(self, num_records: int, warmup_records: int, start_ms: float) -> None:
        self.stats = ProducerStats(num_records, start_ms)
        self.steady: ProducerStats | None = None
        self.num_records = num_records
        self.warmup_records = warmup_records
        self.failed = 0
        self.first_error: BaseException | None = None

    def start_steady_state(self, now_ms: float) -> None:
        """Start counting the steady state, after the warm-up."""
        self.steady = ProducerStats(
            self.num_records - self.warmup_records, now_ms, steady_state=True
        )
        self.stats.suppressed = True

    def callback(
        self, send_start_ms: float, size: int
    ) -> Callable[[RecordMetadata | None, BaseException | None], None]:
        """
        @return: the send callback of a record sent at C{send_start_ms}.
        """
        steady = self.steady

        def done(metadata: RecordMetadata | None, error: BaseException | None) -> None:
            now = _now_ms()
            if error is not None:
                self.failed += 1
                if self.first_error is None:
                    self.first_error = error
                    print(f"Error: a send failed: {_describe(error)}", file=sys.stderr)
                return
            latency = now - send_start_ms
            lines = self.stats.record(latency, size, now)
            if steady is not None:
                lines += steady.record(latency, size, now)
            for line in lines:
                print(line, file=sys.stdout, flush=True)

        return done


def _describe(error: BaseException) -> str:
    """@return: a one-line account of a send's error."""
    if isinstance(error, KafkaError):
        return f"{error.name}: {error.message}"
    return f"{type(error).__name__}: {error}"


def main(argv: list[str]) -> int:
    """
    Run the producer perf test.

    @param argv: the command line's arguments.
    @return: the exit status: 0, or 1 if a record failed.
    """
    options = build_parser().parse_args(argv)
    check_options(options)
    config = producer_config(options)
    payload_list: list[bytes] = []
    if options.payload_file:
        payload_list = read_payloads(options.payload_file, options.payload_delimiter)
        print(f"Reading payloads from: {Path(options.payload_file).absolute()}")
        print(f"Number of messages read: {len(payload_list)}")
    payload_of = make_payloads(options, payload_list)
    if options.print_metrics:
        print(
            "Note: --print-metrics is ignored: the Odradek client keeps no metrics",
            file=sys.stderr,
        )
    producer = Producer(config)
    try:
        run = _produce(producer, options, payload_of)
        producer.close()
    finally:
        producer.close(0)
    end_ms = _now_ms()
    out = sys.stdout
    print(run.stats.total_line(end_ms), file=out)
    if run.steady is not None:
        print(run.steady.total_line(end_ms), file=out)
    if run.failed:
        print(
            f"Error: {run.failed} of {options.num_records} records failed",
            file=sys.stderr,
        )
        return 1
    return 0


def _produce(
    producer: Producer, options: argparse.Namespace, payload_of: Callable[[int], bytes]
) -> _Run:
    """
    Send the records, holding to C{--throughput}.

    @return: the run, whose figures are complete once the producer is closed.
    """
    topic = options.topic
    warmup = options.warmup_records
    if warmup > 0:
        print(
            f"Warmup first {warmup} records. Steady state results will print"
            " after the complete test summary."
        )
    start_ms = _now_ms()
    run = _Run(options.num_records, warmup, start_ms)
    throttler = ThroughputThrottler(options.throughput, start_ms)
    send = producer.send
    for number in range(options.num_records):
        payload = payload_of(number)
        record = ProducerRecord(topic, value=payload)
        send_start_ms = _now_ms()
        if warmup > 0 and number == warmup:
            run.start_steady_state(send_start_ms)
        send(record, callback=run.callback(send_start_ms, len(payload)))
        if throttler.should_throttle(number, send_start_ms):
            pause = throttler.throttle()
            if pause:
                time.sleep(pause)
    return run


def run() -> None:
    """The console script's entry point."""
    raise SystemExit(run_tool(main))
