"""
Tests for L{odradek.broker.apis.find_coordinator}: while the broker has no
coordinators, every key is answered with C{COORDINATOR_NOT_AVAILABLE}.
"""

from __future__ import annotations

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import find_coordinator
from odradek.broker.test._controltools import ControlPlane, build

FIND_COORDINATOR = 10


def plane(case: SynchronousTestCase) -> ControlPlane:
    """
    @return: a control plane serving FindCoordinator.
    """
    return ControlPlane(
        case, register=[lambda p: find_coordinator.register(p.registry)]
    )


class FindCoordinatorTests(SynchronousTestCase):
    """
    No coordinator is available yet.
    """

    def test_single_key_versions(self) -> None:
        """
        Versions 0 to 3 answer one key with C{COORDINATOR_NOT_AVAILABLE} and no
        node; from version 1 with a message saying why.
        """
        control = plane(self)
        for version in range(4):
            with self.subTest(version=version):
                response = control.send(build(FIND_COORDINATOR, version, key="group"))
                self.assertEqual(
                    response.error_code, ErrorCode.coordinator_not_available
                )
                self.assertEqual(
                    (response.node_id, response.host, response.port), (-1, "", -1)
                )
                if version >= 1:
                    self.assertIn("group coordinator", response.error_message)

    def test_transaction(self) -> None:
        """
        Transactional ids get the same answer, about the transaction coordinator.
        """
        response = plane(self).send(build(FIND_COORDINATOR, 3, key="txn", key_type=1))
        self.assertEqual(response.error_code, ErrorCode.coordinator_not_available)
        self.assertIn("transaction coordinator", response.error_message)

    def test_batched_versions(self) -> None:
        """
        Versions 4 to 6 answer each key.
        """
        control = plane(self)
        for version in range(4, 7):
            with self.subTest(version=version):
                response = control.send(
                    build(FIND_COORDINATOR, version, coordinator_keys=["a", "b"])
                )
                self.assertEqual(
                    [(c.key, c.error_code, c.node_id) for c in response.coordinators],
                    [
                        ("a", ErrorCode.coordinator_not_available, -1),
                        ("b", ErrorCode.coordinator_not_available, -1),
                    ],
                )

    def test_other_key_types(self) -> None:
        """
        Share groups (type 2) and unknown types are C{INVALID_REQUEST}.
        """
        control = plane(self)
        for key_type in (2, 9):
            with self.subTest(key_type=key_type):
                response = control.send(
                    build(
                        FIND_COORDINATOR, 6, key_type=key_type, coordinator_keys=["a"]
                    )
                )
                [coordinator] = response.coordinators
                self.assertEqual(coordinator.error_code, ErrorCode.invalid_request)
