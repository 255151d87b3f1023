"""
L{ConsumerConfig}: the Java consumer's keys, defaults and rules (Kafka 4.x, the
classic group protocol). Import it from L{odradek.client.config}.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from odradek.client._commonconfig import AT_LEAST_0, CommonClientConfig, for_key
from odradek.client._configdef import define
from odradek.client._configtypes import (
    BOOLEAN,
    INT,
    STRING,
    ConfigError,
    ConfigType,
    OneOf,
    Range,
    _invalid,
)
from odradek.client.serialization import IDeserializer, resolve_deserializer

__all__ = ["ASSIGNOR_NAMES", "ConsumerConfig"]

_JAVA_CONSUMER: Final = "org.apache.kafka.clients.consumer."
_SHORT_NAMES: Final = ("range", "roundrobin", "sticky", "cooperative-sticky")
ASSIGNOR_NAMES: Final[Mapping[str, str]] = {
    **{name: name for name in _SHORT_NAMES},
    _JAVA_CONSUMER + "RangeAssignor": "range",
    _JAVA_CONSUMER + "RoundRobinAssignor": "roundrobin",
    _JAVA_CONSUMER + "StickyAssignor": "sticky",
    _JAVA_CONSUMER + "CooperativeStickyAssignor": "cooperative-sticky",
}
"""
The assignor names C{partition.assignment.strategy} knows, short or as the Java
client's class names, each mapped to its short name (the protocol name sent in
JoinGroup).
"""

_MAX_GROUP_INSTANCE_ID_LENGTH: Final = 249
_LEGAL_GROUP_INSTANCE_ID: Final = re.compile(r"[a-zA-Z0-9._-]+")


def _parse_lower(name: str, value: object) -> str:
    return STRING.parse(name, value).lower()


def _parse_group_protocol(name: str, value: object) -> str:
    protocol = _parse_lower(name, value)
    if protocol == "consumer":
        raise _invalid(
            name,
            value,
            "only the classic protocol is supported, not the consumer protocol "
            "of KIP-848",
        )
    return protocol


def _parse_offset_reset(name: str, value: object) -> str:
    strategy = _parse_lower(name, value)
    if strategy.startswith("by_duration"):
        raise _invalid(name, value, "by_duration is not supported yet")
    return strategy


def _parse_assignors(name: str, value: object) -> tuple[object, ...]:
    items: list[object]
    if isinstance(value, str):
        text = value.strip()
        items = [item.strip() for item in text.split(",")] if text else []
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise _invalid(name, value, "expected a comma-separated string or a list")
    assignors: list[object] = []
    for item in items:
        if isinstance(item, str):
            short = ASSIGNOR_NAMES.get(item.strip()) or ASSIGNOR_NAMES.get(
                item.strip().lower()
            )
            if short is None:
                raise _invalid(
                    name,
                    value,
                    f"unknown assignor {item!r}; known are " + ", ".join(_SHORT_NAMES),
                )
            if short in assignors:
                raise _invalid(name, value, f"the assignor {short!r} is given twice")
            assignors.append(short)
        else:
            assignors.append(item)
    return tuple(assignors)


def _parse_deserializer(name: str, value: object) -> IDeserializer:
    try:
        return resolve_deserializer(value)
    except ConfigError as e:
        raise for_key(name, value, e) from None


@attrs.frozen
class _GroupInstanceIdValidator:
    """
    The rule of the Java client's C{JoinGroupRequest.validateGroupInstanceId}.
    """

    def __call__(self, name: str, value: Any) -> None:
        if (
            value in ("", ".", "..")
            or len(value) > _MAX_GROUP_INSTANCE_ID_LENGTH
            or _LEGAL_GROUP_INSTANCE_ID.fullmatch(value) is None
        ):
            raise _invalid(name, value, f"value must be {self}")

    def __str__(self) -> str:
        return (
            f"at most {_MAX_GROUP_INSTANCE_ID_LENGTH} letters, digits, '.', '_' "
            "and '-', not '.' or '..'"
        )


_LOWER_STRING: Final = ConfigType("string", _parse_lower)
_GROUP_PROTOCOL: Final = ConfigType("string", _parse_group_protocol)
_OFFSET_RESET: Final = ConfigType("string", _parse_offset_reset)
_ASSIGNORS: Final = ConfigType("list", _parse_assignors)
_DESERIALIZER: Final = ConfigType("class", _parse_deserializer)


@attrs.frozen(init=False)
class ConsumerConfig(CommonClientConfig):
    """
    The configuration of a consumer.

    C{heartbeat.interval.ms} must be below C{session.timeout.ms}. Without a
    C{group.id} there are no commits: C{enable.auto.commit} is switched off when
    it was only the default and the configuration is rejected when the user set
    it to C{true}. C{partition.assignment.strategy} reads as a tuple of the
    assignors' short names (C{"range"}, C{"roundrobin"}, C{"sticky"},
    C{"cooperative-sticky"}), Java class names mapped to them, and the assignor
    objects given, unchanged and in order of preference.
    """

    group_id = define(
        "group.id",
        STRING,
        None,
        "The consumer group to join; needed to subscribe and to commit offsets.",
    )
    group_instance_id = define(
        "group.instance.id",
        STRING,
        None,
        "A stable member id for static membership; unset for a dynamic member.",
        _GroupInstanceIdValidator(),
    )
    group_protocol = define(
        "group.protocol",
        _GROUP_PROTOCOL,
        "classic",
        "The group protocol; only classic is supported.",
        OneOf(("classic",)),
    )
    session_timeout_ms = define(
        "session.timeout.ms",
        INT,
        45000,
        "The group removes a member it has not heard from for this long.",
        Range(1),
    )
    heartbeat_interval_ms = define(
        "heartbeat.interval.ms",
        INT,
        3000,
        "How often to heartbeat to the group coordinator; below session.timeout.ms.",
        Range(1),
    )
    max_poll_interval_ms = define(
        "max.poll.interval.ms",
        INT,
        300000,
        "Leave the group when poll is not called for this long; also the "
        "rebalance timeout.",
        Range(1),
    )
    partition_assignment_strategy = define(
        "partition.assignment.strategy",
        _ASSIGNORS,
        ("range", "cooperative-sticky"),
        "Assignors by preference: range, roundrobin, sticky, cooperative-sticky, "
        "Java class names or IPartitionAssignor providers.",
    )
    enable_auto_commit = define(
        "enable.auto.commit",
        BOOLEAN,
        True,
        "Commit consumed offsets in the background; off without a group.id.",
    )
    auto_commit_interval_ms = define(
        "auto.commit.interval.ms",
        INT,
        5000,
        "How often offsets are committed when enable.auto.commit is on.",
        AT_LEAST_0,
    )
    auto_offset_reset = define(
        "auto.offset.reset",
        _OFFSET_RESET,
        "latest",
        "Where to start without a valid committed offset: latest, earliest, or "
        "none to raise NoOffsetForPartitionError.",
        OneOf(("latest", "earliest", "none")),
    )
    client_rack = define(
        "client.rack",
        STRING,
        "",
        "The rack of this consumer, to fetch from a replica in the same rack.",
    )
    fetch_min_bytes = define(
        "fetch.min.bytes",
        INT,
        1,
        "The least data the broker gathers before answering a fetch.",
        AT_LEAST_0,
    )
    fetch_max_bytes = define(
        "fetch.max.bytes",
        INT,
        52428800,
        "The most data a fetch response should hold (not a hard limit).",
        AT_LEAST_0,
    )
    fetch_max_wait_ms = define(
        "fetch.max.wait.ms",
        INT,
        500,
        "How long the broker may wait for fetch.min.bytes before answering.",
        AT_LEAST_0,
    )
    max_partition_fetch_bytes = define(
        "max.partition.fetch.bytes",
        INT,
        1048576,
        "The most data a fetch returns per partition (not a hard limit).",
        AT_LEAST_0,
    )
    max_poll_records = define(
        "max.poll.records",
        INT,
        500,
        "The most records one poll returns.",
        Range(1),
    )
    check_crcs = define(
        "check.crcs",
        BOOLEAN,
        True,
        "Check the CRC-32C of fetched record batches.",
    )
    isolation_level = define(
        "isolation.level",
        _LOWER_STRING,
        "read_uncommitted",
        "read_committed returns only committed transactional records, up to the "
        "last stable offset.",
        OneOf(("read_uncommitted", "read_committed")),
    )
    exclude_internal_topics = define(
        "exclude.internal.topics",
        BOOLEAN,
        True,
        "Keep internal topics out of pattern subscriptions.",
    )
    allow_auto_create_topics = define(
        "allow.auto.create.topics",
        BOOLEAN,
        True,
        "Let the broker create subscribed topics that do not exist, if it allows.",
    )
    default_api_timeout_ms = define(
        "default.api.timeout.ms",
        INT,
        60000,
        "The timeout of blocking calls given none.",
        AT_LEAST_0,
    )
    key_deserializer = define(
        "key.deserializer",
        _DESERIALIZER,
        "bytes",
        "The IDeserializer of keys: a name (bytes, str, int, long, double, json), "
        "an import path, a class, an instance or a function.",
    )
    value_deserializer = define(
        "value.deserializer",
        _DESERIALIZER,
        "bytes",
        "The IDeserializer of values, given as for key.deserializer.",
    )
    receive_buffer_bytes = define(
        "receive.buffer.bytes",
        INT,
        65536,
        "The TCP receive buffer (SO_RCVBUF); -1 uses the OS default.",
        Range(-1),
    )
    internal_leave_group_on_close = define(
        "internal.leave.group.on.close",
        BOOLEAN,
        True,
        "Leave the group on close, so that it rebalances at once (Kafka's "
        "internal key).",
    )

    def _post_process(
        self, values: dict[str, Any], originals: Mapping[str, object]
    ) -> dict[str, Any]:
        values = super()._post_process(values, originals)
        _check_heartbeat(values)
        _check_auto_commit(values, originals)
        return values


def _check_heartbeat(values: dict[str, Any]) -> None:
    """
    Keep C{heartbeat.interval.ms} below C{session.timeout.ms}, as the Java
    consumer's heartbeat does.
    """
    heartbeat, session = values["heartbeat.interval.ms"], values["session.timeout.ms"]
    if heartbeat >= session:
        raise ConfigError(
            f"heartbeat.interval.ms ({heartbeat}) must be lower than "
            f"session.timeout.ms ({session})",
            "heartbeat.interval.ms",
            heartbeat,
        )


def _check_auto_commit(values: dict[str, Any], originals: Mapping[str, object]) -> None:
    """
    Without a C{group.id}, switch C{enable.auto.commit} off when it was only the
    default and reject it when the user set it to C{true}.
    """
    if values["group.id"] is not None:
        return
    if "enable.auto.commit" not in originals:
        values["enable.auto.commit"] = False
    elif values["enable.auto.commit"]:
        raise ConfigError(
            "enable.auto.commit cannot be true without a group.id",
            "enable.auto.commit",
            originals["enable.auto.commit"],
        )
