"""
The table of request handlers: for each API the broker serves, the function that
answers it and the versions it accepts.

A handler turns a decoded request into a response by calling the layers below it; it
holds no state of its own. It is called as C{handler(context, request)} with a
L{RequestContext} and the kio request dataclass, and returns one of:

  - a kio response dataclass of the request's API and version;
  - C{NO_RESPONSE}, when the client expects no answer (Produce with C{acks=0});
  - C{CLOSE_CONNECTION}, to close the connection without answering, as Kafka does
    to tell an C{acks=0} producer that something went wrong;
  - a C{Deferred} that fires with one of those (a delayed Fetch or Produce), or
    fails.

A handler that raises, or whose Deferred fails, is answered in one place, by the
server: a L{KafkaError <odradek.client.errors.KafkaError>} becomes its error code,
anything else C{UNKNOWN_SERVER_ERROR} with the traceback logged on the broker only.
See L{odradek.broker.apis.errors}.

The broker advertises in ApiVersions exactly the APIs registered here, each with the
versions registered for it. What the clients make of the advertised ranges matters:
librdkafka enables a feature only when every API it depends on overlaps the broker's
range (C{rdkafka_feature.c}): record batches (magic 2) need Produce 3 and Fetch 4,
zstd needs Produce 7 and Fetch 10, lz4 needs FindCoordinator 0, the idempotent
producer needs InitProducerId 0, and time-based offset lookups need ListOffsets 1.
Until Fetch is registered librdkafka falls back to magic 0 message sets, and until
FindCoordinator is registered it will not compress with lz4.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeAlias

from attrs import define, field, frozen
from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred

from odradek.broker.apis.context import RequestContext
from odradek.client.errors import KafkaError
from odradek.client.protocol import SUPPORTED_VERSIONS, ApiKey, VersionRange

__all__ = [
    "CLOSE_CONNECTION",
    "NO_RESPONSE",
    "PRODUCE_ADVERTISED_MIN_VERSION",
    "ApiEntry",
    "ErrorResponder",
    "Handler",
    "HandlerRegistry",
    "HandlerResult",
    "Outcome",
    "ResponseAction",
    "UnsupportedVersionResponder",
]


class ResponseAction(enum.Enum):
    """
    What a handler can return instead of a response.
    """

    NO_RESPONSE = "no response"
    CLOSE_CONNECTION = "close connection"


#: Send nothing back: the request asked for no response (Produce with C{acks=0}).
NO_RESPONSE: Final = ResponseAction.NO_RESPONSE

#: Send nothing back and close the connection.
CLOSE_CONNECTION: Final = ResponseAction.CLOSE_CONNECTION

#: The oldest Produce version advertised in ApiVersions. Apache Kafka 4 removed
#: Produce versions 0 to 2 (KIP-896) but still advertises them, because librdkafka
#: disables compressed produce without them (KAFKA-18659); a request in one of those
#: versions closes the connection, as any version outside the accepted range does.
PRODUCE_ADVERTISED_MIN_VERSION: Final = 0

#: What a handler's work comes to: a kio response or a L{ResponseAction}.
Outcome: TypeAlias = ResponsePayload | ResponseAction

#: What a handler returns: an L{Outcome} now, or a Deferred one.
HandlerResult: TypeAlias = Outcome | Deferred[Outcome]

#: A handler: C{handler(context, request)}. The request is the kio dataclass of the
#: API and version in C{context.header}.
Handler: TypeAlias = Callable[[RequestContext, Any], HandlerResult]

#: Builds the error response for a request whose handler failed:
#: C{error_response(context, request, error)}; C{None} closes the connection.
ErrorResponder: TypeAlias = Callable[
    [RequestContext, Any, KafkaError], ResponsePayload | None
]

#: Answers a request whose version the handler does not accept, without its body
#: (which may be in a layout nobody here knows): C{responder(context)}.
UnsupportedVersionResponder: TypeAlias = Callable[[RequestContext], ResponsePayload]


@frozen
class ApiEntry:
    """
    One registered API.

    @ivar api_key: the API.
    @ivar handler: the function that answers its requests.
    @ivar versions: the versions accepted; a request in any other version closes the
        connection, unless C{unsupported_version} answers it.
    @ivar advertised: the versions listed in ApiVersions responses; C{versions}
        except for Produce (see L{PRODUCE_ADVERTISED_MIN_VERSION}).
    @ivar error_response: builds the error response when the handler fails, or
        C{None} to use the generic builder of L{odradek.broker.apis.errors}.
    @ivar unsupported_version: answers requests in versions outside C{versions}, or
        C{None} to close the connection on them. Only ApiVersions has one.
    """

    api_key: ApiKey
    handler: Handler
    versions: VersionRange
    advertised: VersionRange
    error_response: ErrorResponder | None = None
    unsupported_version: UnsupportedVersionResponder | None = None


@define
class HandlerRegistry:
    """
    The handlers of a broker, by API key.

    Register every handler before the first connection is accepted; the registry is
    read, never changed, while requests are served.
    """

    _entries: dict[int, ApiEntry] = field(factory=dict, init=False)

    def register(
        self,
        api_key: ApiKey,
        handler: Handler,
        versions: VersionRange | None = None,
        *,
        advertised_min_version: int | None = None,
        error_response: ErrorResponder | None = None,
        unsupported_version: UnsupportedVersionResponder | None = None,
    ) -> ApiEntry:
        """
        Add the handler of one API.

        @param api_key: the API.
        @param handler: the function that answers its requests.
        @param versions: the versions the handler accepts; C{None} for every version
            Odradek's protocol layer supports. It is narrowed to the versions of
            L{SUPPORTED_VERSIONS}, the ones that can be decoded.
        @param advertised_min_version: the oldest version to advertise, if older
            than C{versions} allows. Produce defaults to
            L{PRODUCE_ADVERTISED_MIN_VERSION}.
        @param error_response: builds the error response when the handler fails; by
            default the generic builder fills in the top-level error code.
        @param unsupported_version: answers requests in versions outside
            C{versions}; by default they close the connection.
        @return: the new entry.
        @raise ValueError: if the API already has a handler, is not one the protocol
            layer can decode, shares no version with L{SUPPORTED_VERSIONS}, or
            C{advertised_min_version} is above the oldest accepted version.
        """
        key = ApiKey(api_key)
        if key in self._entries:
            raise ValueError(f"{key.name} already has a handler")
        supported = SUPPORTED_VERSIONS.get(key)
        if supported is None:
            raise ValueError(f"{key.name} is not an API Odradek can decode")
        accepted = supported if versions is None else versions.intersection(supported)
        if accepted is None:
            raise ValueError(
                f"{key.name} versions {versions} share none with the decodable "
                f"versions {supported}"
            )
        if advertised_min_version is None and key is ApiKey.PRODUCE:
            advertised_min_version = PRODUCE_ADVERTISED_MIN_VERSION
        if advertised_min_version is None:
            advertised = accepted
        elif advertised_min_version > accepted.min_version:
            raise ValueError(
                f"{key.name} advertised_min_version {advertised_min_version} is "
                f"above the oldest accepted version {accepted.min_version}"
            )
        else:
            advertised = VersionRange(advertised_min_version, accepted.max_version)
        entry = ApiEntry(
            key, handler, accepted, advertised, error_response, unsupported_version
        )
        self._entries[key] = entry
        return entry

    def get(self, api_key: int) -> ApiEntry | None:
        """
        @param api_key: any API key, typically read from the wire.
        @return: the API's entry, or C{None} if it has no handler.
        """
        return self._entries.get(api_key)

    def __contains__(self, api_key: object) -> bool:
        return api_key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[ApiEntry]:
        """
        @return: the entries in API key order.
        """
        return iter(sorted(self._entries.values(), key=lambda entry: entry.api_key))

    def advertised(self) -> list[tuple[ApiKey, VersionRange]]:
        """
        @return: each registered API with the versions to advertise for it, in API
            key order: the contents of an ApiVersions response.
        """
        return [(entry.api_key, entry.advertised) for entry in self]
