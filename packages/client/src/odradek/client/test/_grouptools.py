"""
A fake group coordinator for unit tests of group membership, the consumer's
coordinator and group offsets, over the in-memory network of
L{odradek.client.test._networktools}.

L{FakeGroupCoordinator} keeps the groups of a fake cluster and runs Kafka's classic
group protocol well enough for clients to join, sync, heartbeat, leave, commit and
fetch offsets: JoinGroup answers wait until every member of the group has rejoined
(or the rebalance timeout passes), followers' SyncGroup answers wait for the leader's,
and the usual errors come back for unknown members, old generations and fenced
static members. Tests script the rest: L{FakeGroupCoordinator.fail_next} answers the
next requests of an API with an error code, L{FakeGroupCoordinator.hold} keeps them
unanswered until L{FakeGroupCoordinator.release}, C{commit_errors} and
C{fetch_errors} give partitions an error, and moving C{node} moves the coordinator
(the old one then answers C{NOT_COORDINATOR}).

L{GroupNetwork} is a L{FakeNetwork} whose brokers (L{GroupBroker}, one per
connection, answering in order as Kafka does) all share one coordinator, so that
several clients can use one network. L{group_cluster} builds both;
L{client_for} builds a client's pool and metadata manager on it.

For tests of L{GroupMembership
<odradek.client.consumer._membership.GroupMembership>}, L{MembershipTestCase}
makes members of one group with L{RecordingHooks}.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing
from collections.abc import Iterable, Mapping
from typing import Any, cast

from kio.schema.errors import ErrorCode
from kio.static.protocol import ResponsePayload
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.consumer._membership import (
    Generation,
    GroupMembership,
    JoinedMember,
    MembershipSettings,
)
from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import ApiKey, RequestHeader, decode_request
from odradek.client.protocol import response_type as _response_type
from odradek.client.test._groupcoordinator import (
    GROUP_RANGES,
    FakeGroup,
    FakeGroupCoordinator,
    FakeMember,
    Reply,
)
from odradek.client.test._networktools import BROKER_RANGES, FakeBroker, FakeNetwork

__all__ = [
    "B0",
    "B1",
    "GROUP_RANGES",
    "FakeGroup",
    "FakeGroupCoordinator",
    "FakeMember",
    "GroupBroker",
    "GroupNetwork",
    "MembershipTestCase",
    "RecordingHooks",
    "Reply",
    "client_for",
    "group_cluster",
    "group_response",
]

_GROUP_APIS = frozenset(GROUP_RANGES) - frozenset(BROKER_RANGES)
_BLANKS: dict[str, object] = {
    "string": "",
    "bytes": b"",
    "bool": False,
    "timedelta_i32": datetime.timedelta(0),
}


def group_response(api_key: int, version: int, **fields: Any) -> ResponsePayload:
    """
    Build a response leniently: fields the version lacks are dropped, missing ones
    are empty, C{None} becomes empty where the version cannot be null, and nested
    entities may be given as dicts.

    @return: the kio response of that API and version.
    """
    return cast(
        ResponsePayload, _entity(_response_type(ApiKey(api_key), version), fields)
    )


def _entity(entity_class: Any, fields: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(entity_class)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(entity_class):
        kind = hints[field.name]
        options = typing.get_args(kind) if typing.get_origin(kind) is not tuple else ()
        nullable = type(None) in options
        sequence = next(
            (
                option
                for option in (kind, *options)
                if typing.get_origin(option) is tuple
            ),
            None,
        )
        value = fields.get(field.name)
        if value is None and (field.name not in fields or not nullable):
            if field.default is not dataclasses.MISSING:
                continue
            if sequence is not None and not nullable:
                value = ()
            elif not nullable:
                value = _BLANKS.get(str(field.metadata.get("kafka_type")), 0)
        if kind is ErrorCode:
            value = ErrorCode(value or 0)
        elif value is not None and sequence is not None:
            element = typing.get_args(sequence)[0]
            value = tuple(
                _entity(element, item) if isinstance(item, dict) else item
                for item in value
            )
        values[field.name] = value
    return entity_class(**values)


class GroupBroker(FakeBroker):
    """
    One connection to a broker of a L{GroupNetwork}: answers ApiVersions and
    Metadata as L{FakeBroker} does, group requests through the coordinator, one
    request at a time in the order received.

    @ivar node: the broker.
    """

    def __init__(self, coordinator: FakeGroupCoordinator, node: Node) -> None:
        super().__init__(coordinator.brokers, coordinator.topics, coordinator.ranges)
        self.coordinator = coordinator
        self.node = node
        self.lost = False
        self._busy = False
        self._queue: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._queue.extend(self._decoder.feed(data))
        self._drain()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost = True

    def _drain(self) -> None:
        while self._queue and not self._busy and not self.lost:
            header, request = decode_request(self._queue.pop(0))
            self.requests.append((header, request))
            if header.api_key not in _GROUP_APIS:
                response = self.handlers[header.api_key](header, request)
                self.reply(header, response)
                continue
            self._busy = True
            self.coordinator.handle(self.node, header, request, self._replier(header))

    def _replier(self, header: RequestHeader) -> Reply:
        answered = False

        def reply(fields: dict[str, Any]) -> None:
            nonlocal answered
            assert not answered, "a request answered twice"
            answered = True
            if self.lost:
                return
            self.reply(
                header, group_response(header.api_key, header.api_version, **fields)
            )
            self._busy = False
            self._drain()

        return reply


class GroupNetwork(FakeNetwork):
    """
    A L{FakeNetwork} whose connections to the brokers added with L{add_broker}
    each get a new L{GroupBroker} of one coordinator.

    @ivar connections: every broker side of a connection, in order.
    """

    def __init__(self, clock: Clock, coordinator: FakeGroupCoordinator) -> None:
        super().__init__(clock)
        self.coordinator = coordinator
        self.nodes: dict[tuple[str, int], Node] = {}
        self.connections: list[GroupBroker] = []

    def add_broker(self, node: Node) -> None:
        """Make C{node} reachable at its address."""
        self.nodes[(node.host, node.port)] = node

    def accept(self, address: tuple[str, int]) -> None:
        node = self.nodes.get(address)
        if node is None:
            self.brokers.pop(address, None)
        else:
            broker = GroupBroker(self.coordinator, node)
            self.brokers[address] = broker
            self.connections.append(broker)
        super().accept(address)


def group_cluster(
    clock: Clock,
    brokers: Iterable[Node],
    topics: Mapping[str, Iterable[PartitionInfo] | int] | None = None,
) -> tuple[FakeGroupCoordinator, GroupNetwork]:
    """
    @param brokers: the cluster's brokers; the first is the coordinator.
    @return: a coordinator and a network reaching every broker.
    """
    nodes = list(brokers)
    coordinator = FakeGroupCoordinator(clock, nodes[0], nodes, topics)
    network = GroupNetwork(clock, coordinator)
    for node in nodes:
        network.add_broker(node)
    return coordinator, network


def client_for(
    clock: Clock, network: FakeNetwork, bootstrap: tuple[str, int], client_id: str
) -> tuple[ConnectionPool, MetadataManager]:
    """
    @return: a connection pool on C{network} and a metadata manager bootstrapping
        from C{bootstrap}, for one client named C{client_id}.
    """
    pool = ConnectionPool(
        clock,
        client_id=client_id,
        request_timeout_ms=30000,
        endpoint_factory=network.endpoint,
        random=lambda: 0.5,
    )
    return pool, MetadataManager(pool, clock, [bootstrap], retry_backoff_ms=100)


#: The brokers of L{MembershipTestCase}'s cluster; C{B0} is the coordinator.
B0 = Node(0, "b0", 9092)
B1 = Node(1, "b1", 9093)


class RecordingHooks:
    """
    L{MembershipHooks <odradek.client.consumer._membership.MembershipHooks>} that
    record every call; the leader assigns each member C{b"to-" + metadata}.
    """

    protocol_type = "consumer"

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls: list[tuple[Any, ...]] = []
        self.prepare: Deferred[None] | None = None
        self.complete_error: Exception | None = None

    def join_protocols(self) -> list[tuple[str, bytes]]:
        return [("range", self.name.encode()), ("roundrobin", b"rr")]

    def on_join_prepare(self, generation: Generation) -> Deferred[None] | None:
        self.calls.append(("prepare", generation))
        return self.prepare

    def perform_assignment(
        self, leader_id: str, protocol: str, members: list[JoinedMember]
    ) -> Deferred[dict[str, bytes]]:
        self.calls.append(("assign", leader_id, protocol, members))
        return succeed({m.member_id: b"to-" + m.metadata for m in members})

    def on_join_complete(
        self, generation: Generation, protocol: str, assignment: bytes
    ) -> None:
        self.calls.append(("complete", generation, protocol, assignment))
        if self.complete_error is not None:
            error, self.complete_error = self.complete_error, None
            raise error

    def on_generation_lost(self, reason: str) -> None:
        self.calls.append(("lost", reason))

    def names(self) -> list[str]:
        """@return: the hooks called, in order."""
        return [call[0] for call in self.calls]


class MembershipTestCase(SynchronousTestCase):
    """
    A base for tests of L{GroupMembership}: a cluster of L{B0} (the coordinator)
    and L{B1}, and members of group C{billing} made with L{member}.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.coordinator, self.network = group_cluster(self.clock, [B0, B1])

    def member(
        self, name: str = "a", **settings: Any
    ) -> tuple[GroupMembership, RecordingHooks]:
        """@return: a member of group C{billing} named C{name}, and its hooks."""
        pool, metadata = client_for(self.clock, self.network, ("b0", 9092), name)
        hooks = RecordingHooks(name)
        fields: dict[str, Any] = {
            "group_id": "billing",
            "session_timeout_ms": 10000,
            "rebalance_timeout_ms": 60000,
            "heartbeat_interval_ms": 3000,
            "retry_backoff_ms": 100,
            "retry_backoff_max_ms": 1000,
        }
        fields.update(settings)
        membership = GroupMembership(
            self.clock, metadata, pool, MembershipSettings(**fields), hooks
        )
        return membership, hooks

    def joined(
        self, name: str = "a", **settings: Any
    ) -> tuple[GroupMembership, RecordingHooks]:
        """@return: a member that has joined the group."""
        membership, hooks = self.member(name, **settings)
        self.successResultOf(membership.ensure_active_group())
        return membership, hooks

    def run_for(self, seconds: float) -> None:
        """Let time pass in small steps, as a reactor would, not in one jump."""
        for _ in range(round(seconds * 10)):
            self.clock.advance(0.1)

    def bodies(self, api_key: ApiKey) -> list[Any]:
        """@return: the bodies of the requests of an API the cluster received."""
        return self.coordinator.bodies(api_key)

    def assertNoTimers(self) -> None:
        """Assert that no delayed call is left on the clock."""
        self.assertEqual(self.clock.getDelayedCalls(), [])
