"""
Building kio responses of any version from one set of field values.

kio has one dataclass per version of each message, and each version has the fields
of that version only. A handler describes its answer once, with the fields of the
newest version, and L{build} keeps those the version in hand has; L{element} finds
the class of a nested entity of that version (the brokers of a Metadata response,
the partitions of one of its topics).

The authorized-operations bit fields are here too, for the APIs that report them.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
import uuid
from typing import Any, Final

from kio.static.primitive import i32Timedelta

from odradek.broker.apis.context import RequestContext
from odradek.client.protocol import response_type

__all__ = [
    "CLUSTER_OPERATIONS",
    "NO_THROTTLE",
    "OPERATIONS_OMITTED",
    "TOPIC_OPERATIONS",
    "ZERO_UUID",
    "build",
    "element",
    "has_field",
    "response_class",
]

NO_THROTTLE: Final = i32Timedelta.parse(datetime.timedelta(0))
"""The throttle time of every response: Odradek has no quotas yet."""

ZERO_UUID: Final = uuid.UUID(int=0)
"""Kafka's "no topic id"."""

OPERATIONS_OMITTED: Final = -(2**31)
"""The authorized operations field when the request did not ask for them."""


def _bits(*codes: int) -> int:
    return sum(1 << code for code in codes)


# Kafka's AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7,
# DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11,
# IDEMPOTENT_WRITE 12. Without an authorizer every principal may do every operation
# a resource type supports, and that is what Kafka reports.
TOPIC_OPERATIONS: Final = _bits(3, 4, 5, 6, 7, 8, 10, 11)
"""The operations on a topic, as the bit field Kafka reports without an authorizer."""

CLUSTER_OPERATIONS: Final = _bits(5, 7, 8, 9, 10, 11, 12)
"""The operations on the cluster, as the bit field Kafka reports without an
authorizer."""


def response_class(context: RequestContext) -> type[Any]:
    """
    @param context: a request's context.
    @return: the kio response class of the request's API and version.
    """
    return response_type(context.api_key, context.api_version)


_FIELD_NAMES: dict[type[Any], frozenset[str]] = {}
_ELEMENTS: dict[tuple[type[Any], str], type[Any]] = {}


def _field_names(entity_class: type[Any]) -> frozenset[str]:
    names = _FIELD_NAMES.get(entity_class)
    if names is None:
        names = frozenset(field.name for field in dataclasses.fields(entity_class))
        _FIELD_NAMES[entity_class] = names
    return names


def has_field(entity_class: type[Any], name: str) -> bool:
    """
    @param entity_class: a kio entity class of one version.
    @param name: a field's name.
    @return: whether that version has the field.
    """
    return name in _field_names(entity_class)


def build(entity_class: type[Any], **values: object) -> Any:
    """
    Build a kio entity, leaving out the values of fields its version lacks; fields
    not given keep their schema defaults.

    @param entity_class: the kio class of one version.
    @param values: field values, named as in the newest version.
    @return: the entity.
    """
    names = _field_names(entity_class)
    return entity_class(**{k: v for k, v in values.items() if k in names})


def element(entity_class: type[Any], name: str) -> type[Any]:
    """
    @param entity_class: a kio entity class of one version.
    @param name: the name of one of its array fields.
    @return: the class of the entities in that array, in the same version.
    @raise LookupError: if the field is not an array of entities.
    """
    found = _ELEMENTS.get((entity_class, name))
    if found is not None:
        return found
    for field in dataclasses.fields(entity_class):
        if field.name != name:
            continue
        union = typing.get_args(field.type) if field.type is not None else ()
        candidates = union if typing.get_origin(field.type) is not tuple else ()
        for member in candidates or (field.type,):
            if typing.get_origin(member) is tuple:
                item = typing.get_args(member)[0]
                if isinstance(item, type) and dataclasses.is_dataclass(item):
                    _ELEMENTS[(entity_class, name)] = item
                    return item
    raise LookupError(f"{entity_class.__name__}.{name} is not an array of entities")
