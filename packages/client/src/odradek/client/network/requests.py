"""
Requests the client's network core sends, and the answers it reads, without touching
the per-version kio classes outside this module. Sans-IO.

Each builder takes the version negotiated with the broker and fills in the fields
that version has; each reader takes a decoded kio response of any version and
returns plain values (C{int} error codes, milliseconds, L{TopicPartition}s). The
field sets of every version are spelled out in the functions below, version by
version, so that a reader can compare them with Kafka's message definitions.

The kio class of a request comes from L{request_type
<odradek.client.protocol.apis.request_type>}; its nested entity classes are found in
the same kio module under Kafka's names for them (C{MetadataRequestTopic},
C{TopicProduceData} ...).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import Any, Protocol, cast

import attrs
from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    UnsupportedVersionError,
    VersionRange,
    negotiate,
    request_type,
)
from odradek.client.structs import TopicPartition

__all__ = [
    "CLIENT_MAX_VERSIONS",
    "CLIENT_SOFTWARE_NAME",
    "PartitionProduceResult",
    "api_versions_request",
    "client_software_version",
    "client_version_range",
    "client_versions",
    "cluster_from_metadata_response",
    "init_producer_id_request",
    "metadata_request",
    "parse_init_producer_id_response",
    "parse_produce_response",
    "produce_request",
]

#: The newest version of each API that this client can build, where that is below
#: the newest version in L{SUPPORTED_VERSIONS}. Produce and Fetch stop at version
#: 12 and OffsetCommit and OffsetFetch at 9: the next versions name topics by id
#: instead of by name, and the client's metadata knows only names. APIs not listed
#: here are built up to their newest supported version.
CLIENT_MAX_VERSIONS: Mapping[ApiKey, int] = MappingProxyType(
    {
        ApiKey.PRODUCE: 12,
        ApiKey.FETCH: 12,
        ApiKey.OFFSET_COMMIT: 9,
        ApiKey.OFFSET_FETCH: 9,
    }
)

#: The name this client gives itself in ApiVersions requests (version 3 and up).
CLIENT_SOFTWARE_NAME = "odradek-python"

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ONE_MS = datetime.timedelta(milliseconds=1)


def client_version_range(api_key: ApiKey) -> VersionRange:
    """
    @param api_key: an API in L{SUPPORTED_VERSIONS}.
    @return: the versions of it this client can build: the supported range, capped
        by L{CLIENT_MAX_VERSIONS}.
    @raise KeyError: if the API is not supported at all.
    """
    supported = SUPPORTED_VERSIONS[api_key]
    cap = CLIENT_MAX_VERSIONS.get(api_key)
    if cap is None or cap >= supported.max_version:
        return supported
    return VersionRange(supported.min_version, cap)


class _ApiVersion(Protocol):
    @property
    def api_key(self) -> int: ...
    @property
    def min_version(self) -> int: ...
    @property
    def max_version(self) -> int: ...


class _ApiVersionsResponse(Protocol):
    @property
    def error_code(self) -> int: ...
    @property
    def api_keys(self) -> Sequence[_ApiVersion]: ...


def client_versions(api_versions_response: _ApiVersionsResponse) -> dict[ApiKey, int]:
    """
    Choose the version of every API to use with a broker: L{negotiate
    <odradek.client.protocol.negotiate>}, then capped by L{CLIENT_MAX_VERSIONS}.

    @param api_versions_response: a decoded ApiVersions response of any version.
    @return: for each API both sides can use, the version to send.
    @raise KafkaError: the exception for the response's error code, if not 0.
    """
    chosen = negotiate(api_versions_response)
    for entry in api_versions_response.api_keys:
        key = int(entry.api_key)
        if key not in chosen or ApiKey(key) not in CLIENT_MAX_VERSIONS:
            continue
        common = client_version_range(ApiKey(key)).intersection(
            VersionRange(int(entry.min_version), int(entry.max_version))
        )
        if common is None:
            del chosen[ApiKey(key)]
        else:
            chosen[ApiKey(key)] = common.max_version
    return chosen


@cache
def client_software_version() -> str:
    """
    @return: the installed version of the C{odradek-client} distribution, or C{"0"}
        when it is not installed (running from a source tree).
    """
    try:
        return importlib.metadata.version("odradek-client")
    except importlib.metadata.PackageNotFoundError:
        return "0"


@cache
def _request_class(api_key: ApiKey, version: int) -> Callable[..., RequestPayload]:
    return cast(Callable[..., RequestPayload], request_type(api_key, version))


@cache
def _nested(api_key: ApiKey, version: int, name: str) -> Callable[..., Any]:
    # The entity classes nested in a request live in the request's kio module.
    module = sys.modules[request_type(api_key, version).__module__]
    return cast(Callable[..., Any], getattr(module, name))


def api_versions_request(version: int) -> RequestPayload:
    """
    Build an ApiVersions request.

    Versions 0 to 2 have no fields; versions 3 and up name the client software
    (L{CLIENT_SOFTWARE_NAME} and L{client_software_version}).

    @param version: the version to build.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported.
    """
    request_class = _request_class(ApiKey.API_VERSIONS, version)
    if version < 3:
        return request_class()
    return request_class(
        client_software_name=CLIENT_SOFTWARE_NAME,
        client_software_version=client_software_version(),
    )


def metadata_request(
    version: int, topics: Sequence[str] | None, allow_auto_topic_creation: bool
) -> RequestPayload:
    """
    Build a Metadata request.

    Version 0 has no way to ask for no topics (its empty list means all of them), so
    an empty C{topics} cannot be sent in it. Before version 4 the broker decides
    alone whether to create unknown topics, and C{allow_auto_topic_creation} is not
    sent. Topic authorized operations are never asked for.

    @param version: the version to build.
    @param topics: the topics to describe, or C{None} for every topic.
    @param allow_auto_topic_creation: whether the broker may create the topics
        asked for when they do not exist (version 4 and up).
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or C{topics}
        is empty and the version is 0.
    """
    request_class = _request_class(ApiKey.METADATA, version)
    topic_class = _nested(ApiKey.METADATA, version, "MetadataRequestTopic")
    if version == 0:
        if topics is not None and not topics:
            raise UnsupportedVersionError(
                ApiKey.METADATA,
                "Metadata version 0 cannot ask for no topics: its empty list means "
                "every topic",
                api_version=0,
            )
        # Version 0: topics (an empty array means all topics).
        return request_class(
            topics=tuple(topic_class(name=name) for name in topics or ())
        )
    requested: tuple[Any, ...] | None
    if topics is None:
        requested = None
    elif version < 10:
        # Versions 1 to 9: each topic is its name.
        requested = tuple(topic_class(name=name) for name in topics)
    else:
        # Versions 10 and up: each topic is an id (null here) and a name.
        requested = tuple(topic_class(topic_id=None, name=name) for name in topics)
    fields: dict[str, object] = {"topics": requested}
    if version >= 4:
        fields["allow_auto_topic_creation"] = allow_auto_topic_creation
    if 8 <= version <= 10:
        fields["include_cluster_authorized_operations"] = False
    if version >= 8:
        fields["include_topic_authorized_operations"] = False
    return request_class(**fields)


def _check_response(response: ResponsePayload, api_key: ApiKey) -> Any:
    if getattr(type(response), "__api_key__", None) != api_key:
        raise TypeError(
            f"expected a kio {api_key.name} response, not {type(response).__qualname__}"
        )
    return response


def cluster_from_metadata_response(response: ResponsePayload) -> ClusterMetadata:
    """
    Read a Metadata response of any version into a L{ClusterMetadata}.

    Fields a version lacks get the values Kafka gives them: no rack before version
    1, controller -1 before version 1, no cluster id before version 2, no offline
    replicas before version 5, leader epoch -1 before version 7. Topics reported
    with a topic-level error go into C{topic_errors} and not into C{partitions};
    topics named only by id are skipped.

    @param response: a decoded kio Metadata response.
    @return: the snapshot it describes.
    @raise TypeError: if C{response} is not a Metadata response.
    @raise KafkaError: the exception for the top-level error code of version 13 and
        up (such as C{REBOOTSTRAP_REQUIRED}), if not 0.
    """
    data = _check_response(response, ApiKey.METADATA)
    version = int(type(response).__version__)
    if version >= 13:
        errors.raise_for_code(int(data.error_code), "the Metadata request failed")
    brokers = [
        Node(
            int(broker.node_id),
            broker.host,
            int(broker.port),
            broker.rack if version >= 1 else None,
        )
        for broker in data.brokers
    ]
    partitions: list[PartitionInfo] = []
    topic_errors: dict[str, int] = {}
    internal: list[str] = []
    for topic in data.topics:
        name = topic.name
        if name is None:
            continue
        if version >= 1 and topic.is_internal:
            internal.append(name)
        topic_error = int(topic.error_code)
        if topic_error:
            topic_errors[name] = topic_error
            continue
        partitions.extend(
            _partition_info(name, partition, version) for partition in topic.partitions
        )
    return ClusterMetadata.from_brokers(
        brokers,
        partitions,
        cluster_id=data.cluster_id if version >= 2 else None,
        controller_id=int(data.controller_id) if version >= 1 else -1,
        topic_errors=topic_errors,
        internal_topics=internal,
    )


def _partition_info(topic: str, partition: Any, version: int) -> PartitionInfo:
    return PartitionInfo(
        topic=topic,
        partition=int(partition.partition_index),
        leader=int(partition.leader_id),
        # Leader epochs arrived in version 7, offline replicas in version 5.
        leader_epoch=int(partition.leader_epoch) if version >= 7 else -1,
        replicas=tuple(int(node) for node in partition.replica_nodes),
        isr=tuple(int(node) for node in partition.isr_nodes),
        offline_replicas=(
            tuple(int(node) for node in partition.offline_replicas)
            if version >= 5
            else ()
        ),
        error_code=int(partition.error_code),
    )


def produce_request(
    version: int,
    *,
    acks: int,
    timeout_ms: int,
    transactional_id: str | None,
    batches: Mapping[TopicPartition, bytes],
) -> RequestPayload:
    """
    Build a Produce request carrying one record batch per partition, grouped by
    topic.

    Versions 3 to 12 share one layout (transactional id, acks, timeout, and per
    topic its name and per partition its index and records). Version 13 names
    topics by id, which this client does not know, so L{CLIENT_MAX_VERSIONS} caps
    Produce at 12 and asking for 13 here is an error.

    @param version: the version to build, 3 to 12.
    @param acks: 0, 1 or -1 (all).
    @param timeout_ms: how long the broker may wait for the acknowledgements.
    @param transactional_id: the producer's C{transactional.id}, or C{None}.
    @param batches: the encoded record batch to append to each partition.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported or is above
        the cap in L{CLIENT_MAX_VERSIONS}.
    """
    _check_cap(ApiKey.PRODUCE, version)
    request_class = _request_class(ApiKey.PRODUCE, version)
    topic_class = _nested(ApiKey.PRODUCE, version, "TopicProduceData")
    partition_class = _nested(ApiKey.PRODUCE, version, "PartitionProduceData")
    by_topic: dict[str, list[Any]] = {}
    for tp, records in batches.items():
        by_topic.setdefault(tp.topic, []).append(
            partition_class(index=tp.partition, records=records)
        )
    return request_class(
        transactional_id=transactional_id,
        acks=acks,
        timeout=datetime.timedelta(milliseconds=timeout_ms),
        topic_data=tuple(
            topic_class(name=topic, partition_data=tuple(partition_data))
            for topic, partition_data in by_topic.items()
        ),
    )


def _check_cap(api_key: ApiKey, version: int) -> None:
    allowed = client_version_range(api_key)
    if version > allowed.max_version:
        raise UnsupportedVersionError(
            api_key,
            f"{api_key.name} version {version} is not built by this client; "
            f"it builds versions {allowed}",
            api_version=version,
            supported=allowed,
        )


@attrs.frozen
class PartitionProduceResult:
    """
    What a broker answered for one partition of a Produce request.

    @ivar error_code: 0, or the error code for the partition.
    @ivar base_offset: the offset given to the batch's first record, or -1.
    @ivar log_append_time_ms: the broker's append time in milliseconds since the
        epoch when the topic uses C{LogAppendTime}, else -1.
    @ivar log_start_offset: the partition's log start offset, or -1 (before
        version 5, or when unknown).
    @ivar error_message: the broker's message for the error, if any (version 8 and
        up).
    @ivar record_errors: for the records that caused a batch to be dropped, their
        index in the batch and the message (version 8 and up).
    """

    error_code: int
    base_offset: int
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    record_errors: tuple[tuple[int, str | None], ...] = ()


def _milliseconds(moment: datetime.datetime | None) -> int:
    if moment is None:
        return -1
    return (moment - _EPOCH) // _ONE_MS


def parse_produce_response(
    response: ResponsePayload,
) -> dict[TopicPartition, PartitionProduceResult]:
    """
    Read a Produce response of any version from 3 to 12.

    Versions 3 and 4 carry the error code, base offset and log append time;
    version 5 adds the log start offset and version 8 the record errors and the
    error message.

    @param response: a decoded kio Produce response.
    @return: the result for each partition answered.
    @raise TypeError: if C{response} is not a Produce response.
    """
    data = _check_response(response, ApiKey.PRODUCE)
    version = int(type(response).__version__)
    results: dict[TopicPartition, PartitionProduceResult] = {}
    for topic in data.responses:
        for partition in topic.partition_responses:
            if version >= 8:
                record_errors = tuple(
                    (int(error.batch_index), error.batch_index_error_message)
                    for error in partition.record_errors
                )
                error_message = partition.error_message
            else:
                record_errors = ()
                error_message = None
            results[TopicPartition(topic.name, int(partition.index))] = (
                PartitionProduceResult(
                    error_code=int(partition.error_code),
                    base_offset=int(partition.base_offset),
                    log_append_time_ms=_milliseconds(partition.log_append_time),
                    log_start_offset=(
                        int(partition.log_start_offset) if version >= 5 else -1
                    ),
                    error_message=error_message,
                    record_errors=record_errors,
                )
            )
    return results


def init_producer_id_request(
    version: int,
    *,
    transactional_id: str | None,
    transaction_timeout_ms: int,
    producer_id: int = -1,
    producer_epoch: int = -1,
) -> RequestPayload:
    """
    Build an InitProducerId request.

    Versions 0 to 2 carry the transactional id and the transaction timeout; version
    3 adds the current producer id and epoch (KIP-360), so that a producer can bump
    its epoch instead of getting a new id. Version 6's two-phase-commit fields are
    left at their defaults.

    @param version: the version to build.
    @param transactional_id: the producer's C{transactional.id}, or C{None} for an
        idempotent producer.
    @param transaction_timeout_ms: the C{transaction.timeout.ms} to ask for.
    @param producer_id: the producer id held, or -1.
    @param producer_epoch: the epoch held, or -1.
    @return: the kio request.
    @raise UnsupportedVersionError: if the version is not supported, or is below 3
        while C{producer_id} or C{producer_epoch} is given.
    """
    request_class = _request_class(ApiKey.INIT_PRODUCER_ID, version)
    timeout = datetime.timedelta(milliseconds=transaction_timeout_ms)
    if version < 3:
        if producer_id != -1 or producer_epoch != -1:
            raise UnsupportedVersionError(
                ApiKey.INIT_PRODUCER_ID,
                f"InitProducerId version {version} cannot carry a producer id and "
                "epoch; version 3 or later is needed",
                api_version=version,
            )
        return request_class(
            transactional_id=transactional_id, transaction_timeout=timeout
        )
    return request_class(
        transactional_id=transactional_id,
        transaction_timeout=timeout,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
    )


def parse_init_producer_id_response(response: ResponsePayload) -> tuple[int, int, int]:
    """
    Read an InitProducerId response of any version.

    @param response: a decoded kio InitProducerId response.
    @return: the error code, the producer id and the producer epoch.
    @raise TypeError: if C{response} is not an InitProducerId response.
    """
    data = _check_response(response, ApiKey.INIT_PRODUCER_ID)
    return int(data.error_code), int(data.producer_id), int(data.producer_epoch)
