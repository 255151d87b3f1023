"""
Tests for L{odradek.broker.coordinator.group.coordinator.GroupCoordinator}:
SyncGroup, LeaveGroup, static membership (KIP-345) and requests for groups this
coordinator does not serve.
"""

from __future__ import annotations

import attrs

from odradek.broker.coordinator.group.results import JoinGroupResult, LeavingMember
from odradek.broker.coordinator.group.values import GroupSnapshot
from odradek.broker.test.test_coordinator_group_coordinator import (
    GROUP,
    PARTITION,
    GroupTestCase,
)
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
    FencedInstanceIdError,
    IllegalGenerationError,
    InconsistentGroupProtocolError,
    NotCoordinatorError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)


class SyncGroupTests(GroupTestCase):
    """
    SyncGroup hands out the leader's assignment once the group is stored.
    """

    def test_assignment(self) -> None:
        """
        Followers wait for the leader; the group is stored with the assignment, then
        every member gets its own.
        """
        leader, follower = self.join_all(None, None)
        synced = self.sync(follower)
        self.assertNoResult(synced)
        assignment = {leader.member_id: b"a", follower.member_id: b"b"}
        mine = self.successResultOf(self.sync(leader, assignment))
        self.assertEqual((mine.error_code, mine.assignment), (0, b"a"))
        theirs = self.successResultOf(synced)
        self.assertEqual((theirs.assignment, theirs.protocol_name), (b"b", "range"))
        [(_, snapshot)] = self.store.named("store_group")
        assert isinstance(snapshot, GroupSnapshot)
        self.assertEqual(snapshot.generation_id, 1)
        self.assertEqual(
            [(m.member_id, m.assignment) for m in snapshot.members],
            [(leader.member_id, b"a"), (follower.member_id, b"b")],
        )
        self.assertEqual(snapshot.leader_id, leader.member_id)
        self.assertEqual(self.state(), "Stable")
        again = self.successResultOf(self.sync(follower))
        self.assertEqual(again.assignment, b"b")

    def test_missing_assignment(self) -> None:
        """
        A member the leader left out gets an empty assignment.
        """
        leader, follower = self.join_all(None, None)
        synced = self.sync(follower)
        self.successResultOf(self.sync(leader, {leader.member_id: b"a"}))
        self.assertEqual(self.successResultOf(synced).assignment, b"")

    def test_store_error(self) -> None:
        """
        If the group cannot be stored, every waiting member gets the error and the
        group rebalances.
        """
        leader, follower = self.join_all(None, None)
        synced = self.sync(follower)
        self.store.failure = NotCoordinatorError()
        mine = self.successResultOf(self.sync(leader, {}))
        self.assertEqual(mine.error_code, NotCoordinatorError.code)
        self.assertEqual(
            self.successResultOf(synced).error_code, NotCoordinatorError.code
        )
        self.assertEqual(self.state(), "PreparingRebalance")

    def test_errors(self) -> None:
        """
        Unknown groups and members, old generations, other protocols and
        rebalances under way are refused with Kafka's codes.
        """
        leader, follower = self.stable_group()
        cases = [
            (attrs.evolve(leader, member_id="ghost"), UnknownMemberIdError.code),
            (attrs.evolve(leader, generation_id=7), IllegalGenerationError.code),
            (
                attrs.evolve(leader, protocol_name="roundrobin"),
                InconsistentGroupProtocolError.code,
            ),
        ]
        for joined, code in cases:
            self.assertEqual(self.successResultOf(self.sync(joined)).error_code, code)
        self.join(leader.member_id)
        result = self.successResultOf(self.sync(follower))
        self.assertEqual(result.error_code, RebalanceInProgressError.code)
        unknown = self.coordinator.sync_group(
            group_id="nobody",
            generation_id=1,
            member_id="m",
            group_instance_id=None,
            protocol_type=None,
            protocol_name=None,
            assignments={},
        )
        self.assertEqual(
            self.successResultOf(unknown).error_code, UnknownMemberIdError.code
        )

    def test_rebalance_cancels_waiting_syncs(self) -> None:
        """
        A member joining while others wait in SyncGroup sends them
        C{REBALANCE_IN_PROGRESS}.
        """
        _, follower = self.join_all(None, None)
        synced = self.sync(follower)
        self.join()
        self.assertEqual(
            self.successResultOf(synced).error_code, RebalanceInProgressError.code
        )

    def test_sync_expiry(self) -> None:
        """
        Members that do not send SyncGroup within the rebalance timeout are removed
        and the group rebalances.
        """
        leader, _follower = self.join_all(None, None, session_timeout_ms=60000)
        self.successResultOf(self.sync(leader, {}))
        self.clock.advance(29.9)
        self.assertEqual(self.state(), "Stable")
        self.clock.advance(0.1)
        self.assertEqual(self.state(), "PreparingRebalance")
        rejoined = self.successResultOf(self.join(leader.member_id))
        self.assertEqual([m.member_id for m in rejoined.members], [leader.member_id])


class LeaveGroupTests(GroupTestCase):
    """
    LeaveGroup removes members at once.
    """

    def leave(self, *members: LeavingMember, group_id: str = GROUP) -> list[int]:
        result = self.successResultOf(
            self.coordinator.leave_group(group_id=group_id, members=members)
        )
        self.assertEqual(result.error_code, 0)
        return [m.error_code for m in result.members]

    def test_leave_rebalances(self) -> None:
        """
        A member leaving starts a rebalance without it.
        """
        leader, follower = self.stable_group()
        self.assertEqual(self.leave(LeavingMember(follower.member_id)), [0])
        self.assertEqual(self.state(), "PreparingRebalance")
        rejoined = self.successResultOf(self.join(leader.member_id))
        self.assertEqual(len(rejoined.members), 1)

    def test_batch(self) -> None:
        """
        Several members leave in one request, each with its own code; the group is
        then Empty and stored so.
        """
        leader, follower = self.stable_group()
        codes = self.leave(
            LeavingMember(leader.member_id),
            LeavingMember("ghost"),
            LeavingMember(follower.member_id),
        )
        self.assertEqual(codes, [0, UnknownMemberIdError.code, 0])
        self.assertEqual(self.state(), "Empty")

    def test_unknown_group(self) -> None:
        """
        Members of an unknown group each get C{UNKNOWN_MEMBER_ID}.
        """
        self.assertEqual(
            self.leave(LeavingMember("m"), group_id="nobody"),
            [UnknownMemberIdError.code],
        )

    def test_pending_member(self) -> None:
        """
        A pending member may leave, which lets a waiting rebalance complete.
        """
        leader, _ = self.stable_group()
        pending = self.successResultOf(self.join(require_known_member_id=True))
        waiting = self.join(leader.member_id)
        self.assertEqual(self.leave(LeavingMember(pending.member_id)), [0])
        self.assertNoResult(waiting)

    def test_leaving_member_waiting_in_join(self) -> None:
        """
        A member that leaves while its JoinGroup waits gets C{UNKNOWN_MEMBER_ID}.
        """
        leader, follower = self.stable_group()
        joined = self.join(follower.member_id, protocols=[("range", b"x")])
        self.leave(LeavingMember(follower.member_id))
        self.assertEqual(
            self.successResultOf(joined).error_code, UnknownMemberIdError.code
        )
        self.successResultOf(self.join(leader.member_id))


class StaticMembershipTests(GroupTestCase):
    """
    Static members (C{group.instance.id}) come back without a rebalance.
    """

    def static_group(self) -> tuple[JoinGroupResult, JoinGroupResult]:
        first, second = self.join_all("a", "b")
        assignment = {first.member_id: b"A", second.member_id: b"B"}
        synced = self.sync(second, instance="b")
        self.successResultOf(self.sync(first, assignment, instance="a"))
        self.successResultOf(synced)
        return first, second

    def test_rejoin_without_rebalance(self) -> None:
        """
        A known instance id joining with an unknown member id replaces the old
        member id, keeps the generation and gets its old assignment.
        """
        first, second = self.static_group()
        self.assertTrue(second.member_id.startswith("b-"))
        rejoined = self.successResultOf(self.join(instance="b"))
        self.assertEqual(rejoined.error_code, 0)
        self.assertNotEqual(rejoined.member_id, second.member_id)
        self.assertEqual(rejoined.generation_id, 1)
        self.assertEqual(rejoined.leader_id, first.member_id)
        self.assertFalse(rejoined.skip_assignment)
        self.assertEqual(self.state(), "Stable")
        synced = self.successResultOf(self.sync(rejoined, instance="b"))
        self.assertEqual(synced.assignment, b"B")
        fenced = self.heartbeat(second, instance="b")
        self.assertEqual(fenced, FencedInstanceIdError.code)
        snapshot = self.store.named("store_group")[-1][1]
        assert isinstance(snapshot, GroupSnapshot)
        self.assertIn(rejoined.member_id, [m.member_id for m in snapshot.members])

    def test_static_leader_skips_assignment(self) -> None:
        """
        A static leader rejoining is told it leads but must skip the assignment.
        """
        _first, _ = self.static_group()
        rejoined = self.successResultOf(self.join(instance="a"))
        self.assertEqual(rejoined.leader_id, rejoined.member_id)
        self.assertTrue(rejoined.skip_assignment)
        self.assertEqual(len(rejoined.members), 2)

    def test_store_failure_reverts(self) -> None:
        """
        If the replacement cannot be stored, the old member id stays valid and the
        joiner gets the error.
        """
        _, second = self.static_group()
        self.store.failure = NotCoordinatorError()
        result = self.successResultOf(self.join(instance="b"))
        self.assertEqual(result.error_code, NotCoordinatorError.code)
        self.assertEqual(self.heartbeat(second, instance="b"), 0)

    def test_rejoin_with_new_protocol_rebalances(self) -> None:
        """
        A static member rejoining with protocols that change the group's choice
        starts a rebalance.
        """
        self.static_group()
        self.join(instance="b", protocols=[("roundrobin", b"")])
        self.assertEqual(self.state(), "PreparingRebalance")

    def test_static_member_survives_rebalance_timeout(self) -> None:
        """
        A static member that does not rejoin in time stays in the group.
        """
        first, second = self.static_group()
        joined = self.join(first.member_id, instance="a", protocols=[("range", b"x")])
        for _ in range(3):
            self.clock.advance(9)
            self.heartbeat(second, instance="b")
        self.clock.advance(3)
        result = self.successResultOf(joined)
        self.assertEqual(len(result.members), 2)

    def test_fenced(self) -> None:
        """
        A known instance id with another member id is C{FENCED_INSTANCE_ID}; an
        unknown instance id with a member id is C{UNKNOWN_MEMBER_ID}.
        """
        _first, second = self.static_group()
        result = self.successResultOf(self.join(second.member_id, instance="a"))
        self.assertEqual(result.error_code, FencedInstanceIdError.code)
        result = self.successResultOf(self.join(second.member_id, instance="zzz"))
        self.assertEqual(result.error_code, UnknownMemberIdError.code)

    def test_leave_by_instance_id(self) -> None:
        """
        A static member may be removed by its instance id alone (KIP-345).
        """
        self.static_group()
        result = self.successResultOf(
            self.coordinator.leave_group(
                group_id=GROUP,
                members=[LeavingMember("", "b"), LeavingMember("", "zzz")],
            )
        )
        self.assertEqual(
            [m.error_code for m in result.members], [0, UnknownMemberIdError.code]
        )
        self.assertEqual(self.state(), "PreparingRebalance")

    def test_rejoin_during_completing_rebalances(self) -> None:
        """
        A static member rejoining with a new member id while the group completes a
        rebalance starts another one; its old requests are fenced.
        """
        _first, second = self.join_all("a", "b")
        synced = self.sync(second, instance="b")
        self.join(instance="b")
        self.assertEqual(
            self.successResultOf(synced).error_code, FencedInstanceIdError.code
        )
        self.assertEqual(self.state(), "PreparingRebalance")


class CoordinatorStatusTests(GroupTestCase):
    """
    Requests for groups this coordinator does not serve.
    """

    def test_loading(self) -> None:
        """
        While a partition loads, JoinGroup answers C{COORDINATOR_LOAD_IN_PROGRESS},
        SyncGroup C{REBALANCE_IN_PROGRESS} and Heartbeat 0.
        """
        self.coordinator.unload(PARTITION)
        self.coordinator.begin_loading(PARTITION)
        self.assertNotIn(PARTITION, self.coordinator.owned_partitions())
        joined = self.successResultOf(self.join())
        self.assertEqual(joined.error_code, CoordinatorLoadInProgressError.code)
        synced = self.successResultOf(self.sync(joined))
        self.assertEqual(synced.error_code, RebalanceInProgressError.code)
        self.assertEqual(self.heartbeat(joined), 0)

    def test_not_coordinator(self) -> None:
        """
        Groups of partitions not owned here are C{NOT_COORDINATOR}.
        """
        self.coordinator.unload(PARTITION)
        joined = self.successResultOf(self.join())
        self.assertEqual(joined.error_code, NotCoordinatorError.code)

    def test_unload_answers_waiters(self) -> None:
        """
        Unloading answers waiting JoinGroup and SyncGroup requests
        C{NOT_COORDINATOR} and cancels the group's timers.
        """
        _, follower = self.join_all(None, None)
        synced = self.sync(follower)
        self.coordinator.unload(PARTITION)
        self.assertEqual(
            self.successResultOf(synced).error_code, NotCoordinatorError.code
        )
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_unload_preparing(self) -> None:
        """
        Unloading a rebalancing group answers its waiting joins C{NOT_COORDINATOR}.
        """
        leader, _ = self.stable_group()
        joined = self.join(leader.member_id)
        self.coordinator.unload(PARTITION)
        self.assertEqual(
            self.successResultOf(joined).error_code, NotCoordinatorError.code
        )

    def test_shutdown(self) -> None:
        """
        After shutdown nothing is owned and requests are
        C{COORDINATOR_NOT_AVAILABLE}.
        """
        self.stable_group()
        self.coordinator.shutdown()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.coordinator.owned_partitions(), frozenset())
        joined = self.successResultOf(self.join())
        self.assertEqual(joined.error_code, CoordinatorNotAvailableError.code)
