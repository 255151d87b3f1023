"""
ApiVersions (API key 18): which APIs and versions this broker serves.

Every version kio knows (0 to 4) is answered. The list of APIs is the registry's:
exactly the APIs with a handler, each with its advertised range (see
L{HandlerRegistry.advertised}).

Two answers follow Apache Kafka rather than the schema:

  - a request in a version newer than this broker knows is not decoded but answered
    in version 0, with C{UNSUPPORTED_VERSION} (35) and the full list of APIs, from
    which the client picks the newest ApiVersions version both sides speak
    (C{RequestContext.parseRequest} and C{KafkaApis.handleApiVersionsRequest});
    Kafka itself lists only ApiVersions there since KIP-511, older librdkafka needs
    the full list, and newer clients read the ApiVersions entry of either;
  - from version 3 on the request names the client software (KIP-511); a name or
    version that is not letters, digits, dots and dashes, starting and ending with a
    letter or digit, is answered with C{INVALID_REQUEST} (42) and no APIs, as Kafka
    does (C{ApiVersionsRequest.isValid}). A valid pair is recorded on the
    connection for its log lines.

Versions 3 and 4 also carry the broker's feature flags (KIP-584). Odradek finalizes no
feature by default, so the lists are empty and the epoch is -1 ("unknown"): clients
then use the behaviour that needs no feature, such as transactions version 1. As in
Kafka (KAFKA-17492), a version 3 response omits supported features whose minimum
version is 0, which older clients cannot read, and finalized features at level 0
are never listed.
"""

from __future__ import annotations

import re
from typing import Any

import kio.schema.api_versions.v0.response as v0
import kio.schema.api_versions.v1.response as v1
import kio.schema.api_versions.v2.response as v2
import kio.schema.api_versions.v3.response as v3
import kio.schema.api_versions.v4.response as v4
from attrs import frozen
from kio.schema.errors import ErrorCode
from kio.static.primitive import i16, i64
from kio.static.protocol import ResponsePayload

from odradek.broker.apis._schema import NO_THROTTLE
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.registry import ApiEntry, HandlerRegistry
from odradek.client.protocol import ApiKey, VersionRange

__all__ = [
    "ApiVersionsHandler",
    "FinalizedFeature",
    "SupportedFeature",
    "is_valid_client_software",
    "register_api_versions",
]

_SOFTWARE = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")

# The response class and its nested ApiVersion class, by version.
_SCHEMAS: dict[int, tuple[Any, Any]] = {
    0: (v0.ApiVersionsResponse, v0.ApiVersion),
    1: (v1.ApiVersionsResponse, v1.ApiVersion),
    2: (v2.ApiVersionsResponse, v2.ApiVersion),
    3: (v3.ApiVersionsResponse, v3.ApiVersion),
    4: (v4.ApiVersionsResponse, v4.ApiVersion),
}
_FEATURES: dict[int, tuple[Any, Any]] = {
    3: (v3.SupportedFeatureKey, v3.FinalizedFeatureKey),
    4: (v4.SupportedFeatureKey, v4.FinalizedFeatureKey),
}


def is_valid_client_software(value: str) -> bool:
    """
    @param value: a client software name or version from an ApiVersions request.
    @return: whether Kafka accepts it: letters, digits, C{.} and C{-}, starting and
        ending with a letter or digit.
    """
    return _SOFTWARE.fullmatch(value) is not None


@frozen
class SupportedFeature:
    """
    A feature flag and the range of its levels this broker supports (KIP-584).

    @ivar name: the feature's name, such as C{"transaction.version"}.
    @ivar min_version: the lowest level supported.
    @ivar max_version: the highest level supported.
    """

    name: str
    min_version: int
    max_version: int


@frozen
class FinalizedFeature:
    """
    A feature flag at the level the cluster has finalized (KIP-584).

    @ivar name: the feature's name.
    @ivar level: the finalized level; level 0 means "off" and is not listed.
    """

    name: str
    level: int


@frozen
class ApiVersionsHandler:
    """
    Answer ApiVersions requests from the handlers of a registry.

    @ivar registry: the registry whose APIs are advertised, this handler's own
        included.
    @ivar supported_features: the feature flags this broker supports.
    @ivar finalized_features: the feature flags the cluster has finalized.
    @ivar finalized_features_epoch: the epoch of C{finalized_features}, or -1 when
        unknown.
    """

    registry: HandlerRegistry
    supported_features: tuple[SupportedFeature, ...] = ()
    finalized_features: tuple[FinalizedFeature, ...] = ()
    finalized_features_epoch: int = -1

    def handle(self, context: RequestContext, request: Any) -> ResponsePayload:
        """
        Answer an ApiVersions request of a version the handler accepts.

        @param context: the request's context; from version 3 on, the client
            software it names is recorded on C{context.connection}.
        @param request: the kio ApiVersions request.
        @return: the response, in the request's version.
        """
        version = context.api_version
        if version >= 3:
            name = request.client_software_name
            software_version = request.client_software_version
            if not (
                is_valid_client_software(name)
                and is_valid_client_software(software_version)
            ):
                return self.response(version, ErrorCode.invalid_request, listed=False)
            context.connection.client_software_name = name
            context.connection.client_software_version = software_version
        return self.response(version, ErrorCode.none)

    def unsupported_version(self, context: RequestContext) -> ResponsePayload:
        """
        Answer an ApiVersions request in a version this broker does not know.

        @param context: the request's context.
        @return: a version 0 response with C{UNSUPPORTED_VERSION} and every API.
        """
        return self.response(0, ErrorCode.unsupported_version)

    def response(
        self, version: int, error_code: ErrorCode, *, listed: bool = True
    ) -> ResponsePayload:
        """
        Build a response.

        @param version: the response's version, 0 to 4.
        @param error_code: its error code.
        @param listed: whether to list the APIs and features.
        @return: the kio response.
        """
        response_class, api_version_class = _SCHEMAS[version]
        api_keys = tuple(
            api_version_class(
                api_key=i16(api_key),
                min_version=i16(versions.min_version),
                max_version=i16(versions.max_version),
            )
            for api_key, versions in (self.registry.advertised() if listed else ())
        )
        fields: dict[str, object] = {"error_code": error_code, "api_keys": api_keys}
        if version >= 1:
            fields["throttle_time"] = NO_THROTTLE
        if version >= 3 and listed:
            fields.update(self._features(version))
        return response_class(**fields)  # type: ignore[no-any-return]

    def _features(self, version: int) -> dict[str, object]:
        supported_class, finalized_class = _FEATURES[version]
        supported = tuple(
            supported_class(
                name=feature.name,
                min_version=i16(feature.min_version),
                max_version=i16(feature.max_version),
            )
            for feature in self.supported_features
            if version >= 4 or feature.min_version > 0
        )
        finalized = tuple(
            finalized_class(
                name=feature.name,
                max_version_level=i16(feature.level),
                min_version_level=i16(feature.level),
            )
            for feature in self.finalized_features
            if feature.level != 0
        )
        return {
            "supported_features": supported,
            "finalized_features_epoch": i64(self.finalized_features_epoch),
            "finalized_features": finalized,
        }


def register_api_versions(
    registry: HandlerRegistry,
    *,
    supported_features: tuple[SupportedFeature, ...] = (),
    finalized_features: tuple[FinalizedFeature, ...] = (),
    finalized_features_epoch: int = -1,
) -> ApiEntry:
    """
    Register the ApiVersions handler, for every version, with its answer to newer
    versions.

    @param registry: the registry to add it to; the handler advertises the APIs of
        this registry.
    @param supported_features: see L{ApiVersionsHandler}.
    @param finalized_features: see L{ApiVersionsHandler}.
    @param finalized_features_epoch: see L{ApiVersionsHandler}.
    @return: the new entry.
    """
    handler = ApiVersionsHandler(
        registry, supported_features, finalized_features, finalized_features_epoch
    )
    return registry.register(
        ApiKey.API_VERSIONS,
        handler.handle,
        VersionRange(0, 4),
        unsupported_version=handler.unsupported_version,
    )
