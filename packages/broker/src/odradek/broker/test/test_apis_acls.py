"""
Tests for L{odradek.broker.apis.acls}: DescribeAcls, CreateAcls and DeleteAcls in
every version on a broker without an authorizer, through a server connection.
"""

from __future__ import annotations

from typing import Any, cast

from kio.schema.errors import ErrorCode
from twisted.logger import ILogObserver, Logger, LogLevel
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry
from odradek.broker.apis import acls as acls_api
from odradek.broker.test._brokertools import context_for
from odradek.broker.test._controltools import ControlPlane, build
from odradek.broker.test._servertools import connect, request_frame, responses
from odradek.client.errors import UnknownServerError
from odradek.client.protocol import ApiKey, VersionRange

DESCRIBE_ACLS = 29
CREATE_ACLS = 30
DELETE_ACLS = 31
VERSIONS = range(1, 4)

# Kafka's codes: resource type TOPIC 2, pattern type LITERAL 3, operation READ 3,
# permission type ALLOW 3.
FILTER: dict[str, Any] = {
    "resource_type_filter": 2,
    "resource_name_filter": "orders",
    "pattern_type_filter": 3,
    "principal_filter": "User:alice",
    "host_filter": "*",
    "operation": 3,
    "permission_type": 3,
}
CREATION: dict[str, Any] = {
    "resource_type": 2,
    "resource_name": "orders",
    "resource_pattern_type": 3,
    "principal": "User:alice",
    "host": "*",
    "operation": 3,
    "permission_type": 3,
}


def plane(case: SynchronousTestCase) -> ControlPlane:
    """
    @return: a control plane serving the ACL APIs.
    """
    return ControlPlane(case, register=[lambda p: acls_api.register(p.registry)])


def ask(control: ControlPlane, request: Any) -> Any:
    """
    @return: the response to C{request}, which leaves no delayed call behind.
    """
    response = control.send(request)
    assert control.clock.getDelayedCalls() == []
    return response


def logged_registry(events: list[dict[str, Any]]) -> HandlerRegistry:
    """
    @param events: where the handlers log.
    @return: a registry of the ACL APIs whose handlers log to C{events}.
    """
    handler = acls_api.AclsHandler(Logger(observer=cast(ILogObserver, events.append)))
    registry = HandlerRegistry()
    for api_key, handle in (
        (ApiKey.DESCRIBE_ACLS, handler.describe_acls),
        (ApiKey.CREATE_ACLS, handler.create_acls),
        (ApiKey.DELETE_ACLS, handler.delete_acls),
    ):
        registry.register(api_key, handle, VersionRange(1, 3))
    return registry


def results(items: Any) -> list[tuple[ErrorCode, str | None]]:
    """
    @return: the error code and message of each result.
    """
    return [(item.error_code, item.error_message) for item in items]


def closes(case: SynchronousTestCase, registry: HandlerRegistry, request: Any) -> Any:
    """
    Send a request that must close the connection unanswered.

    @return: the connection, closed.
    """
    connection = connect(registry)
    connection.feed(request_frame(request))
    case.assertEqual(connection.transport.value(), b"")
    case.assertTrue(connection.closed)
    connection.lose()
    case.assertEqual(connection.clock.getDelayedCalls(), [])
    return connection


class DescribeAclsTests(SynchronousTestCase):
    """
    DescribeAcls is refused with C{SECURITY_DISABLED}.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 3 answer with a top-level C{SECURITY_DISABLED}, Kafka's
        message and no resources.
        """
        control = plane(self)
        for version in VERSIONS:
            with self.subTest(version=version):
                response = ask(control, build(DESCRIBE_ACLS, version, **FILTER))
                self.assertEqual(response.error_code, ErrorCode.security_disabled)
                self.assertEqual(
                    response.error_message,
                    "No Authorizer is configured on the broker",
                )
                self.assertEqual(response.resources, ())
                self.assertEqual(response.throttle_time.total_seconds(), 0)

    def test_undefined_codes(self) -> None:
        """
        Codes Kafka does not define, other than C{UNKNOWN}, pass its checks: the
        answer is still C{SECURITY_DISABLED}.
        """
        control = plane(self)
        request = build(
            DESCRIBE_ACLS, 3, **{**FILTER, "resource_type_filter": 99, "operation": 42}
        )
        response = ask(control, request)
        self.assertEqual(response.error_code, ErrorCode.security_disabled)

    def test_unknown_closes(self) -> None:
        """
        A filter with an C{UNKNOWN} (0) resource type, pattern type, operation or
        permission type closes the connection, as Kafka's request parser does.
        """
        for field in acls_api._FILTER_FIELDS:
            with self.subTest(field=field):
                events: list[dict[str, Any]] = []
                request = build(DESCRIBE_ACLS, 2, **{**FILTER, field: 0})
                closes(self, logged_registry(events), request)
                [event] = events
                self.assertEqual(event["fields"], field)
                self.assertEqual(event["api"], "DESCRIBE_ACLS")


class CreateAclsTests(SynchronousTestCase):
    """
    CreateAcls refuses every creation with C{SECURITY_DISABLED}.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 3 answer each creation with C{SECURITY_DISABLED} and Kafka's
        message, in request order.
        """
        control = plane(self)
        other = {**CREATION, "resource_name": "payments", "operation": 4}
        for version in VERSIONS:
            with self.subTest(version=version):
                response = ask(
                    control, build(CREATE_ACLS, version, creations=[CREATION, other])
                )
                self.assertEqual(
                    results(response.results),
                    [(ErrorCode.security_disabled, "No Authorizer is configured.")] * 2,
                )

    def test_no_creations(self) -> None:
        """
        A request without creations gets no results.
        """
        response = ask(plane(self), build(CREATE_ACLS, 3, creations=[]))
        self.assertEqual(response.results, ())

    def test_unknown_closes(self) -> None:
        """
        One creation with an C{UNKNOWN} (0) code closes the connection.
        """
        control = plane(self)
        for field in acls_api._CREATION_FIELDS:
            with self.subTest(field=field):
                request = build(
                    CREATE_ACLS, 1, creations=[CREATION, {**CREATION, field: 0}]
                )
                closes(self, control.registry, request)

    def test_error_response(self) -> None:
        """
        A handler failure is answered on every creation, without a message for
        C{UNKNOWN_SERVER_ERROR}.
        """

        def broken(context: Any, request: Any) -> Any:
            raise RuntimeError("disk on fire")

        registry = HandlerRegistry()
        registry.register(
            ApiKey.CREATE_ACLS,
            broken,
            VersionRange(1, 3),
            error_response=acls_api.acl_error_response,
        )
        connection = connect(registry)
        request = build(CREATE_ACLS, 2, creations=[CREATION, CREATION, CREATION])
        connection.feed(request_frame(request, correlation_id=5))
        [(correlation_id, response)] = responses(
            connection.transport.value(), (CREATE_ACLS, 2)
        )
        self.assertEqual(correlation_id, 5)
        self.assertEqual(
            results(response.results), [(ErrorCode.unknown_server_error, None)] * 3
        )
        self.flushLoggedErrors(RuntimeError)


class DeleteAclsTests(SynchronousTestCase):
    """
    DeleteAcls refuses every filter with C{SECURITY_DISABLED}.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 3 answer each filter with C{SECURITY_DISABLED}, Kafka's
        message and no matching ACLs.
        """
        control = plane(self)
        for version in VERSIONS:
            with self.subTest(version=version):
                response = ask(
                    control,
                    build(DELETE_ACLS, version, filters=[FILTER, FILTER, FILTER]),
                )
                self.assertEqual(
                    results(response.filter_results),
                    [(ErrorCode.security_disabled, "No Authorizer is configured.")] * 3,
                )
                for result in response.filter_results:
                    self.assertEqual(result.matching_acls, ())

    def test_unknown_closes(self) -> None:
        """
        One filter with an C{UNKNOWN} (0) code closes the connection.
        """
        for field in acls_api._FILTER_FIELDS:
            with self.subTest(field=field):
                events: list[dict[str, Any]] = []
                request = build(DELETE_ACLS, 3, filters=[FILTER, {**FILTER, field: 0}])
                closes(self, logged_registry(events), request)
                [event] = events
                self.assertEqual(event["log_level"], LogLevel.info)
                self.assertEqual((event["what"], event["fields"]), ("filter", field))

    def test_error_response(self) -> None:
        """
        The error response of DeleteAcls carries the error and its message on every
        filter, that of DescribeAcls at the top level.
        """
        control = plane(self)
        request = build(DELETE_ACLS, 1, filters=[FILTER, FILTER])
        response: Any = acls_api.acl_error_response(
            context_for(request, control.clock), request, UnknownServerError("x")
        )
        self.assertEqual(
            results(response.filter_results),
            [(ErrorCode.unknown_server_error, "x")] * 2,
        )
        request = build(DESCRIBE_ACLS, 3, **FILTER)
        response = acls_api.acl_error_response(
            context_for(request, control.clock), request, UnknownServerError()
        )
        self.assertEqual(
            (response.error_code, response.error_message, response.resources),
            (ErrorCode.unknown_server_error, None, ()),
        )


class RegistrationTests(SynchronousTestCase):
    """
    L{acls_api.register} adds the three APIs, advertised in ApiVersions.
    """

    def test_advertised(self) -> None:
        """
        DescribeAcls, CreateAcls and DeleteAcls are advertised with versions 1 to 3.
        """
        registry = HandlerRegistry()
        acls_api.register(registry)
        self.assertEqual(
            registry.advertised(),
            [
                (ApiKey.DESCRIBE_ACLS, VersionRange(1, 3)),
                (ApiKey.CREATE_ACLS, VersionRange(1, 3)),
                (ApiKey.DELETE_ACLS, VersionRange(1, 3)),
            ],
        )
        for entry in registry:
            self.assertIs(entry.error_response, acls_api.acl_error_response)
