"""
Partition assignors: how the group leader shares the partitions of the topics its
members subscribe to among them (Kafka's C{ConsumerPartitionAssignor}).

Every member lists the assignors it supports, in order of preference, in JoinGroup
(C{partition.assignment.strategy}); the coordinator picks the first one all members
support and the leader runs it. Only the leader's result matters, so members of any
client (Java, librdkafka, kafka-python) may share a group as long as they name the
same protocol.

L{RangeAssignor} and L{RoundRobinAssignor} give Apache Kafka's results exactly.
The sticky ones, L{StickyAssignor <odradek.client.consumer.sticky.StickyAssignor>}
and L{CooperativeStickyAssignor
<odradek.client.consumer.sticky.CooperativeStickyAssignor>}, live in
L{odradek.client.consumer.sticky}. L{resolve_assignors} turns a
C{partition.assignment.strategy} setting into assignor instances.

Sans-IO: assignors take no clock and no reactor.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import ClassVar, Final

import attrs
from zope.interface import Attribute, Interface, implementer

from odradek.client._configtypes import ConfigError, load_object
from odradek.client.consumer.protocol import Assignment, RebalanceProtocol, Subscription
from odradek.client.structs import TopicPartition

__all__ = [
    "IPartitionAssignor",
    "RangeAssignor",
    "RoundRobinAssignor",
    "resolve_assignors",
]

_SETTING: Final = "partition.assignment.strategy"


class IPartitionAssignor(Interface):
    """
    Shares a group's partitions among its members (Kafka's
    C{ConsumerPartitionAssignor}). The group leader calls L{assign}; every member
    calls L{subscription_user_data} before joining and L{on_assignment} after.
    """

    name = Attribute(
        """
        The protocol name this assignor is announced under in JoinGroup, such as
        C{"range"}; members of other clients must use the same name for it.
        """
    )

    def supported_protocols() -> tuple[RebalanceProtocol, ...]:
        """
        The rebalance protocols this assignor's results are correct under.

        @return: those protocols, the preferred one first.
        """

    def subscription_user_data(topics: frozenset[str]) -> bytes | None:
        """
        The data this member sends the leader in its subscription.

        @param topics: the topics the member subscribes to.
        @return: the bytes for L{Subscription.user_data}, or C{None}.
        """

    def assign(
        partitions_per_topic: Mapping[str, int],
        subscriptions: Mapping[str, Subscription],
    ) -> dict[str, Assignment]:
        """
        Share the partitions among the members; run by the group leader.

        @param partitions_per_topic: the number of partitions of each subscribed
            topic the metadata knows; topics missing here are left out.
        @param subscriptions: each member's subscription, by member id.
        @return: each member's assignment, by member id; every member of
            C{subscriptions} gets one, maybe empty.
        """

    def on_assignment(assignment: Assignment, generation_id: int) -> None:
        """
        Learn the assignment this member received.

        @param assignment: this member's assignment.
        @param generation_id: the generation of the group it belongs to.
        """


def _existing_topics(
    partitions_per_topic: Mapping[str, int], subscriptions: Mapping[str, Subscription]
) -> list[str]:
    """
    The topics some member subscribes to that have partitions, sorted.
    """
    subscribed = set(
        itertools.chain.from_iterable(s.topics for s in subscriptions.values())
    )
    return sorted(t for t in subscribed if partitions_per_topic.get(t, 0) > 0)


@implementer(IPartitionAssignor)
@attrs.frozen
class RangeAssignor:
    """
    Kafka's C{RangeAssignor}: topic by topic, the members subscribed to it, sorted by
    member id, get contiguous ranges of its partitions; when the partitions do not
    divide evenly, the first members get one more. With two members and two topics
    of three partitions each, the first gets partitions 0 and 1 of both topics, the
    second partition 2 of both. Members subscribing to the same topics get the same
    partition numbers of each, which joins of co-partitioned topics rely on.

    Kafka's rack-aware placement (KIP-881) needs the replicas' racks, which
    L{assign} is not given; the result is Kafka's for members without racks.
    """

    name: ClassVar[str] = "range"

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
        topics_of = {m: frozenset(subscriptions[m].topics) for m in members}
        assigned: dict[str, list[TopicPartition]] = {member: [] for member in members}
        for topic in _existing_topics(partitions_per_topic, subscriptions):
            takers = [m for m in members if topic in topics_of[m]]
            share, extra = divmod(partitions_per_topic[topic], len(takers))
            start = 0
            for index, member in enumerate(takers):
                end = start + share + (1 if index < extra else 0)
                assigned[member].extend(
                    TopicPartition(topic, p) for p in range(start, end)
                )
                start = end
        return {member: Assignment(tuple(tps)) for member, tps in assigned.items()}

    def on_assignment(self, assignment: Assignment, generation_id: int) -> None:
        pass


@implementer(IPartitionAssignor)
@attrs.frozen
class RoundRobinAssignor:
    """
    Kafka's C{RoundRobinAssignor}: all partitions of all subscribed topics, sorted
    by topic then partition, are dealt one at a time to the members in turn, sorted
    by member id, skipping the members not subscribed to a partition's topic. With
    two members and two topics of three partitions each, the first gets partition 0
    and 2 of the first topic and 1 of the second.
    """

    name: ClassVar[str] = "roundrobin"

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
        topics_of = {m: frozenset(subscriptions[m].topics) for m in members}
        assigned: dict[str, list[TopicPartition]] = {member: [] for member in members}
        turn = 0
        for topic in _existing_topics(partitions_per_topic, subscriptions):
            for partition in range(partitions_per_topic[topic]):
                # Some member subscribes to the topic, so this stops.
                while topic not in topics_of[members[turn % len(members)]]:
                    turn += 1
                assigned[members[turn % len(members)]].append(
                    TopicPartition(topic, partition)
                )
                turn += 1
        return {member: Assignment(tuple(tps)) for member, tps in assigned.items()}

    def on_assignment(self, assignment: Assignment, generation_id: int) -> None:
        pass


def _assignor_classes() -> dict[str, type]:
    # Imported here: the sticky module implements the interface defined above.
    from odradek.client.consumer.sticky import (
        CooperativeStickyAssignor,
        StickyAssignor,
    )

    classes: dict[str, type] = {}
    for cls in (RangeAssignor, RoundRobinAssignor, StickyAssignor):
        classes[cls.name] = cls
        classes[f"org.apache.kafka.clients.consumer.{cls.__name__}"] = cls
    classes[CooperativeStickyAssignor.name] = CooperativeStickyAssignor
    classes["org.apache.kafka.clients.consumer.CooperativeStickyAssignor"] = (
        CooperativeStickyAssignor
    )
    return classes


def _resolve_one(spec: object, classes: Mapping[str, type]) -> IPartitionAssignor:
    obj = spec
    if isinstance(spec, str):
        name = spec.strip()
        found: object = classes.get(name)
        if found is None:
            try:
                found = load_object(name) if "." in name or ":" in name else None
            except ValueError as e:
                raise ConfigError(
                    f"{_SETTING}: no partition assignor {spec!r}: {e}",
                    name=_SETTING,
                    value=spec,
                ) from None
        if found is None:
            known = ", ".join(repr(n) for n in classes if "." not in n)
            raise ConfigError(
                f"{_SETTING}: unknown partition assignor {spec!r}; the known ones "
                f"are {known}, Java's class names for them, or an import path",
                name=_SETTING,
                value=spec,
            )
        obj = found
    if isinstance(obj, type):
        implemented = IPartitionAssignor.implementedBy(obj)
        if implemented:
            made: IPartitionAssignor = obj()
            return made
    elif IPartitionAssignor.providedBy(obj):
        return obj
    raise ConfigError(
        f"{_SETTING}: {spec!r} is not an IPartitionAssignor class or instance",
        name=_SETTING,
        value=spec,
    )


def resolve_assignors(
    spec: Sequence[str | IPartitionAssignor] | Sequence[object] | str,
) -> tuple[IPartitionAssignor, ...]:
    """
    Make the assignors a C{partition.assignment.strategy} setting names, in order.

    Names are the protocol names (C{"range"}, C{"roundrobin"}, C{"sticky"},
    C{"cooperative-sticky"}), Java's class names for the same assignors
    (C{"org.apache.kafka.clients.consumer.RangeAssignor"} ...), or import paths of
    L{IPartitionAssignor} classes; classes are instantiated without arguments, once
    per call (the sticky assignors keep per-consumer state). Assignor objects are
    used as given. A single string may list several names separated by commas.

    @param spec: the names or assignors, in order of preference.
    @return: the assignors, in the same order.
    @raise ConfigError: if C{spec} is empty, names no assignor, or names two
        assignors with the same protocol name; the message names the value.
    """
    items: Sequence[object] = (
        [part for part in spec.split(",") if part.strip()]
        if isinstance(spec, str)
        else spec
    )
    if not items:
        raise ConfigError(
            f"{_SETTING} must name at least one partition assignor",
            name=_SETTING,
            value=spec,
        )
    classes = _assignor_classes()
    assignors = tuple(_resolve_one(item, classes) for item in items)
    seen: set[str] = set()
    for assignor in assignors:
        if assignor.name in seen:
            raise ConfigError(
                f"{_SETTING} names the partition assignor {assignor.name!r} twice",
                name=_SETTING,
                value=spec,
            )
        seen.add(assignor.name)
    return assignors
