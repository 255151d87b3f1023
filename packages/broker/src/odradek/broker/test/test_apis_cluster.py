"""
Tests for L{odradek.broker.apis.cluster}: DescribeCluster in every version, through a
server connection.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import cluster as cluster_api
from odradek.broker.apis._schema import CLUSTER_OPERATIONS
from odradek.broker.test._controltools import CLUSTER_ID, ControlPlane, build

DESCRIBE_CLUSTER = 60


def plane(case: SynchronousTestCase, endpoints: str) -> ControlPlane:
    """
    @return: a control plane serving DescribeCluster.
    """
    return ControlPlane(
        case,
        register=[lambda p: cluster_api.register(p.registry, metadata=p.metadata)],
        endpoints=endpoints,
    )


class DescribeClusterTests(SynchronousTestCase):
    """
    DescribeCluster describes the cluster as the request's listener sees it.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 2 give the cluster id, this broker as controller, and its
        endpoint on the request's listener.
        """
        control = plane(self, "PLAINTEXT://broker.test:9092,OTHER://other.test:9093")
        for version in range(3):
            with self.subTest(version=version):
                response = control.send(build(DESCRIBE_CLUSTER, version))
                self.assertEqual(response.error_code, ErrorCode.none)
                self.assertEqual(response.cluster_id, CLUSTER_ID)
                self.assertEqual(response.controller_id, 1)
                [broker] = response.brokers
                self.assertEqual(
                    (broker.broker_id, broker.host, broker.port, broker.rack),
                    (1, "broker.test", 9092, "rack-a"),
                )
                self.assertEqual(response.cluster_authorized_operations, -(2**31))
                if version >= 1:
                    self.assertEqual(response.endpoint_type, 1)
                if version >= 2:
                    self.assertFalse(broker.is_fenced)
        response = control.send(build(DESCRIBE_CLUSTER, 2), listener="OTHER")
        [broker] = response.brokers
        self.assertEqual((broker.host, broker.port), ("other.test", 9093))

    def test_no_endpoint(self) -> None:
        """
        On a listener this broker does not advertise, no broker is listed and the
        controller is -1.
        """
        control = plane(self, "PLAINTEXT://broker.test:9092")
        response = control.send(build(DESCRIBE_CLUSTER, 2), listener="ELSEWHERE")
        self.assertEqual((response.brokers, response.controller_id), ((), -1))

    def test_authorized_operations(self) -> None:
        """
        Asked for, the cluster's operations are all authorized.
        """
        control = plane(self, "PLAINTEXT://broker.test:9092")
        response = control.send(
            build(DESCRIBE_CLUSTER, 1, include_cluster_authorized_operations=True)
        )
        self.assertEqual(response.cluster_authorized_operations, CLUSTER_OPERATIONS)

    def test_endpoint_types(self) -> None:
        """
        Asking a broker for controllers is C{MISMATCHED_ENDPOINT_TYPE}, for an
        unknown type C{UNSUPPORTED_ENDPOINT_TYPE}.
        """
        control = plane(self, "PLAINTEXT://broker.test:9092")
        response = control.send(build(DESCRIBE_CLUSTER, 1, endpoint_type=2))
        self.assertEqual(response.error_code, ErrorCode.mismatched_endpoint_type)
        self.assertEqual(
            response.error_message,
            "The request was sent to an endpoint of type BROKER, but we wanted an "
            "endpoint of type CONTROLLER",
        )
        self.assertEqual(response.brokers, ())
        response = control.send(build(DESCRIBE_CLUSTER, 2, endpoint_type=7))
        self.assertEqual(response.error_code, ErrorCode.unsupported_endpoint_type)
        self.assertEqual(response.error_message, "Unsupported endpoint type 7")
