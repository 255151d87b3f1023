"""
Typed client configuration with Kafka's names, defaults and rules.

A configuration is built from a mapping with Kafka's dotted names, keyword arguments
with underscores, or both; values may be typed or strings, as in a C{.properties}
file::

    config = ProducerConfig({"bootstrap.servers": "h1:9092,h2:9092"}, linger_ms=5)
    config.linger_ms            # 5
    config.bootstrap_servers    # ["h1:9092", "h2:9092"]
    config["acks"]              # -1: "all"
    config.is_set("acks")       # False: the default

An unknown key, a value of the wrong type or out of range, a missing required key
and keys that contradict each other all raise L{ConfigError}. The defaults are those
of Apache Kafka's Java client 4.x. L{config_reference} lists the keys for the docs.

L{CommonClientConfig} holds the keys every client shares; L{ProducerConfig},
L{ConsumerConfig} and L{AdminClientConfig} add those of the producer, the consumer
and the admin client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

import attrs

from odradek.client._adminconfig import AdminClientConfig
from odradek.client._commonconfig import (
    AT_LEAST_0,
    INT_MAX,
    CommonClientConfig,
    for_key,
)
from odradek.client._configdef import AbstractConfig, define
from odradek.client._configtypes import (
    BOOLEAN,
    INT,
    LONG,
    STRING,
    ConfigError,
    ConfigType,
    NonEmptyString,
    OneOf,
    Range,
)
from odradek.client._consumerconfig import ConsumerConfig
from odradek.client.serialization import ISerializer, resolve_serializer

__all__ = [
    "AbstractConfig",
    "AdminClientConfig",
    "CommonClientConfig",
    "ConfigError",
    "ConsumerConfig",
    "ProducerConfig",
    "config_reference",
]

_MAX_IN_FLIGHT_FOR_IDEMPOTENCE: Final = 5


def _parse_acks(name: str, value: object) -> int:
    if isinstance(value, str) and value.strip().lower() == "all":
        return -1
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            acks = int(value)
        except ValueError:
            pass
        else:
            if acks in (-1, 0, 1):
                return acks
    raise ConfigError(
        f"Invalid value {value!r} for configuration {name}: value must be one of "
        "all, -1, 0, 1",
        name,
        value,
    )


def _parse_serializer(name: str, value: object) -> ISerializer:
    try:
        return resolve_serializer(value)
    except ConfigError as e:
        raise for_key(name, value, e) from None


def _parse_partitioner(name: str, value: object) -> object:
    # Imported here so that loading the configuration does not load the producer.
    from odradek.client.producer.partitioner import load_partitioner_class

    try:
        return load_partitioner_class(value)
    except ConfigError as e:
        raise for_key(name, value, e) from None


_ACKS: Final = ConfigType("string", _parse_acks)
_SERIALIZER: Final = ConfigType("class", _parse_serializer)
_PARTITIONER: Final = ConfigType("class", _parse_partitioner)


@attrs.frozen(init=False)
class ProducerConfig(CommonClientConfig):
    """
    The configuration of a producer.

    Idempotence, on by default, needs C{acks=all}, C{retries} above 0 and at most 5
    requests in flight per connection: when one of them conflicts, idempotence is
    switched off if it was only the default and the configuration is rejected if
    the user asked for it. A C{transactional.id} needs idempotence. A
    C{delivery.timeout.ms} below C{linger.ms + request.timeout.ms} is an error when
    given and raised to that sum when it is the default.
    """

    acks = define(
        "acks",
        _ACKS,
        "all",
        "Acknowledgements the leader needs before answering: all (-1), 0 or 1.",
    )
    batch_size = define(
        "batch.size",
        INT,
        16384,
        "The size of a partition's batch in bytes; 0 disables batching.",
        AT_LEAST_0,
    )
    linger_ms = define(
        "linger.ms",
        LONG,
        5,
        "How long to wait for more records before sending a batch that is not full.",
        AT_LEAST_0,
    )
    buffer_memory = define(
        "buffer.memory",
        LONG,
        33554432,
        "The memory in bytes for records waiting to be sent.",
        AT_LEAST_0,
    )
    max_block_ms = define(
        "max.block.ms",
        LONG,
        60000,
        "How long send and other calls may block for metadata or buffer memory.",
        AT_LEAST_0,
    )
    max_request_size = define(
        "max.request.size",
        INT,
        1048576,
        "The largest request in bytes, and so the largest uncompressed record.",
        AT_LEAST_0,
    )
    compression_type = define(
        "compression.type",
        STRING,
        "none",
        "The codec of record batches.",
        OneOf(("none", "gzip", "snappy", "lz4", "zstd")),
    )
    compression_gzip_level = define(
        "compression.gzip.level",
        INT,
        -1,
        "The gzip compression level; -1 is the codec's default.",
        Range(1, 9, also=(-1,)),
    )
    compression_lz4_level = define(
        "compression.lz4.level", INT, 9, "The lz4 compression level.", Range(1, 17)
    )
    compression_zstd_level = define(
        "compression.zstd.level",
        INT,
        3,
        "The zstd compression level.",
        Range(-131072, 22),
    )
    retries = define(
        "retries",
        INT,
        INT_MAX,
        "How often to resend a record after a retriable error.",
        Range(0, INT_MAX),
    )
    delivery_timeout_ms = define(
        "delivery.timeout.ms",
        INT,
        120000,
        "The most time between send returning and its success or failure.",
        AT_LEAST_0,
    )
    max_in_flight_requests_per_connection = define(
        "max.in.flight.requests.per.connection",
        INT,
        5,
        "The most requests sent on a connection without an answer yet.",
        Range(1),
    )
    enable_idempotence = define(
        "enable.idempotence",
        BOOLEAN,
        True,
        "Write each record exactly once per partition despite retries.",
    )
    transactional_id = define(
        "transactional.id",
        STRING,
        None,
        "The id of the producer's transactions; implies idempotence.",
        NonEmptyString(),
    )
    transaction_timeout_ms = define(
        "transaction.timeout.ms",
        INT,
        60000,
        "How long a transaction may stay open before the coordinator aborts it.",
    )
    partitioner_class = define(
        "partitioner.class",
        _PARTITIONER,
        None,
        "An IPartitioner class, instance or import path; unset for the built-in.",
    )
    partitioner_ignore_keys = define(
        "partitioner.ignore.keys",
        BOOLEAN,
        False,
        "Partition keyed records as keyless ones (built-in partitioner only).",
    )
    partitioner_adaptive_partitioning_enable = define(
        "partitioner.adaptive.partitioning.enable",
        BOOLEAN,
        True,
        "Send more to partitions on faster brokers (built-in partitioner only).",
    )
    partitioner_availability_timeout_ms = define(
        "partitioner.availability.timeout.ms",
        LONG,
        0,
        "Skip partitions whose broker has not taken batches for this long; 0: off.",
        AT_LEAST_0,
    )
    key_serializer = define(
        "key.serializer",
        _SERIALIZER,
        "bytes",
        "The ISerializer of keys: a name (bytes, str, int, long, double, json), "
        "an import path, a class, an instance or a function.",
    )
    value_serializer = define(
        "value.serializer",
        _SERIALIZER,
        "bytes",
        "The ISerializer of values, given as for key.serializer.",
    )
    metadata_max_idle_ms = define(
        "metadata.max.idle.ms",
        LONG,
        300000,
        "Forget the metadata of a topic not produced to for this long.",
        Range(5000),
    )

    def _post_process(
        self, values: dict[str, Any], originals: Mapping[str, object]
    ) -> dict[str, Any]:
        values = super()._post_process(values, originals)
        _check_idempotence(values, originals)
        _check_delivery_timeout(values, originals)
        return values


def _check_idempotence(values: dict[str, Any], originals: Mapping[str, object]) -> None:
    """
    Switch idempotence off when another key conflicts with it and it was only the
    default; reject the conflict when the user asked for idempotence.
    """
    if values["enable.idempotence"]:
        max_in_flight = values["max.in.flight.requests.per.connection"]
        conflicts = []
        if values["retries"] == 0:
            conflicts.append("retries to be greater than 0")
        if values["acks"] != -1:
            conflicts.append("acks to be all")
        if max_in_flight > _MAX_IN_FLIGHT_FOR_IDEMPOTENCE:
            conflicts.append(
                "max.in.flight.requests.per.connection to be at most "
                f"{_MAX_IN_FLIGHT_FOR_IDEMPOTENCE} (it is {max_in_flight})"
            )
        if conflicts:
            if "enable.idempotence" in originals:
                raise ConfigError(
                    "The idempotent producer (enable.idempotence=true) needs "
                    + " and ".join(conflicts),
                    "enable.idempotence",
                    originals["enable.idempotence"],
                )
            values["enable.idempotence"] = False
    if values["transactional.id"] is not None and not values["enable.idempotence"]:
        raise ConfigError(
            "Cannot set a transactional.id without also enabling idempotence",
            "transactional.id",
            values["transactional.id"],
        )


def _check_delivery_timeout(
    values: dict[str, Any], originals: Mapping[str, object]
) -> None:
    """
    Keep C{delivery.timeout.ms} at least C{linger.ms + request.timeout.ms}.
    """
    floor = min(values["linger.ms"] + values["request.timeout.ms"], INT_MAX)
    if values["delivery.timeout.ms"] < floor:
        if "delivery.timeout.ms" in originals:
            raise ConfigError(
                "delivery.timeout.ms should be equal to or larger than linger.ms + "
                f"request.timeout.ms ({floor})",
                "delivery.timeout.ms",
                originals["delivery.timeout.ms"],
            )
        values["delivery.timeout.ms"] = floor


def config_reference(
    config_class: type[AbstractConfig] = ProducerConfig,
) -> Iterator[tuple[str, str, object, str]]:
    """
    Describe every key of a configuration class, for a reference table.

    @param config_class: the class: L{ProducerConfig} unless told otherwise,
        L{ConsumerConfig}, L{AdminClientConfig} or any other configuration class.
    @return: C{(name, type, default, doc)} for each key, by name: the type's name
        in Kafka's documentation (C{"int"}, C{"long"}, C{"list"} ...), the default
        as defined (C{NO_DEFAULT} for required keys) and a line of documentation
        ending with the allowed values, if restricted.
    """
    definition = config_class.definition()
    for name in sorted(definition):
        key = definition[name]
        doc = key.doc
        if key.validator is not None:
            doc += f" Valid values: {key.validator}."
        yield key.name, key.config_type.name, key.default, doc
