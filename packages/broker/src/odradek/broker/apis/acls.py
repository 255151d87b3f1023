"""
The ACL APIs without an authorizer: DescribeAcls (API key 29), CreateAcls (30) and
DeleteAcls (31), versions 1 to 3.

Odradek has no authorizer yet, and Apache Kafka without C{authorizer.class.name}
answers these requests with C{SECURITY_DISABLED}: DescribeAcls with a top-level
error and the message C{"No Authorizer is configured on the broker"}, CreateAcls
with one result per creation and DeleteAcls with one result per filter, each
C{SECURITY_DISABLED} with the message C{"No Authorizer is configured."}. The same
shapes carry any other error a handler runs into, as Kafka's error responses of
these APIs do.

Before answering, Kafka checks each request as it parses it: a resource type,
pattern type, operation or permission type of C{0} (C{UNKNOWN}) makes the request
invalid, and the broker closes the connection without answering. Other codes,
even ones Kafka does not define, pass that check. The handlers here do the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, cast

import attrs
from kio.static.protocol import ResponsePayload
from twisted.logger import Logger

from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import CLOSE_CONNECTION, HandlerRegistry, Outcome
from odradek.client.errors import KafkaError, SecurityDisabledError
from odradek.client.protocol import ApiKey, VersionRange

__all__ = [
    "ACL_VERSIONS",
    "NO_AUTHORIZER",
    "NO_AUTHORIZER_ON_BROKER",
    "AclsHandler",
    "acl_error_response",
    "register",
]

ACL_VERSIONS: Final = VersionRange(1, 3)
"""The versions of DescribeAcls, CreateAcls and DeleteAcls served."""

NO_AUTHORIZER: Final = "No Authorizer is configured."
"""The message of the C{SECURITY_DISABLED} results of CreateAcls and DeleteAcls."""

NO_AUTHORIZER_ON_BROKER: Final = "No Authorizer is configured on the broker"
"""The message of the C{SECURITY_DISABLED} error of DescribeAcls."""

UNKNOWN: Final = 0
"""The code of C{UNKNOWN} in Kafka's resource type, pattern type, operation and
permission type enumerations."""

_FILTER_FIELDS: Final = (
    "resource_type_filter",
    "pattern_type_filter",
    "operation",
    "permission_type",
)
_CREATION_FIELDS: Final = (
    "resource_type",
    "resource_pattern_type",
    "operation",
    "permission_type",
)


def _unknown_fields(entity: Any, names: Iterable[str]) -> list[str]:
    return [name for name in names if getattr(entity, name) == UNKNOWN]


def acl_error_response(
    context: RequestContext, request: Any, error: KafkaError
) -> ResponsePayload:
    """
    Build the response of an ACL request that fails as a whole, as Kafka does:
    DescribeAcls with a top-level error, CreateAcls and DeleteAcls with the error on
    every creation or filter.

    @param context: the request's context.
    @param request: the kio DescribeAcls, CreateAcls or DeleteAcls request.
    @param error: the error.
    @return: the response.
    """
    response = response_class(context)
    code = kio_error_code(error.code)
    if context.api_key == ApiKey.DESCRIBE_ACLS:
        entries: dict[str, object] = {
            "error_code": code,
            "error_message": error.message,
            "resources": (),
        }
    elif context.api_key == ApiKey.CREATE_ACLS:
        result_class = element(response, "results")
        result = build(result_class, error_code=code, error_message=error.message)
        entries = {"results": (result,) * len(request.creations)}
    else:
        result_class = element(response, "filter_results")
        result = build(
            result_class,
            error_code=code,
            error_message=error.message,
            matching_acls=(),
        )
        entries = {"filter_results": (result,) * len(request.filters)}
    return cast(ResponsePayload, build(response, throttle_time=NO_THROTTLE, **entries))


@attrs.frozen
class AclsHandler:
    """
    Answer DescribeAcls, CreateAcls and DeleteAcls requests on a broker without an
    authorizer.

    @ivar log: where refused requests are reported.
    """

    log: Logger = attrs.field(factory=Logger)

    def describe_acls(self, context: RequestContext, request: Any) -> Outcome:
        """
        @param context: the request's context.
        @param request: the kio DescribeAcls request.
        @return: C{SECURITY_DISABLED}, or C{CLOSE_CONNECTION} for an invalid
            request.
        """
        unknown = _unknown_fields(request, _FILTER_FIELDS)
        if unknown:
            return self._invalid(context, "filter", unknown)
        return acl_error_response(
            context, request, SecurityDisabledError(NO_AUTHORIZER_ON_BROKER)
        )

    def create_acls(self, context: RequestContext, request: Any) -> Outcome:
        """
        @param context: the request's context.
        @param request: the kio CreateAcls request.
        @return: C{SECURITY_DISABLED} for every creation, or C{CLOSE_CONNECTION}
            for an invalid request.
        """
        for creation in request.creations:
            unknown = _unknown_fields(creation, _CREATION_FIELDS)
            if unknown:
                return self._invalid(context, "creation", unknown)
        return acl_error_response(
            context, request, SecurityDisabledError(NO_AUTHORIZER)
        )

    def delete_acls(self, context: RequestContext, request: Any) -> Outcome:
        """
        @param context: the request's context.
        @param request: the kio DeleteAcls request.
        @return: C{SECURITY_DISABLED} for every filter, or C{CLOSE_CONNECTION} for
            an invalid request.
        """
        for acl_filter in request.filters:
            unknown = _unknown_fields(acl_filter, _FILTER_FIELDS)
            if unknown:
                return self._invalid(context, "filter", unknown)
        return acl_error_response(
            context, request, SecurityDisabledError(NO_AUTHORIZER)
        )

    def _invalid(
        self, context: RequestContext, what: str, fields: list[str]
    ) -> Outcome:
        self.log.info(
            "Closing connection {connection_id}: {api} version {api_version} "
            "(correlation id {correlation_id}, client {client_id}) has an ACL "
            "{what} with UNKNOWN {fields}",
            connection_id=context.connection.connection_id,
            api=ApiKey(context.api_key).name,
            api_version=context.api_version,
            correlation_id=context.correlation_id,
            client_id=context.client_id,
            what=what,
            fields=", ".join(fields),
        )
        return CLOSE_CONNECTION


def register(registry: HandlerRegistry) -> None:
    """
    Register DescribeAcls, CreateAcls and DeleteAcls.

    @param registry: the registry to add them to.
    """
    handler = AclsHandler()
    for api_key, handle in (
        (ApiKey.DESCRIBE_ACLS, handler.describe_acls),
        (ApiKey.CREATE_ACLS, handler.create_acls),
        (ApiKey.DELETE_ACLS, handler.delete_acls),
    ):
        registry.register(
            api_key, handle, ACL_VERSIONS, error_response=acl_error_response
        )
