"""
DescribeCluster (API key 60, versions 0 to 2): the cluster id, the controller and the
live brokers, with their endpoints of the listener the request came in on.

The broker is an endpoint of type C{BROKER} (1): a request for the controllers'
endpoints (2) is answered with C{MISMATCHED_ENDPOINT_TYPE}, an unknown type with
C{UNSUPPORTED_ENDPOINT_TYPE}, and both with C{INVALID_REQUEST} in version 0, as in
Kafka. No broker is fenced. The cluster's authorized operations are reported when
asked for: without an authorizer, every operation on the cluster.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from odradek.broker.apis._schema import (
    CLUSTER_OPERATIONS,
    NO_THROTTLE,
    OPERATIONS_OMITTED,
    build,
    element,
    response_class,
)
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.metadata import endpoint_for
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.metadata import IMetadataStore
from odradek.client.errors import (
    InvalidRequestError,
    MismatchedEndpointTypeError,
    UnsupportedEndpointTypeError,
)
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["DescribeClusterHandler", "register"]

DESCRIBE_CLUSTER_VERSIONS: Final = VersionRange(0, 2)
BROKER_ENDPOINT: Final = 1
CONTROLLER_ENDPOINT: Final = 2
_ENDPOINT_TYPES: Final = {BROKER_ENDPOINT: "BROKER", CONTROLLER_ENDPOINT: "CONTROLLER"}


@attrs.frozen
class DescribeClusterHandler:
    """
    Answer DescribeCluster requests.

    @ivar metadata: the metadata store.
    """

    metadata: IMetadataStore

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio DescribeCluster request.
        @return: the response.
        """
        response = response_class(context)
        wanted = getattr(request, "endpoint_type", BROKER_ENDPOINT)
        if wanted != BROKER_ENDPOINT:
            if wanted not in _ENDPOINT_TYPES:
                error: Any = UnsupportedEndpointTypeError
                message = f"Unsupported endpoint type {wanted}"
            else:
                error = MismatchedEndpointTypeError
                message = (
                    f"The request was sent to an endpoint of type BROKER, but we "
                    f"wanted an endpoint of type {_ENDPOINT_TYPES[wanted]}"
                )
            if context.api_version == 0:
                error = InvalidRequestError
            return build(
                response,
                throttle_time=NO_THROTTLE,
                error_code=kio_error_code(error.code),
                error_message=message,
                cluster_id="",
                brokers=(),
            )
        broker_class = element(response, "brokers")
        brokers = []
        for broker_id, broker in sorted(self.metadata.brokers().items()):
            endpoint = endpoint_for(broker, context.listener_name)
            if endpoint is not None:
                brokers.append(
                    build(
                        broker_class,
                        broker_id=broker_id,
                        host=endpoint.host,
                        port=endpoint.port,
                        rack=broker.rack,
                        is_fenced=False,
                    )
                )
        controller = self.metadata.controller_id
        listed = {broker.broker_id for broker in brokers}
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(0),
            error_message=None,
            endpoint_type=BROKER_ENDPOINT,
            cluster_id=self.metadata.cluster_id,
            controller_id=controller if controller in listed else -1,
            brokers=tuple(brokers),
            cluster_authorized_operations=CLUSTER_OPERATIONS
            if request.include_cluster_authorized_operations
            else OPERATIONS_OMITTED,
        )


def register(registry: HandlerRegistry, *, metadata: IMetadataStore) -> None:
    """
    Register DescribeCluster.

    @param registry: the registry to add it to.
    @param metadata: the metadata store.
    """
    handler = DescribeClusterHandler(metadata)
    registry.register(
        ApiKey.DESCRIBE_CLUSTER, handler.handle, DESCRIBE_CLUSTER_VERSIONS
    )
