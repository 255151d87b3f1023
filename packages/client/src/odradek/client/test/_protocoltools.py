"""
Helpers shared by the protocol tests: a sample request, raw writers that bypass
L{odradek.client.protocol.codec}, so the tests can build bytes the codec must read,
L{with_unknown_tag}, which adds a tagged field a schema does not know, sample
Metadata and Fetch messages to add them to, L{entity_strategy}, which generates
instances of any kio dataclass, and L{every_version_test}, which checks drawn
requests and responses of every version of an API.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import types
import typing
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kio.schema.errors import ErrorCode
from kio.schema.fetch.v13 import request as fetch_v13_request
from kio.schema.fetch.v13 import response as fetch_v13
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.types import BrokerId, TopicName
from kio.serial import entity_writer
from kio.serial._implicit_defaults import get_tagged_field_default
from kio.serial._introspect import get_field_tag
from kio.serial.readers import read_unsigned_varint
from kio.serial.writers import write_unsigned_varint
from kio.static.primitive import Records, i32, i32Timedelta, i64, uvarint
from kio.static.protocol import Entity

from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    RequestHeader,
    ResponseHeader,
    encode_response,
    request_type,
    response_type,
)
from odradek.client.protocol.headers import write_request_header, write_response_header


def metadata_request() -> MetadataRequest:
    """
    @return: a Metadata v12 request for one topic.
    """
    return MetadataRequest(
        topics=(MetadataRequestTopic(topic_id=None, name=TopicName("orders")),),
        allow_auto_topic_creation=False,
        include_topic_authorized_operations=False,
    )


def request_header_bytes(header: RequestHeader) -> bytes:
    """
    @return: C{header} encoded alone.
    """
    buffer = io.BytesIO()
    write_request_header(buffer, header)
    return buffer.getvalue()


def response_header_bytes(header: ResponseHeader) -> bytes:
    """
    @return: C{header} encoded alone.
    """
    buffer = io.BytesIO()
    write_response_header(buffer, header)
    return buffer.getvalue()


def kio_body(entity: Entity) -> bytes:
    """
    @return: C{entity} encoded by kio's writer, with no header.
    """
    buffer = io.BytesIO()
    entity_writer(type(entity))(buffer, entity)
    return buffer.getvalue()


def _uvarint(value: int) -> bytes:
    buffer = io.BytesIO()
    write_unsigned_varint(buffer, uvarint(value))
    return buffer.getvalue()


def with_unknown_tag(entity: Entity, tag: int, payload: bytes) -> bytes:
    """
    Encode a flexible entity with kio, adding one tagged field its schema does not
    know at the end of its own tagged-field section (after any known tags, keeping
    them in ascending order).

    The section is found by encoding the entity again with its tagged fields at their
    defaults: what comes before that encoding's empty section is the same in both.

    @param entity: a kio dataclass whose C{__flexible__} is true.
    @param tag: a tag greater than every tag the schema defines.
    @param payload: the field's bytes, written after their length.
    @return: the bytes kio writes for C{entity}, with the extra field.
    """
    tagged = [f for f in dataclasses.fields(entity) if get_field_tag(f) is not None]
    assert type(entity).__flexible__, f"{type(entity).__name__} is not flexible"
    assert all((get_field_tag(f) or 0) < tag for f in tagged), f"tag {tag} is known"
    untagged = dataclasses.replace(
        entity, **{f.name: get_tagged_field_default(f) for f in tagged}
    )
    regular = kio_body(untagged)[:-1]
    encoded = kio_body(entity)
    assert encoded.startswith(regular)
    count, size = read_unsigned_varint(encoded, len(regular))
    return (
        regular
        + _uvarint(count + 1)
        + encoded[len(regular) + size :]
        + _uvarint(tag)
        + _uvarint(len(payload))
        + payload
    )


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    """
    Replace the one occurrence of C{old} in C{data}, such as the encoding of a nested
    entity by the output of L{with_unknown_tag} for it.

    @raise AssertionError: if C{old} does not occur exactly once.
    """
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times"
    return data.replace(old, new)


def _metadata_partition(
    index: int, error_code: ErrorCode = ErrorCode.none
) -> metadata_v12.MetadataResponsePartition:
    return metadata_v12.MetadataResponsePartition(
        error_code=error_code,
        partition_index=i32(index),
        leader_id=BrokerId(1),
        replica_nodes=(BrokerId(1), BrokerId(2)),
        isr_nodes=(BrokerId(1),),
    )


def metadata_topic(
    name: str, partitions: int = 2, error_code: ErrorCode = ErrorCode.none
) -> metadata_v12.MetadataResponseTopic:
    """
    @return: a topic of a Metadata v12 response, with C{partitions} partitions.
    """
    return metadata_v12.MetadataResponseTopic(
        error_code=error_code,
        name=TopicName(name),
        topic_id=uuid.UUID(int=len(name) + 1),
        partitions=tuple(_metadata_partition(index) for index in range(partitions)),
    )


def metadata_response(topics: int = 2) -> metadata_v12.MetadataResponse:
    """
    @return: a Metadata v12 response with C{topics} topics named C{topic-N}.
    """
    return metadata_v12.MetadataResponse(
        throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
        brokers=(
            metadata_v12.MetadataResponseBroker(
                node_id=BrokerId(1), host="localhost", port=i32(9092)
            ),
        ),
        cluster_id="cluster",
        controller_id=BrokerId(1),
        topics=tuple(metadata_topic(f"topic-{index}") for index in range(topics)),
    )


def fetch_request() -> fetch_v13_request.FetchRequest:
    """
    @return: a Fetch v13 request for three partitions of one topic.
    """
    return fetch_v13_request.FetchRequest(
        max_wait=i32Timedelta.parse(datetime.timedelta(milliseconds=500)),
        min_bytes=i32(1),
        topics=(
            fetch_v13_request.FetchTopic(
                topic_id=uuid.UUID(int=7),
                partitions=tuple(
                    fetch_v13_request.FetchPartition(
                        partition=i32(index),
                        fetch_offset=i64(100 * index),
                        partition_max_bytes=i32(1 << 20),
                    )
                    for index in range(3)
                ),
            ),
        ),
        forgotten_topics_data=(),
    )


def fetch_partition(**tagged: object) -> fetch_v13.PartitionData:
    """
    @param tagged: values for the partition's tagged fields.
    @return: a partition of a Fetch v13 response.
    """
    return fetch_v13.PartitionData(
        partition_index=i32(0),
        error_code=ErrorCode.none,
        high_watermark=i64(42),
        aborted_transactions=None,
        records=Records(b"batch"),
        **tagged,  # type: ignore[arg-type]
    )


def fetch_response(partition: fetch_v13.PartitionData) -> fetch_v13.FetchResponse:
    """
    @return: a Fetch v13 response holding C{partition} alone.
    """
    return fetch_v13.FetchResponse(
        throttle_time=i32Timedelta.parse(datetime.timedelta(0)),
        error_code=ErrorCode.none,
        session_id=i32(0),
        responses=(
            fetch_v13.FetchableTopicResponse(
                topic_id=uuid.UUID(int=9), partitions=(partition,)
            ),
        ),
    )


def response_with_body(correlation_id: int, response: Entity, body: bytes) -> bytes:
    """
    @return: the header the codec writes for C{response}, followed by C{body}
        (C{response}'s body with changes, such as from L{with_unknown_tag}).
    """
    plain = encode_response(correlation_id, response)  # type: ignore[arg-type]
    return plain[: len(plain) - len(kio_body(response))] + body


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _ints(bits: int, signed: bool = True) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return st.integers(0, 2**bits - 1)


#: Strategies for kio's primitive types, by the C{kafka_type} of the field.
_PRIMITIVES: dict[str, st.SearchStrategy[object]] = {
    "int8": _ints(8),
    "int16": _ints(16),
    "int32": _ints(32),
    "int64": _ints(64),
    "uint8": _ints(8, signed=False),
    "uint16": _ints(16, signed=False),
    "uint32": _ints(32, signed=False),
    "uint64": _ints(64, signed=False),
    "float64": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "string": st.text(max_size=12),
    "bytes": st.binary(max_size=24),
    "records": st.binary(max_size=48),
    # Kafka sends a null UUID as all zeros, which kio reads back as None.
    "uuid": st.uuids().filter(lambda value: value.int != 0),
    "error_code": st.sampled_from(list(ErrorCode)),
    "timedelta_i32": _ints(32).map(lambda ms: datetime.timedelta(milliseconds=ms)),
    # Kio converts through float seconds; stay within exactly representable values.
    "timedelta_i64": st.integers(-(2**40), 2**40).map(
        lambda ms: datetime.timedelta(milliseconds=ms)
    ),
    "datetime_i64": st.integers(0, 2**41).map(
        lambda ms: _EPOCH + datetime.timedelta(milliseconds=ms)
    ),
}


def _type_strategy(annotation: object, kafka_type: str | None) -> st.SearchStrategy:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return st.none() | _type_strategy(inner, kafka_type)
    if origin is tuple:
        inner = typing.get_args(annotation)[0]
        size = 2 if kafka_type is None else 3
        return st.lists(_type_strategy(inner, kafka_type), max_size=size).map(tuple)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return entity_strategy(annotation)
    if kafka_type is None:
        raise TypeError(f"no kafka_type for {annotation!r}")
    return _PRIMITIVES[kafka_type]


@cache
def entity_strategy(entity_type: type) -> st.SearchStrategy:
    """
    Build a strategy for instances of a kio dataclass (request, response or nested
    entity) from its fields' types and C{kafka_type} metadata.

    @param entity_type: a kio dataclass.
    @return: a strategy drawing instances of it with every field filled in.
    """
    return st.builds(
        entity_type,
        **{
            field.name: _type_strategy(field.type, field.metadata.get("kafka_type"))
            for field in dataclasses.fields(entity_type)
        },
    )


#: Hypothesis settings of the protocol's property tests: a few examples, the same on
#: every run.
protocol_settings = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=3,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def every_version_test(
    api_key: ApiKey, check: Callable[[Any, int, Entity], None], doc: str
) -> Callable[..., None]:
    """
    Build a test method that draws a request and a response of every version of an
    API Odradek supports and hands each to C{check}.

    @param api_key: the API.
    @param check: called as C{check(test_case, version, entity)}.
    @param doc: the test's docstring.
    @return: the test method, named C{test_<api name>}.
    """
    versions = SUPPORTED_VERSIONS[api_key]

    @protocol_settings
    @given(data=st.data())
    def test(self: Any, data: st.DataObject) -> None:
        for version in range(versions.min_version, versions.max_version + 1):
            for kio_type in (
                request_type(api_key, version),
                response_type(api_key, version),
            ):
                label = f"v{version} {kio_type.__name__}"
                check(self, version, data.draw(entity_strategy(kio_type), label=label))

    test.__name__ = f"test_{api_key.name.lower()}"
    test.__doc__ = doc
    return test
