"""
Tests for L{odradek.client.consumer.subscription}.
"""

from __future__ import annotations

import re

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client.consumer.subscription import (
    FetchPosition,
    FetchState,
    SubscriptionState,
    SubscriptionType,
)
from odradek.client.structs import OffsetAndMetadata, TopicPartition

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)
U0 = TopicPartition("u", 0)


class SubscribeTests(SynchronousTestCase):
    """
    Subscribing to topics, a pattern or partitions.
    """

    def test_subscribe(self) -> None:
        """Subscribing records the topics and the listener and says it changed."""
        state = SubscriptionState()
        listener = object()
        self.assertTrue(state.subscribe(["t", "u"], listener))
        self.assertEqual(state.subscription, {"t", "u"})
        self.assertIs(state.listener, listener)
        self.assertIs(state.subscription_type, SubscriptionType.AUTO_TOPICS)
        self.assertTrue(state.has_auto_assigned_partitions())
        self.assertFalse(state.subscribe(["u", "t"]))

    def test_mixing_refused(self) -> None:
        """Assigning after subscribing, or the reverse, needs unsubscribe first."""
        state = SubscriptionState()
        state.subscribe(["t"])
        self.assertRaises(errors.IllegalStateError, state.assign_from_user, [T0])
        self.assertRaises(
            errors.IllegalStateError, state.subscribe_pattern, re.compile("t")
        )
        state.unsubscribe()
        state.assign_from_user([T0])
        self.assertRaises(errors.IllegalStateError, state.subscribe, ["t"])
        self.assertFalse(state.has_auto_assigned_partitions())

    def test_pattern(self) -> None:
        """A pattern subscribes to the topics whose whole name matches."""
        state = SubscriptionState()
        state.subscribe_pattern(re.compile("t.*"))
        self.assertTrue(state.match_pattern(["t", "tt", "u", "xt"]))
        self.assertEqual(state.subscription, {"t", "tt"})
        self.assertFalse(state.match_pattern(["tt", "t"]))

    def test_group_subscription(self) -> None:
        """The leader's group subscription adds the other members' topics."""
        state = SubscriptionState()
        state.subscribe(["t"])
        state.set_group_subscription(["u"])
        self.assertEqual(state.group_subscription, {"t", "u"})
        state.reset_group_subscription()
        self.assertEqual(state.group_subscription, {"t"})

    def test_assign_from_user(self) -> None:
        """Assigned partitions start initializing; kept ones keep their position."""
        state = SubscriptionState()
        self.assertTrue(state.assign_from_user([T0, T1]))
        state.seek(T0, 5)
        self.assertFalse(state.assign_from_user([T1, T0]))
        self.assertEqual(state.position(T0), FetchPosition(5))
        state.assign_from_user([T0, U0])
        self.assertEqual(state.assigned_partitions(), [T0, U0])
        self.assertEqual(state.initializing_partitions(), [U0])
        self.assertEqual(state.subscription, {"t", "u"})

    def test_assign_from_subscribed_needs_subscription(self) -> None:
        """A group assignment to a consumer that did not subscribe is refused."""
        state = SubscriptionState()
        self.assertRaises(errors.IllegalStateError, state.assign_from_subscribed, [T0])

    def test_unsubscribe(self) -> None:
        """Unsubscribing forgets everything."""
        state = SubscriptionState()
        state.subscribe(["t"], object())
        state.assign_from_subscribed([T0])
        state.unsubscribe()
        self.assertEqual(state.assigned_partitions(), [])
        self.assertEqual(state.subscription, frozenset())
        self.assertIsNone(state.listener)
        self.assertIs(state.subscription_type, SubscriptionType.NONE)


class PositionTests(SynchronousTestCase):
    """
    Positions, resets, pausing and what the broker says of a partition.
    """

    def setUp(self) -> None:
        self.state = SubscriptionState("earliest")
        self.state.subscribe(["t"])
        self.state.assign_from_subscribed([T0, T1])

    def test_bad_default_reset(self) -> None:
        """An unknown reset strategy is refused, naming it."""
        error = self.assertRaises(ValueError, SubscriptionState, "smallest")
        self.assertIn("smallest", str(error))

    def test_seek_makes_fetchable(self) -> None:
        """A seek gives a position and makes the partition fetchable."""
        self.assertEqual(self.state.fetchable_partitions(), [])
        self.state.seek(T1, 3, leader_epoch=2)
        self.assertEqual(self.state.fetchable_partitions(), [T1])
        self.assertEqual(self.state.position(T1), FetchPosition(3, 2))
        self.assertTrue(self.state.has_valid_position(T1))
        self.assertFalse(self.state.has_all_positions())
        self.assertEqual(self.state.fetch_state(T1), FetchState.FETCHING)

    def test_seek_negative(self) -> None:
        """A negative seek offset is refused, naming it."""
        error = self.assertRaises(ValueError, self.state.seek, T0, -1)
        self.assertIn("-1", str(error))

    def test_unassigned(self) -> None:
        """Positions of partitions not assigned are refused."""
        self.assertRaises(errors.IllegalStateError, self.state.position, U0)
        self.assertRaises(errors.IllegalStateError, self.state.seek, U0, 1)
        self.assertRaises(errors.IllegalStateError, self.state.pause, [U0])

    def test_reset(self) -> None:
        """A requested reset uses the default strategy and honours its backoff."""
        self.state.seek(T0, 9)
        self.state.request_reset(T0)
        self.assertIsNone(self.state.position(T0))
        self.assertEqual(self.state.reset_strategy(T0), "earliest")
        self.assertEqual(self.state.partitions_needing_reset(0), [T0])
        self.state.set_reset_backoff([T0], 100)
        self.assertEqual(self.state.partitions_needing_reset(99), [])
        self.assertEqual(self.state.partitions_needing_reset(100), [T0])
        self.state.request_reset(T1, "none")
        self.assertEqual(self.state.reset_strategy(T1), "none")
        self.state.seek(T0, 0)
        self.assertIsNone(self.state.reset_strategy(T0))
        self.assertRaises(ValueError, self.state.request_reset, T0, "middle")

    def test_pause(self) -> None:
        """Paused partitions are not fetchable until resumed."""
        self.state.seek(T0, 0)
        self.state.pause([T0])
        self.assertTrue(self.state.is_paused(T0))
        self.assertFalse(self.state.is_fetchable(T0))
        self.assertEqual(self.state.paused_partitions(), {T0})
        self.state.resume([T0])
        self.assertTrue(self.state.is_fetchable(T0))

    def test_pending_revocation(self) -> None:
        """Partitions about to be revoked are not fetched until reassigned."""
        self.state.seek(T0, 0)
        self.state.mark_pending_revocation([T0, U0])
        self.assertEqual(self.state.fetchable_partitions(), [])
        self.state.assign_from_subscribed([T0])
        self.assertEqual(self.state.fetchable_partitions(), [T0])

    def test_all_consumed(self) -> None:
        """The offsets to commit are the positions, with their leader epochs."""
        self.state.seek(T0, 7, leader_epoch=1)
        self.assertEqual(self.state.all_consumed(), {T0: OffsetAndMetadata(7, "", 1)})

    def test_broker_offsets_and_lag(self) -> None:
        """High watermark and last stable offset give the lag by isolation level."""
        self.state.seek(T0, 7)
        self.assertIsNone(self.state.lag(T0, "read_uncommitted"))
        self.state.update_high_watermark(T0, 10)
        self.state.update_last_stable_offset(T0, 8)
        self.state.update_log_start_offset(T0, 2)
        self.state.update_high_watermark(U0, 1)
        self.assertEqual(self.state.lag(T0, "read_uncommitted"), 3)
        self.assertEqual(self.state.lag(T0, "read_committed"), 1)
        self.assertEqual(self.state.high_watermark(T0), 10)
        self.assertEqual(self.state.last_stable_offset(T0), 8)
        self.assertEqual(self.state.log_start_offset(T0), 2)
        self.assertIsNone(self.state.high_watermark(U0))

    def test_preferred_read_replica(self) -> None:
        """A preferred read replica is used until its time runs out."""
        self.state.update_preferred_read_replica(T0, 3, until_ms=50)
        self.assertEqual(self.state.preferred_read_replica(T0, 49), 3)
        self.assertIsNone(self.state.preferred_read_replica(T0, 50))
        self.state.update_preferred_read_replica(T0, 3, until_ms=50)
        self.state.clear_preferred_read_replica(T0)
        self.assertIsNone(self.state.preferred_read_replica(T0))
