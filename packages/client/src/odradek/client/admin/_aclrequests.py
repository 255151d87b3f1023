"""
CreateAcls, DescribeAcls and DeleteAcls: the builders and parsers of
L{odradek.client.admin.acls} (re-exported there). Sans-IO.

Versions 1 to 3 of the three APIs share one layout (version 2 made them flexible,
version 3 changed nothing on the wire); every pattern field is present from version
1, so any L{PatternType} can be sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kio.static.protocol import RequestPayload, ResponsePayload

from odradek.client import errors
from odradek.client.admin._acltypes import (
    AccessControlEntry,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    FilterResult,
    FilterResults,
    PatternType,
    ResourcePattern,
    ResourceType,
)
from odradek.client.admin._kiohelpers import (
    check_response,
    error_or_none,
    nested,
    request_class,
)
from odradek.client.protocol import ApiKey

__all__ = [
    "create_acls_request",
    "delete_acls_request",
    "describe_acls_request",
    "parse_create_acls",
    "parse_delete_acls",
    "parse_describe_acls",
]


def _unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


def _check_definite(binding: AclBinding) -> None:
    for field, value in (
        ("resource_type", binding.pattern.resource_type),
        ("pattern_type", binding.pattern.pattern_type),
        ("operation", binding.entry.operation),
        ("permission_type", binding.entry.permission_type),
    ):
        if value.name == "UNKNOWN":
            raise ValueError(f"invalid ACL creation: {field} is UNKNOWN in {binding!r}")


def _check_known(acl_filter: AclBindingFilter) -> None:
    for field, value in (
        ("resource_type", acl_filter.pattern_filter.resource_type),
        ("pattern_type", acl_filter.pattern_filter.pattern_type),
        ("operation", acl_filter.entry_filter.operation),
        ("permission_type", acl_filter.entry_filter.permission_type),
    ):
        if value.name == "UNKNOWN":
            raise ValueError(
                f"an ACL binding filter must not hold UNKNOWN: {field} is UNKNOWN "
                f"in {acl_filter!r}"
            )


def create_acls_request(version: int, bindings: Sequence[AclBinding]) -> RequestPayload:
    """
    Build a CreateAcls request. A binding given twice is sent once.

    @param version: the version to build, 1 to 3.
    @param bindings: the ACLs to create.
    @return: the kio request.
    @raise ValueError: if a binding holds an C{UNKNOWN} value (naming the field).
    @raise UnsupportedVersionError: if the version is not supported.
    """
    creation_class = nested(ApiKey.CREATE_ACLS, version, "AclCreation")
    creations = []
    for binding in _unique(bindings):
        _check_definite(binding)
        creations.append(
            creation_class(
                resource_type=int(binding.pattern.resource_type),
                resource_name=binding.pattern.name,
                resource_pattern_type=int(binding.pattern.pattern_type),
                principal=binding.entry.principal,
                host=binding.entry.host,
                operation=int(binding.entry.operation),
                permission_type=int(binding.entry.permission_type),
            )
        )
    return request_class(ApiKey.CREATE_ACLS, version)(creations=tuple(creations))


def parse_create_acls(
    response: ResponsePayload, bindings: Sequence[AclBinding]
) -> dict[AclBinding, errors.KafkaError | None]:
    """
    Read a CreateAcls response: its results come in the order of the creations
    sent.

    @param response: a decoded kio CreateAcls response of any version.
    @param bindings: the bindings given to L{create_acls_request}.
    @return: for each binding, C{None} if it was created, else its exception,
        carrying the broker's message; L{UnknownServerError
        <odradek.client.errors.UnknownServerError>} for a binding the broker did not
        answer.
    @raise TypeError: if C{response} is not a CreateAcls response.
    """
    data, _ = check_response(response, ApiKey.CREATE_ACLS)
    results: dict[AclBinding, errors.KafkaError | None] = {}
    answers = iter(data.results)
    for binding in _unique(bindings):
        answer = next(answers, None)
        if answer is None:
            results[binding] = errors.UnknownServerError(
                f"the broker reported no creation result for {binding!r}"
            )
        else:
            results[binding] = error_or_none(
                int(answer.error_code), answer.error_message
            )
    return results


def _filter_fields(acl_filter: AclBindingFilter) -> dict[str, object]:
    pattern = acl_filter.pattern_filter
    entry = acl_filter.entry_filter
    return {
        "resource_type_filter": int(pattern.resource_type),
        "resource_name_filter": pattern.name,
        "pattern_type_filter": int(pattern.pattern_type),
        "principal_filter": entry.principal,
        "host_filter": entry.host,
        "operation": int(entry.operation),
        "permission_type": int(entry.permission_type),
    }


def describe_acls_request(version: int, acl_filter: AclBindingFilter) -> RequestPayload:
    """
    Build a DescribeAcls request.

    @param version: the version to build, 1 to 3.
    @param acl_filter: selects the bindings to describe (L{AclBindingFilter.ANY}
        for all of them).
    @return: the kio request.
    @raise ValueError: if the filter holds an C{UNKNOWN} value (naming the field).
    @raise UnsupportedVersionError: if the version is not supported.
    """
    _check_known(acl_filter)
    return request_class(ApiKey.DESCRIBE_ACLS, version)(**_filter_fields(acl_filter))


def _binding(
    resource_type: int,
    resource_name: str,
    pattern_type: int,
    principal: str,
    host: str,
    operation: int,
    permission_type: int,
) -> AclBinding:
    return AclBinding(
        ResourcePattern(
            ResourceType.from_code(resource_type),
            resource_name,
            PatternType.from_code(pattern_type),
        ),
        AccessControlEntry(
            principal,
            host,
            AclOperation.from_code(operation),
            AclPermissionType.from_code(permission_type),
        ),
    )


def parse_describe_acls(response: ResponsePayload) -> list[AclBinding]:
    """
    Read a DescribeAcls response.

    @param response: a decoded kio DescribeAcls response of any version.
    @return: every binding described, resource by resource, in the broker's order.
        Codes this client does not know become C{UNKNOWN}.
    @raise TypeError: if C{response} is not a DescribeAcls response.
    @raise KafkaError: the exception for the response's error code, with the
        broker's message, if not 0.
    """
    data, _ = check_response(response, ApiKey.DESCRIBE_ACLS)
    errors.raise_for_code(int(data.error_code), data.error_message)
    return [
        _binding(
            int(resource.resource_type),
            resource.resource_name,
            int(resource.pattern_type),
            acl.principal,
            acl.host,
            int(acl.operation),
            int(acl.permission_type),
        )
        for resource in data.resources
        for acl in resource.acls
    ]


def delete_acls_request(
    version: int, filters: Sequence[AclBindingFilter]
) -> RequestPayload:
    """
    Build a DeleteAcls request. A filter given twice is sent once.

    @param version: the version to build, 1 to 3.
    @param filters: each selects bindings to delete.
    @return: the kio request.
    @raise ValueError: if a filter holds an C{UNKNOWN} value (naming the field).
    @raise UnsupportedVersionError: if the version is not supported.
    """
    filter_class = nested(ApiKey.DELETE_ACLS, version, "DeleteAclsFilter")
    sent = []
    for acl_filter in _unique(filters):
        _check_known(acl_filter)
        sent.append(filter_class(**_filter_fields(acl_filter)))
    return request_class(ApiKey.DELETE_ACLS, version)(filters=tuple(sent))


def parse_delete_acls(
    response: ResponsePayload, filters: Sequence[AclBindingFilter]
) -> dict[AclBindingFilter, FilterResults | errors.KafkaError]:
    """
    Read a DeleteAcls response: its results come in the order of the filters
    sent.

    @param response: a decoded kio DeleteAcls response of any version.
    @param filters: the filters given to L{delete_acls_request}.
    @return: for each filter, the L{FilterResults} of the bindings it matched
        (each with C{None} or the exception, with the broker's message, for that
        binding), or the filter's own exception with the broker's message;
        L{UnknownServerError <odradek.client.errors.UnknownServerError>} for a
        filter the broker did not answer.
    @raise TypeError: if C{response} is not a DeleteAcls response.
    """
    data, _ = check_response(response, ApiKey.DELETE_ACLS)
    results: dict[AclBindingFilter, FilterResults | errors.KafkaError] = {}
    answers = iter(data.filter_results)
    for acl_filter in _unique(filters):
        answer = next(answers, None)
        if answer is None:
            results[acl_filter] = errors.UnknownServerError(
                f"the broker reported no deletion result for {acl_filter!r}"
            )
            continue
        failure = error_or_none(int(answer.error_code), answer.error_message)
        if failure is not None:
            results[acl_filter] = failure
            continue
        results[acl_filter] = FilterResults(
            tuple(
                FilterResult(
                    _binding(
                        int(acl.resource_type),
                        acl.resource_name,
                        int(acl.pattern_type),
                        acl.principal,
                        acl.host,
                        int(acl.operation),
                        int(acl.permission_type),
                    ),
                    error_or_none(int(acl.error_code), acl.error_message),
                )
                for acl in answer.matching_acls
            )
        )
    return results
