"""
The rebalance half of L{ConsumerCoordinator
<odradek.client.consumer.coordinator.ConsumerCoordinator>}: what a consumer does
around each join of its group (Kafka's C{ConsumerCoordinator.onJoinPrepare},
C{onLeaderElected}, C{onJoinComplete} and C{onLeavePrepare}), as L{RebalanceHooks},
which the group membership calls through the coordinator.

Partitions move between members by one of two protocols: I{eager}, where each
member gives up all its partitions before joining and receives its whole new
assignment after, and I{cooperative}, where members keep their partitions while
joining, give up at the end only those the leader moved away, and rejoin at once so
that a second rebalance hands those to their new owners.

The rebalance listener is never called directly: C{invoke_listener} runs it where
the consumer's face wants it (the blocking face, on the application's thread inside
C{poll}), and its failures are kept in L{RebalanceHooks.pending_error} for the next
poll to raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import attrs
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer._membership import (
    NO_GENERATION,
    Generation,
    GroupMembership,
    JoinedMember,
    MemberState,
)
from odradek.client.consumer.assignors import IPartitionAssignor
from odradek.client.consumer.listener import (
    ON_PARTITIONS_ASSIGNED,
    ON_PARTITIONS_LOST,
    ON_PARTITIONS_REVOKED,
)
from odradek.client.consumer.protocol import (
    Assignment,
    RebalanceProtocol,
    Subscription,
    decode_assignment,
    decode_subscription,
    encode_assignment,
    encode_subscription,
)
from odradek.client.consumer.subscription import SubscriptionState, SubscriptionType
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.network.metadata import MetadataManager
from odradek.client.structs import TopicPartition

__all__ = [
    "ASSIGN_FROM_SUBSCRIBED_ASSIGNORS",
    "COOPERATIVE_STICKY",
    "InvokeListener",
    "RebalanceHooks",
    "common_protocol",
    "validate_cooperative_assignment",
]

_log = Logger()

#: Runs one rebalance listener method: C{(method name, partitions)}; fires when
#: the listener returned, fails with what it raised.
InvokeListener = Callable[[str, list[TopicPartition]], Deferred[None]]

#: The protocol name of the cooperative sticky assignor, which checks the
#: cooperative rules itself.
COOPERATIVE_STICKY = "cooperative-sticky"

#: The built-in assignors, which only assign partitions of subscribed topics.
ASSIGN_FROM_SUBSCRIBED_ASSIGNORS = frozenset(
    {"range", "roundrobin", "sticky", COOPERATIVE_STICKY}
)


def common_protocol(
    assignors: Sequence[IPartitionAssignor],
) -> RebalanceProtocol | None:
    """
    Choose the rebalance protocol of a consumer, as Java's does: the most advanced
    protocol every assignor supports (cooperative over eager).

    @param assignors: the configured assignors.
    @return: that protocol, or C{None} when there is no assignor (the consumer can
        then only assign partitions by hand).
    @raise errors.ConfigError: if the assignors have no protocol in common.
    """
    if not assignors:
        return None
    common = set(RebalanceProtocol)
    for assignor in assignors:
        common &= set(assignor.supported_protocols())
    if not common:
        from odradek.client._configtypes import ConfigError

        names = sorted(assignor.name for assignor in assignors)
        raise ConfigError(
            f"Specified assignors {names} do not have commonly supported rebalance "
            "protocol",
            name="partition.assignment.strategy",
            value=names,
        )
    return max(common, key=lambda protocol: protocol.value)


def validate_cooperative_assignment(
    owned: Mapping[str, Iterable[TopicPartition]], assignments: Mapping[str, Assignment]
) -> None:
    """
    Check the cooperative protocol's rule (Java's C{validateCooperativeAssignment}):
    no partition a member owns goes straight to another member; it must first be
    left unassigned so that its owner revokes it.

    @param owned: the partitions each member owns, by member id.
    @param assignments: the new assignment of each member, by member id.
    @raise errors.IllegalStateError: if the rule is broken.
    """
    added: set[TopicPartition] = set()
    revoked: set[TopicPartition] = set()
    for member, assignment in assignments.items():
        assigned = set(assignment.partitions)
        had = set(owned.get(member, ()))
        added |= assigned - had
        revoked |= had - assigned
    moved = sorted(added & revoked)
    if moved:
        _log.error(
            "With the COOPERATIVE protocol, owned partitions cannot be reassigned to "
            "other members; however the assignor has reassigned partitions {moved} "
            "which are still owned by some members",
            moved=[str(tp) for tp in moved],
        )
        raise errors.IllegalStateError(
            "Assignor supporting the COOPERATIVE protocol violates its requirements"
        )


def _partition_counts(
    cluster: ClusterMetadata, topics: Iterable[str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in topics:
        count = cluster.partition_count(topic)
        if count:
            counts[topic] = count
    return counts


@attrs.define(eq=False)
class RebalanceHooks:
    """
    What the consumer does around each join of its group.

    @ivar clock: the source of time.
    @ivar metadata: the cluster's metadata (the leader refreshes it to assign).
    @ivar subscriptions: the consumer's subscription and assignment.
    @ivar assignors: the configured assignors, by preference.
    @ivar protocol: the rebalance protocol (see L{common_protocol}).
    @ivar invoke_listener: runs the rebalance listener.
    @ivar client_rack: C{client.rack}, sent in the subscription, or C{None}.
    @ivar pending_error: the first error of the listener or an assignor not yet
        raised by a poll, or C{None}.
    @ivar is_leader: whether this member assigned the current generation.
    @ivar generation_lost: whether the generation was lost since the last join:
        the partitions owned then are reported lost, not revoked.
    @ivar joined_subscription: the topics the last join announced, or C{None}.
    @ivar assignment_snapshot: as the leader, the partition count of each topic
        when it assigned; a change calls for a new rebalance.
    """

    clock: IReactorTime
    metadata: MetadataManager
    subscriptions: SubscriptionState
    assignors: tuple[IPartitionAssignor, ...]
    protocol: RebalanceProtocol | None
    invoke_listener: InvokeListener
    client_rack: str | None = None
    rebalance_timeout_ms: int = 300000
    retry_backoff_ms: int = 100
    pending_error: BaseException | None = None
    is_leader: bool = False
    generation_lost: bool = False
    joined_subscription: frozenset[str] | None = None
    assignment_snapshot: dict[str, int] | None = None

    def lookup(self, name: str) -> IPartitionAssignor:
        """
        @param name: the protocol name the coordinator chose.
        @return: the assignor of that name.
        @raise errors.IllegalStateError: if none has it.
        """
        for assignor in self.assignors:
            if assignor.name == name:
                return assignor
        raise errors.IllegalStateError(
            f"Coordinator selected invalid assignment protocol: {name}"
        )

    async def invoke(self, method: str, partitions: list[TopicPartition]) -> None:
        """
        Run one listener method; a failure is logged and kept for the next poll.

        @param method: the listener method's name.
        @param partitions: the partitions to pass, sorted.
        """
        _log.info(
            "Rebalance listener {method} for partitions {partitions}",
            method=method,
            partitions=", ".join(str(tp) for tp in partitions),
        )
        try:
            await maybeDeferred(self.invoke_listener, method, partitions)
        except Exception as error:
            _log.failure(
                "User provided listener failed on invocation of {method} for "
                "partitions {partitions}",
                method=method,
                partitions=", ".join(str(tp) for tp in partitions),
            )
            self.keep_error(error)

    def keep_error(self, error: BaseException) -> None:
        """Keep C{error} for the next poll, unless an earlier one waits."""
        if self.pending_error is None:
            self.pending_error = error

    # -- the subscription sent in JoinGroup

    def join_protocols(self, generation: Generation) -> list[tuple[str, bytes]]:
        """
        @param generation: the generation the member is in (or was last).
        @return: for each assignor, its name and the subscription to announce.
        """
        topics = self.subscriptions.subscription
        self.joined_subscription = topics
        owned: tuple[TopicPartition, ...] = ()
        if self.protocol is RebalanceProtocol.COOPERATIVE:
            owned = tuple(sorted(self.subscriptions.assigned_partitions()))
        names = tuple(sorted(topics))
        return [
            (
                assignor.name,
                encode_subscription(
                    Subscription(
                        # Subscription's converter=tuple types its argument
                        # as an unsolvable Iterable[_T_co] for mypy.
                        cast(Any, names),
                        assignor.subscription_user_data(topics),
                        owned,
                        generation.generation_id,
                        self.client_rack,
                    )
                ),
            )
            for assignor in self.assignors
        ]

    # -- before joining

    async def prepare(self, generation: Generation) -> None:
        """
        Give up partitions before joining: all of them with the eager protocol
        (revoked), those of topics no longer subscribed with the cooperative one,
        and all of them, as lost, when the generation was lost.

        @param generation: the generation the member was in.
        """
        subscriptions = self.subscriptions
        owned = sorted(subscriptions.assigned_partitions())
        lost = (
            self.generation_lost
            or generation.generation_id == NO_GENERATION.generation_id
            or generation.member_id == NO_GENERATION.member_id
        )
        if lost:
            if owned:
                _log.info(
                    "Giving away all assigned partitions as lost since generation/"
                    "memberID has been reset, indicating that consumer is in old "
                    "state or no longer part of the group"
                )
                await self.invoke(ON_PARTITIONS_LOST, owned)
                self._assign([])
        elif self.protocol is RebalanceProtocol.COOPERATIVE:
            subscribed = subscriptions.subscription
            revoked = [tp for tp in owned if tp.topic not in subscribed]
            if revoked:
                await self.invoke(ON_PARTITIONS_REVOKED, revoked)
                self._assign([tp for tp in owned if tp.topic in subscribed])
        else:
            await self.invoke(ON_PARTITIONS_REVOKED, owned)
            self._assign([])
        self.generation_lost = False
        self.is_leader = False
        subscriptions.reset_group_subscription()

    def _assign(self, partitions: list[TopicPartition]) -> None:
        if self.subscriptions.has_auto_assigned_partitions():
            self.subscriptions.assign_from_subscribed(partitions)

    async def leave(self, generation: Generation, state: MemberState) -> None:
        """
        Give up every partition before leaving the group (Java's
        C{onLeavePrepare}): revoked, or lost when the generation was lost or a
        rebalance is under way.

        @param generation: the member's generation.
        @param state: the member's state.
        """
        dropped = sorted(self.subscriptions.assigned_partitions())
        if not (self.subscriptions.has_auto_assigned_partitions() and dropped):
            return
        lost = (
            self.generation_lost
            or generation.generation_id == NO_GENERATION.generation_id
            or generation.member_id == NO_GENERATION.member_id
            or state is not MemberState.STABLE
        )
        await self.invoke(
            ON_PARTITIONS_LOST if lost else ON_PARTITIONS_REVOKED, dropped
        )
        self._assign([])
        self.generation_lost = False
        self.joined_subscription = None
        self.assignment_snapshot = None

    # -- the leader's assignment

    async def assign(
        self, protocol: str, members: list[JoinedMember]
    ) -> dict[str, bytes]:
        """
        As the leader, assign the group's partitions.

        @param protocol: the assignor the coordinator chose.
        @param members: every member with its subscription.
        @return: each member's encoded assignment.
        """
        assignor = self.lookup(protocol)
        subscriptions: dict[str, Subscription] = {}
        all_topics: set[str] = set()
        for member in members:
            subscription = decode_subscription(member.metadata)
            subscriptions[member.member_id] = subscription
            all_topics.update(subscription.topics)
        cluster = await self._group_subscribe(all_topics)
        self.is_leader = True
        counts = _partition_counts(cluster, sorted(all_topics))
        _log.debug(
            "Performing assignment using strategy {name} with subscriptions {subs}",
            name=assignor.name,
            subs={member: list(sub.topics) for member, sub in subscriptions.items()},
        )
        assignments = assignor.assign(counts, subscriptions)
        if (
            self.protocol is RebalanceProtocol.COOPERATIVE
            and assignor.name != COOPERATIVE_STICKY
        ):
            validate_cooperative_assignment(
                {m: s.owned_partitions for m, s in subscriptions.items()}, assignments
            )
        if assignor.name not in ASSIGN_FROM_SUBSCRIBED_ASSIGNORS:
            assigned_topics = {
                tp.topic for a in assignments.values() for tp in a.partitions
            }
            if not assigned_topics <= all_topics:
                all_topics |= assigned_topics
                cluster = await self._group_subscribe(all_topics)
        self.assignment_snapshot = _partition_counts(
            cluster, self.subscriptions.group_subscription
        )
        _log.info(
            "Finished assignment for group: {assignments}",
            assignments={
                member: [str(tp) for tp in a.partitions]
                for member, a in assignments.items()
            },
        )
        return {member: encode_assignment(a) for member, a in assignments.items()}

    async def _group_subscribe(self, topics: set[str]) -> ClusterMetadata:
        """Watch every member's topics and get their metadata, fresh."""
        self.subscriptions.set_group_subscription(topics)
        self.metadata.add_topics(topics)
        deadline = self.clock.seconds() * 1000 + self.rebalance_timeout_ms
        while True:
            try:
                return await self.metadata.refresh()
            except errors.KafkaError as error:
                if not error.retriable or self.clock.seconds() * 1000 >= deadline:
                    _log.warn(
                        "Assigning with the metadata at hand: refreshing it failed: "
                        "{error}",
                        error=str(error),
                    )
                    return self.metadata.current
            await deferLater(self.clock, self.retry_backoff_ms / 1000)

    # -- after joining

    def _matches_subscription(self, partitions: Iterable[TopicPartition]) -> bool:
        subscriptions = self.subscriptions
        if subscriptions.subscription_type is SubscriptionType.AUTO_PATTERN:
            pattern = subscriptions.pattern
            return pattern is not None and all(
                pattern.fullmatch(tp.topic) for tp in partitions
            )
        subscribed = subscriptions.subscription
        return all(tp.topic in subscribed for tp in partitions)

    async def complete(
        self,
        membership: GroupMembership,
        generation: Generation,
        protocol: str,
        data: bytes,
    ) -> None:
        """
        Take the assignment the leader made: revoke what moved away (cooperative,
        then rejoin), tell the assignor, assign, and report the partitions added.

        @param membership: the group membership (to ask for a rejoin).
        @param generation: the generation joined.
        @param protocol: the assignor the coordinator chose.
        @param data: this member's encoded assignment.
        """
        if not self.is_leader:
            self.assignment_snapshot = None
        assignor = self.lookup(protocol)
        subscriptions = self.subscriptions
        owned = set(subscriptions.assigned_partitions())
        assignment = decode_assignment(data)
        assigned = list(dict.fromkeys(assignment.partitions))
        if not self._matches_subscription(assigned):
            membership.request_rejoin(
                f"received assignment {sorted(map(str, assigned))} does not match the "
                f"current subscription {sorted(subscriptions.subscription)}; it is "
                "likely that the subscription has changed since we joined the group, "
                "will re-join with current subscription"
            )
            return
        added = sorted(set(assigned) - owned)
        if self.protocol is RebalanceProtocol.COOPERATIVE:
            revoked = sorted(owned - set(assigned))
            if revoked:
                await self.invoke(ON_PARTITIONS_REVOKED, revoked)
                membership.request_rejoin(
                    f"need to revoke partitions {[str(tp) for tp in revoked]} as "
                    "indicated by the current assignment and re-join"
                )
        else:
            added = sorted(assigned)
        self._update_joined_subscription(assigned)
        try:
            assignor.on_assignment(assignment, generation.generation_id)
        except Exception as error:
            _log.failure("The assignor {name} failed on its assignment", name=protocol)
            self.keep_error(error)
        self._assign(assigned)
        await self.invoke(ON_PARTITIONS_ASSIGNED, added)

    def _update_joined_subscription(self, assigned: list[TopicPartition]) -> None:
        # The leader may assign topics matching our pattern that our metadata did
        # not show yet: subscribe to them too, as Java's consumer does.
        subscriptions = self.subscriptions
        if subscriptions.subscription_type is not SubscriptionType.AUTO_PATTERN:
            return
        joined = self.joined_subscription or frozenset()
        new = {tp.topic for tp in assigned} - joined
        if new:
            if subscriptions.match_pattern(subscriptions.subscription | new):
                self.metadata.add_topics(subscriptions.subscription)
            self.joined_subscription = joined | new

    # -- metadata changes

    def metadata_changed(self, cluster: ClusterMetadata) -> str | None:
        """
        As the leader, compare the partitions of the group's topics with those it
        assigned.

        @param cluster: the new metadata.
        @return: why the group must rebalance, or C{None}.
        """
        snapshot = self.assignment_snapshot
        if snapshot is None:
            return None
        current = _partition_counts(cluster, self.subscriptions.group_subscription)
        if current == snapshot:
            return None
        self.assignment_snapshot = None
        return (
            f"cached metadata has changed from {snapshot} at the beginning of the "
            f"rebalance to {current}"
        )
