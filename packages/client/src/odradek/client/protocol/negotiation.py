"""
Version negotiation: for each API, use the highest version both sides support.

A client asks the broker for its ranges with an ApiVersions request and passes the
decoded response to L{negotiate}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from odradek.client import errors
from odradek.client.protocol.apis import (
    ApiKey,
    VersionRange,
    describe_api,
    supported_range,
)
from odradek.client.protocol.errors import UnknownApiKeyError, UnsupportedVersionError

__all__ = ["negotiate", "pick_version"]


def pick_version(
    api_key: int, peer: VersionRange, ours: VersionRange | None = None
) -> int:
    """
    Choose the version of an API to speak with a peer.

    @param api_key: the API.
    @param peer: the versions the peer supports.
    @param ours: the versions this side supports; by default those in
        L{SUPPORTED_VERSIONS<odradek.client.protocol.apis.SUPPORTED_VERSIONS>}.
    @return: the highest version in both ranges.
    @raise UnknownApiKeyError: if C{ours} is not given and Odradek does not serve the
        API.
    @raise UnsupportedVersionError: if the ranges share no version; the message names
        both.
    """
    if ours is None:
        ours = supported_range(api_key)
    common = ours.intersection(peer)
    if common is None:
        raise UnsupportedVersionError(
            api_key,
            f"no common version of {describe_api(api_key)}: this side supports "
            f"versions {ours}, the peer supports versions {peer}",
            supported=ours,
            peer=peer,
        )
    return common.max_version


class _ApiVersion(Protocol):
    """
    One entry of an ApiVersions response, in any of its versions.
    """

    @property
    def api_key(self) -> int: ...

    @property
    def min_version(self) -> int: ...

    @property
    def max_version(self) -> int: ...


class _ApiVersionsResponse(Protocol):
    """
    An ApiVersions response, in any of its versions.
    """

    @property
    def error_code(self) -> int: ...

    @property
    def api_keys(self) -> Sequence[_ApiVersion]: ...


def negotiate(api_versions_response: _ApiVersionsResponse) -> dict[ApiKey, int]:
    """
    Choose a version for every API both sides know from a broker's ApiVersions
    response.

    APIs the broker lists but Odradek does not serve are ignored, and so are APIs
    whose ranges do not overlap: neither side can use them on this connection.

    @param api_versions_response: a decoded kio C{ApiVersionsResponse} of any
        version.
    @return: for each usable API, the highest version both sides support.
    @raise KafkaError: the exception for the response's error code, if it is not 0.
        For C{UNSUPPORTED_VERSION} (the broker does not know the ApiVersions version
        sent) the response still lists the broker's ApiVersions range, from which a
        version to retry with can be picked.
    """
    errors.raise_for_code(
        int(api_versions_response.error_code), "the ApiVersions request failed"
    )
    chosen: dict[ApiKey, int] = {}
    for entry in api_versions_response.api_keys:
        if not 0 <= entry.min_version <= entry.max_version:
            continue
        try:
            ours = supported_range(entry.api_key)
        except UnknownApiKeyError:
            continue
        common = ours.intersection(VersionRange(entry.min_version, entry.max_version))
        if common is not None:
            chosen[ApiKey(entry.api_key)] = common.max_version
    return chosen
