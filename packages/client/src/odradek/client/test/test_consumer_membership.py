"""
Tests for L{odradek.client.consumer._membership}: finding the coordinator, joining
and syncing, leaving and closing, against the fake coordinator of
L{odradek.client.test._grouptools} (heartbeats: L{test_consumer_heartbeat}).
"""

from __future__ import annotations

from typing import Any

import attrs
from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer import _membership
from odradek.client.consumer._membership import (
    NO_GENERATION,
    Generation,
    JoinedMember,
    MembershipSettings,
    MemberState,
)
from odradek.client.network.cluster import Node
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.group_requests import (
    JoinGroupResponseData,
    group_request_version,
    offset_fetch_request,
    parse_offset_fetch,
)
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._grouptools import B1, MembershipTestCase

COORDINATOR_ID = 2**31 - 1


class CoordinatorTests(MembershipTestCase):
    """
    L{GroupMembership.ensure_coordinator_ready} finds the coordinator.
    """

    def test_found(self) -> None:
        """The coordinator gets its own connection id; concurrent calls share."""
        membership, _ = self.member()
        first = membership.ensure_coordinator_ready()
        second = membership.ensure_coordinator_ready()
        node = Node(COORDINATOR_ID, "b0", 9092)
        self.assertEqual(self.successResultOf(first), node)
        self.assertEqual(self.successResultOf(second), node)
        self.assertEqual(membership.coordinator, node)
        self.assertEqual(
            [b.coordinator_keys for b in self.bodies(ApiKey.FIND_COORDINATOR)],
            [("billing",)],
        )
        self.assertTrue(membership.pool.is_ready(COORDINATOR_ID))

    def test_retry_with_backoff(self) -> None:
        """Retriable errors are retried after an exponential backoff."""
        self.coordinator.fail_next(
            ApiKey.FIND_COORDINATOR, errors.CoordinatorNotAvailableError.code, 2
        )
        membership, _ = self.member()
        found = membership.ensure_coordinator_ready()
        self.assertNoResult(found)
        self.clock.advance(0.1)
        self.assertEqual(len(self.bodies(ApiKey.FIND_COORDINATOR)), 2)
        self.clock.advance(0.199)
        self.assertNoResult(found)
        self.clock.advance(0.001)
        self.assertEqual(self.successResultOf(found).node_id, COORDINATOR_ID)
        self.assertEqual(len(self.bodies(ApiKey.FIND_COORDINATOR)), 3)

    def test_fatal(self) -> None:
        """An authorization error fails the lookup."""
        self.coordinator.fail_next(
            ApiKey.FIND_COORDINATOR, errors.GroupAuthorizationError.code
        )
        membership, _ = self.member()
        failure = self.failureResultOf(
            membership.ensure_coordinator_ready(), errors.GroupAuthorizationError
        )
        self.assertIn("billing", str(failure.value))
        self.assertNoTimers()

    def test_mark_unknown(self) -> None:
        """Marking the coordinator unknown closes its connection."""
        membership, _ = self.member()
        self.successResultOf(membership.ensure_coordinator_ready())
        connection = membership.pool.connection(COORDINATOR_ID)
        assert connection is not None
        membership.mark_coordinator_unknown("test")
        self.assertIsNone(membership.coordinator)
        self.assertTrue(connection.is_closed)


class JoinTests(MembershipTestCase):
    """
    L{GroupMembership.ensure_active_group} joins the group.
    """

    def test_leader(self) -> None:
        """A lone member leads: it assigns, syncs, and completes the join."""
        membership, hooks = self.joined()
        self.assertIs(membership.state, MemberState.STABLE)
        generation = Generation(1, "a-1", "range")
        self.assertEqual(membership.generation, generation)
        self.assertEqual(
            hooks.calls,
            [
                ("prepare", NO_GENERATION),
                ("assign", "a-1", "range", [JoinedMember("a-1", None, b"a")]),
                ("complete", generation, "range", b"to-a"),
            ],
        )
        self.assertFalse(membership.rejoin_needed())
        [sync] = self.bodies(ApiKey.SYNC_GROUP)
        self.assertEqual(
            (sync.protocol_type, sync.protocol_name, sync.generation_id),
            ("consumer", "range", 1),
        )

    def test_member_id_required(self) -> None:
        """MEMBER_ID_REQUIRED: the member rejoins at once with the id given."""
        self.joined()
        joins = self.bodies(ApiKey.JOIN_GROUP)
        self.assertEqual([j.member_id for j in joins], ["", "a-1"])
        self.assertEqual(joins[0].reason, "")
        self.assertIn("a-1", joins[1].reason)
        self.assertEqual(
            [(p.name, p.metadata) for p in joins[1].protocols],
            [("range", b"a"), ("roundrobin", b"rr")],
        )

    def test_old_broker_assigns_member_id(self) -> None:
        """Before JoinGroup version 4 the first answer gives the member id."""
        self.coordinator.ranges[ApiKey.JOIN_GROUP] = (0, 3)
        membership, _ = self.joined()
        self.assertEqual([j.member_id for j in self.bodies(ApiKey.JOIN_GROUP)], [""])
        self.assertEqual(membership.generation.member_id, "a-1")

    def test_follower(self) -> None:
        """A second member joins as follower and gets the leader's assignment."""
        leader, leader_hooks = self.joined("a")
        follower, hooks = self.member("b")
        joining = follower.ensure_active_group()
        self.assertNoResult(joining)
        self.clock.advance(3)
        self.assertTrue(leader.rejoin_needed())
        self.successResultOf(leader.ensure_active_group())
        self.successResultOf(joining)
        self.assertEqual(leader.generation.generation_id, 2)
        self.assertEqual(follower.generation, Generation(2, "b-2", "range"))
        self.assertNotIn("assign", hooks.names())
        self.assertEqual(
            hooks.calls[-1], ("complete", follower.generation, "range", b"to-b")
        )
        assign = leader_hooks.calls[-2]
        self.assertEqual(
            assign[3],
            [JoinedMember("a-1", None, b"a"), JoinedMember("b-2", None, b"b")],
        )

    def test_join_timeout(self) -> None:
        """JoinGroup may take the rebalance timeout plus five seconds."""
        self.coordinator.hold(ApiKey.JOIN_GROUP)
        membership, _ = self.member()
        joining = membership.ensure_active_group()
        self.assertEqual(
            [call.getTime() for call in self.clock.getDelayedCalls()], [65.0]
        )
        self.clock.advance(64.9)
        self.assertNoResult(joining)
        self.assertIsNotNone(membership.coordinator)
        self.clock.advance(0.1)
        self.assertIsNone(membership.coordinator)

    def test_unknown_member(self) -> None:
        """UNKNOWN_MEMBER_ID on JoinGroup: the member id is forgotten, and retried."""
        membership, _ = self.joined()
        self.coordinator.fail_next(ApiKey.JOIN_GROUP, errors.UnknownMemberIdError.code)
        membership.request_rejoin("test")
        joining = membership.ensure_active_group()
        # The coordinator waits for the old member id until the rebalance timeout.
        self.clock.advance(60)
        self.successResultOf(joining)
        self.assertEqual(
            [j.member_id for j in self.bodies(ApiKey.JOIN_GROUP)],
            ["", "a-1", "a-1", "", "a-2"],
        )
        self.assertIs(membership.state, MemberState.STABLE)

    def test_coordinator_loading(self) -> None:
        """COORDINATOR_LOAD_IN_PROGRESS is retried after the backoff."""
        self.coordinator.fail_next(
            ApiKey.JOIN_GROUP, errors.CoordinatorLoadInProgressError.code
        )
        membership, _ = self.member()
        joining = membership.ensure_active_group()
        self.assertNoResult(joining)
        self.assertEqual(len(self.bodies(ApiKey.JOIN_GROUP)), 1)
        self.clock.advance(0.1)
        self.successResultOf(joining)
        self.assertEqual(len(self.bodies(ApiKey.FIND_COORDINATOR)), 1)

    def test_not_coordinator(self) -> None:
        """NOT_COORDINATOR: the coordinator is looked up again after the backoff."""
        membership, _ = self.member()
        self.successResultOf(membership.ensure_coordinator_ready())
        self.coordinator.node = B1
        joining = membership.ensure_active_group()
        self.assertIsNone(membership.coordinator)
        self.clock.advance(0.1)
        self.successResultOf(joining)
        self.assertEqual(membership.coordinator, Node(COORDINATOR_ID - 1, "b1", 9093))
        self.assertEqual(len(self.bodies(ApiKey.FIND_COORDINATOR)), 2)

    def test_fatal_errors(self) -> None:
        """Fatal JoinGroup errors fail ensure_active_group with their class."""
        for code, error in [
            (
                errors.InconsistentGroupProtocolError.code,
                errors.InconsistentGroupProtocolError,
            ),
            (errors.GroupAuthorizationError.code, errors.GroupAuthorizationError),
            (errors.InvalidSessionTimeoutError.code, errors.InvalidSessionTimeoutError),
            (errors.GroupMaxSizeReachedError.code, errors.GroupMaxSizeReachedError),
            (errors.FencedInstanceIdError.code, errors.FencedInstanceIdError),
        ]:
            self.coordinator.fail_next(ApiKey.JOIN_GROUP, code)
            membership, _ = self.member()
            self.failureResultOf(membership.ensure_active_group(), error)
            self.assertIs(membership.state, MemberState.UNJOINED)
            self.assertTrue(membership.rejoin_needed())
            self.assertNoTimers()

    def test_real_session_timeout_check(self) -> None:
        """The fake coordinator's own check gives INVALID_SESSION_TIMEOUT."""
        membership, _ = self.member(session_timeout_ms=1000)
        self.failureResultOf(
            membership.ensure_active_group(), errors.InvalidSessionTimeoutError
        )

    def test_rebalance_on_sync(self) -> None:
        """REBALANCE_IN_PROGRESS on SyncGroup: rejoin at once."""
        self.coordinator.fail_next(
            ApiKey.SYNC_GROUP, errors.RebalanceInProgressError.code
        )
        membership, hooks = self.joined()
        self.assertEqual(len(self.bodies(ApiKey.SYNC_GROUP)), 2)
        self.assertEqual(hooks.names(), ["prepare", "assign", "assign", "complete"])
        self.assertIs(membership.state, MemberState.STABLE)

    def test_concurrent_calls_share(self) -> None:
        """Callers while a join is under way share it: one JoinGroup is sent."""
        self.coordinator.hold(ApiKey.JOIN_GROUP)
        membership, _ = self.member()
        first = membership.ensure_active_group()
        second = membership.ensure_active_group()
        self.assertTrue(membership.rejoin_needed())
        self.assertEqual(len(self.bodies(ApiKey.JOIN_GROUP)), 1)
        self.coordinator.release(ApiKey.JOIN_GROUP)
        self.assertIsNone(self.successResultOf(first))
        self.assertIsNone(self.successResultOf(second))
        self.assertEqual(len(self.bodies(ApiKey.JOIN_GROUP)), 2)

    def test_hook_deferred_waited(self) -> None:
        """JoinGroup waits for on_join_prepare's Deferred."""
        membership, hooks = self.member()
        hooks.prepare = Deferred()
        joining = membership.ensure_active_group()
        self.assertEqual(self.bodies(ApiKey.JOIN_GROUP), [])
        hooks.prepare.callback(None)
        self.successResultOf(joining)

    def test_join_complete_retried(self) -> None:
        """A failed on_join_complete fails the call and is retried by the next."""
        membership, hooks = self.member()
        hooks.complete_error = ValueError("listener")
        self.failureResultOf(membership.ensure_active_group(), ValueError)
        self.successResultOf(membership.ensure_active_group())
        self.assertEqual(hooks.names(), ["prepare", "assign", "complete", "complete"])
        self.assertEqual(len(self.bodies(ApiKey.JOIN_GROUP)), 2)

    def test_static_member(self) -> None:
        """A static member sends its instance id and gets its id at once."""
        membership, _ = self.joined(group_instance_id="i-1")
        [join] = self.bodies(ApiKey.JOIN_GROUP)
        self.assertEqual(join.group_instance_id, "i-1")
        self.assertEqual(membership.generation.member_id, "a-1")


class CloseTests(MembershipTestCase):
    """
    L{GroupMembership.close} leaves the group and stops every timer.
    """

    def test_leaves(self) -> None:
        """A dynamic member leaves with a reason."""
        membership, _ = self.joined()
        self.clock.advance(3)
        self.assertIsNone(self.successResultOf(membership.close(5000)))
        [leave] = self.bodies(ApiKey.LEAVE_GROUP)
        self.assertEqual(
            [(m.member_id, m.reason) for m in leave.members],
            [("a-1", "the consumer is being closed")],
        )
        self.assertEqual(self.coordinator.groups["billing"].members, {})
        self.assertNoTimers()
        self.failureResultOf(membership.ensure_active_group(), errors.IllegalStateError)

    def test_static_member_stays(self) -> None:
        """A static member does not send LeaveGroup."""
        membership, _ = self.joined(group_instance_id="i-1")
        self.successResultOf(membership.close(5000))
        self.assertEqual(self.bodies(ApiKey.LEAVE_GROUP), [])
        self.assertEqual(list(self.coordinator.groups["billing"].members), ["a-1"])
        self.assertNoTimers()

    def test_leave_off(self) -> None:
        """leave_group_on_close=False sends no LeaveGroup."""
        membership, _ = self.joined(leave_group_on_close=False)
        self.successResultOf(membership.close(5000))
        self.assertEqual(self.bodies(ApiKey.LEAVE_GROUP), [])
        self.assertNoTimers()

    def test_bounded(self) -> None:
        """Close waits for LeaveGroup's answer at most timeout_ms."""
        membership, _ = self.joined()
        self.coordinator.hold(ApiKey.LEAVE_GROUP)
        closing = membership.close(1000)
        self.assertNoResult(closing)
        self.clock.advance(1)
        self.assertIsNone(self.successResultOf(closing))
        self.assertNoTimers()

    def test_during_join(self) -> None:
        """Closing abandons a join under way; its callers fail."""
        self.coordinator.hold(ApiKey.JOIN_GROUP)
        membership, _ = self.member()
        joining = membership.ensure_active_group()
        self.successResultOf(membership.close(1000))
        self.failureResultOf(joining, errors.IllegalStateError)
        self.assertNoTimers()

    def test_during_backoff(self) -> None:
        """Closing during a lookup's backoff cancels it."""
        self.coordinator.fail_next(
            ApiKey.FIND_COORDINATOR, errors.CoordinatorNotAvailableError.code
        )
        membership, _ = self.member()
        joining = membership.ensure_active_group()
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.successResultOf(membership.close(1000))
        self.failureResultOf(joining, errors.IllegalStateError)
        self.assertNoTimers()

    def test_twice(self) -> None:
        """A second close does nothing."""
        membership, _ = self.joined()
        self.successResultOf(membership.close(1000))
        self.successResultOf(membership.close(1000))
        self.assertEqual(len(self.bodies(ApiKey.LEAVE_GROUP)), 1)

    def test_maybe_leave(self) -> None:
        """maybe_leave_group sends nothing when the member has not joined."""
        membership, hooks = self.member()
        self.successResultOf(membership.maybe_leave_group("test"))
        self.assertEqual(self.bodies(ApiKey.LEAVE_GROUP), [])
        self.assertNotIn("lost", hooks.names())


class SendToCoordinatorTests(MembershipTestCase):
    """
    L{GroupMembership.send_to_coordinator} sends other group requests.
    """

    def test_builder(self) -> None:
        """A builder is given the coordinator's connection to pick the version."""
        membership, _ = self.joined()
        self.coordinator.groups["billing"].offsets[TopicPartition("t", 0)] = (
            OffsetAndMetadata(7)
        )

        def build(connection: KafkaConnection) -> Any:
            version = group_request_version(connection, ApiKey.OFFSET_FETCH)
            return offset_fetch_request(version, group_id="billing", partitions=None)

        response = self.successResultOf(membership.send_to_coordinator(build))
        self.assertEqual(
            parse_offset_fetch(response, "billing"),
            {TopicPartition("t", 0): OffsetAndMetadata(7)},
        )

    def test_unknown(self) -> None:
        """Without a known coordinator the request fails at once."""
        membership, _ = self.member()
        request = offset_fetch_request(8, group_id="billing", partitions=None)
        self.failureResultOf(
            membership.send_to_coordinator(request), errors.CoordinatorNotAvailableError
        )


@attrs.frozen
class _Config:
    group_id: str | None = "billing"
    group_instance_id: str | None = None
    session_timeout_ms: int = 45000
    max_poll_interval_ms: int = 300000
    heartbeat_interval_ms: int = 3000
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    request_timeout_ms: int = 30000
    internal_leave_group_on_close: bool = False
    client_rack: str = ""


class SettingsTests(SynchronousTestCase):
    """
    L{MembershipSettings.from_config} reads a consumer's configuration.
    """

    def test_from_config(self) -> None:
        """The rebalance timeout is max.poll.interval.ms; an empty rack is none."""
        settings = MembershipSettings.from_config(_Config())
        self.assertEqual(
            settings,
            MembershipSettings(
                group_id="billing",
                rebalance_timeout_ms=300000,
                leave_group_on_close=False,
                client_rack=None,
            ),
        )

    def test_needs_group(self) -> None:
        """A configuration without group.id is refused."""
        with self.assertRaises(errors.InvalidGroupIdError):
            MembershipSettings.from_config(_Config(group_id=None))

    def test_public_names(self) -> None:
        """The module exports the names of the contract."""
        self.assertEqual(
            sorted(_membership.__all__),
            sorted(
                [
                    "NO_GENERATION",
                    "Generation",
                    "GroupMembership",
                    "JoinedMember",
                    "MemberState",
                    "MembershipConfig",
                    "MembershipHooks",
                    "MembershipSettings",
                ]
            ),
        )
        self.assertIs(JoinedMember, _membership.JoinedMember)
        self.assertTrue(JoinGroupResponseData)
