"""
Tests for L{odradek.broker.apis.find_coordinator}: a group's coordinator is the
leader of its partition of C{__consumer_offsets}, created on first use; transactional
ids have no coordinator yet; other key types are invalid.
"""

from __future__ import annotations

from typing import Any

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import find_coordinator
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.metadata.topics import CONSUMER_OFFSETS_TOPIC
from odradek.broker.test._controltools import ControlPlane, build

FIND_COORDINATOR = 10
NODE = (1, "broker.test", 9092)
NO_NODE = (-1, "", -1)


class EnsureTopic:
    """
    Stands in for the group coordinator service's C{ensure_offsets_topic}: creates
    C{__consumer_offsets} in the metadata store with C{partitions} partitions and
    answers C{ready}, or fails with C{error}.

    @ivar calls: how many times it was called.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        *,
        partitions: int = 50,
        ready: bool = True,
        error: Exception | None = None,
    ) -> None:
        self.case = case
        self.plane: ControlPlane | None = None
        self.partitions = partitions
        self.ready = ready
        self.error = error
        self.calls = 0

    def __call__(self) -> Deferred[bool]:
        self.calls += 1
        if self.error is not None:
            return fail(self.error)
        assert self.plane is not None
        metadata = self.plane.metadata
        if self.ready and metadata.topic(CONSUMER_OFFSETS_TOPIC) is None:
            self.case.successResultOf(
                metadata.create_topic(
                    CONSUMER_OFFSETS_TOPIC, [[1]] * self.partitions, internal=True
                )
            )
        return succeed(self.ready)


def plane(
    case: SynchronousTestCase, ensure: EnsureTopic | None = None, **options: Any
) -> tuple[ControlPlane, EnsureTopic]:
    """
    @return: a control plane serving FindCoordinator, and its topic creator.
    """
    creator = ensure or EnsureTopic(case)
    control = ControlPlane(
        case,
        register=[
            lambda p: find_coordinator.register(
                p.registry,
                config=p.config,
                metadata=p.metadata,
                ensure_offsets_topic=creator,
            )
        ],
        **options,
    )
    creator.plane = control
    return control, creator


def node(answer: Any) -> tuple[int, str, int]:
    """
    @return: the node of a response or of one of its coordinators.
    """
    return (answer.node_id, answer.host, answer.port)


class GroupTests(SynchronousTestCase):
    """
    Groups are coordinated by the leader of their partition of
    C{__consumer_offsets}.
    """

    def test_single_key_versions(self) -> None:
        """
        Versions 0 to 3 answer one group with this broker's endpoint, creating
        C{__consumer_offsets} on first use.
        """
        control, ensure = plane(self)
        for version in range(4):
            with self.subTest(version=version):
                response = control.send(build(FIND_COORDINATOR, version, key="billing"))
                self.assertEqual(response.error_code, ErrorCode.none)
                self.assertEqual(node(response), NODE)
                if version >= 1:
                    self.assertIsNone(response.error_message)
        self.assertEqual(ensure.calls, 4)
        topic = control.metadata.topic(CONSUMER_OFFSETS_TOPIC)
        assert topic is not None
        self.assertEqual(topic.partition_count, 50)

    def test_batched_versions(self) -> None:
        """
        Versions 4 to 6 answer each group, the topic ensured once per request.
        """
        control, ensure = plane(self)
        for version in range(4, 7):
            with self.subTest(version=version):
                response = control.send(
                    build(FIND_COORDINATOR, version, coordinator_keys=["a", "b"])
                )
                self.assertEqual(
                    [(c.key, c.error_code, node(c)) for c in response.coordinators],
                    [("a", ErrorCode.none, NODE), ("b", ErrorCode.none, NODE)],
                )
        self.assertEqual(ensure.calls, 3)

    def test_listener(self) -> None:
        """
        The coordinator is given with its endpoint on the listener the request
        came in on.
        """
        control, _ = plane(
            self, endpoints="PLAINTEXT://broker.test:9092,INTERNAL://inside.test:9093"
        )
        response = control.send(
            build(FIND_COORDINATOR, 3, key="billing"), listener="INTERNAL"
        )
        self.assertEqual(node(response), (1, "inside.test", 9093))

    def test_not_ready(self) -> None:
        """
        While C{__consumer_offsets} cannot be created the answer is
        C{COORDINATOR_NOT_AVAILABLE} with no node.
        """
        control, _ = plane(self, EnsureTopic(self, ready=False))
        response = control.send(build(FIND_COORDINATOR, 2, key="billing"))
        self.assertEqual(
            (response.error_code, node(response)),
            (ErrorCode.coordinator_not_available, NO_NODE),
        )
        batched = control.send(build(FIND_COORDINATOR, 4, coordinator_keys=["a"]))
        self.assertEqual(
            [(c.error_code, node(c)) for c in batched.coordinators],
            [(ErrorCode.coordinator_not_available, NO_NODE)],
        )

    def test_creation_fails(self) -> None:
        """
        A failure to create the topic is logged and answered with
        C{COORDINATOR_NOT_AVAILABLE}.
        """
        control, _ = plane(self, EnsureTopic(self, error=RuntimeError("disk")))
        response = control.send(build(FIND_COORDINATOR, 1, key="billing"))
        self.assertEqual(response.error_code, ErrorCode.coordinator_not_available)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_partition_missing(self) -> None:
        """
        A group whose partition the topic lacks (it has fewer partitions than
        C{offsets.topic.num.partitions}) has no coordinator.
        """
        key = next(k for k in map(str, range(100)) if partition_for(k, 50) > 0)
        control, _ = plane(self, EnsureTopic(self, partitions=1))
        response = control.send(build(FIND_COORDINATOR, 6, coordinator_keys=[key]))
        [coordinator] = response.coordinators
        self.assertEqual(
            (coordinator.error_code, node(coordinator)),
            (ErrorCode.coordinator_not_available, NO_NODE),
        )

    def test_partition_count(self) -> None:
        """
        The group's partition is chosen among C{offsets.topic.num.partitions}.
        """
        control, _ = plane(
            self,
            EnsureTopic(self, partitions=1),
            properties={"offsets.topic.num.partitions": "1"},
        )
        response = control.send(build(FIND_COORDINATOR, 6, coordinator_keys=["x"]))
        self.assertEqual(
            [(c.error_code, node(c)) for c in response.coordinators],
            [(ErrorCode.none, NODE)],
        )


class OtherKeyTests(SynchronousTestCase):
    """
    Keys other than groups.
    """

    def test_transaction(self) -> None:
        """
        Transactional ids get C{COORDINATOR_NOT_AVAILABLE}, without creating
        C{__consumer_offsets}.
        """
        control, ensure = plane(self)
        response = control.send(build(FIND_COORDINATOR, 3, key="txn", key_type=1))
        self.assertEqual(response.error_code, ErrorCode.coordinator_not_available)
        self.assertIn("transaction coordinator", response.error_message)
        self.assertEqual(ensure.calls, 0)

    def test_other_key_types(self) -> None:
        """
        Share groups (type 2) and unknown types are C{INVALID_REQUEST}.
        """
        control, _ = plane(self)
        for key_type in (2, 9):
            with self.subTest(key_type=key_type):
                response = control.send(
                    build(
                        FIND_COORDINATOR, 6, key_type=key_type, coordinator_keys=["a"]
                    )
                )
                [coordinator] = response.coordinators
                self.assertEqual(coordinator.error_code, ErrorCode.invalid_request)
                self.assertEqual(node(coordinator), NO_NODE)
