"""
Tests for L{odradek.broker.coordinator.group.coordinator.GroupCoordinator}: the
classic group protocol (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) driven by a
C{Clock}, with an in-memory store.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence

import attrs
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.coordinator import GroupCoordinator
from odradek.broker.coordinator.group.interfaces import IGroupStore
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.results import (
    JoinGroupResult,
    SyncGroupResult,
)
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
)
from odradek.client.errors import (
    GroupMaxSizeReachedError,
    IllegalGenerationError,
    InconsistentGroupProtocolError,
    InvalidGroupIdError,
    InvalidSessionTimeoutError,
    KafkaError,
    MemberIdRequiredError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from odradek.client.structs import TopicPartition

GROUP = "billing"
PARTITIONS = 4
PARTITION = partition_for(GROUP, PARTITIONS)
CONFIG = GroupConfig(
    initial_rebalance_delay_ms=0, partition_count=PARTITIONS, max_size=3
)


def subscription(*topics: str) -> bytes:
    """
    @return: a consumer protocol subscription (version 0) of C{topics}.
    """
    data = struct.pack(">hi", 0, len(topics))
    for topic in topics:
        encoded = topic.encode()
        data += struct.pack(">h", len(encoded)) + encoded
    return data + struct.pack(">i", -1)


PROTOCOLS = (("range", subscription("orders")), ("roundrobin", subscription("orders")))


@implementer(IGroupStore)
@attrs.define
class FakeGroupStore:
    """
    An in-memory L{IGroupStore} that records every write; a write fails with
    C{failure} when set, or waits for the test when C{hold} is set.
    """

    calls: list[tuple[object, ...]] = attrs.field(factory=list)
    failure: KafkaError | None = None
    hold: bool = False
    held: list[Deferred[None]] = attrs.field(factory=list)
    loaded: dict[int, LoadedPartition] = attrs.field(factory=dict)

    def _write(self, *call: object) -> Deferred[None]:
        self.calls.append(call)
        if self.hold:
            waiting: Deferred[None] = Deferred()
            self.held.append(waiting)
            return waiting
        if self.failure is not None:
            return fail(self.failure)
        return succeed(None)

    def store_group(self, snapshot: GroupSnapshot) -> Deferred[None]:
        return self._write("store_group", snapshot)

    def store_offsets(
        self, group_id: str, offsets: Mapping[TopicPartition, CommittedOffset]
    ) -> Deferred[None]:
        return self._write("store_offsets", group_id, dict(offsets))

    def remove_offsets(
        self, group_id: str, partitions: Iterable[TopicPartition]
    ) -> Deferred[None]:
        return self._write("remove_offsets", group_id, sorted(partitions, key=str))

    def remove_group(self, group_id: str) -> Deferred[None]:
        return self._write("remove_group", group_id)

    def load(self, partition: int) -> Deferred[LoadedPartition]:
        return succeed(self.loaded.get(partition, LoadedPartition(partition)))

    def named(self, name: str) -> list[tuple[object, ...]]:
        """
        @return: the calls of one method.
        """
        return [call for call in self.calls if call[0] == name]


def make_coordinator(
    config: GroupConfig = CONFIG,
) -> tuple[GroupCoordinator, FakeGroupStore, Clock]:
    """
    @return: a coordinator owning every partition, its store and its clock.
    """
    clock = Clock()
    clock.advance(1000)
    store = FakeGroupStore()
    coordinator = GroupCoordinator(clock=clock, store=store, config=config)
    for partition in range(config.partition_count):
        coordinator.begin_loading(partition)
        coordinator.finish_loading(LoadedPartition(partition))
    return coordinator, store, clock


class GroupTestCase(SynchronousTestCase):
    """
    Helpers to drive members through the protocol.
    """

    config = CONFIG

    def setUp(self) -> None:
        self.coordinator, self.store, self.clock = make_coordinator(self.config)
        self.addCleanup(self.assertNoTimersAfterShutdown)

    def assertNoTimersAfterShutdown(self) -> None:
        self.coordinator.shutdown()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def join(
        self,
        member_id: str = "",
        *,
        group_id: str = GROUP,
        instance: str | None = None,
        protocols: Sequence[tuple[str, bytes]] = PROTOCOLS,
        protocol_type: str = "consumer",
        session_timeout_ms: int = 10000,
        rebalance_timeout_ms: int = 30000,
        require_known_member_id: bool = False,
        client_id: str = "client",
        settle: bool = True,
    ) -> Deferred[JoinGroupResult]:
        """
        Send a JoinGroup, then (if C{settle}) let zero-delay timers (the initial
        rebalance delay of these tests) run.
        """
        joined = self.coordinator.join_group(
            group_id=group_id,
            member_id=member_id,
            group_instance_id=instance,
            client_id=client_id,
            client_host="/127.0.0.1",
            rebalance_timeout_ms=rebalance_timeout_ms,
            session_timeout_ms=session_timeout_ms,
            protocol_type=protocol_type,
            protocols=protocols,
            require_known_member_id=require_known_member_id,
        )
        if settle:
            self.clock.advance(0)
        return joined

    def join_all(
        self, *instances: str | None, session_timeout_ms: int = 10000
    ) -> list[JoinGroupResult]:
        """
        Join new members to an empty group in one rebalance.

        @param instances: their static ids, C{None} for dynamic members.
        @return: their results, in join order (the first leads).
        """
        waiting = [
            self.join(instance=i, session_timeout_ms=session_timeout_ms, settle=False)
            for i in instances
        ]
        self.clock.advance(0)
        return [self.successResultOf(d) for d in waiting]

    def sync(
        self,
        joined: JoinGroupResult,
        assignments: Mapping[str, bytes] | None = None,
        *,
        instance: str | None = None,
    ) -> Deferred[SyncGroupResult]:
        return self.coordinator.sync_group(
            group_id=GROUP,
            generation_id=joined.generation_id,
            member_id=joined.member_id,
            group_instance_id=instance,
            protocol_type="consumer",
            protocol_name=joined.protocol_name,
            assignments=assignments or {},
        )

    def heartbeat(self, joined: JoinGroupResult, *, instance: str | None = None) -> int:
        return self.successResultOf(
            self.coordinator.heartbeat(
                group_id=GROUP,
                generation_id=joined.generation_id,
                member_id=joined.member_id,
                group_instance_id=instance,
            )
        )

    def state(self, group_id: str = GROUP) -> str:
        [described] = self.coordinator.describe_groups([group_id])
        return described.state

    def stable_group(self, count: int = 2) -> list[JoinGroupResult]:
        """
        Bring C{count} dynamic members into a Stable group.

        @return: their join results, leader first.
        """
        results = self.join_all(*[None] * count)
        leader = next(r for r in results if r.leader_id == r.member_id)
        assignment = {r.member_id: r.member_id.encode() for r in results}
        synced = [self.sync(r, assignment if r is leader else None) for r in results]
        for d in synced:
            self.assertEqual(self.successResultOf(d).error_code, 0)
        self.assertEqual(self.state(), "Stable")
        return [leader] + [r for r in results if r is not leader]


class StoreTests(SynchronousTestCase):
    """
    The fake store used by these tests is a real L{IGroupStore}.
    """

    def test_interface(self) -> None:
        """
        L{FakeGroupStore} provides L{IGroupStore}.
        """
        self.assertTrue(verifyObject(IGroupStore, FakeGroupStore()))


class JoinGroupTests(GroupTestCase):
    """
    JoinGroup creates groups, admits members and completes rebalances.
    """

    def test_single_member(self) -> None:
        """
        A lone member joining an empty group becomes leader of generation 1 with the
        first protocol, and gets the member list.
        """
        result = self.successResultOf(self.join())
        self.assertEqual(result.error_code, 0)
        self.assertEqual(result.generation_id, 1)
        self.assertEqual(result.leader_id, result.member_id)
        self.assertTrue(result.member_id.startswith("client-"))
        self.assertEqual(result.protocol_name, "range")
        self.assertEqual(result.protocol_type, "consumer")
        self.assertEqual([m.member_id for m in result.members], [result.member_id])
        self.assertEqual(self.state(), "CompletingRebalance")

    def test_member_id_required(self) -> None:
        """
        With C{require_known_member_id}, a new member gets C{MEMBER_ID_REQUIRED} and
        its id; joining with that id admits it.
        """
        first = self.successResultOf(self.join(require_known_member_id=True))
        self.assertEqual(first.error_code, MemberIdRequiredError.code)
        self.assertTrue(first.member_id.startswith("client-"))
        self.assertEqual(self.state(), "Empty")
        second = self.successResultOf(
            self.join(first.member_id, require_known_member_id=True)
        )
        self.assertEqual(second.error_code, 0)
        self.assertEqual(second.member_id, first.member_id)

    def test_pending_member_expires(self) -> None:
        """
        A member id handed out with C{MEMBER_ID_REQUIRED} is forgotten after the
        session timeout; joining with it then fails with C{UNKNOWN_MEMBER_ID}.
        """
        first = self.successResultOf(self.join(require_known_member_id=True))
        self.clock.advance(9.9)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(0.1)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        again = self.successResultOf(self.join(first.member_id))
        self.assertEqual(again.error_code, UnknownMemberIdError.code)

    def test_pending_member_holds_rebalance(self) -> None:
        """
        A rebalance waits for a pending member to rejoin.
        """
        leader, follower = self.stable_group()
        pending = self.successResultOf(self.join(require_known_member_id=True))
        rejoin_leader = self.join(leader.member_id)
        rejoin_follower = self.join(follower.member_id)
        self.assertNoResult(rejoin_leader)
        self.successResultOf(self.join(pending.member_id))
        result = self.successResultOf(rejoin_leader)
        self.assertEqual(len(result.members), 3)
        self.assertEqual(self.successResultOf(rejoin_follower).generation_id, 2)

    def test_invalid_group_id(self) -> None:
        """
        An empty group id is C{INVALID_GROUP_ID}.
        """
        result = self.successResultOf(self.join(group_id=""))
        self.assertEqual(result.error_code, InvalidGroupIdError.code)

    def test_invalid_session_timeout(self) -> None:
        """
        A session timeout outside the configured range is C{INVALID_SESSION_TIMEOUT}.
        """
        for timeout in (5999, 1800001):
            result = self.successResultOf(self.join(session_timeout_ms=timeout))
            self.assertEqual(result.error_code, InvalidSessionTimeoutError.code)

    def test_unknown_member_of_unknown_group(self) -> None:
        """
        A member id for a group that does not exist is C{UNKNOWN_MEMBER_ID}.
        """
        result = self.successResultOf(self.join("ghost"))
        self.assertEqual(result.error_code, UnknownMemberIdError.code)
        self.assertEqual(result.member_id, "ghost")

    def test_inconsistent_protocol(self) -> None:
        """
        A member with another protocol type or no common protocol is
        C{INCONSISTENT_GROUP_PROTOCOL}; so is one with no protocol at all.
        """
        self.successResultOf(self.join())
        other_type = self.successResultOf(self.join(protocol_type="connect"))
        other_protocol = self.successResultOf(self.join(protocols=[("sticky", b"")]))
        for result in (other_type, other_protocol):
            self.assertEqual(result.error_code, InconsistentGroupProtocolError.code)
        empty = self.successResultOf(self.join(group_id="other", protocols=[]))
        self.assertEqual(empty.error_code, InconsistentGroupProtocolError.code)

    def test_protocol_vote(self) -> None:
        """
        The protocol is the one most members prefer among those all support.
        """
        leader, follower = self.stable_group()
        third = [("roundrobin", b""), ("range", b"")]
        waiting = [
            self.join(protocols=third),
            self.join(leader.member_id),
            self.join(follower.member_id, protocols=third),
        ]
        results = [self.successResultOf(d) for d in waiting]
        self.assertEqual({r.protocol_name for r in results}, {"roundrobin"})

    def test_group_max_size(self) -> None:
        """
        A new member beyond C{group.max.size} is C{GROUP_MAX_SIZE_REACHED}.
        """
        self.stable_group(3)
        result = self.successResultOf(self.join())
        self.assertEqual(result.error_code, GroupMaxSizeReachedError.code)
        self.assertEqual(result.member_id, "")

    def test_rebalance_waits_for_members(self) -> None:
        """
        A rebalance completes once every known member has rejoined: all JoinGroup
        responses come at once, the leader's with every member.
        """
        leader, follower = self.stable_group()
        rejoined = self.join(follower.member_id, protocols=[("range", b"new")])
        self.assertNoResult(rejoined)
        self.assertEqual(self.state(), "PreparingRebalance")
        self.assertEqual(self.heartbeat(leader), RebalanceInProgressError.code)
        leader_rejoined = self.join(leader.member_id)
        first = self.successResultOf(leader_rejoined)
        second = self.successResultOf(rejoined)
        self.assertEqual(first.generation_id, 2)
        self.assertEqual(second.generation_id, 2)
        self.assertEqual(len(first.members), 2)
        self.assertEqual(second.members, ())
        self.assertEqual(second.leader_id, leader.member_id)

    def test_rebalance_timeout_removes_laggards(self) -> None:
        """
        Members that do not rejoin within the rebalance timeout are removed and the
        rebalance completes without them.
        """
        leader, follower = self.stable_group()
        rejoined = self.join(follower.member_id, protocols=[("range", b"x")])
        for _ in range(3):
            self.clock.advance(9.9)
            self.assertEqual(self.heartbeat(leader), RebalanceInProgressError.code)
        self.assertNoResult(rejoined)
        self.clock.advance(0.3)
        result = self.successResultOf(rejoined)
        self.assertEqual(result.leader_id, follower.member_id)
        self.assertEqual([m.member_id for m in result.members], [follower.member_id])

    def test_rejoin_same_metadata_when_stable(self) -> None:
        """
        A follower rejoining a Stable group with unchanged metadata gets the current
        generation without a rebalance; the leader rejoining starts one.
        """
        leader, follower = self.stable_group()
        same = self.successResultOf(self.join(follower.member_id))
        self.assertEqual(same.generation_id, 1)
        self.assertEqual(same.members, ())
        self.assertEqual(self.state(), "Stable")
        self.assertNoResult(self.join(leader.member_id))
        self.assertEqual(self.state(), "PreparingRebalance")

    def test_rejoin_when_completing(self) -> None:
        """
        In CompletingRebalance, a member rejoining with the same metadata gets the
        current generation again (the leader with the members).
        """
        leader, _ = self.join_all(None, None)
        again = self.successResultOf(self.join(leader.member_id))
        self.assertEqual(again.generation_id, 1)
        self.assertEqual(len(again.members), 2)
        self.assertEqual(self.state(), "CompletingRebalance")

    def test_initial_delay(self) -> None:
        """
        The first rebalance of an empty group waits C{group.initial.rebalance.delay.ms},
        and again while new members keep arriving, up to the rebalance timeout.
        """
        self.coordinator.shutdown()
        config = attrs.evolve(CONFIG, initial_rebalance_delay_ms=3000)
        self.coordinator, self.store, self.clock = make_coordinator(config)
        first = self.join(rebalance_timeout_ms=7000)
        self.clock.advance(2.9)
        second = self.join(rebalance_timeout_ms=7000)
        self.clock.advance(0.1)
        self.assertNoResult(first)
        self.clock.advance(2.9)
        self.assertNoResult(first)
        self.clock.advance(0.1)
        result = self.successResultOf(first)
        self.assertEqual((result.generation_id, len(result.members)), (1, 2))
        self.assertEqual(self.successResultOf(second).error_code, 0)

    def test_initial_delay_bounded(self) -> None:
        """
        Members joining during every delay cannot hold the first rebalance beyond
        the rebalance timeout.
        """
        self.coordinator.shutdown()
        config = attrs.evolve(CONFIG, initial_rebalance_delay_ms=3000, max_size=100)
        self.coordinator, self.store, self.clock = make_coordinator(config)
        first = self.join(rebalance_timeout_ms=7000)
        for _ in range(2):
            self.clock.advance(2.5)
            self.join(rebalance_timeout_ms=7000)
        self.clock.advance(1.9)
        self.assertNoResult(first)
        self.clock.advance(0.1)
        self.assertEqual(len(self.successResultOf(first).members), 3)


class HeartbeatTests(GroupTestCase):
    """
    Heartbeats keep members alive; silence removes them.
    """

    def test_states(self) -> None:
        """
        A heartbeat is 0 in CompletingRebalance and Stable and
        C{REBALANCE_IN_PROGRESS} in PreparingRebalance.
        """
        joined = self.successResultOf(self.join())
        self.assertEqual(self.heartbeat(joined), 0)
        self.successResultOf(self.sync(joined, {}))
        self.assertEqual(self.heartbeat(joined), 0)
        self.join()
        self.assertEqual(self.heartbeat(joined), RebalanceInProgressError.code)

    def test_errors(self) -> None:
        """
        Unknown members and groups, and old generations, are refused.
        """
        [joined] = self.stable_group(1)
        self.assertEqual(
            self.heartbeat(attrs.evolve(joined, member_id="x")),
            UnknownMemberIdError.code,
        )
        self.assertEqual(
            self.heartbeat(attrs.evolve(joined, generation_id=0)),
            IllegalGenerationError.code,
        )
        unknown = self.coordinator.heartbeat(
            group_id="other", generation_id=1, member_id="m", group_instance_id=None
        )
        self.assertEqual(self.successResultOf(unknown), UnknownMemberIdError.code)

    def test_session_expiry(self) -> None:
        """
        A member that stops heartbeating is removed after its session timeout and
        the others rebalance without it.
        """
        leader, follower = self.stable_group()
        for _ in range(2):
            self.clock.advance(4)
            self.assertEqual(self.heartbeat(leader), 0)
        self.clock.advance(2)
        self.assertEqual(self.state(), "PreparingRebalance")
        self.assertEqual(self.heartbeat(leader), RebalanceInProgressError.code)
        rejoined = self.successResultOf(self.join(leader.member_id))
        self.assertEqual(rejoined.generation_id, 2)
        self.assertEqual([m.member_id for m in rejoined.members], [leader.member_id])
        self.assertEqual(self.heartbeat(follower), UnknownMemberIdError.code)

    def test_last_member_expires(self) -> None:
        """
        When the last member expires the group becomes Empty with a new generation,
        and that is stored.
        """
        self.stable_group(1)
        self.clock.advance(10)
        self.assertEqual(self.state(), "Empty")
        snapshot = self.store.named("store_group")[-1][1]
        assert isinstance(snapshot, GroupSnapshot)
        self.assertEqual((snapshot.generation_id, snapshot.members), (2, ()))

    def test_new_member_join_timeout(self) -> None:
        """
        A new member waiting in a rebalance that never completes is removed after
        five minutes and answered C{UNKNOWN_MEMBER_ID}.
        """
        leader, follower = self.stable_group(2)
        joined = self.join(leader.member_id, rebalance_timeout_ms=600000)
        newcomer = self.join(rebalance_timeout_ms=600000)
        for _ in range(35):
            self.clock.advance(9)
            self.heartbeat(follower)
        self.assertEqual(
            self.successResultOf(newcomer).error_code, UnknownMemberIdError.code
        )
        self.assertNoResult(joined)
