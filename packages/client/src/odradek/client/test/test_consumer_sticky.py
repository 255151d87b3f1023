"""
Tests for L{odradek.client.consumer.sticky} and the plan behind it,
L{odradek.client.consumer._stickyplan}: Kafka's documented examples, stickiness as
members come and go, conflicting claims, the cooperative two-phase hand-over, and
properties over seeded random groups. The user data the sticky assignors send is
tested in L{odradek.client.test.test_consumer_protocol}.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from odradek.client.consumer._stickyplan import MemberData, plan_sticky_assignment
from odradek.client.consumer.assignors import IPartitionAssignor
from odradek.client.consumer.protocol import (
    Assignment,
    RebalanceProtocol,
    Subscription,
)
from odradek.client.consumer.sticky import (
    CooperativeStickyAssignor,
    StickyAssignor,
    encode_sticky_user_data,
)
from odradek.client.structs import TopicPartition as TP

Owned = Mapping[str, tuple[TP, ...]]


def names(result: Mapping[str, Assignment]) -> dict[str, list[str]]:
    """Each member's partitions as C{"topic-N"} strings, in order."""
    return {m: [str(tp) for tp in a.partitions] for m, a in sorted(result.items())}


def eager(
    partitions_per_topic: Mapping[str, int],
    topics_of: Mapping[str, tuple[str, ...]],
    owned: Owned | None = None,
    generations: Mapping[str, int] | int = 1,
) -> dict[str, Assignment]:
    """Run L{StickyAssignor}, each member's ownership carried in its user data."""
    owned = owned or {}
    subscriptions = {
        member: Subscription(
            topics,
            encode_sticky_user_data(owned[member], generation(generations, member))
            if member in owned
            else None,
        )
        for member, topics in topics_of.items()
    }
    return StickyAssignor().assign(partitions_per_topic, subscriptions)


def cooperative(
    partitions_per_topic: Mapping[str, int],
    topics_of: Mapping[str, tuple[str, ...]],
    owned: Owned | None = None,
    generations: Mapping[str, int] | int = 1,
) -> dict[str, Assignment]:
    """Run L{CooperativeStickyAssignor}; members owning nothing have generation -1."""
    owned = owned or {}
    subscriptions = {
        member: Subscription(
            topics,
            owned_partitions=owned.get(member, ()),
            generation_id=generation(generations, member) if member in owned else -1,
        )
        for member, topics in topics_of.items()
    }
    return CooperativeStickyAssignor().assign(partitions_per_topic, subscriptions)


def generation(generations: Mapping[str, int] | int, member: str) -> int:
    return generations if isinstance(generations, int) else generations[member]


def as_owned(result: Mapping[str, Assignment]) -> dict[str, tuple[TP, ...]]:
    return {member: a.partitions for member, a in result.items()}


class StickyChecks(SynchronousTestCase):
    """
    Assertions shared by the sticky assignors' tests.
    """

    def assertComplete(
        self,
        result: Mapping[str, Assignment],
        partitions_per_topic: Mapping[str, int],
        topics_of: Mapping[str, tuple[str, ...]],
    ) -> None:
        """Every subscribed partition went to exactly one member subscribed to it."""
        self.assertEqual(set(result), set(topics_of))
        seen: set[TP] = set()
        for member, assignment in result.items():
            for tp in assignment.partitions:
                self.assertNotIn(tp, seen)
                self.assertIn(tp.topic, topics_of[member])
                seen.add(tp)
        subscribed = {t for topics in topics_of.values() for t in topics}
        self.assertEqual(
            seen,
            {
                TP(t, p)
                for t, n in partitions_per_topic.items()
                if t in subscribed
                for p in range(n)
            },
        )

    def assertBalanced(
        self,
        result: Mapping[str, Assignment],
        topics_of: Mapping[str, tuple[str, ...]],
    ) -> None:
        """
        Counts differ by at most one when all subscribe alike; otherwise no chain
        of moves leads from a member to one holding two partitions fewer.
        """
        sizes = {m: len(a.partitions) for m, a in result.items()}
        if not sizes:
            return
        if len({frozenset(t) for t in topics_of.values()}) <= 1:
            self.assertLessEqual(max(sizes.values()) - min(sizes.values()), 1)
            return
        sets = {m: frozenset(t) for m, t in topics_of.items()}
        for start, assignment in result.items():
            # Every member a chain of moves from start reaches.
            reached, stack = {start}, [assignment]
            while stack:
                topics = {tp.topic for tp in stack.pop().partitions}
                for other in sets:
                    if other not in reached and topics & sets[other]:
                        reached.add(other)
                        stack.append(result[other])
                        self.assertGreaterEqual(sizes[other], sizes[start] - 1)


class InterfaceTests(SynchronousTestCase):
    """
    Tests for the sticky assignors' names, protocols and interface.
    """

    def test_sticky_provides_interface(self) -> None:
        """L{StickyAssignor} provides L{IPartitionAssignor}."""
        self.assertTrue(verifyObject(IPartitionAssignor, StickyAssignor()))

    def test_cooperative_provides_interface(self) -> None:
        """L{CooperativeStickyAssignor} provides L{IPartitionAssignor}."""
        self.assertTrue(verifyObject(IPartitionAssignor, CooperativeStickyAssignor()))

    def test_names(self) -> None:
        """The protocol names are Kafka's."""
        self.assertEqual(
            (StickyAssignor.name, CooperativeStickyAssignor.name),
            ("sticky", "cooperative-sticky"),
        )

    def test_protocols(self) -> None:
        """Sticky is eager only; cooperative-sticky prefers cooperative."""
        self.assertEqual(
            (
                StickyAssignor().supported_protocols(),
                CooperativeStickyAssignor().supported_protocols(),
            ),
            (
                (RebalanceProtocol.EAGER,),
                (RebalanceProtocol.COOPERATIVE, RebalanceProtocol.EAGER),
            ),
        )


class StickyExampleTests(StickyChecks):
    """
    Tests for L{StickyAssignor} with the examples of Kafka's documentation.
    """

    def test_two_members_two_topics(self) -> None:
        """Two members, two topics of three partitions: three each."""
        topics = {"C0": ("t0", "t1"), "C1": ("t0", "t1")}
        result = eager({"t0": 3, "t1": 3}, topics)
        self.assertEqual(
            names(result),
            {"C0": ["t0-0", "t0-2", "t1-1"], "C1": ["t0-1", "t1-0", "t1-2"]},
        )

    def test_member_leaves_others_keep(self) -> None:
        """Kafka's example: when C1 leaves, C0 and C2 keep all they had."""
        counts = {f"t{i}": 2 for i in range(4)}
        everything = tuple(counts)
        first = eager(counts, dict.fromkeys(("C0", "C1", "C2"), everything))
        self.assertEqual(
            names(first),
            {
                "C0": ["t0-0", "t1-1", "t3-0"],
                "C1": ["t0-1", "t2-0", "t3-1"],
                "C2": ["t1-0", "t2-1"],
            },
        )
        topics = {"C0": everything, "C2": everything}
        second = eager(counts, topics, as_owned(first))
        self.assertComplete(second, counts, topics)
        self.assertBalanced(second, topics)
        for member in ("C0", "C2"):
            self.assertTrue(
                set(first[member].partitions) <= set(second[member].partitions)
            )

    def test_uneven_subscriptions(self) -> None:
        """Kafka's uneven example: C1 gets both of t1 and C2 all of t2."""
        counts = {"t0": 1, "t1": 2, "t2": 3}
        topics = {"C0": ("t0",), "C1": ("t0", "t1"), "C2": ("t0", "t1", "t2")}
        result = eager(counts, topics)
        self.assertEqual(
            names(result),
            {"C0": ["t0-0"], "C1": ["t1-0", "t1-1"], "C2": ["t2-0", "t2-1", "t2-2"]},
        )

    def test_uneven_member_leaves(self) -> None:
        """When C0 leaves the uneven group, only its partition moves."""
        counts = {"t0": 1, "t1": 2, "t2": 3}
        topics = {"C1": ("t0", "t1"), "C2": ("t0", "t1", "t2")}
        owned = {
            "C1": (TP("t1", 0), TP("t1", 1)),
            "C2": (TP("t2", 0), TP("t2", 1), TP("t2", 2)),
        }
        result = eager(counts, topics, owned)
        self.assertEqual(
            names(result),
            {"C1": ["t0-0", "t1-0", "t1-1"], "C2": ["t2-0", "t2-1", "t2-2"]},
        )

    def test_no_members(self) -> None:
        """An empty group gets an empty result."""
        self.assertEqual(StickyAssignor().assign({"t": 3}, {}), {})

    def test_nobody_subscribed_to_existing_topics(self) -> None:
        """Members subscribed only to unknown topics get empty assignments."""
        result = eager({"t": 3}, {"a": ("gone",), "b": ()})
        self.assertEqual(names(result), {"a": [], "b": []})

    def test_owned_partition_of_vanished_topic(self) -> None:
        """A claim on a topic that no longer exists is dropped."""
        result = eager({"t": 2}, {"a": ("t",)}, {"a": (TP("old", 0), TP("t", 9))})
        self.assertEqual(names(result), {"a": ["t-0", "t-1"]})

    def test_member_added_keeps_stickiness(self) -> None:
        """A member joining takes only what balance requires from the others."""
        counts = {"a": 6, "b": 6}
        old = dict.fromkeys(("m1", "m2", "m3"), ("a", "b"))
        first = eager(counts, old)
        topics = {**old, "m4": ("a", "b")}
        second = eager(counts, topics, as_owned(first))
        self.assertComplete(second, counts, topics)
        self.assertBalanced(second, topics)
        kept = sum(
            len(set(first[m].partitions) & set(second[m].partitions)) for m in old
        )
        # Four members of 12 partitions: three each, so the old ones keep 9.
        self.assertEqual(kept, 9)

    def test_unchanged_group_keeps_everything(self) -> None:
        """Rebalancing an unchanged group moves nothing."""
        counts = {"a": 5, "b": 3, "c": 4}
        topics = {"m1": ("a", "b"), "m2": ("b", "c"), "m3": ("a", "c"), "m4": ("c",)}
        first = eager(counts, topics)
        self.assertEqual(eager(counts, topics, as_owned(first)), first)

    def test_unsubscribed_topic_released(self) -> None:
        """A member's owned partitions of a topic it dropped go to others."""
        counts = {"a": 2, "b": 2}
        owned = {"m1": (TP("a", 0), TP("b", 0)), "m2": (TP("a", 1), TP("b", 1))}
        topics = {"m1": ("a",), "m2": ("a", "b")}
        result = eager(counts, topics, owned)
        self.assertComplete(result, counts, topics)
        self.assertIn(TP("a", 0), result["m1"].partitions)
        self.assertNotIn(TP("b", 0), result["m1"].partitions)


class ConflictTests(StickyChecks):
    """
    Tests for members claiming the same partitions.
    """

    def test_highest_generation_wins(self) -> None:
        """Of two claims, the one of the higher generation is kept."""
        owned = {"a": (TP("t", 0),), "b": (TP("t", 0), TP("t", 1))}
        for generations, keeper in (({"a": 5, "b": 3}, "a"), ({"a": 2, "b": 3}, "b")):
            result = eager({"t": 4}, {"a": ("t",), "b": ("t",)}, owned, generations)
            self.assertIn(TP("t", 0), result[keeper].partitions)

    def test_same_generation_nobody_keeps(self) -> None:
        """Two claims of the same generation: the partition is dealt anew."""
        plan = plan_sticky_assignment(
            {"t": 2},
            {"a": frozenset({"t"}), "b": frozenset({"t"})},
            {"a": MemberData((TP("t", 1),), 4), "b": MemberData((TP("t", 1),), 4)},
        )
        self.assertEqual(
            (dict(plan.assignment), dict(plan.transferring)),
            ({"a": (TP("t", 0),), "b": (TP("t", 1),)}, {TP("t", 1): "b"}),
        )

    def test_generation_from_user_data(self) -> None:
        """Cooperative: without a generation field, the user data's decides claims."""
        subscriptions = {
            "a": Subscription(("t",), b"\x00\x00\x00\x05", (TP("t", 0),)),
            "b": Subscription(("t",), b"\x00\x00\x00\x03", (TP("t", 0),)),
        }
        result = CooperativeStickyAssignor().assign({"t": 2}, subscriptions)
        self.assertEqual(names(result), {"a": ["t-0"], "b": ["t-1"]})

    def test_unreadable_user_data(self) -> None:
        """Cooperative: user data too short for a generation counts as -1."""
        subscriptions = {
            "a": Subscription(("t",), b"\x01", (TP("t", 0),)),
            "b": Subscription(("t",), b"\x00\x00\x00\x03", (TP("t", 0),)),
        }
        result = CooperativeStickyAssignor().assign({"t": 2}, subscriptions)
        self.assertEqual(names(result), {"a": ["t-1"], "b": ["t-0"]})

    def test_cooperative_contested_partition_withheld(self) -> None:
        """Cooperative: a partition claimed twice in one generation goes to nobody."""
        owned = {"a": (TP("t", 0), TP("t", 1)), "b": (TP("t", 1),)}
        result = cooperative({"t": 2}, {"a": ("t",), "b": ("t",)}, owned)
        self.assertEqual(names(result), {"a": ["t-0"], "b": []})

    def test_cooperative_stale_claim_ignored(self) -> None:
        """Cooperative: the higher generation's owner keeps its partition at once."""
        owned = {"a": (TP("t", 0),), "b": (TP("t", 0), TP("t", 1))}
        result = cooperative(
            {"t": 2}, {"a": ("t",), "b": ("t",)}, owned, {"a": 6, "b": 5}
        )
        self.assertEqual(names(result), {"a": ["t-0"], "b": ["t-1"]})


class CooperativeTests(StickyChecks):
    """
    Tests for the two-phase hand-over of L{CooperativeStickyAssignor}.
    """

    def test_two_phase_hand_over(self) -> None:
        """A joining member gets its share only after the owner revoked it."""
        counts = {"t": 4}
        topics = {"a": ("t",), "b": ("t",)}
        owned = {"a": tuple(TP("t", p) for p in range(4))}
        first = cooperative(counts, topics, owned, 1)
        self.assertEqual(names(first), {"a": ["t-0", "t-1"], "b": []})
        second = cooperative(counts, topics, as_owned(first), 2)
        self.assertEqual(names(second), {"a": ["t-0", "t-1"], "b": ["t-2", "t-3"]})

    def test_eager_plan_equals_final_cooperative(self) -> None:
        """The cooperative rounds end where the eager sticky plan goes at once."""
        counts = {"x": 5, "y": 4}
        topics = dict.fromkeys(("a", "b", "c"), ("x", "y"))
        owned = {
            "a": tuple(TP("x", p) for p in range(5)),
            "b": tuple(TP("y", p) for p in range(4)),
        }
        target = eager(counts, topics, owned)
        first = cooperative(counts, topics, owned)
        second = cooperative(counts, topics, as_owned(first), 2)
        self.assertEqual(second, target)

    def test_random_rounds(self) -> None:
        """
        No round hands a member a partition another member still owns, and two
        rounds after the group last changed the assignment is complete.
        """
        rng = random.Random(7)
        for _ in range(60):
            counts = {f"t{i}": rng.randint(1, 8) for i in range(4)}
            pool = list(counts)
            topics = {
                f"m{i}": tuple(rng.sample(pool, rng.randint(1, 4)))
                for i in range(rng.randint(1, 6))
            }
            owned: dict[str, tuple[TP, ...]] = {}
            for round_ in range(6):
                result = cooperative(counts, topics, owned, round_)
                for member, assignment in result.items():
                    for tp in assignment.partitions:
                        holders = [m for m, tps in owned.items() if tp in tps]
                        self.assertIn(holders, ([], [member]))
                owned = as_owned(result)
                if round_ < 4 and rng.random() < 0.7:
                    leaving = rng.choice(sorted(topics))
                    topics = {m: t for m, t in topics.items() if m != leaving}
                    owned.pop(leaving, None)
                    topics[f"n{round_}"] = tuple(rng.sample(pool, rng.randint(1, 4)))
            self.assertComplete(result, counts, topics)
            self.assertBalanced(result, topics)


class StickyPropertyTests(StickyChecks):
    """
    Properties of the sticky plan over seeded random groups.
    """

    def random_group(
        self, rng: random.Random, alike: bool
    ) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
        counts = {f"t{i}": rng.randint(0, 9) for i in range(rng.randint(1, 6))}
        pool = [*counts, "missing"]
        members = [f"m{i:02d}" for i in range(rng.randint(1, 10))]
        if alike:
            shared = tuple(rng.sample(pool, rng.randint(1, len(pool))))
            return counts, dict.fromkeys(members, shared)
        return counts, {
            m: tuple(rng.sample(pool, rng.randint(0, len(pool)))) for m in members
        }

    def evolve(
        self,
        rng: random.Random,
        topics: dict[str, tuple[str, ...]],
        result: Mapping[str, Assignment],
    ) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[TP, ...]]]:
        """Members leave and join; the others keep what they own."""
        owned = as_owned(result)
        survivors = {m: t for m, t in topics.items() if rng.random() < 0.8}
        for i in range(rng.randint(0, 3)):
            survivors[f"new{i}"] = rng.choice(list(topics.values()))
        return survivors, {m: owned[m] for m in survivors if m in owned}

    def test_alike_subscriptions(self) -> None:
        """Same topics for all: complete, balanced to one, and sticky to quota."""
        for seed in range(150):
            rng = random.Random(seed)
            counts, topics = self.random_group(rng, alike=True)
            first = eager(counts, topics)
            self.assertComplete(first, counts, topics)
            self.assertBalanced(first, topics)
            topics, owned = self.evolve(rng, topics, first)
            second = eager(counts, topics, owned)
            self.assertComplete(second, counts, topics)
            self.assertBalanced(second, topics)
            if topics:
                total = sum(
                    n for t, n in counts.items() if t in next(iter(topics.values()))
                )
                quota = total // len(topics)
                for member, tps in owned.items():
                    kept = set(tps) & set(second[member].partitions)
                    self.assertGreaterEqual(len(kept), min(len(tps), quota))

    def test_different_subscriptions(self) -> None:
        """Different topics: complete and as balanced as subscriptions allow."""
        for seed in range(150):
            rng = random.Random(1000 + seed)
            counts, topics = self.random_group(rng, alike=False)
            first = eager(counts, topics)
            self.assertComplete(first, counts, topics)
            self.assertBalanced(first, topics)
            topics, owned = self.evolve(rng, topics, first)
            second = eager(counts, topics, owned)
            self.assertComplete(second, counts, topics)
            self.assertBalanced(second, topics)

    def test_rerun_is_stable(self) -> None:
        """Feeding a plan back as ownership gives the same plan."""
        for seed in range(100):
            rng = random.Random(2000 + seed)
            counts, topics = self.random_group(rng, alike=seed % 2 == 0)
            first = eager(counts, topics)
            self.assertEqual(eager(counts, topics, as_owned(first)), first)

    def test_order_of_members_irrelevant(self) -> None:
        """The plan does not depend on the order the subscriptions come in."""
        for seed in range(50):
            rng = random.Random(3000 + seed)
            counts, topics = self.random_group(rng, alike=False)
            owned = as_owned(eager(counts, topics))
            shuffled = list(topics.items())
            rng.shuffle(shuffled)
            self.assertEqual(
                eager(counts, dict(shuffled), owned), eager(counts, topics, owned)
            )

    def test_hundred_members_thousand_partitions(self) -> None:
        """100 members over 1,000 partitions: complete and balanced, both paths."""
        counts = {f"topic{i}": 100 for i in range(10)}
        alike = dict.fromkeys((f"member{i:03d}" for i in range(100)), tuple(counts))
        first = cooperative(counts, alike)
        self.assertComplete(first, counts, alike)
        self.assertBalanced(first, alike)
        rng = random.Random(5)
        mixed = {m: tuple(rng.sample(list(counts), rng.randint(1, 10))) for m in alike}
        second = cooperative(counts, mixed, as_owned(first), 1)
        third = cooperative(counts, mixed, as_owned(second), 2)
        self.assertComplete(third, counts, mixed)
        self.assertBalanced(third, mixed)
