"""
Helpers shared by the protocol tests: a sample request and raw writers that bypass
L{odradek.client.protocol.codec}, so the tests can build bytes the codec must read.
"""

from __future__ import annotations

import io

from kio.schema.metadata.v12.request import MetadataRequest, MetadataRequestTopic
from kio.schema.types import TopicName
from kio.serial import entity_writer
from kio.static.protocol import Entity

from odradek.client.protocol import RequestHeader, ResponseHeader
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
