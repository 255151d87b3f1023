"""
What the group request codecs of L{odradek.client.network.group_requests} share:
the version caps, looking up kio classes, and turning error codes into exceptions.
Sans-IO.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, Protocol, cast

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.protocol import (
    ApiKey,
    UnsupportedVersionError,
    VersionRange,
    request_type,
)

__all__ = [
    "COORDINATOR_KEY_GROUP",
    "COORDINATOR_KEY_TRANSACTION",
    "GROUP_MAX_VERSIONS",
    "MAX_REASON_LENGTH",
    "group_request_version",
]

#: FindCoordinator's key type for a consumer group.
COORDINATOR_KEY_GROUP = 0
#: FindCoordinator's key type for a transactional id.
COORDINATOR_KEY_TRANSACTION = 1

#: The newest version of the group APIs this module builds, where that is below
#: the newest supported one: version 10 of OffsetCommit and OffsetFetch names
#: topics by id.
GROUP_MAX_VERSIONS: Mapping[ApiKey, int] = MappingProxyType(
    {ApiKey.OFFSET_COMMIT: 9, ApiKey.OFFSET_FETCH: 9}
)

#: The longest join or leave reason sent; longer ones are cut, as Kafka's client does.
MAX_REASON_LENGTH = 255


class _Versioned(Protocol):
    def version_for(self, api_key: ApiKey) -> int: ...


def group_request_version(connection: _Versioned, api_key: ApiKey) -> int:
    """
    @param connection: a negotiated connection (anything with C{version_for}).
    @param api_key: one of the APIs of this module.
    @return: the version to build for it: the connection's, capped by
        L{GROUP_MAX_VERSIONS}.
    @raise UnsupportedVersionError: if the connection shares no version of it.
    """
    version = connection.version_for(api_key)
    return min(version, GROUP_MAX_VERSIONS.get(api_key, version))


@cache
def _request_class(api_key: ApiKey, version: int) -> Callable[..., RequestPayload]:
    cap = GROUP_MAX_VERSIONS.get(api_key)
    if cap is not None and version > cap:
        raise UnsupportedVersionError(
            api_key,
            f"{api_key.name} version {version} names topics by id, which this client "
            f"does not know; it builds versions up to {cap}",
            api_version=version,
            supported=VersionRange(0, cap),
        )
    return cast(Callable[..., RequestPayload], request_type(api_key, version))


@cache
def _nested(api_key: ApiKey, version: int, name: str) -> Callable[..., Any]:
    module = sys.modules[request_type(api_key, version).__module__]
    return cast(Callable[..., Any], getattr(module, name))


def _check_response(response: ResponsePayload, api_key: ApiKey) -> tuple[Any, int]:
    if getattr(type(response), "__api_key__", None) != api_key:
        raise TypeError(
            f"expected a kio {api_key.name} response, not {type(response).__qualname__}"
        )
    return response, int(type(response).__version__)


def _unsupported(api_key: ApiKey, version: int, what: str) -> UnsupportedVersionError:
    return UnsupportedVersionError(
        api_key, f"{api_key.name} version {version} {what}", api_version=version
    )


def _ms(milliseconds: int) -> datetime.timedelta:
    return datetime.timedelta(milliseconds=milliseconds)


def _reason(reason: str | None) -> str | None:
    return None if reason is None else reason[:MAX_REASON_LENGTH]


def _error(code: int, message: str | None) -> errors.KafkaError | None:
    if code == 0:
        return None
    return errors.error_for_code(code)(message)


def _raise(code: int, message: str | None) -> None:
    error = _error(code, message)
    if error is not None:
        raise error
