"""
Turning a handler's failure into the error response of its API: the one place where
broker exceptions become error codes.

A L{KafkaError} keeps its code (and its message, where the response has an
C{error_message} field); any other exception becomes C{UNKNOWN_SERVER_ERROR} with no
message, so that nothing of the broker's internals, least of all a traceback, goes on
the wire.

Apache Kafka builds error responses per API (C{AbstractRequest.getErrorResponse}).
An API registered with an C{error_response} function gets exactly that; the others get
L{generic_error_response}, which builds the response from its kio schema:

  - every C{error_code} field it fills in is set to the error's code;
  - an array of entities is filled from the request array that names the same
    things, element by element (the topics of a Produce request become the topics of
    its response, their partitions its partitions), copying the fields both share
    by name and type (topic names and ids, partition indexes, resource names) and
    leaving the others empty; arrays with no such counterpart stay empty;
  - fields with a default in the schema keep it; other numbers are -1 (Kafka's
    "none" for offsets, ids and epochs), strings empty, nullable fields null.

So a failing Produce is answered with the error on every partition it named, a failing
Metadata request with the error on every topic it named, and an API with a top-level
error code (ApiVersions, FindCoordinator, DescribeCluster ...) with it there.
"""

from __future__ import annotations

import dataclasses
import datetime
import types
import typing
import uuid
from collections.abc import Iterable
from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.protocol import ResponsePayload

from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.registry import ApiEntry
from odradek.client.errors import KafkaError, UnknownServerError
from odradek.client.protocol import response_type

__all__ = [
    "as_kafka_error",
    "build_error_response",
    "generic_error_response",
    "kio_error_code",
]

_EPOCH = datetime.datetime.fromtimestamp(0, tz=datetime.UTC)

_ZERO_BY_TYPE: dict[str, object] = {
    "int8": -1,
    "int16": -1,
    "int32": -1,
    "int64": -1,
    "uint8": 0,
    "uint16": 0,
    "uint32": 0,
    "uint64": 0,
    "float64": 0.0,
    "string": "",
    "bytes": b"",
    "records": b"",
    "bool": False,
    "uuid": uuid.UUID(int=0),
    "timedelta_i32": datetime.timedelta(0),
    "timedelta_i64": datetime.timedelta(0),
    "datetime_i64": _EPOCH,
}


def as_kafka_error(error: BaseException) -> KafkaError:
    """
    @param error: what a handler raised.
    @return: C{error} itself if it is a L{KafkaError}, or an
        L{UnknownServerError} without a message, which reveals nothing of it.
    """
    if isinstance(error, KafkaError):
        return error
    return UnknownServerError()


def kio_error_code(code: int) -> ErrorCode:
    """
    @param code: a Kafka error code.
    @return: kio's member for it; C{UNKNOWN_SERVER_ERROR} if kio has none, so a
        response can always be written.
    """
    return _ERROR_CODES.get(code, ErrorCode.unknown_server_error)


# A dict lookup: calling the enum class costs a microsecond, on every partition of
# every response.
_ERROR_CODES: dict[int, ErrorCode] = {int(code): code for code in ErrorCode}


def build_error_response(
    entry: ApiEntry, context: RequestContext, request: object, error: BaseException
) -> ResponsePayload | None:
    """
    Build the response to a request whose handler failed.

    @param entry: the API's registry entry.
    @param context: the request's context.
    @param request: the decoded request.
    @param error: what the handler raised.
    @return: the API's error response for C{error}, or C{None} if the connection
        must be closed instead (the API's C{error_response} said so).
    """
    kafka_error = as_kafka_error(error)
    if entry.error_response is not None:
        return entry.error_response(context, request, kafka_error)
    return generic_error_response(
        response_type(context.api_key, context.api_version), request, kafka_error
    )


def generic_error_response(
    response_class: type[ResponsePayload], request: object, error: KafkaError
) -> ResponsePayload:
    """
    Build an error response from a response schema and the request it answers (see
    the module's description).

    @param response_class: the kio response dataclass to build.
    @param request: the kio request it answers.
    @param error: the error to report.
    @return: an instance of C{response_class} carrying C{error}'s code.
    """
    fill = _Fill(kio_error_code(error.code), error.message)
    return typing.cast(ResponsePayload, fill.entity(response_class, request))


@dataclasses.dataclass(frozen=True)
class _Fill:
    code: ErrorCode
    message: str | None

    def entity(self, entity_class: type[Any], source: object | None) -> object:
        shared = _scalar_fields(type(source)) if source is not None else {}
        values: dict[str, object] = {}
        for field in dataclasses.fields(entity_class):
            kafka_type = field.metadata.get("kafka_type")
            if kafka_type == "error_code":
                values[field.name] = self.code
                continue
            if field.name == "error_message" and _is_optional(field.type):
                values[field.name] = self.message
                continue
            if _has_default(field):
                continue
            values[field.name] = self.value(field, kafka_type, source, shared)
        return entity_class(**values)

    def value(
        self,
        field: dataclasses.Field[Any],
        kafka_type: str | None,
        source: object | None,
        shared: dict[str, str | None],
    ) -> object:
        element = _entity_element(field.type)
        if element is not None:
            items = _counterpart(source, element)
            return tuple(self.entity(element, item) for item in items)
        if _tuple_element(field.type) is not None:
            return ()
        if field.name in shared and shared[field.name] == kafka_type:
            copied = getattr(source, field.name)
            if copied is not None or _is_optional(field.type):
                return copied
        if _is_optional(field.type):
            return None
        nested = _entity_type(field.type)
        if nested is not None:
            return self.entity(nested, None)
        return _ZERO_BY_TYPE.get(kafka_type or "")


class _Name:
    """
    A request array of bare names (DeleteTopics before version 6) seen as entities
    with one C{name} field.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _counterpart(source: object | None, element: type[Any]) -> Iterable[object]:
    """
    Find the request array that names the same things as a response array of
    C{element}: the one whose elements share the most fields with C{element}.
    """
    if source is None or not dataclasses.is_dataclass(source):
        return ()
    wanted = set(_scalar_fields(element))
    best: tuple[int, Iterable[object]] = (0, ())
    for field in dataclasses.fields(source):
        items = getattr(source, field.name)
        if not items or not isinstance(items, tuple):
            continue
        candidate = _entity_element(field.type)
        if candidate is not None:
            score = len(wanted & set(_scalar_fields(candidate)))
        elif isinstance(items[0], str) and "name" in wanted:
            score, items = 1, tuple(_Name(name) for name in items)
        else:
            continue
        if score > best[0]:
            best = (score, items)
    return best[1]


_SCALARS: dict[type[Any], dict[str, str | None]] = {_Name: {"name": "string"}}


def _scalar_fields(entity_class: type[Any]) -> dict[str, str | None]:
    """
    @return: the names and Kafka types of the fields of a kio entity that can name
        a thing, cached per class.
    """
    scalars = _SCALARS.get(entity_class)
    if scalars is None:
        scalars = {}
        if dataclasses.is_dataclass(entity_class):
            scalars = {
                field.name: field.metadata.get("kafka_type")
                for field in dataclasses.fields(entity_class)
                if field.metadata.get("kafka_type") not in (None, "error_code")
                and _tuple_element(field.type) is None
                and field.name != "error_message"
            }
        _SCALARS[entity_class] = scalars
    return scalars


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING
        or field.default_factory is not dataclasses.MISSING
    )


def _union_args(annotation: object) -> tuple[object, ...]:
    if isinstance(annotation, types.UnionType) or (
        typing.get_origin(annotation) is typing.Union
    ):
        return typing.get_args(annotation)
    return (annotation,)


def _is_optional(annotation: object) -> bool:
    return type(None) in _union_args(annotation)


def _tuple_element(annotation: object) -> object | None:
    for member in _union_args(annotation):
        if typing.get_origin(member) is tuple:
            element: object = typing.get_args(member)[0]
            return element
    return None


def _entity_type(annotation: object) -> type[Any] | None:
    for member in _union_args(annotation):
        if isinstance(member, type) and dataclasses.is_dataclass(member):
            return member
    return None


def _entity_element(annotation: object) -> type[Any] | None:
    element = _tuple_element(annotation)
    if isinstance(element, type) and dataclasses.is_dataclass(element):
        return element
    return None
