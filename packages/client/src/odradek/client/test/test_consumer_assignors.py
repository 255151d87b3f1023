"""
Tests for L{odradek.client.consumer.assignors}: the range and round-robin assignors
against Apache Kafka's documented results, and L{resolve_assignors}.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from odradek.client._configtypes import ConfigError
from odradek.client.consumer.assignors import (
    IPartitionAssignor,
    RangeAssignor,
    RoundRobinAssignor,
    resolve_assignors,
)
from odradek.client.consumer.protocol import Assignment, RebalanceProtocol, Subscription
from odradek.client.consumer.sticky import CooperativeStickyAssignor, StickyAssignor
from odradek.client.structs import TopicPartition as TP


def subscribe(**members: tuple[str, ...]) -> dict[str, Subscription]:
    """Subscriptions by member id, each to the topics given."""
    return {member: Subscription(topics) for member, topics in members.items()}


def partitions(result: Mapping[str, Assignment]) -> dict[str, list[str]]:
    """Each member's partitions as C{"topic-N"} strings, sorted."""
    return {m: sorted(str(tp) for tp in a.partitions) for m, a in result.items()}


@implementer(IPartitionAssignor)
class EverythingToTheFirst:
    """An assignor of the application's own: all partitions to the first member."""

    name = "first"

    def supported_protocols(self) -> tuple[RebalanceProtocol, ...]:
        return (RebalanceProtocol.EAGER,)

    def subscription_user_data(self, topics: frozenset[str]) -> bytes | None:
        return None

    def assign(
        self,
        partitions_per_topic: Mapping[str, int],
        subscriptions: Mapping[str, Subscription],
    ) -> dict[str, Assignment]:
        members = sorted(subscriptions)
        everything = tuple(
            TP(t, p) for t, n in sorted(partitions_per_topic.items()) for p in range(n)
        )
        return {m: Assignment(everything if m == members[0] else ()) for m in members}

    def on_assignment(self, assignment: Assignment, generation_id: int) -> None:
        pass


class InterfaceTests(SynchronousTestCase):
    """
    Tests for the assignors' conformance to L{IPartitionAssignor}.
    """

    def test_range(self) -> None:
        """L{RangeAssignor} provides L{IPartitionAssignor}."""
        self.assertTrue(verifyObject(IPartitionAssignor, RangeAssignor()))

    def test_round_robin(self) -> None:
        """L{RoundRobinAssignor} provides L{IPartitionAssignor}."""
        self.assertTrue(verifyObject(IPartitionAssignor, RoundRobinAssignor()))

    def test_names(self) -> None:
        """The protocol names are Kafka's."""
        self.assertEqual(
            (RangeAssignor.name, RoundRobinAssignor.name), ("range", "roundrobin")
        )

    def test_eager_only(self) -> None:
        """Both support the eager protocol only."""
        for assignor in (RangeAssignor(), RoundRobinAssignor()):
            self.assertEqual(assignor.supported_protocols(), (RebalanceProtocol.EAGER,))

    def test_no_user_data(self) -> None:
        """Neither sends user data, before or after an assignment."""
        for assignor in (RangeAssignor(), RoundRobinAssignor()):
            assignor.on_assignment(Assignment((TP("a", 0),)), 3)
            self.assertIsNone(assignor.subscription_user_data(frozenset({"a"})))


class RangeAssignorTests(SynchronousTestCase):
    """
    Tests for L{RangeAssignor}, with Kafka's documented and tested results.
    """

    def test_java_example(self) -> None:
        """Two members, two topics of three partitions: 2+2 and 1+1, as in Java."""
        result = RangeAssignor().assign(
            {"t0": 3, "t1": 3}, subscribe(C0=("t0", "t1"), C1=("t0", "t1"))
        )
        self.assertEqual(
            partitions(result),
            {"C0": ["t0-0", "t0-1", "t1-0", "t1-1"], "C1": ["t0-2", "t1-2"]},
        )

    def test_contiguous_ranges_first_members_get_more(self) -> None:
        """Seven partitions over three members: 3, 2, 2, in contiguous ranges."""
        result = RangeAssignor().assign(
            {"t": 7}, subscribe(c=("t",), a=("t",), b=("t",))
        )
        self.assertEqual(
            partitions(result),
            {"a": ["t-0", "t-1", "t-2"], "b": ["t-3", "t-4"], "c": ["t-5", "t-6"]},
        )

    def test_mixed_subscriptions(self) -> None:
        """Each topic is split among its own subscribers only (Kafka's test case)."""
        result = RangeAssignor().assign(
            {"topic1": 3, "topic2": 2},
            subscribe(
                consumer1=("topic1",),
                consumer2=("topic1", "topic2"),
                consumer3=("topic1",),
            ),
        )
        self.assertEqual(
            partitions(result),
            {
                "consumer1": ["topic1-0"],
                "consumer2": ["topic1-1", "topic2-0", "topic2-1"],
                "consumer3": ["topic1-2"],
            },
        )

    def test_more_members_than_partitions(self) -> None:
        """Members beyond the partition count get an empty assignment."""
        result = RangeAssignor().assign({"t": 1}, subscribe(a=("t",), b=("t",)))
        self.assertEqual(partitions(result), {"a": ["t-0"], "b": []})

    def test_unknown_topic_skipped(self) -> None:
        """A subscribed topic the metadata lacks is skipped."""
        result = RangeAssignor().assign({"t": 2}, subscribe(a=("t", "gone")))
        self.assertEqual(partitions(result), {"a": ["t-0", "t-1"]})

    def test_topic_nobody_subscribes_to(self) -> None:
        """Partitions of topics no member subscribes to are not handed out."""
        result = RangeAssignor().assign({"t": 2, "other": 4}, subscribe(a=("t",)))
        self.assertEqual(partitions(result), {"a": ["t-0", "t-1"]})

    def test_member_without_topics(self) -> None:
        """A member subscribed to nothing still gets an (empty) entry."""
        result = RangeAssignor().assign({"t": 1}, subscribe(a=("t",), b=()))
        self.assertEqual(partitions(result), {"a": ["t-0"], "b": []})

    def test_no_members(self) -> None:
        """An empty group gets an empty result."""
        self.assertEqual(RangeAssignor().assign({"t": 3}, {}), {})


class RoundRobinAssignorTests(SynchronousTestCase):
    """
    Tests for L{RoundRobinAssignor}, with Kafka's documented and tested results.
    """

    def test_java_example(self) -> None:
        """Two members, two topics of three partitions, dealt in turn, as in Java."""
        result = RoundRobinAssignor().assign(
            {"t0": 3, "t1": 3}, subscribe(C0=("t0", "t1"), C1=("t0", "t1"))
        )
        self.assertEqual(
            partitions(result),
            {"C0": ["t0-0", "t0-2", "t1-1"], "C1": ["t0-1", "t1-0", "t1-2"]},
        )

    def test_java_uneven_example(self) -> None:
        """Kafka's documented uneven case: members not subscribed are skipped."""
        result = RoundRobinAssignor().assign(
            {"t0": 1, "t1": 2, "t2": 3},
            subscribe(C0=("t0",), C1=("t0", "t1"), C2=("t0", "t1", "t2")),
        )
        self.assertEqual(
            partitions(result),
            {"C0": ["t0-0"], "C1": ["t1-0"], "C2": ["t1-1", "t2-0", "t2-1", "t2-2"]},
        )

    def test_mixed_subscriptions(self) -> None:
        """Kafka's test case with one member subscribed to a second topic."""
        result = RoundRobinAssignor().assign(
            {"topic1": 3, "topic2": 2},
            subscribe(
                consumer1=("topic1",),
                consumer2=("topic1", "topic2"),
                consumer3=("topic1",),
            ),
        )
        self.assertEqual(
            partitions(result),
            {
                "consumer1": ["topic1-0"],
                "consumer2": ["topic1-1", "topic2-0", "topic2-1"],
                "consumer3": ["topic1-2"],
            },
        )

    def test_sorted_by_member_id(self) -> None:
        """Members are dealt to in member-id order, whatever the mapping's order."""
        result = RoundRobinAssignor().assign({"t": 3}, subscribe(b=("t",), a=("t",)))
        self.assertEqual(partitions(result), {"a": ["t-0", "t-2"], "b": ["t-1"]})

    def test_no_members(self) -> None:
        """An empty group gets an empty result."""
        self.assertEqual(RoundRobinAssignor().assign({"t": 3}, {}), {})

    def test_member_without_topics(self) -> None:
        """A member subscribed to nothing gets an empty entry and is skipped."""
        result = RoundRobinAssignor().assign({"t": 2}, subscribe(a=(), b=("t",)))
        self.assertEqual(partitions(result), {"a": [], "b": ["t-0", "t-1"]})


class AssignorPropertyTests(SynchronousTestCase):
    """
    Properties of both assignors over seeded random groups.
    """

    def check(self, assignor: IPartitionAssignor, seed: int) -> None:
        rng = random.Random(seed)
        topics = {f"t{i}": rng.randint(0, 8) for i in range(rng.randint(1, 5))}
        names = [*topics, "missing"]
        subscriptions = {
            f"m{i}": Subscription(tuple(rng.sample(names, rng.randint(0, len(names)))))
            for i in range(rng.randint(1, 7))
        }
        result = assignor.assign(topics, subscriptions)
        self.assertEqual(set(result), set(subscriptions))
        owners: dict[TP, str] = {}
        for member, assignment in result.items():
            for tp in assignment.partitions:
                self.assertNotIn(tp, owners)
                self.assertIn(tp.topic, subscriptions[member].topics)
                owners[tp] = member
        wanted = {
            TP(t, p)
            for t, n in topics.items()
            for p in range(n)
            if any(t in s.topics for s in subscriptions.values())
        }
        self.assertEqual(set(owners), wanted)

    def test_range_assigns_each_partition_once(self) -> None:
        """Range gives each subscribed partition to exactly one subscriber."""
        for seed in range(200):
            self.check(RangeAssignor(), seed)

    def test_round_robin_assigns_each_partition_once(self) -> None:
        """Round-robin gives each subscribed partition to exactly one subscriber."""
        for seed in range(200):
            self.check(RoundRobinAssignor(), seed)


class ResolveAssignorsTests(SynchronousTestCase):
    """
    Tests for L{resolve_assignors}.
    """

    def test_short_names(self) -> None:
        """The protocol names give the assignors, in order."""
        assignors = resolve_assignors(
            ["cooperative-sticky", "range", "roundrobin", "sticky"]
        )
        self.assertEqual(
            [type(a) for a in assignors],
            [
                CooperativeStickyAssignor,
                RangeAssignor,
                RoundRobinAssignor,
                StickyAssignor,
            ],
        )

    def test_java_class_names(self) -> None:
        """Java's class names give the same assignors."""
        prefix = "org.apache.kafka.clients.consumer."
        assignors = resolve_assignors(
            [
                prefix + "RangeAssignor",
                prefix + "RoundRobinAssignor",
                prefix + "StickyAssignor",
                prefix + "CooperativeStickyAssignor",
            ]
        )
        self.assertEqual(
            [a.name for a in assignors],
            ["range", "roundrobin", "sticky", "cooperative-sticky"],
        )

    def test_comma_separated_string(self) -> None:
        """One string may list several names, separated by commas."""
        assignors = resolve_assignors(" range , cooperative-sticky")
        self.assertEqual([a.name for a in assignors], ["range", "cooperative-sticky"])

    def test_instances_pass_through(self) -> None:
        """Assignor objects are used as given."""
        own = EverythingToTheFirst()
        self.assertEqual(resolve_assignors([own, "range"])[0], own)

    def test_import_path(self) -> None:
        """An import path of an assignor class gives a new instance of it."""
        (assignor,) = resolve_assignors([f"{__name__}:EverythingToTheFirst"])
        self.assertIsInstance(assignor, EverythingToTheFirst)

    def test_fresh_instances(self) -> None:
        """Each call makes new instances: sticky state is per consumer."""
        first = resolve_assignors(["sticky"])[0]
        self.assertIsNot(first, resolve_assignors(["sticky"])[0])

    def test_unknown_name(self) -> None:
        """An unknown name is a ConfigError naming it."""
        error = self.assertRaises(ConfigError, resolve_assignors, ["range", "fair"])
        self.assertIn("'fair'", str(error))
        self.assertEqual(
            (error.name, error.value), ("partition.assignment.strategy", "fair")
        )

    def test_unimportable_path(self) -> None:
        """An import path naming nothing is a ConfigError naming it."""
        error = self.assertRaises(
            ConfigError, resolve_assignors, ["no.such.module.Assignor"]
        )
        self.assertIn("'no.such.module.Assignor'", str(error))

    def test_not_an_assignor(self) -> None:
        """An object that is no assignor is a ConfigError."""
        error = self.assertRaises(ConfigError, resolve_assignors, [object()])
        self.assertIn("is not an IPartitionAssignor", str(error))

    def test_empty(self) -> None:
        """An empty list is a ConfigError."""
        error = self.assertRaises(ConfigError, resolve_assignors, [])
        self.assertIn("at least one", str(error))

    def test_duplicate_names(self) -> None:
        """Two assignors with the same protocol name are a ConfigError."""
        error = self.assertRaises(
            ConfigError,
            resolve_assignors,
            ["range", "org.apache.kafka.clients.consumer.RangeAssignor"],
        )
        self.assertIn("'range' twice", str(error))
