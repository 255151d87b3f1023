"""
Capture the record batches that real Kafka producers write, for the record format's
tests.

A throwaway broker listens on a free port of 127.0.0.1 and answers just enough of the
protocol for an idempotent producer (ApiVersions, Metadata for one topic with one
partition led by itself, InitProducerId, Produce), keeping the records of every
Produce request. librdkafka (through confluent-kafka) and kafka-python each produce the
same few records once per compression codec, each in a child process with a deadline;
the records blob and a JSON description of what was sent are written as
C{<client>-<codec>.bin} and C{<client>-<codec>.json}.

    python integration/capture_batches.py [OUTPUT_DIR]

OUTPUT_DIR defaults to the client package's test data directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import selectors
import socket
import struct
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from kio.index import load_request_schema, load_response_schema
from kio.schema.errors import ErrorCode
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

CLIENTS = ("librdkafka", "kafka-python")
CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
TOPIC = "odradek-capture"
PRODUCER_ID = 4242
PRODUCER_EPOCH = 0
PRODUCE_TIMEOUT_SECONDS = 60.0
DEFAULT_OUTPUT = (
    Path(__file__).resolve().parent.parent
    / "packages/client/src/odradek/client/test/data"
)

Headers = list[tuple[str, bytes | None]]

RECORDS: list[tuple[bytes | None, bytes | None, Headers]] = [
    (None, b"null key", []),
    (b"empty value", b"", []),
    (b"null value", None, []),
    (b"", b"empty key", []),
    (b"headers", b"value", [("trace-id", b"abc123"), ("empty", b""), ("null", None)]),
    (b"long", b"0123456789" * 60, []),
    (None, bytes(range(256)), [("binary", bytes(range(255, -1, -1)))]),
]
"""What each producer sends, in order: (key, value, headers)."""


def records_for(client: str) -> list[tuple[bytes | None, bytes | None, Headers]]:
    """
    @param client: C{"librdkafka"} or C{"kafka-python"}.
    @return: L{RECORDS} as that client can send them: kafka-python refuses null
        header values, so it sends those headers without them.
    """
    if client != "kafka-python":
        return RECORDS
    return [
        (key, value, [(k, v) for k, v in headers if v is not None])
        for key, value, headers in RECORDS
    ]


# The versions the capture broker offers, per API key: Produce, Fetch, Metadata,
# FindCoordinator, ApiVersions, InitProducerId. Fetch and FindCoordinator are offered
# but never answered: librdkafka infers its features from the versions offered, and
# writes magic 0 message sets to a broker without Fetch v4 and uncompressed batches
# instead of lz4 to one without FindCoordinator.
_API_VERSIONS = {0: (3, 9), 1: (4, 12), 3: (1, 12), 10: (0, 3), 18: (0, 3), 22: (0, 4)}
_ANSWERED = {0, 3, 18, 22}
_NO_OPERATIONS = -(2**31)
_TOPIC_ID = uuid.UUID("6f647261-6465-6b2d-6361-707475726521")
_SIZE = struct.Struct(">i")
_API_KEY_AND_VERSION = struct.Struct(">hh")


def _make(cls: type[Any], **values: object) -> Any:
    """
    Build a kio entity from those of C{values} that its version has.

    @param cls: the kio dataclass.
    @param values: values for any version's fields.
    @return: the entity.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{name: value for name, value in values.items() if name in names})


def _schema_module(cls: type[Any]) -> ModuleType:
    """
    @param cls: a kio response class.
    @return: the module holding it and its nested entity classes.
    """
    return sys.modules[cls.__module__]


class CaptureBroker:
    """
    A single-threaded fake broker on 127.0.0.1 that records what producers send.

    Use it as a context manager: entering starts its thread, leaving stops the thread
    and closes every socket.

    @ivar captured: the records of every Produce request so far, in arrival order.
    @ivar unexpected: descriptions of requests it could not answer.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._buffers: dict[socket.socket, bytearray] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture-broker")
        self._lock = threading.Lock()
        self._next_offset = 0
        self.captured: list[bytes] = []
        self.unexpected: list[str] = []

    @property
    def port(self) -> int:
        """
        @return: the port it listens on.
        """
        port: int = self._listener.getsockname()[1]
        return port

    def __enter__(self) -> CaptureBroker:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """
        Stop the thread and close every socket.
        """
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for connection in list(self._buffers):
            self._close(connection)
        self._selector.close()
        self._listener.close()

    def take(self) -> list[bytes]:
        """
        @return: the records captured since the last call.
        """
        with self._lock:
            taken, self.captured = self.captured, []
        return taken

    def _run(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    try:
                        connection, _ = self._listener.accept()
                    except BlockingIOError:
                        continue
                    connection.setblocking(True)
                    connection.settimeout(5)
                    self._buffers[connection] = bytearray()
                    self._selector.register(connection, selectors.EVENT_READ)
                else:
                    self._receive(sock)

    def _close(self, connection: socket.socket) -> None:
        self._buffers.pop(connection, None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(connection)
        connection.close()

    def _receive(self, connection: socket.socket) -> None:
        try:
            data = connection.recv(1 << 16)
        except OSError:
            data = b""
        if not data:
            self._close(connection)
            return
        buffer = self._buffers[connection]
        buffer += data
        while len(buffer) >= 4:
            (size,) = _SIZE.unpack_from(buffer)
            if len(buffer) < 4 + size:
                break
            request = bytes(buffer[4 : 4 + size])
            del buffer[: 4 + size]
            response = self._handle(request)
            if response is not None:
                try:
                    connection.sendall(_SIZE.pack(len(response)) + response)
                except OSError:
                    self._close(connection)
                    return

    def _handle(self, request: bytes) -> bytes | None:
        api_key, api_version = _API_KEY_AND_VERSION.unpack_from(request)
        if api_key == 18 and api_version > _API_VERSIONS[18][1]:
            # As Kafka does: answer an ApiVersions version it does not know in v0,
            # with UNSUPPORTED_VERSION and its versions, so the client retries.
            (correlation_id,) = struct.unpack_from(">i", request, 4)
            return self._encode(18, 0, correlation_id, self._api_versions(0, 35))
        supported = _API_VERSIONS.get(api_key)
        if (
            api_key not in _ANSWERED
            or supported is None
            or not supported[0] <= api_version <= supported[1]
        ):
            self.unexpected.append(f"api key {api_key} version {api_version}")
            return None
        request_type = load_request_schema(api_key, api_version)
        header, offset = entity_reader(request_type.__header_schema__)(request, 0)
        body, _ = entity_reader(request_type)(request, offset)
        if api_key == 18:
            response = self._api_versions(api_version, 0)
        elif api_key == 3:
            response = self._metadata(api_version, body)
        elif api_key == 22:
            response = _make(
                load_response_schema(22, api_version),
                throttle_time=datetime.timedelta(0),
                error_code=ErrorCode.none,
                producer_id=PRODUCER_ID,
                producer_epoch=PRODUCER_EPOCH,
            )
        else:
            response = self._produce(api_version, body)
            if getattr(body, "acks", -1) == 0:
                return None
        return self._encode(api_key, api_version, header.correlation_id, response)

    def _encode(
        self, api_key: int, api_version: int, correlation_id: int, response: Any
    ) -> bytes:
        response_type = load_response_schema(api_key, api_version)
        header_type = response_type.__header_schema__
        out = io.BytesIO()
        header = header_type(correlation_id=i32(correlation_id))
        entity_writer(header_type)(out, header)
        entity_writer(response_type)(out, response)
        return out.getvalue()

    def _api_versions(self, api_version: int, error_code: int) -> Any:
        response_type = load_response_schema(18, api_version)
        module = _schema_module(response_type)
        return _make(
            response_type,
            error_code=ErrorCode(error_code),
            api_keys=tuple(
                module.ApiVersion(api_key=key, min_version=low, max_version=high)
                for key, (low, high) in sorted(_API_VERSIONS.items())
            ),
            throttle_time=datetime.timedelta(0),
        )

    def _metadata(self, api_version: int, request: Any) -> Any:
        response_type = load_response_schema(3, api_version)
        module = _schema_module(response_type)
        names = [t.name for t in request.topics or () if t.name] or [TOPIC]
        partition = _make(
            module.MetadataResponsePartition,
            error_code=ErrorCode.none,
            partition_index=0,
            leader_id=0,
            leader_epoch=0,
            replica_nodes=(0,),
            isr_nodes=(0,),
            offline_replicas=(),
        )
        topics = tuple(
            _make(
                module.MetadataResponseTopic,
                error_code=ErrorCode.none,
                name=name,
                topic_id=_TOPIC_ID,
                is_internal=False,
                partitions=(partition,),
                topic_authorized_operations=_NO_OPERATIONS,
            )
            for name in names
        )
        broker = _make(
            module.MetadataResponseBroker, node_id=0, host="127.0.0.1", port=self.port
        )
        return _make(
            response_type,
            throttle_time=datetime.timedelta(0),
            brokers=(broker,),
            cluster_id="odradek-capture",
            controller_id=0,
            topics=topics,
            cluster_authorized_operations=_NO_OPERATIONS,
        )

    def _produce(self, api_version: int, request: Any) -> Any:
        response_type = load_response_schema(0, api_version)
        module = _schema_module(response_type)
        topics = []
        for topic in request.topic_data:
            partitions = []
            for data in topic.partition_data:
                records = bytes(data.records or b"")
                with self._lock:
                    self.captured.append(records)
                    base_offset = self._next_offset
                    self._next_offset += 1000
                partitions.append(
                    _make(
                        module.PartitionProduceResponse,
                        index=data.index,
                        error_code=ErrorCode.none,
                        base_offset=base_offset,
                        log_append_time=None,
                        log_start_offset=0,
                        record_errors=(),
                        error_message=None,
                    )
                )
            topics.append(
                _make(
                    module.TopicProduceResponse,
                    name=topic.name,
                    partition_responses=tuple(partitions),
                )
            )
        return _make(
            response_type, responses=tuple(topics), throttle_time=datetime.timedelta(0)
        )


def _produce_librdkafka(codec: str, port: int) -> None:
    import confluent_kafka

    failures: list[str] = []

    def delivered(error: object, message: object) -> None:
        if error is not None:
            failures.append(str(error))

    producer = confluent_kafka.Producer(
        {
            "bootstrap.servers": f"127.0.0.1:{port}",
            "broker.address.family": "v4",
            "compression.type": codec,
            "enable.idempotence": True,
            "linger.ms": 200,
            "message.timeout.ms": 20000,
        }
    )
    for key, value, headers in records_for("librdkafka"):
        header_list: list[tuple[str, str | bytes | None]] = list(headers)
        producer.produce(
            TOPIC,
            value=value,
            key=key,
            headers=header_list,
            partition=0,
            on_delivery=delivered,
        )
    left = producer.flush(30)
    if left or failures:
        raise SystemExit(f"librdkafka: {left} records undelivered, errors {failures}")


def _produce_kafka_python(codec: str, port: int) -> None:
    import kafka

    producer = kafka.KafkaProducer(
        bootstrap_servers=f"127.0.0.1:{port}",
        compression_type=None if codec == "none" else codec,
        enable_idempotence=True,
        linger_ms=200,
        max_block_ms=20000,
        request_timeout_ms=20000,
    )
    futures = [
        producer.send(TOPIC, value=value, key=key, headers=headers, partition=0)
        for key, value, headers in records_for("kafka-python")
    ]
    producer.flush(timeout=30)
    for future in futures:
        future.get(timeout=1)
    producer.close(timeout=10)


def client_version(client: str) -> str:
    """
    @param client: C{"librdkafka"} or C{"kafka-python"}.
    @return: the client library's version, as the JSON records it.
    """
    if client == "librdkafka":
        import confluent_kafka

        library = confluent_kafka.libversion()[0]
        binding: object = confluent_kafka.version()
        if isinstance(binding, tuple):
            binding = binding[0]
        return f"librdkafka {library} (confluent-kafka {binding})"
    import kafka

    return f"kafka-python {kafka.__version__}"


def produce(client: str, codec: str, port: int) -> None:
    """
    Run one producer in a child process, killed at the deadline.

    @param client: C{"librdkafka"} or C{"kafka-python"}.
    @param codec: the compression codec's Kafka name.
    @param port: the capture broker's port.
    @raise RuntimeError: if the producer fails or misses the deadline.
    """
    command = [sys.executable, __file__, "--produce", client, codec, str(port)]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PRODUCE_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(
            f"{client} {codec} producer missed its deadline: {e}"
        ) from None
    if result.returncode != 0:
        raise RuntimeError(
            f"{client} {codec} producer exited {result.returncode}:\n"
            + result.stderr[-4000:]
        )


def expected(client: str, codec: str) -> dict[str, Any]:
    """
    @param client: the producing client.
    @param codec: the compression codec.
    @return: the JSON description of what that producer sent.
    """
    records = records_for(client)
    return {
        "client": client_version(client),
        "compression": codec,
        "producer_id": PRODUCER_ID,
        "producer_epoch": PRODUCER_EPOCH,
        "count": len(records),
        "records": [
            {
                "key": None if key is None else key.hex(),
                "value": None if value is None else value.hex(),
                "headers": [[k, None if v is None else v.hex()] for k, v in headers],
            }
            for key, value, headers in records
        ],
    }


def capture(
    broker: CaptureBroker, client: str, codec: str, output: Path
) -> tuple[Path, Path]:
    """
    Capture one client's records for one codec and write the two files.

    @param broker: a running capture broker.
    @param client: the producing client.
    @param codec: the compression codec.
    @param output: the directory to write to.
    @return: the paths of the records blob and of the JSON.
    """
    broker.take()
    produce(client, codec, broker.port)
    blobs = [blob for blob in broker.take() if blob]
    if not blobs:
        raise RuntimeError(f"{client} {codec}: no records were captured")
    records_path = output / f"{client}-{codec}.bin"
    json_path = output / f"{client}-{codec}.json"
    records_path.write_bytes(b"".join(blobs))
    json_path.write_text(json.dumps(expected(client, codec), indent=1) + "\n")
    return records_path, json_path


def capture_all(
    output: Path, clients: Sequence[str] = CLIENTS, codecs: Sequence[str] = CODECS
) -> list[tuple[Path, Path]]:
    """
    Capture every client with every codec.

    @param output: the directory to write to.
    @param clients: the clients to run.
    @param codecs: the codecs to use.
    @return: the written paths.
    @raise RuntimeError: if a producer fails or a request went unanswered.
    """
    output.mkdir(parents=True, exist_ok=True)
    with CaptureBroker() as broker:
        written = [
            capture(broker, client, codec, output)
            for client in clients
            for codec in codecs
        ]
        if broker.unexpected:
            raise RuntimeError(f"unanswered requests: {broker.unexpected}")
    return written


def main(argv: list[str]) -> int:
    if argv[:1] == ["--produce"]:
        client, codec, port = argv[1], argv[2], int(argv[3])
        if client == "librdkafka":
            _produce_librdkafka(codec, port)
        else:
            _produce_kafka_python(codec, port)
        return 0
    output = Path(argv[0]) if argv else DEFAULT_OUTPUT
    for records_path, json_path in capture_all(output):
        print(f"{records_path} ({records_path.stat().st_size} bytes), {json_path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
