"""
The consumer's Fetch and ListOffsets requests and what their answers hold, without
touching the per-version kio classes outside this module, and the settings they
are built from (L{FetchSettings}). Sans-IO.

Fetch requests are full requests, never incremental: session id 0 and epoch -1
(version 7 and up), so the broker keeps no fetch session for the consumer. Fetch
stops at version 12 (see L{CLIENT_MAX_VERSIONS
<odradek.client.network.requests.CLIENT_MAX_VERSIONS>}).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final, Protocol, cast

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client.network.requests import client_version_range
from odradek.client.protocol import ApiKey, UnsupportedVersionError, request_type
from odradek.client.structs import TopicPartition

__all__ = [
    "EARLIEST_TIMESTAMP",
    "ISOLATION_LEVELS",
    "LATEST_TIMESTAMP",
    "FetchConfig",
    "FetchSettings",
    "FetchedPartition",
    "ListedOffset",
    "PartitionFetch",
    "fetch_request",
    "list_offsets_request",
    "parse_fetch_response",
    "parse_list_offsets_response",
]

#: The timestamp that asks ListOffsets for a partition's log start offset.
EARLIEST_TIMESTAMP: Final = -2
#: The timestamp that asks ListOffsets for a partition's end offset (the high
#: watermark, or the last stable offset when reading committed records).
LATEST_TIMESTAMP: Final = -1

#: The isolation levels by name, and their number on the wire.
ISOLATION_LEVELS: Final = {"read_uncommitted": 0, "read_committed": 1}

_CONSUMER_REPLICA_ID: Final = -1
_NO_SESSION: Final = 0
_FULL_FETCH_EPOCH: Final = -1


@cache
def _request_class(api_key: ApiKey, version: int) -> Callable[..., RequestPayload]:
    return cast(Callable[..., RequestPayload], request_type(api_key, version))


@cache
def _nested(api_key: ApiKey, version: int, name: str) -> Callable[..., Any]:
    # The entity classes nested in a request live in the request's kio module.
    module = sys.modules[request_type(api_key, version).__module__]
    return cast(Callable[..., Any], getattr(module, name))


def _check_version(api_key: ApiKey, version: int) -> None:
    allowed = client_version_range(api_key)
    if version not in allowed:
        raise UnsupportedVersionError(
            api_key,
            f"{api_key.name} version {version} is not built by this client; it"
            f" builds versions {allowed}",
            api_version=version,
            supported=allowed,
        )


def _check_response(response: ResponsePayload, api_key: ApiKey) -> tuple[Any, int]:
    if getattr(type(response), "__api_key__", None) != api_key:
        raise TypeError(
            f"expected a kio {api_key.name} response, not {type(response).__qualname__}"
        )
    return response, int(type(response).__version__)


class FetchConfig(Protocol):
    """The settings L{FetchSettings.from_config} reads (a C{ConsumerConfig})."""

    @property
    def fetch_min_bytes(self) -> int: ...
    @property
    def fetch_max_bytes(self) -> int: ...
    @property
    def fetch_max_wait_ms(self) -> int: ...
    @property
    def max_partition_fetch_bytes(self) -> int: ...
    @property
    def max_poll_records(self) -> int: ...
    @property
    def isolation_level(self) -> str: ...
    @property
    def check_crcs(self) -> bool: ...
    @property
    def client_rack(self) -> str: ...
    @property
    def request_timeout_ms(self) -> int: ...
    @property
    def retry_backoff_ms(self) -> int: ...


@attrs.frozen
class FetchSettings:
    """
    The consumer settings the fetcher acts on, by Kafka's names in their units.

    @ivar fetch_min_bytes: C{fetch.min.bytes}.
    @ivar fetch_max_bytes: C{fetch.max.bytes}.
    @ivar fetch_max_wait_ms: C{fetch.max.wait.ms}.
    @ivar max_partition_fetch_bytes: C{max.partition.fetch.bytes}.
    @ivar max_poll_records: C{max.poll.records}.
    @ivar isolation_level: C{isolation.level}: C{"read_uncommitted"} or
        C{"read_committed"}.
    @ivar check_crcs: C{check.crcs}.
    @ivar client_rack: C{client.rack}, sent with fetches (version 11 and up).
    @ivar request_timeout_ms: C{request.timeout.ms}; a fetch may take that long
        beyond C{fetch.max.wait.ms}.
    @ivar retry_backoff_ms: C{retry.backoff.ms}: the wait before fetching again
        a partition (or from a broker) that failed.
    """

    fetch_min_bytes: int = 1
    fetch_max_bytes: int = 52428800
    fetch_max_wait_ms: int = 500
    max_partition_fetch_bytes: int = 1048576
    max_poll_records: int = 500
    isolation_level: str = attrs.field(default="read_uncommitted")
    check_crcs: bool = True
    client_rack: str = ""
    request_timeout_ms: int = 30000
    retry_backoff_ms: int = 100

    @isolation_level.validator
    def _check_isolation_level(self, attribute: object, value: str) -> None:
        if value not in ISOLATION_LEVELS:
            raise ValueError(
                f"Invalid isolation.level {value!r}: read_uncommitted or read_committed"
            )

    @classmethod
    def from_config(cls, config: FetchConfig) -> FetchSettings:
        """
        @param config: the consumer's configuration.
        @return: its fetch settings.
        """
        return cls(
            fetch_min_bytes=config.fetch_min_bytes,
            fetch_max_bytes=config.fetch_max_bytes,
            fetch_max_wait_ms=config.fetch_max_wait_ms,
            max_partition_fetch_bytes=config.max_partition_fetch_bytes,
            max_poll_records=config.max_poll_records,
            isolation_level=config.isolation_level,
            check_crcs=config.check_crcs,
            client_rack=config.client_rack,
            request_timeout_ms=config.request_timeout_ms,
            retry_backoff_ms=config.retry_backoff_ms,
        )

    @property
    def read_committed(self) -> bool:
        """Whether only committed transactional records are returned."""
        return self.isolation_level == "read_committed"

    @property
    def isolation_level_id(self) -> int:
        """The isolation level on the wire: 0 or 1."""
        return ISOLATION_LEVELS[self.isolation_level]


@attrs.frozen
class PartitionFetch:
    """
    What a Fetch request asks of one partition.

    @ivar fetch_offset: the offset to read from.
    @ivar max_bytes: the most record bytes to return for it (C{max.partition.fetch
        .bytes}; at least one batch comes back however big).
    @ivar current_leader_epoch: the leader epoch the consumer knows, so that a
        broker with another epoch refuses the fetch (version 9 and up), or -1.
    """

    fetch_offset: int
    max_bytes: int
    current_leader_epoch: int = -1


def fetch_request(
    version: int,
    *,
    max_wait_ms: int,
    min_bytes: int,
    max_bytes: int,
    isolation_level: int,
    partitions: Mapping[TopicPartition, PartitionFetch],
    rack_id: str = "",
) -> RequestPayload:
    """
    Build a full Fetch request, partitions grouped by topic in the order given.

    Versions 4 to 6 carry the replica id (-1), the waits and sizes, the isolation
    level and per partition its offset and size; version 5 adds the log start
    offset (-1 for a consumer), version 7 the fetch session (none here), version 9
    the current leader epoch, version 11 the rack id and version 12 the last
    fetched epoch (-1: consumers do not send it).

    @param version: the version to build, 4 to 12.
    @param max_wait_ms: C{fetch.max.wait.ms}.
    @param min_bytes: C{fetch.min.bytes}.
    @param max_bytes: C{fetch.max.bytes}.
    @param isolation_level: 0 for read_uncommitted, 1 for read_committed.
    @param partitions: what to fetch of each partition.
    @param rack_id: C{client.rack}, for fetching from a nearby replica.
    @return: the kio request.
    @raise UnsupportedVersionError: for a version outside 4 to 12.
    """
    _check_version(ApiKey.FETCH, version)
    topic_class = _nested(ApiKey.FETCH, version, "FetchTopic")
    partition_class = _nested(ApiKey.FETCH, version, "FetchPartition")
    by_topic: dict[str, list[Any]] = {}
    for tp, fetch in partitions.items():
        fields: dict[str, object] = {
            "partition": tp.partition,
            "fetch_offset": fetch.fetch_offset,
            "partition_max_bytes": fetch.max_bytes,
        }
        if version >= 5:
            fields["log_start_offset"] = -1
        if version >= 9:
            fields["current_leader_epoch"] = fetch.current_leader_epoch
        by_topic.setdefault(tp.topic, []).append(partition_class(**fields))
    request: dict[str, object] = {
        "replica_id": _CONSUMER_REPLICA_ID,
        "max_wait": datetime.timedelta(milliseconds=max_wait_ms),
        "min_bytes": min_bytes,
        "max_bytes": max_bytes,
        "isolation_level": isolation_level,
        "topics": tuple(
            topic_class(topic=topic, partitions=tuple(entries))
            for topic, entries in by_topic.items()
        ),
    }
    if version >= 7:
        request["session_id"] = _NO_SESSION
        request["session_epoch"] = _FULL_FETCH_EPOCH
        request["forgotten_topics_data"] = ()
    if version >= 11:
        request["rack_id"] = rack_id
    return _request_class(ApiKey.FETCH, version)(**request)


@attrs.frozen
class FetchedPartition:
    """
    What a Fetch response says of one partition.

    @ivar error_code: 0, or the partition's error.
    @ivar high_watermark: the partition's high watermark, or -1.
    @ivar last_stable_offset: its last stable offset, or -1.
    @ivar log_start_offset: its log start offset, or -1 (before version 5).
    @ivar aborted_transactions: for read_committed, the transactions aborted in
        the data returned, as (producer id, first offset) pairs; else C{None}.
    @ivar preferred_read_replica: the replica to fetch from next (version 11 and
        up), or -1.
    @ivar records: the record batches, maybe cut short at the end.
    """

    error_code: int
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    aborted_transactions: tuple[tuple[int, int], ...] | None = None
    preferred_read_replica: int = -1
    records: bytes = b""


def parse_fetch_response(
    response: ResponsePayload,
) -> tuple[int, dict[TopicPartition, FetchedPartition]]:
    """
    Read a Fetch response of any version from 4 to 12.

    @param response: a decoded kio Fetch response.
    @return: the top-level error code (0 before version 7) and what was answered
        for each partition.
    @raise TypeError: if C{response} is not a Fetch response.
    """
    data, version = _check_response(response, ApiKey.FETCH)
    results: dict[TopicPartition, FetchedPartition] = {}
    for topic in data.responses:
        for partition in topic.partitions:
            aborted = partition.aborted_transactions
            results[TopicPartition(topic.topic, int(partition.partition_index))] = (
                FetchedPartition(
                    error_code=int(partition.error_code),
                    high_watermark=int(partition.high_watermark),
                    last_stable_offset=int(partition.last_stable_offset),
                    log_start_offset=(
                        int(partition.log_start_offset) if version >= 5 else -1
                    ),
                    aborted_transactions=None
                    if aborted is None
                    else tuple(
                        (int(each.producer_id), int(each.first_offset))
                        for each in aborted
                    ),
                    preferred_read_replica=(
                        int(partition.preferred_read_replica) if version >= 11 else -1
                    ),
                    records=partition.records or b"",
                )
            )
    top_error = int(data.error_code) if version >= 7 else 0
    return top_error, results


def list_offsets_request(
    version: int,
    *,
    isolation_level: int,
    partitions: Mapping[TopicPartition, tuple[int, int]],
    timeout_ms: int,
) -> RequestPayload:
    """
    Build a ListOffsets request, partitions grouped by topic.

    Version 1 carries the replica id (-1) and per partition its timestamp;
    version 2 adds the isolation level, version 4 the current leader epoch and
    version 10 a timeout (for tiered storage).

    @param version: the version to build, 1 to 11.
    @param isolation_level: 0 for read_uncommitted, 1 for read_committed (the
        latest offset is then the last stable offset).
    @param partitions: for each partition, the timestamp to look up
        (L{EARLIEST_TIMESTAMP}, L{LATEST_TIMESTAMP} or milliseconds since the
        epoch) and the current leader epoch known, or -1.
    @param timeout_ms: how long the broker may take (version 10 and up).
    @return: the kio request.
    @raise UnsupportedVersionError: for a version outside 1 to 11.
    """
    _check_version(ApiKey.LIST_OFFSETS, version)
    topic_class = _nested(ApiKey.LIST_OFFSETS, version, "ListOffsetsTopic")
    partition_class = _nested(ApiKey.LIST_OFFSETS, version, "ListOffsetsPartition")
    by_topic: dict[str, list[Any]] = {}
    for tp, (timestamp, leader_epoch) in partitions.items():
        fields: dict[str, object] = {
            "partition_index": tp.partition,
            "timestamp": timestamp,
        }
        if version >= 4:
            fields["current_leader_epoch"] = leader_epoch
        by_topic.setdefault(tp.topic, []).append(partition_class(**fields))
    request: dict[str, object] = {
        "replica_id": _CONSUMER_REPLICA_ID,
        "topics": tuple(
            topic_class(name=topic, partitions=tuple(entries))
            for topic, entries in by_topic.items()
        ),
    }
    if version >= 2:
        request["isolation_level"] = isolation_level
    if version >= 10:
        request["timeout"] = datetime.timedelta(milliseconds=timeout_ms)
    return _request_class(ApiKey.LIST_OFFSETS, version)(**request)


@attrs.frozen
class ListedOffset:
    """
    What a ListOffsets response says of one partition.

    @ivar error_code: 0, or the partition's error.
    @ivar offset: the offset found, or -1 when there is none (no record at or
        after the time asked for).
    @ivar timestamp: the timestamp of that record, or -1.
    @ivar leader_epoch: the leader epoch of that record (version 4 and up), or
        C{None}.
    """

    error_code: int
    offset: int = -1
    timestamp: int = -1
    leader_epoch: int | None = None


def parse_list_offsets_response(
    response: ResponsePayload,
) -> dict[TopicPartition, ListedOffset]:
    """
    Read a ListOffsets response of any version from 1 to 11.

    @param response: a decoded kio ListOffsets response.
    @return: what was answered for each partition.
    @raise TypeError: if C{response} is not a ListOffsets response.
    """
    data, version = _check_response(response, ApiKey.LIST_OFFSETS)
    results: dict[TopicPartition, ListedOffset] = {}
    for topic in data.topics:
        for partition in topic.partitions:
            epoch = int(partition.leader_epoch) if version >= 4 else -1
            results[TopicPartition(topic.name, int(partition.partition_index))] = (
                ListedOffset(
                    error_code=int(partition.error_code),
                    offset=int(partition.offset),
                    timestamp=int(partition.timestamp),
                    leader_epoch=epoch if epoch >= 0 else None,
                )
            )
    return results
