"""
Tests for L{odradek.broker.apis.elect_leaders}: ElectLeaders in every version,
through a server connection, on a one-broker store and on a store that reports
brokers of the test's choosing as live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from kio.schema.errors import ErrorCode
from twisted.internet.defer import Deferred, fail
from twisted.logger import ILogObserver, Logger
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry
from odradek.broker.apis import elect_leaders as elect_api
from odradek.broker.metadata import (
    BrokerRegistration,
    LocalMetadataStore,
    MetadataChange,
    PartitionState,
    PartitionStateChanged,
)
from odradek.broker.test._controltools import CLUSTER_ID, ControlPlane, build
from odradek.client.protocol import ApiKey, VersionRange

ELECT_LEADERS = 43
NOT_NEEDED = (
    ErrorCode.election_not_needed,
    "Leader election not needed for topic partition.",
)
PREFERRED_NOT_AVAILABLE = (
    ErrorCode.preferred_leader_not_available,
    "The preferred leader was not available.",
)
ELECTED = (ErrorCode.none, None)


class ClusterStore(LocalMetadataStore):
    """
    An embedded store whose live brokers are the ones the test sets in C{live}.
    """

    live: tuple[int, ...] = (1,)
    broken = False

    def brokers(self) -> Mapping[int, BrokerRegistration]:
        return {broker_id: BrokerRegistration(broker_id, ()) for broker_id in self.live}

    def alter_partition_state(
        self, name: str, partition: int, *, leader: int, isr: Sequence[int]
    ) -> Deferred[PartitionState]:
        if self.broken:
            return fail(RuntimeError("disk on fire"))
        return super().alter_partition_state(name, partition, leader=leader, isr=isr)


def plane(case: SynchronousTestCase) -> ControlPlane:
    """
    @return: a one-broker control plane serving ElectLeaders.
    """
    return ControlPlane(
        case,
        register=[
            lambda p: elect_api.register(p.registry, metadata=p.metadata),
        ],
    )


def cluster(case: SynchronousTestCase, *live: int) -> tuple[ControlPlane, ClusterStore]:
    """
    @param live: the brokers the store reports as live; all three by default.
    @return: a control plane serving ElectLeaders from a L{ClusterStore}, the
        handler logging to the plane's C{events}.
    """
    control = ControlPlane(case)
    broker = BrokerRegistration(1, control.config.advertised_endpoints("localhost"))
    store = cast(
        ClusterStore,
        ClusterStore.open(control.log_dir, cluster_id=CLUSTER_ID, broker=broker),
    )
    store.live = live or (1, 2, 3)
    handler = elect_api.ElectLeadersHandler(
        store, Logger(observer=cast(ILogObserver, control.events.append))
    )
    control.registry.register(
        ApiKey.ELECT_LEADERS,
        handler.handle,
        elect_api.ELECT_LEADERS_VERSIONS,
        error_response=elect_api.elect_leaders_error_response,
    )
    control.metadata = store
    return control, store


def place(
    case: SynchronousTestCase,
    store: ClusterStore,
    name: str,
    replicas: list[int],
    *,
    leader: int,
    isr: list[int],
) -> None:
    """
    Create a one-partition topic with every broker live, then set its leader and
    ISR.
    """
    live, store.live = store.live, (1, 2, 3)
    case.successResultOf(store.create_topic(name, [replicas]))
    case.successResultOf(store.alter_partition_state(name, 0, leader=leader, isr=isr))
    store.live = live


def elect(
    control: ControlPlane,
    topics: dict[str, list[int]] | None,
    *,
    version: int = 2,
    election_type: int = 0,
) -> Any:
    """
    @return: the response to an ElectLeaders request, which leaves no delayed
        call behind.
    """
    fields: dict[str, Any] = {
        "topic_partitions": None
        if topics is None
        else [{"topic": t, "partitions": p} for t, p in topics.items()]
    }
    if version >= 1:
        fields["election_type"] = election_type
    response = control.send(build(ELECT_LEADERS, version, **fields))
    assert control.clock.getDelayedCalls() == []
    return response


def outcomes(response: Any) -> dict[tuple[str, int], tuple[ErrorCode, str | None]]:
    """
    @return: the error code and message of each partition of a response.
    """
    return {
        (topic.topic, p.partition_id): (p.error_code, p.error_message)
        for topic in response.replica_election_results
        for p in topic.partition_result
    }


def state(store: ClusterStore, name: str) -> tuple[int, tuple[int, ...], int]:
    """
    @return: the leader, ISR and leader epoch of a topic's partition 0.
    """
    topic = store.topic(name)
    assert topic is not None
    partition = topic.partitions[0]
    return partition.leader, partition.isr, partition.leader_epoch


class SingleNodeTests(SynchronousTestCase):
    """
    On one broker, the only replica leads: no election is ever needed.
    """

    def test_every_version(self) -> None:
        """
        Versions 0 to 2 answer each partition asked for, in request order:
        C{ELECTION_NOT_NEEDED} for existing ones, C{UNKNOWN_TOPIC_OR_PARTITION}
        for others; from version 1 with a top-level error code of none.
        """
        control = plane(self)
        control.create_topic("orders", partitions=2)
        for version in range(3):
            with self.subTest(version=version):
                response = elect(
                    control,
                    {"orders": [1, 0, 5], "missing": [0]},
                    version=version,
                )
                self.assertEqual(
                    [t.topic for t in response.replica_election_results],
                    ["orders", "missing"],
                )
                self.assertEqual(
                    [
                        p.partition_id
                        for p in response.replica_election_results[0].partition_result
                    ],
                    [1, 0, 5],
                )
                self.assertEqual(
                    outcomes(response),
                    {
                        ("orders", 0): NOT_NEEDED,
                        ("orders", 1): NOT_NEEDED,
                        ("orders", 5): (
                            ErrorCode.unknown_topic_or_partition,
                            "No such partition as orders-5",
                        ),
                        ("missing", 0): (
                            ErrorCode.unknown_topic_or_partition,
                            "No such topic as missing",
                        ),
                    },
                )
                self.assertEqual(response.throttle_time.total_seconds(), 0)
                if version >= 1:
                    self.assertEqual(response.error_code, ErrorCode.none)
                else:
                    self.assertFalse(hasattr(response, "error_code"))

    def test_unclean(self) -> None:
        """
        An unclean election of a partition whose leader is live is not needed.
        """
        control = plane(self)
        control.create_topic("orders")
        response = elect(control, {"orders": [0]}, version=1, election_type=1)
        self.assertEqual(outcomes(response), {("orders", 0): NOT_NEEDED})

    def test_all_partitions(self) -> None:
        """
        Without a list of partitions, every topic is answered, without the
        partitions whose election was not needed.
        """
        control = plane(self)
        control.create_topic("orders", partitions=3)
        control.create_topic("audit")
        response = elect(control, None)
        self.assertEqual(
            [(t.topic, t.partition_result) for t in response.replica_election_results],
            [("audit", ()), ("orders", ())],
        )
        self.assertEqual(response.error_code, ErrorCode.none)

    def test_unknown_election_type(self) -> None:
        """
        An election type other than 0 and 1 is C{INVALID_REQUEST}, at the top
        level and on every partition asked for.
        """
        control = plane(self)
        control.create_topic("orders")
        response = elect(control, {"orders": [0, 1]}, election_type=2)
        self.assertEqual(response.error_code, ErrorCode.invalid_request)
        self.assertEqual(
            outcomes(response),
            {
                ("orders", 0): (ErrorCode.invalid_request, "Unknown election type 2"),
                ("orders", 1): (ErrorCode.invalid_request, "Unknown election type 2"),
            },
        )
        response = elect(control, None, version=1, election_type=-1)
        self.assertEqual(response.error_code, ErrorCode.invalid_request)
        self.assertEqual(response.replica_election_results, ())


class PreferredElectionTests(SynchronousTestCase):
    """
    A preferred election makes the first replica of the assignment leader when it
    is live and in sync.
    """

    def test_elected(self) -> None:
        """
        A live, in-sync preferred replica becomes leader through the store, with a
        new leader epoch, and the store announces the change.
        """
        control, store = cluster(self, 1, 2)
        place(self, store, "orders", [2, 1], leader=1, isr=[1, 2])
        changes: list[MetadataChange] = []
        store.subscribe(changes.append)
        response = elect(control, {"orders": [0]}, version=0)
        self.assertEqual(outcomes(response), {("orders", 0): ELECTED})
        self.assertEqual(state(store, "orders"), (2, (1, 2), 2))
        [change] = changes
        assert isinstance(change, PartitionStateChanged)
        self.assertEqual((change.topic.name, change.partition), ("orders", 0))
        [event] = [e for e in control.events if e.get("election") == "preferred"]
        self.assertEqual((event["leader"], event["previous"]), (2, 1))

    def test_not_available(self) -> None:
        """
        A preferred replica that is out of sync or not live, while the leader is,
        is C{PREFERRED_LEADER_NOT_AVAILABLE}, and nothing changes.
        """
        control, store = cluster(self, 1)
        place(self, store, "dead", [2, 1], leader=1, isr=[1, 2])
        place(self, store, "lagging", [3, 1], leader=1, isr=[1])
        store.live = (1, 3)
        response = elect(control, {"dead": [0], "lagging": [0]})
        self.assertEqual(
            outcomes(response),
            {
                ("dead", 0): PREFERRED_NOT_AVAILABLE,
                ("lagging", 0): PREFERRED_NOT_AVAILABLE,
            },
        )
        self.assertEqual(state(store, "dead"), (1, (1, 2), 1))
        self.assertEqual(state(store, "lagging"), (1, (1,), 1))

    def test_another_replica(self) -> None:
        """
        When neither the preferred replica nor the leader is live, the first other
        live in-sync replica becomes leader; with none, the election fails.
        """
        control, store = cluster(self)
        place(self, store, "orders", [2, 1, 3], leader=1, isr=[1, 2, 3])
        place(self, store, "stuck", [2, 1, 3], leader=1, isr=[1, 2])
        store.live = (3,)
        response = elect(control, {"orders": [0], "stuck": [0]})
        self.assertEqual(
            outcomes(response),
            {("orders", 0): ELECTED, ("stuck", 0): PREFERRED_NOT_AVAILABLE},
        )
        self.assertEqual(state(store, "orders"), (3, (1, 2, 3), 2))
        self.assertEqual(state(store, "stuck"), (1, (1, 2), 1))

    def test_all_partitions(self) -> None:
        """
        Without a list of partitions, the partitions elected or failed are
        answered, the others left out.
        """
        control, store = cluster(self, 1, 2)
        place(self, store, "a-moved", [2, 1], leader=1, isr=[1, 2])
        place(self, store, "b-fine", [1, 2], leader=1, isr=[1, 2])
        place(self, store, "c-stuck", [3, 2], leader=2, isr=[2, 3])
        response = elect(control, None, version=1)
        self.assertEqual(
            [t.topic for t in response.replica_election_results],
            ["a-moved", "b-fine", "c-stuck"],
        )
        self.assertEqual(
            outcomes(response),
            {("a-moved", 0): ELECTED, ("c-stuck", 0): PREFERRED_NOT_AVAILABLE},
        )

    def test_store_failure(self) -> None:
        """
        A store that fails to change the leader answers that partition with
        C{UNKNOWN_SERVER_ERROR}, and the failure is logged.
        """
        control, store = cluster(self, 1, 2)
        place(self, store, "orders", [2, 1], leader=1, isr=[1, 2])
        store.broken = True
        response = elect(control, {"orders": [0]})
        self.assertEqual(
            outcomes(response), {("orders", 0): (ErrorCode.unknown_server_error, None)}
        )
        [event] = [e for e in control.events if "log_failure" in e]
        self.assertIsInstance(event["log_failure"].value, RuntimeError)
        self.assertEqual((event["topic"], event["partition"]), ("orders", 0))


class UncleanElectionTests(SynchronousTestCase):
    """
    An unclean election gives a partition without a live leader one, from the ISR
    if it can, from any live replica if it must.
    """

    def test_from_isr(self) -> None:
        """
        A partition whose leader is gone gets the first live in-sync replica, and
        keeps its ISR.
        """
        control, store = cluster(self)
        place(self, store, "orders", [1, 2, 3], leader=1, isr=[1, 3])
        store.live = (2, 3)
        response = elect(control, {"orders": [0]}, election_type=1)
        self.assertEqual(outcomes(response), {("orders", 0): ELECTED})
        self.assertEqual(state(store, "orders"), (3, (1, 3), 1))

    def test_out_of_sync(self) -> None:
        """
        With no live in-sync replica, the first live replica leads, alone in the
        ISR.
        """
        control, store = cluster(self)
        place(self, store, "orders", [2, 3, 1], leader=-1, isr=[2])
        store.live = (1, 3)
        response = elect(control, {"orders": [0]}, version=1, election_type=1)
        self.assertEqual(outcomes(response), {("orders", 0): ELECTED})
        self.assertEqual(state(store, "orders"), (3, (3,), 2))

    def test_not_needed_or_impossible(self) -> None:
        """
        A live leader needs no election; with no live replica at all the election
        is C{ELIGIBLE_LEADERS_NOT_AVAILABLE}.
        """
        control, store = cluster(self)
        place(self, store, "fine", [2, 1], leader=1, isr=[1])
        place(self, store, "lost", [2, 3], leader=-1, isr=[2])
        store.live = (1,)
        response = elect(control, {"fine": [0], "lost": [0]}, election_type=1)
        self.assertEqual(
            outcomes(response),
            {
                ("fine", 0): NOT_NEEDED,
                ("lost", 0): (
                    ErrorCode.eligible_leaders_not_available,
                    "Eligible topic partition leaders are not available.",
                ),
            },
        )
        self.assertEqual(state(store, "lost"), (-1, (2,), 1))


class RegistrationTests(SynchronousTestCase):
    """
    L{elect_api.register} adds ElectLeaders, advertised in ApiVersions.
    """

    def test_advertised(self) -> None:
        """
        ElectLeaders is advertised with versions 0 to 2 and its own error response.
        """
        registry = HandlerRegistry()
        elect_api.register(registry, metadata=plane(self).metadata)
        self.assertEqual(
            registry.advertised(), [(ApiKey.ELECT_LEADERS, VersionRange(0, 2))]
        )
        entry = registry.get(ApiKey.ELECT_LEADERS)
        assert entry is not None
        self.assertIs(entry.error_response, elect_api.elect_leaders_error_response)
