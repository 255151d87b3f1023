"""
Helpers for the tests of the admin's group and ACL codecs
(L{odradek.client.admin.groups}, L{odradek.client.admin.acls}): the versions to
test, and kio responses built by hand and sent through the codec, as a broker's
answer arrives.
"""

from __future__ import annotations

import sys
from typing import Any, cast

from kio.static.protocol import ResponsePayload

from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    decode_response,
    encode_response,
    response_type,
)

__all__ = ["entity", "versions", "wire_response"]


def versions(api_key: ApiKey, top: int | None = None) -> range:
    """
    @param api_key: an API.
    @param top: the newest version to test, if below the newest supported.
    @return: the supported versions of the API, up to C{top}.
    """
    supported = SUPPORTED_VERSIONS[api_key]
    return range(supported.min_version, (top or supported.max_version) + 1)


def entity(api_key: ApiKey, version: int, name: str, /, **fields: Any) -> Any:
    """
    @return: the entity called C{name} of the API's response of C{version}, made
        from C{fields}.
    """
    module = sys.modules[response_type(api_key, version).__module__]
    return getattr(module, name)(**fields)


def wire_response(api_key: ApiKey, version: int, **fields: Any) -> ResponsePayload:
    """
    @return: the API's response of C{version} made from C{fields}, encoded and
        decoded again.
    """
    response_class: Any = response_type(api_key, version)
    response = cast(ResponsePayload, response_class(**fields))
    _, decoded = decode_response(encode_response(3, response), api_key, version)
    return decoded
