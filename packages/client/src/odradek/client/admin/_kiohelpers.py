"""
Small helpers shared by the admin's group and ACL request modules
(L{odradek.client.admin.groups}, L{odradek.client.admin.acls}): finding the kio
classes of a request by API key and version, checking that a response is of the
expected API, and turning an error code and message into an exception. Sans-IO.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import cache
from typing import Any, cast

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.protocol import ApiKey, UnsupportedVersionError, request_type

__all__ = [
    "check_max_version",
    "check_response",
    "error_or_none",
    "nested",
    "request_class",
]


@cache
def request_class(api_key: ApiKey, version: int) -> Callable[..., RequestPayload]:
    """
    @param api_key: the API.
    @param version: its version.
    @return: the kio request class of that version.
    @raise UnsupportedVersionError: if the version is not supported.
    """
    return cast(Callable[..., RequestPayload], request_type(api_key, version))


@cache
def nested(api_key: ApiKey, version: int, name: str) -> Callable[..., Any]:
    """
    @param api_key: the API.
    @param version: its version.
    @param name: Kafka's name of an entity nested in the request, such as
        C{"AclCreation"}.
    @return: that entity's kio class, from the module of the request class.
    """
    module = sys.modules[request_type(api_key, version).__module__]
    return cast(Callable[..., Any], getattr(module, name))


def check_max_version(api_key: ApiKey, version: int, max_version: int) -> None:
    """
    Refuse a version above what the admin can build.

    @param api_key: the API.
    @param version: the version asked for.
    @param max_version: the newest version the admin builds of it.
    @raise UnsupportedVersionError: if C{version} is above C{max_version}.
    """
    if version > max_version:
        raise UnsupportedVersionError(
            api_key,
            f"{api_key.name} version {version} is not built by the admin client; "
            f"it builds versions up to {max_version}",
            api_version=version,
        )


def check_response(response: ResponsePayload, api_key: ApiKey) -> tuple[Any, int]:
    """
    @param response: a decoded kio response.
    @param api_key: the API it should answer.
    @return: the response (typed loosely, for reading its fields) and its version.
    @raise TypeError: if C{response} is not a response of C{api_key}.
    """
    if getattr(type(response), "__api_key__", None) != api_key:
        raise TypeError(
            f"expected a kio {api_key.name} response, not {type(response).__qualname__}"
        )
    return response, int(type(response).__version__)


def error_or_none(code: int, message: str | None = None) -> errors.KafkaError | None:
    """
    @param code: an error code as read from the wire.
    @param message: the message the broker sent with it, if any.
    @return: the exception for the code carrying C{message}, or C{None} for 0.
    """
    if code == 0:
        return None
    return errors.error_for_code(code)(message)
