"""
Tests for the heartbeats of L{odradek.client.consumer._membership.GroupMembership}
(L{odradek.client.consumer._heartbeat}): their rhythm, the errors they bring back,
the session timeout and the poll timeout.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer._heartbeat import Heartbeat
from odradek.client.consumer._membership import NO_GENERATION, Generation, MemberState
from odradek.client.network.cluster import Node
from odradek.client.protocol import ApiKey
from odradek.client.test._grouptools import B1, MembershipTestCase

COORDINATOR_ID = 2**31 - 1


class HeartbeatTests(MembershipTestCase):
    """
    Heartbeats keep the member in the group and tell it of rebalances.
    """

    def test_every_interval(self) -> None:
        """A heartbeat goes out every heartbeat.interval.ms."""
        self.joined()
        self.clock.advance(2.9)
        self.assertEqual(self.bodies(ApiKey.HEARTBEAT), [])
        for count in (1, 2, 3):
            self.clock.advance(3)
            self.assertEqual(len(self.bodies(ApiKey.HEARTBEAT)), count)
        heartbeat = self.bodies(ApiKey.HEARTBEAT)[0]
        self.assertEqual((heartbeat.generation_id, heartbeat.member_id), (1, "a-1"))

    def test_rebalance(self) -> None:
        """REBALANCE_IN_PROGRESS asks for a rejoin and tells the listeners."""
        membership, _ = self.joined()
        kicked: list[bool] = []
        membership.rejoin_listeners.append(lambda: kicked.append(True))
        self.coordinator.fail_next(
            ApiKey.HEARTBEAT, errors.RebalanceInProgressError.code
        )
        self.clock.advance(3)
        self.assertTrue(membership.rejoin_needed())
        self.assertEqual(kicked, [True])
        self.assertIs(membership.state, MemberState.STABLE)
        self.successResultOf(membership.ensure_active_group())
        self.assertEqual(membership.generation.generation_id, 2)
        self.assertIn("already rebalancing", self.bodies(ApiKey.JOIN_GROUP)[-1].reason)

    def test_generation_lost(self) -> None:
        """ILLEGAL_GENERATION resets the generation but keeps the member id."""
        membership, hooks = self.joined()
        self.coordinator.fail_next(ApiKey.HEARTBEAT, errors.IllegalGenerationError.code)
        self.clock.advance(3)
        self.assertEqual(membership.generation, Generation(-1, "a-1", None))
        self.assertIs(membership.state, MemberState.UNJOINED)
        self.assertEqual(hooks.names()[-1], "lost")
        self.assertTrue(membership.rejoin_needed())
        self.assertNoTimers()
        self.successResultOf(membership.ensure_active_group())
        self.assertEqual(hooks.calls[-3], ("prepare", Generation(-1, "a-1", None)))

    def test_unknown_member(self) -> None:
        """UNKNOWN_MEMBER_ID resets the member id too."""
        membership, hooks = self.joined()
        self.coordinator.fail_next(ApiKey.HEARTBEAT, errors.UnknownMemberIdError.code)
        self.clock.advance(3)
        self.assertEqual(membership.generation, NO_GENERATION)
        self.assertEqual(hooks.names()[-1], "lost")

    def test_fenced(self) -> None:
        """FENCED_INSTANCE_ID is raised by the next ensure_active_group."""
        membership, _ = self.joined(group_instance_id="i-1")
        self.coordinator.fail_next(ApiKey.HEARTBEAT, errors.FencedInstanceIdError.code)
        self.clock.advance(3)
        self.failureResultOf(
            membership.ensure_active_group(), errors.FencedInstanceIdError
        )
        self.successResultOf(membership.ensure_active_group())

    def test_coordinator_moved(self) -> None:
        """NOT_COORDINATOR marks it unknown; heartbeats resume at the new one."""
        membership, _ = self.joined()
        self.coordinator.node = B1
        self.clock.advance(3)
        self.assertIsNone(membership.coordinator)
        self.clock.advance(0.1)
        self.assertEqual(membership.coordinator, Node(COORDINATOR_ID - 1, "b1", 9093))
        self.clock.advance(0.1)
        self.assertEqual(len(self.bodies(ApiKey.HEARTBEAT)), 2)
        self.clock.advance(3)
        self.assertEqual(len(self.bodies(ApiKey.HEARTBEAT)), 3)

    def test_lookup_fatal(self) -> None:
        """A fatal lookup error stops heartbeats; ensure_active_group raises it."""
        membership, _ = self.joined()
        membership.mark_coordinator_unknown("test")
        self.coordinator.fail_next(
            ApiKey.FIND_COORDINATOR, errors.GroupAuthorizationError.code
        )
        self.clock.advance(3)
        self.assertTrue(membership.rejoin_needed())
        self.assertNoTimers()
        self.failureResultOf(
            membership.ensure_active_group(), errors.GroupAuthorizationError
        )

    def test_session_timeout(self) -> None:
        """No successful heartbeat for session.timeout.ms: coordinator unknown."""
        membership, _ = self.joined()
        self.coordinator.hold(ApiKey.HEARTBEAT)
        self.clock.advance(9.9)
        self.assertIsNotNone(membership.coordinator)
        self.clock.advance(0.1)
        self.assertIsNone(membership.coordinator)
        self.coordinator.release(ApiKey.HEARTBEAT)
        self.clock.advance(0.1)
        self.assertIsNotNone(membership.coordinator)
        self.assertEqual(len(self.bodies(ApiKey.FIND_COORDINATOR)), 2)

    def test_paused_while_joining(self) -> None:
        """No heartbeat is sent while a JoinGroup is under way."""
        membership, _ = self.joined()
        self.coordinator.hold(ApiKey.JOIN_GROUP)
        membership.request_rejoin("test")
        membership.ensure_active_group()
        self.clock.advance(30)
        self.assertEqual(self.bodies(ApiKey.HEARTBEAT), [])
        self.assertIs(membership.state, MemberState.PREPARING_REBALANCE)

    def test_while_completing(self) -> None:
        """Heartbeats go on while waiting for the SyncGroup answer."""
        membership, _ = self.member()
        self.coordinator.hold(ApiKey.SYNC_GROUP)
        membership.ensure_active_group()
        self.assertIs(membership.state, MemberState.COMPLETING_REBALANCE)
        self.clock.advance(3)
        # The broker reads the heartbeat once it has answered the SyncGroup
        # before it on the connection.
        self.assertEqual(len(self.bodies(ApiKey.HEARTBEAT)), 0)
        self.coordinator.release(ApiKey.SYNC_GROUP)
        [heartbeat] = self.bodies(ApiKey.HEARTBEAT)
        self.assertEqual(heartbeat.generation_id, 1)
        self.assertIs(membership.state, MemberState.STABLE)

    def test_poll_timeout(self) -> None:
        """Not polling for max.poll.interval.ms leaves the group."""
        membership, hooks = self.joined()
        kicked: list[bool] = []
        membership.rejoin_listeners.append(lambda: kicked.append(True))
        for _ in range(20):
            self.clock.advance(3)
            membership.poll_heartbeat(int(self.clock.seconds() * 1000))
        self.assertEqual(self.bodies(ApiKey.LEAVE_GROUP), [])
        self.run_for(59.9)
        self.assertEqual(self.bodies(ApiKey.LEAVE_GROUP), [])
        self.run_for(0.2)
        [leave] = self.bodies(ApiKey.LEAVE_GROUP)
        self.assertEqual(
            [(m.member_id, m.reason) for m in leave.members],
            [("a-1", "consumer poll timeout has expired")],
        )
        self.assertIs(membership.state, MemberState.UNJOINED)
        self.assertEqual(membership.generation, NO_GENERATION)
        self.assertEqual(hooks.names()[-1], "lost")
        self.assertTrue(membership.rejoin_needed())
        self.assertEqual(kicked, [])
        self.assertNoTimers()


class HeartbeatTimersTests(SynchronousTestCase):
    """
    L{Heartbeat} keeps the deadlines of a member's liveness.
    """

    def setUp(self) -> None:
        self.timers = Heartbeat(
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            max_poll_interval_ms=60000,
            retry_backoff_ms=100,
        )
        self.timers.reset_timeouts(1000)

    def test_interval(self) -> None:
        """A heartbeat is due one interval after the reset and after each send."""
        self.assertFalse(self.timers.should_heartbeat(3999))
        self.assertTrue(self.timers.should_heartbeat(4000))
        self.timers.sent_heartbeat(4000)
        self.assertFalse(self.timers.should_heartbeat(8000))
        self.timers.received_heartbeat(4010)
        self.assertFalse(self.timers.should_heartbeat(6999))
        self.assertTrue(self.timers.should_heartbeat(7000))
        self.assertEqual(self.timers.time_to_next_check_ms(5000), 2000)

    def test_failure_backs_off(self) -> None:
        """After a failed heartbeat the next one waits for the retry backoff."""
        self.timers.sent_heartbeat(4000)
        self.timers.failed_heartbeat(4500)
        self.assertFalse(self.timers.should_heartbeat(4599))
        self.assertTrue(self.timers.should_heartbeat(4600))

    def test_session(self) -> None:
        """The session expires without a successful heartbeat."""
        self.assertFalse(self.timers.session_timeout_expired(10999))
        self.assertTrue(self.timers.session_timeout_expired(11000))
        self.timers.received_heartbeat(10000)
        self.assertFalse(self.timers.session_timeout_expired(19999))
        self.timers.reset_session_timeout(15000)
        self.assertFalse(self.timers.session_timeout_expired(24999))
        self.timers.sent_heartbeat(24000)
        self.assertEqual(self.timers.time_to_next_check_ms(24000), 1000)

    def test_poll(self) -> None:
        """Polling pushes the poll deadline back."""
        self.assertTrue(self.timers.poll_timeout_expired(61000))
        self.timers.poll(30000)
        self.assertFalse(self.timers.poll_timeout_expired(89999))
        self.assertTrue(self.timers.poll_timeout_expired(90000))
