"""
FindCoordinator (API key 10, versions 0 to 6), answered while the broker has no
coordinators: every group and transactional id gets C{COORDINATOR_NOT_AVAILABLE}
(15), the retriable answer Kafka gives while a coordinator is loading or its internal
topic does not exist yet, with no node (id -1, host C{""}, port -1).

The API is registered anyway because librdkafka looks for it in ApiVersions before it
compresses with lz4 (see L{odradek.broker.apis.registry}). The group coordinator
(next issue) replaces this module with a handler that finds the coordinators of
C{__consumer_offsets} and C{__transaction_state}.

Version 4 and later carry several keys at once and get one answer per key. Share
group keys (type 2, version 6) are answered with C{INVALID_REQUEST}, as Kafka does
when share groups are disabled, and so is any other key type.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.client.errors import CoordinatorNotAvailableError, InvalidRequestError
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["FindCoordinatorHandler", "register"]

FIND_COORDINATOR_VERSIONS: Final = VersionRange(0, 6)
GROUP: Final = 0
TRANSACTION: Final = 1
_BATCHED_VERSION: Final = 4


def _answer(key_type: int) -> tuple[int, str]:
    """
    @return: the error code and message for a key of this type.
    """
    if key_type == GROUP:
        return (
            CoordinatorNotAvailableError.code,
            "The group coordinator is not available: this broker does not run "
            "consumer groups yet.",
        )
    if key_type == TRANSACTION:
        return (
            CoordinatorNotAvailableError.code,
            "The transaction coordinator is not available: this broker does not "
            "run transactions yet.",
        )
    return InvalidRequestError.code, f"Unsupported coordinator type {key_type}."


@attrs.frozen
class FindCoordinatorHandler:
    """
    Answer FindCoordinator requests: no coordinator is available.
    """

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio FindCoordinator request.
        @return: the response.
        """
        response = response_class(context)
        code, message = _answer(getattr(request, "key_type", GROUP))
        no_node = {"node_id": -1, "host": "", "port": -1}
        if context.api_version < _BATCHED_VERSION:
            return build(
                response,
                throttle_time=NO_THROTTLE,
                error_code=kio_error_code(code),
                error_message=message,
                **no_node,
            )
        coordinator_class = element(response, "coordinators")
        return build(
            response,
            throttle_time=NO_THROTTLE,
            coordinators=tuple(
                build(
                    coordinator_class,
                    key=key,
                    error_code=kio_error_code(code),
                    error_message=message,
                    **no_node,
                )
                for key in request.coordinator_keys
            ),
        )


def register(registry: HandlerRegistry) -> None:
    """
    Register FindCoordinator.

    @param registry: the registry to add it to.
    """
    registry.register(
        ApiKey.FIND_COORDINATOR,
        FindCoordinatorHandler().handle,
        FIND_COORDINATOR_VERSIONS,
    )
