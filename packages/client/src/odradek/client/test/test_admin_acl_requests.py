"""
Tests for the ACL codecs of L{odradek.client.admin.acls}: CreateAcls, DescribeAcls
and DeleteAcls.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from kio.static.protocol import ResponsePayload
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.admin.acls import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    FilterResult,
    FilterResults,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    create_acls_request,
    delete_acls_request,
    describe_acls_request,
    parse_create_acls,
    parse_delete_acls,
    parse_describe_acls,
)
from odradek.client.protocol import ApiKey, UnsupportedVersionError
from odradek.client.test._adminwiretools import entity as _entity
from odradek.client.test._adminwiretools import versions as _versions
from odradek.client.test._adminwiretools import wire_response as _response
from odradek.client.test._networktools import NO_THROTTLE, round_trip

READ_ORDERS = AclBinding(
    ResourcePattern(ResourceType.TOPIC, "orders"),
    AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW),
)
WRITE_PREFIX = AclBinding(
    ResourcePattern(ResourceType.TOPIC, "log-", PatternType.PREFIXED),
    AccessControlEntry(
        "User:bob", "10.0.0.1", AclOperation.WRITE, AclPermissionType.DENY
    ),
)
TOPIC_FILTER = AclBindingFilter(
    ResourcePatternFilter(ResourceType.TOPIC, None, PatternType.ANY),
    AccessControlEntryFilter.ANY,
)


class CreateAclsTests(SynchronousTestCase):
    """
    L{create_acls_request} and L{parse_create_acls}.
    """

    def test_request_every_version(self) -> None:
        """
        Every supported version carries each binding once, with Kafka's codes.
        """
        for version in _versions(ApiKey.CREATE_ACLS):
            with self.subTest(version=version):
                request: Any = round_trip(
                    create_acls_request(
                        version, [READ_ORDERS, WRITE_PREFIX, READ_ORDERS]
                    )
                )
                self.assertEqual(
                    [
                        (
                            c.resource_type,
                            c.resource_name,
                            c.resource_pattern_type,
                            c.principal,
                            c.host,
                            c.operation,
                            c.permission_type,
                        )
                        for c in request.creations
                    ],
                    [
                        (2, "orders", 3, "User:alice", "*", 3, 3),
                        (2, "log-", 4, "User:bob", "10.0.0.1", 4, 2),
                    ],
                )

    def test_unsupported_version(self) -> None:
        """
        Version 0 is not supported.
        """
        self.assertRaises(UnsupportedVersionError, create_acls_request, 0, [])

    def test_parse_every_version(self) -> None:
        """
        Results pair with the bindings sent, with the broker's messages.
        """
        for version in _versions(ApiKey.CREATE_ACLS):
            with self.subTest(version=version):
                response = _response(
                    ApiKey.CREATE_ACLS,
                    version,
                    throttle_time=NO_THROTTLE,
                    results=(
                        _entity(
                            ApiKey.CREATE_ACLS,
                            version,
                            "AclCreationResult",
                            error_code=ErrorCode.none,
                            error_message=None,
                        ),
                        _entity(
                            ApiKey.CREATE_ACLS,
                            version,
                            "AclCreationResult",
                            error_code=ErrorCode.security_disabled,
                            error_message="No Authorizer is configured.",
                        ),
                    ),
                )
                third = AclBinding(
                    ResourcePattern(ResourceType.CLUSTER, "kafka-cluster"),
                    AccessControlEntry(
                        "User:*", "*", AclOperation.ALL, AclPermissionType.ALLOW
                    ),
                )
                sent = [READ_ORDERS, WRITE_PREFIX, READ_ORDERS, third]
                results = parse_create_acls(response, sent)
                self.assertEqual(list(results), [READ_ORDERS, WRITE_PREFIX, third])
                self.assertIsNone(results[READ_ORDERS])
                refused = results[WRITE_PREFIX]
                assert isinstance(refused, errors.SecurityDisabledError)
                self.assertEqual(refused.message, "No Authorizer is configured.")
                self.assertIsInstance(results[third], errors.UnknownServerError)


def _describe_response(
    version: int, error: ErrorCode = ErrorCode.none, message: str | None = None
) -> ResponsePayload:
    def description(principal: str, operation: int, permission: int) -> Any:
        return _entity(
            ApiKey.DESCRIBE_ACLS,
            version,
            "AclDescription",
            principal=principal,
            host="*",
            operation=operation,
            permission_type=permission,
        )

    resources: tuple[Any, ...] = ()
    if error is ErrorCode.none:
        resources = (
            _entity(
                ApiKey.DESCRIBE_ACLS,
                version,
                "DescribeAclsResource",
                resource_type=2,
                resource_name="orders",
                pattern_type=3,
                acls=(description("User:alice", 3, 3), description("User:eve", 4, 2)),
            ),
            _entity(
                ApiKey.DESCRIBE_ACLS,
                version,
                "DescribeAclsResource",
                resource_type=42,
                resource_name="future",
                pattern_type=4,
                acls=(description("User:alice", 99, 3),),
            ),
        )
    return _response(
        ApiKey.DESCRIBE_ACLS,
        version,
        throttle_time=NO_THROTTLE,
        error_code=error,
        error_message=message,
        resources=resources,
    )


class DescribeAclsTests(SynchronousTestCase):
    """
    L{describe_acls_request} and L{parse_describe_acls}.
    """

    def test_request_every_version(self) -> None:
        """
        Every supported version carries the filter's fields, C{None} for any.
        """
        for version in _versions(ApiKey.DESCRIBE_ACLS):
            with self.subTest(version=version):
                request: Any = round_trip(
                    describe_acls_request(version, AclBindingFilter.ANY)
                )
                self.assertEqual(
                    (
                        request.resource_type_filter,
                        request.resource_name_filter,
                        request.pattern_type_filter,
                        request.principal_filter,
                        request.host_filter,
                        request.operation,
                        request.permission_type,
                    ),
                    (1, None, 1, None, None, 1, 1),
                )
                exact: Any = round_trip(
                    describe_acls_request(version, WRITE_PREFIX.to_filter())
                )
                self.assertEqual(
                    (
                        exact.resource_type_filter,
                        exact.resource_name_filter,
                        exact.pattern_type_filter,
                        exact.principal_filter,
                        exact.host_filter,
                        exact.operation,
                        exact.permission_type,
                    ),
                    (2, "log-", 4, "User:bob", "10.0.0.1", 4, 2),
                )

    def test_parse_every_version(self) -> None:
        """
        Every entry becomes a binding; unknown codes read as UNKNOWN.
        """
        for version in _versions(ApiKey.DESCRIBE_ACLS):
            with self.subTest(version=version):
                bindings = parse_describe_acls(_describe_response(version))
                self.assertEqual(
                    bindings,
                    [
                        READ_ORDERS,
                        AclBinding(
                            READ_ORDERS.pattern,
                            AccessControlEntry(
                                "User:eve",
                                "*",
                                AclOperation.WRITE,
                                AclPermissionType.DENY,
                            ),
                        ),
                        AclBinding(
                            ResourcePattern(
                                ResourceType.UNKNOWN, "future", PatternType.PREFIXED
                            ),
                            AccessControlEntry(
                                "User:alice",
                                "*",
                                AclOperation.UNKNOWN,
                                AclPermissionType.ALLOW,
                            ),
                        ),
                    ],
                )

    def test_parse_error(self) -> None:
        """
        The response's error is raised with the broker's message.
        """
        response = _describe_response(
            2, ErrorCode.cluster_authorization_failed, "not allowed"
        )
        error = self.assertRaises(
            errors.ClusterAuthorizationError, parse_describe_acls, response
        )
        self.assertEqual(error.message, "not allowed")

    def test_parse_wrong_response(self) -> None:
        """
        A response of another API is refused.
        """
        response = _response(
            ApiKey.CREATE_ACLS, 1, throttle_time=NO_THROTTLE, results=()
        )
        self.assertRaises(TypeError, parse_describe_acls, response)


class DeleteAclsTests(SynchronousTestCase):
    """
    L{delete_acls_request} and L{parse_delete_acls}.
    """

    def test_request_every_version(self) -> None:
        """
        Every supported version carries each filter once.
        """
        for version in _versions(ApiKey.DELETE_ACLS):
            with self.subTest(version=version):
                request: Any = round_trip(
                    delete_acls_request(
                        version,
                        [TOPIC_FILTER, READ_ORDERS.to_filter(), TOPIC_FILTER],
                    )
                )
                self.assertEqual(
                    [
                        (
                            f.resource_type_filter,
                            f.resource_name_filter,
                            f.pattern_type_filter,
                            f.principal_filter,
                            f.operation,
                        )
                        for f in request.filters
                    ],
                    [
                        (2, None, 1, None, 1),
                        (2, "orders", 3, "User:alice", 3),
                    ],
                )

    def _matching(self, version: int, binding: AclBinding, **error: Any) -> Any:
        return _entity(
            ApiKey.DELETE_ACLS,
            version,
            "DeleteAclsMatchingAcl",
            error_code=error.get("code", ErrorCode.none),
            error_message=error.get("message"),
            resource_type=int(binding.pattern.resource_type),
            resource_name=binding.pattern.name,
            pattern_type=int(binding.pattern.pattern_type),
            principal=binding.entry.principal,
            host=binding.entry.host,
            operation=int(binding.entry.operation),
            permission_type=int(binding.entry.permission_type),
        )

    def test_parse_every_version(self) -> None:
        """
        Each filter gets its matched bindings or its own error, with messages.
        """
        for version in _versions(ApiKey.DELETE_ACLS):
            with self.subTest(version=version):
                response = _response(
                    ApiKey.DELETE_ACLS,
                    version,
                    throttle_time=NO_THROTTLE,
                    filter_results=(
                        _entity(
                            ApiKey.DELETE_ACLS,
                            version,
                            "DeleteAclsFilterResult",
                            error_code=ErrorCode.none,
                            error_message=None,
                            matching_acls=(
                                self._matching(version, READ_ORDERS),
                                self._matching(
                                    version,
                                    WRITE_PREFIX,
                                    code=ErrorCode.unknown_server_error,
                                    message="disk on fire",
                                ),
                            ),
                        ),
                        _entity(
                            ApiKey.DELETE_ACLS,
                            version,
                            "DeleteAclsFilterResult",
                            error_code=ErrorCode.security_disabled,
                            error_message="No Authorizer is configured.",
                            matching_acls=(),
                        ),
                    ),
                )
                exact = READ_ORDERS.to_filter()
                third = WRITE_PREFIX.to_filter()
                results = parse_delete_acls(
                    response, [TOPIC_FILTER, exact, TOPIC_FILTER, third]
                )
                self.assertEqual(list(results), [TOPIC_FILTER, exact, third])
                matched = results[TOPIC_FILTER]
                assert isinstance(matched, FilterResults)
                self.assertEqual(matched.values[0], FilterResult(READ_ORDERS))
                self.assertEqual(matched.values[1].binding, WRITE_PREFIX)
                failed = matched.values[1].error
                assert isinstance(failed, errors.UnknownServerError)
                self.assertEqual(failed.message, "disk on fire")
                self.assertEqual(matched.deleted(), (READ_ORDERS,))
                refused = results[exact]
                assert isinstance(refused, errors.SecurityDisabledError)
                self.assertEqual(refused.message, "No Authorizer is configured.")
                self.assertIsInstance(results[third], errors.UnknownServerError)
