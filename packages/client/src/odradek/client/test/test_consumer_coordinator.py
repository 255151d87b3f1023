"""
Tests for L{odradek.client.consumer.coordinator}: the consumer's group membership
with real assignors against the fake coordinator of
L{odradek.client.test._grouptools}: eager and cooperative rebalances between two
members, the rebalance listener's calls, auto-commit, committed offsets initializing
positions, pattern subscriptions and closing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import errors
from odradek.client._configtypes import ConfigError
from odradek.client.config import ConsumerConfig
from odradek.client.consumer._membership import MembershipSettings, MemberState
from odradek.client.consumer._rebalance import (
    common_protocol,
    validate_cooperative_assignment,
)
from odradek.client.consumer.assignors import (
    IPartitionAssignor,
    RangeAssignor,
    RoundRobinAssignor,
)
from odradek.client.consumer.coordinator import ConsumerCoordinator, CoordinatorSettings
from odradek.client.consumer.protocol import (
    Assignment,
    RebalanceProtocol,
    decode_subscription,
)
from odradek.client.consumer.sticky import CooperativeStickyAssignor
from odradek.client.consumer.subscription import (
    FetchPosition,
    FetchState,
    SubscriptionState,
)
from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.protocol import ApiKey
from odradek.client.structs import OffsetAndMetadata, TopicPartition
from odradek.client.test._grouptools import (
    FakeGroupCoordinator,
    GroupNetwork,
    client_for,
    group_cluster,
)

B0 = Node(0, "b0", 9092)
GROUP = "g"
HEARTBEAT_S = 3.0


def partitions(topic: str, count: int) -> list[PartitionInfo]:
    """@return: C{count} partitions of C{topic} led by broker 0."""
    return [PartitionInfo(topic, i, 0, 0, (0,), (0,)) for i in range(count)]


def tps(topic: str, *indexes: int) -> list[TopicPartition]:
    """@return: the partitions of C{topic} with those indexes."""
    return [TopicPartition(topic, i) for i in indexes]


class Member:
    """
    One consumer's coordinator on a fake cluster, with a listener that records
    its calls (and runs C{on_call}, if set, inside them).
    """

    def __init__(
        self,
        clock: Clock,
        network: GroupNetwork,
        name: str,
        assignors: Sequence[IPartitionAssignor] = (),
        *,
        auto_commit: bool = False,
        group_id: str | None = GROUP,
        reset: str = "earliest",
    ) -> None:
        self.clock = clock
        self.pool, self.metadata = client_for(clock, network, ("b0", 9092), name)
        self.subscriptions = SubscriptionState(reset)
        self.calls: list[tuple[str, list[TopicPartition]]] = []
        self.on_call: Callable[[str, list[TopicPartition]], Deferred[None]] | None = (
            None
        )
        membership = (
            None
            if group_id is None
            else MembershipSettings(
                group_id,
                session_timeout_ms=10000,
                rebalance_timeout_ms=60000,
                heartbeat_interval_ms=int(HEARTBEAT_S * 1000),
            )
        )
        self.coordinator = ConsumerCoordinator(
            clock,
            self.metadata,
            self.pool,
            self.subscriptions,
            CoordinatorSettings(
                membership, enable_auto_commit=auto_commit, auto_commit_interval_ms=5000
            ),
            assignors or (RangeAssignor(),),
            self.invoke,
        )

    def invoke(self, method: str, partitions: list[TopicPartition]) -> Deferred[None]:
        """Record a listener call; run C{on_call} if set."""
        self.calls.append((method.removeprefix("on_partitions_"), partitions))
        if self.on_call is not None:
            return self.on_call(method, partitions)
        return succeed(None)

    def now_ms(self) -> float:
        """@return: the clock's time in milliseconds."""
        return self.clock.seconds() * 1000

    def poll(self) -> Deferred[None]:
        """Run the coordinator's poll step now."""
        return self.coordinator.poll(self.now_ms())

    def subscribe(self, *topics: str) -> None:
        """Subscribe to topics."""
        self.subscriptions.subscribe(topics)
        self.metadata.add_topics(topics)

    def generation_id(self) -> int:
        """@return: the member's generation."""
        membership = self.coordinator.membership
        assert membership is not None
        return membership.generation.generation_id

    def assigned(self) -> list[TopicPartition]:
        """@return: the assigned partitions, sorted."""
        return sorted(self.subscriptions.assigned_partitions())

    def close(self) -> Deferred[None]:
        """Close the coordinator."""
        return self.coordinator.close(1000)


class ClusterTestCase(SynchronousTestCase):
    """A fake cluster with topics C{t} (4 partitions) and C{u} (2)."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake: FakeGroupCoordinator
        self.fake, self.network = group_cluster(
            self.clock, [B0], {"t": partitions("t", 4), "u": partitions("u", 2)}
        )
        self.members: list[Member] = []
        self.addCleanup(self.assertNoLeftovers)

    def member(self, name: str, *args: object, **kwargs: object) -> Member:
        """@return: a new member of the cluster (closed at the end of the test)."""
        member = Member(self.clock, self.network, name, *args, **kwargs)  # type: ignore[arg-type]
        self.members.append(member)
        return member

    def assertNoLeftovers(self) -> None:
        """Close every member and check that no timer stays behind."""
        for member in self.members:
            member.close()
        # The fake coordinator's rebalance timers (60 s) run out.
        self.clock.advance(120)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def join(self, *members: Member) -> None:
        """Poll every member until all are stable in one generation."""
        for _ in range(4):
            polls = [member.poll() for member in members]
            self.clock.advance(HEARTBEAT_S)
            for polled in polls:
                if polled.called:
                    self.successResultOf(polled)
            if all(m.coordinator.is_stable() for m in members):
                generations = {m.generation_id() for m in members}
                if len(generations) == 1:
                    return
        self.fail("the members did not settle")


class ProtocolChoiceTests(SynchronousTestCase):
    """
    Tests for L{common_protocol} and L{validate_cooperative_assignment}.
    """

    def test_cooperative_when_all_support_it(self) -> None:
        """Cooperative is chosen when every assignor supports it."""
        self.assertIs(
            common_protocol([CooperativeStickyAssignor()]),
            RebalanceProtocol.COOPERATIVE,
        )

    def test_eager_when_one_does_not(self) -> None:
        """Eager is chosen when one assignor supports only eager."""
        self.assertIs(
            common_protocol([RangeAssignor(), CooperativeStickyAssignor()]),
            RebalanceProtocol.EAGER,
        )

    def test_none_without_assignors(self) -> None:
        """No assignor, no protocol."""
        self.assertIsNone(common_protocol([]))

    def test_nothing_in_common(self) -> None:
        """Assignors without a common protocol are a ConfigError naming them."""

        class CooperativeOnly(RoundRobinAssignor):
            name = "coop-only"

            def supported_protocols(self) -> tuple[RebalanceProtocol, ...]:
                return (RebalanceProtocol.COOPERATIVE,)

        error = self.assertRaises(
            ConfigError, common_protocol, [RangeAssignor(), CooperativeOnly()]
        )
        self.assertIn("coop-only", str(error))

    def test_cooperative_violation(self) -> None:
        """An owned partition handed straight to another member is refused."""
        owned = {"a": tps("t", 0, 1), "b": []}
        self.assertRaises(
            errors.IllegalStateError,
            validate_cooperative_assignment,
            owned,
            {"a": Assignment(tps("t", 0)), "b": Assignment(tps("t", 1))},
        )

    def test_cooperative_two_phase(self) -> None:
        """Revoking a partition without handing it over yet is allowed."""
        owned = {"a": tps("t", 0, 1), "b": []}
        validate_cooperative_assignment(
            owned, {"a": Assignment(tps("t", 0)), "b": Assignment(())}
        )


class SettingsTests(SynchronousTestCase):
    """
    Tests for L{CoordinatorSettings.from_config}.
    """

    def test_from_config(self) -> None:
        """The settings come from the consumer's configuration."""
        config = ConsumerConfig(
            {
                "bootstrap.servers": "b0:9092",
                "group.id": "g",
                "enable.auto.commit": True,
                "auto.commit.interval.ms": 1234,
                "max.poll.interval.ms": 70000,
                "client.rack": "r1",
            }
        )
        settings = CoordinatorSettings.from_config(config)
        assert settings.membership is not None
        self.assertEqual(
            (settings.enable_auto_commit, settings.auto_commit_interval_ms),
            (True, 1234),
        )
        self.assertEqual(settings.membership.group_id, "g")
        self.assertEqual(settings.membership.rebalance_timeout_ms, 70000)
        self.assertEqual(settings.membership.client_rack, "r1")

    def test_without_group(self) -> None:
        """Without group.id there are no membership settings."""
        config = ConsumerConfig({"bootstrap.servers": "b0:9092"})
        settings = CoordinatorSettings.from_config(config)
        self.assertIsNone(settings.membership)
        self.assertFalse(settings.enable_auto_commit)


class EagerRebalanceTests(ClusterTestCase):
    """
    Two members with the range assignor (eager protocol).
    """

    def test_single_member(self) -> None:
        """A lone member gets every partition and the listener hears of them."""
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3))
        self.assertEqual(a.calls, [("assigned", tps("t", 0, 1, 2, 3))])
        self.assertTrue(a.coordinator.is_stable())
        self.assertFalse(a.coordinator.needs_join())

    def test_subscription_announced(self) -> None:
        """JoinGroup carries the sorted topics, the generation and no owned ones."""
        a = self.member("a")
        a.subscribe("u", "t")
        self.successResultOf(a.poll())
        join = self.fake.bodies(ApiKey.JOIN_GROUP)[-1]
        self.assertEqual([p.name for p in join.protocols], ["range"])
        subscription = decode_subscription(join.protocols[0].metadata)
        self.assertEqual(subscription.topics, ("t", "u"))
        self.assertEqual(subscription.owned_partitions, ())

    def test_two_members(self) -> None:
        """
        A second member makes the first revoke everything, then each gets its
        range; the listener calls come in order with sorted partitions.
        """
        a, b = self.member("a"), self.member("b")
        a.subscribe("t")
        b.subscribe("t")
        self.successResultOf(a.poll())
        self.join(a, b)
        self.assertEqual(a.assigned(), tps("t", 0, 1))
        self.assertEqual(b.assigned(), tps("t", 2, 3))
        self.assertEqual(
            a.calls,
            [
                ("assigned", tps("t", 0, 1, 2, 3)),
                ("revoked", tps("t", 0, 1, 2, 3)),
                ("assigned", tps("t", 0, 1)),
            ],
        )
        self.assertEqual(b.calls, [("assigned", tps("t", 2, 3))])

    def test_commit_from_revoked_listener(self) -> None:
        """The revoked hook may commit synchronously before the group rejoins."""
        a, b = self.member("a"), self.member("b")
        a.subscribe("t")
        b.subscribe("t")
        self.successResultOf(a.poll())
        for tp in a.assigned():
            a.subscriptions.seek(tp, 10 + tp.partition)
        outcomes: list[object] = []

        def commit(method: str, partitions: list[TopicPartition]) -> Deferred[None]:
            if method == "on_partitions_revoked" and partitions:
                committing = a.coordinator.commit_offsets_sync(
                    a.subscriptions.all_consumed(), 5000
                )
                committing.addBoth(outcomes.append)
                return committing
            return succeed(None)

        a.on_call = commit
        self.join(a, b)
        self.assertEqual(outcomes, [None])
        self.assertEqual(
            self.fake.group(GROUP).offsets,
            {tp: OffsetAndMetadata(10 + tp.partition) for tp in tps("t", 0, 1, 2, 3)},
        )

    def test_listener_error_raised_by_next_poll(self) -> None:
        """A failing listener is logged and its error raised by the poll."""
        a = self.member("a")
        a.subscribe("t")
        a.on_call = lambda method, partitions: fail(ValueError("listener broke"))
        self.failureResultOf(a.poll(), ValueError)
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
        a.on_call = None
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3))
        self.assertIsNone(a.coordinator.pending_error)
        self.successResultOf(a.poll())

    def test_member_leaving(self) -> None:
        """When a member closes, it revokes and the other takes everything."""
        a, b = self.member("a"), self.member("b")
        a.subscribe("t")
        b.subscribe("t")
        self.successResultOf(a.poll())
        self.join(a, b)
        self.successResultOf(b.close())
        self.assertEqual(b.calls[-1], ("revoked", tps("t", 2, 3)))
        self.assertEqual(len(self.fake.group(GROUP).members), 1)
        self.join(a)
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3))

    def test_leader_sees_new_partitions(self) -> None:
        """The leader rebalances when a topic of the group gains partitions."""
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        self.fake.topics["t"] = partitions("t", 6)  # type: ignore[index]
        self.successResultOf(a.metadata.refresh())
        self.assertTrue(a.coordinator.needs_join())
        self.successResultOf(a.poll())
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3, 4, 5))

    def test_subscription_change_rejoins(self) -> None:
        """Subscribing to other topics makes the next poll rejoin."""
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        a.subscribe("u")
        self.assertTrue(a.coordinator.needs_join())
        self.successResultOf(a.poll())
        self.assertEqual(a.assigned(), tps("u", 0, 1))
        self.assertEqual(
            a.calls[-2:],
            [("revoked", tps("t", 0, 1, 2, 3)), ("assigned", tps("u", 0, 1))],
        )

    def test_generation_lost(self) -> None:
        """After the generation is lost, the partitions are reported lost."""
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        membership = a.coordinator.membership
        assert membership is not None
        membership.reset_generation("test")
        polled = a.poll()
        # The coordinator waits for the old member id until the rebalance times out.
        self.clock.advance(60)
        self.successResultOf(polled)
        self.assertEqual(
            a.calls[1:],
            [("lost", tps("t", 0, 1, 2, 3)), ("assigned", tps("t", 0, 1, 2, 3))],
        )

    def test_manual_assignment_does_not_join(self) -> None:
        """With partitions assigned by hand, polling joins no group."""
        a = self.member("a")
        a.subscriptions.assign_from_user(tps("t", 0))
        self.successResultOf(a.poll())
        self.assertEqual(self.fake.bodies(ApiKey.JOIN_GROUP), [])
        self.assertFalse(a.coordinator.needs_join())

    def test_no_assignor(self) -> None:
        """Subscribing without assignors fails the poll."""
        a = self.member("a")
        a.coordinator.protocol = None
        a.subscribe("t")
        self.failureResultOf(a.poll(), errors.IllegalStateError)


class CooperativeRebalanceTests(ClusterTestCase):
    """
    Two members with the cooperative sticky assignor.
    """

    def test_two_phase_handover(self) -> None:
        """
        The first member keeps its partitions while rejoining, revokes only those
        moving, and the second gets them in a follow-up rebalance.
        """
        a = self.member("a", [CooperativeStickyAssignor()])
        b = self.member("b", [CooperativeStickyAssignor()])
        self.assertIs(a.coordinator.protocol, RebalanceProtocol.COOPERATIVE)
        a.subscribe("t")
        b.subscribe("t")
        self.successResultOf(a.poll())
        self.join(a, b)
        self.assertEqual(len(a.assigned()), 2)
        self.assertEqual(sorted(a.assigned() + b.assigned()), tps("t", 0, 1, 2, 3))
        moved = sorted(set(tps("t", 0, 1, 2, 3)) - set(a.assigned()))
        self.assertEqual(a.calls[0], ("assigned", tps("t", 0, 1, 2, 3)))
        self.assertIn(("revoked", moved), a.calls)
        self.assertNotIn(("revoked", tps("t", 0, 1, 2, 3)), a.calls)
        self.assertEqual([c for c in b.calls if c[1]], [("assigned", moved)])
        join = self.fake.bodies(ApiKey.JOIN_GROUP)
        owned = [
            decode_subscription(j.protocols[0].metadata).owned_partitions for j in join
        ]
        self.assertIn(tuple(tps("t", 0, 1, 2, 3)), owned)

    def test_unsubscribed_topic_revoked_before_join(self) -> None:
        """Dropping a topic revokes its partitions before rejoining."""
        a = self.member("a", [CooperativeStickyAssignor()])
        a.subscribe("t", "u")
        self.successResultOf(a.poll())
        a.subscribe("t")
        self.successResultOf(a.poll())
        self.assertIn(("revoked", tps("u", 0, 1)), a.calls)
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3))


class AutoCommitTests(ClusterTestCase):
    """
    Tests for auto-commit.
    """

    def test_interval(self) -> None:
        """Consumed positions are committed once auto.commit.interval.ms passed."""
        a = self.member("a", auto_commit=True)
        a.subscribe("t")
        self.successResultOf(a.poll())
        a.subscriptions.seek(TopicPartition("t", 0), 5)
        self.clock.advance(4.9)
        self.successResultOf(a.poll())
        self.assertEqual(self.fake.bodies(ApiKey.OFFSET_COMMIT), [])
        self.clock.advance(0.1)
        self.successResultOf(a.poll())
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_COMMIT)), 1)
        self.assertEqual(
            self.fake.group(GROUP).offsets,
            {TopicPartition("t", 0): OffsetAndMetadata(5)},
        )

    def test_before_rebalance(self) -> None:
        """With auto-commit, the positions are committed before rejoining."""
        a = self.member("a", auto_commit=True)
        a.subscribe("t")
        self.successResultOf(a.poll())
        a.subscriptions.seek(TopicPartition("t", 1), 7)
        a.coordinator.request_rejoin("test")
        self.successResultOf(a.poll())
        self.assertEqual(
            self.fake.group(GROUP).offsets,
            {TopicPartition("t", 1): OffsetAndMetadata(7)},
        )

    def test_retriable_failure_retried_sooner(self) -> None:
        """A retriable auto-commit failure is retried after retry.backoff.ms."""
        a = self.member("a", auto_commit=True)
        a.subscribe("t")
        self.successResultOf(a.poll())
        a.subscriptions.seek(TopicPartition("t", 0), 5)
        self.fake.fail_next(ApiKey.OFFSET_COMMIT, 14)  # COORDINATOR_LOAD_IN_PROGRESS
        self.clock.advance(5)
        self.successResultOf(a.poll())
        self.clock.advance(0.1)
        self.successResultOf(a.poll())
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_COMMIT)), 2)
        self.assertEqual(
            self.fake.group(GROUP).offsets,
            {TopicPartition("t", 0): OffsetAndMetadata(5)},
        )


class PositionTests(ClusterTestCase):
    """
    Tests for committed offsets initializing positions.
    """

    def test_committed_offsets_become_positions(self) -> None:
        """Partitions with a committed offset start there; the others reset."""
        self.fake.group(GROUP).offsets[TopicPartition("t", 1)] = OffsetAndMetadata(
            42, "", 3
        )
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        self.assertEqual(
            a.subscriptions.position(TopicPartition("t", 1)), FetchPosition(42, 3)
        )
        for tp in tps("t", 0, 2, 3):
            self.assertIs(a.subscriptions.fetch_state(tp), FetchState.AWAIT_RESET)
            self.assertEqual(a.subscriptions.reset_strategy(tp), "earliest")

    def test_lookup_shared_across_polls(self) -> None:
        """A lookup a poll did not wait for is reused by the next poll."""
        a = self.member("a")
        a.subscriptions.assign_from_user(tps("t", 0))
        self.fake.hold(ApiKey.OFFSET_FETCH)
        first = a.poll()
        second = a.poll()
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.fake.release(ApiKey.OFFSET_FETCH)
        self.successResultOf(first)
        self.successResultOf(second)
        self.assertEqual(len(self.fake.bodies(ApiKey.OFFSET_FETCH)), 1)
        self.assertIs(
            a.subscriptions.fetch_state(TopicPartition("t", 0)), FetchState.AWAIT_RESET
        )

    def test_without_group(self) -> None:
        """Without group.id, new partitions are reset at once."""
        a = self.member("a", group_id=None)
        a.subscriptions.assign_from_user(tps("t", 0))
        self.successResultOf(a.poll())
        self.assertIs(
            a.subscriptions.fetch_state(TopicPartition("t", 0)), FetchState.AWAIT_RESET
        )
        self.assertEqual(self.fake.requests, [])


class PatternTests(ClusterTestCase):
    """
    Tests for pattern subscriptions.
    """

    def test_new_matching_topic_rejoins(self) -> None:
        """A new topic matching the pattern joins the subscription and rebalances."""
        a = self.member("a")
        a.subscriptions.subscribe_pattern(re.compile("t|v"))
        self.successResultOf(a.metadata.refresh(["t", "u", "v"]))
        self.assertEqual(a.subscriptions.subscription, frozenset({"t"}))
        self.successResultOf(a.poll())
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3))
        self.fake.topics["v"] = partitions("v", 1)  # type: ignore[index]
        self.successResultOf(a.metadata.refresh(["t", "u", "v"]))
        self.assertEqual(a.subscriptions.subscription, frozenset({"t", "v"}))
        self.assertTrue(a.coordinator.needs_join())
        self.successResultOf(a.poll())
        self.assertEqual(a.assigned(), tps("t", 0, 1, 2, 3) + tps("v", 0))


class CloseTests(ClusterTestCase):
    """
    Tests for closing.
    """

    def test_close_commits_revokes_and_leaves(self) -> None:
        """Close commits the positions, revokes and sends LeaveGroup."""
        a = self.member("a", auto_commit=True)
        a.subscribe("t")
        self.successResultOf(a.poll())
        a.subscriptions.seek(TopicPartition("t", 2), 9)
        self.successResultOf(a.close())
        self.assertEqual(
            self.fake.group(GROUP).offsets,
            {TopicPartition("t", 2): OffsetAndMetadata(9)},
        )
        self.assertEqual(a.calls[-1], ("revoked", tps("t", 0, 1, 2, 3)))
        self.assertEqual(len(self.fake.bodies(ApiKey.LEAVE_GROUP)), 1)
        self.assertEqual(a.assigned(), [])
        self.assertIs(a.coordinator.membership.state, MemberState.UNJOINED)  # type: ignore[union-attr]

    def test_leave(self) -> None:
        """Leaving (unsubscribing) revokes and leaves the group."""
        a = self.member("a")
        a.subscribe("t")
        self.successResultOf(a.poll())
        self.successResultOf(a.coordinator.leave("the consumer unsubscribed"))
        self.assertEqual(a.calls[-1], ("revoked", tps("t", 0, 1, 2, 3)))
        self.assertEqual(self.fake.group(GROUP).members, {})
