"""
A consumer's side of its group: L{ConsumerCoordinator}, Kafka's
C{ConsumerCoordinator} on Twisted.

It owns the consumer's L{GroupMembership
<odradek.client.consumer._membership.GroupMembership>} (finding the coordinator,
joining, heartbeats) and gives it the consumer protocol's hooks: the subscription
announced in JoinGroup, the revocation of partitions before a join, the leader's
assignment with the configured assignors, and taking the assignment after it (see
L{odradek.client.consumer._rebalance}). It commits offsets and reads them back (see
L{odradek.client.consumer._commits}), commits automatically every
C{auto.commit.interval.ms} when C{enable.auto.commit} is set, and looks up the
committed offsets of newly assigned partitions so that the fetcher knows where to
start.

The consumer's faces call L{ConsumerCoordinator.poll} at each of their polls and
never call the rebalance listener themselves: the coordinator calls
C{invoke_listener}, which runs the listener where the face wants it.
Everything here runs on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import attrs
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from odradek.client import errors
from odradek.client.consumer._commits import CommitCallback, OffsetCommitter
from odradek.client.consumer._membership import (
    NO_GENERATION,
    Generation,
    GroupMembership,
    JoinedMember,
    MemberState,
)
from odradek.client.consumer._positions import (
    AutoCommit,
    CommittedPositions,
    CoordinatorConfig,
    CoordinatorSettings,
)
from odradek.client.consumer._rebalance import (
    InvokeListener,
    RebalanceHooks,
    common_protocol,
)
from odradek.client.consumer.assignors import IPartitionAssignor
from odradek.client.consumer.protocol import CONSUMER_PROTOCOL_TYPE, RebalanceProtocol
from odradek.client.consumer.subscription import (
    SubscriptionState,
    SubscriptionType,
)
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "ConsumerCoordinator",
    "CoordinatorConfig",
    "CoordinatorSettings",
    "InvokeListener",
]

_log = Logger()

#: How many joins one poll goes through at most (a cooperative rebalance takes
#: two); the next poll carries on.
_MAX_JOINS_PER_POLL = 4


def _assignors(
    assignors: Iterable[IPartitionAssignor],
) -> tuple[IPartitionAssignor, ...]:
    return tuple(assignors)


@attrs.define(eq=False)
class ConsumerCoordinator:
    """
    A consumer's group membership, rebalance hooks and offset commits.

    @ivar reactor: the source of time and delayed calls.
    @ivar metadata: the cluster's metadata; the coordinator listens to it for
        pattern subscriptions and, as the leader, for partition changes.
    @ivar pool: the connections.
    @ivar subscriptions: the consumer's subscription, assignment and positions.
    @ivar settings: the settings.
    @ivar assignors: the configured assignors, by preference.
    @ivar invoke_listener: runs one rebalance listener method, C{(name,
        partitions)}, where the face wants it; its Deferred fails with what the
        listener raised.
    @ivar protocol: the rebalance protocol: cooperative if every assignor supports
        it, else eager; C{None} without assignors.
    @ivar membership: the group membership, or C{None} without C{group.id}.
    @ivar hooks: the rebalance hooks the membership calls through this object.
    @ivar committer: commits and reads offsets.
    @ivar auto_commit: the auto-commit timer.
    @ivar positions: starts new partitions from their committed offsets.
    """

    reactor: IReactorTime
    metadata: MetadataManager
    pool: ConnectionPool
    subscriptions: SubscriptionState
    settings: CoordinatorSettings
    assignors: tuple[IPartitionAssignor, ...] = attrs.field(converter=_assignors)
    invoke_listener: InvokeListener
    protocol: RebalanceProtocol | None = attrs.field(init=False)
    membership: GroupMembership | None = attrs.field(init=False)
    hooks: RebalanceHooks = attrs.field(init=False)
    committer: OffsetCommitter = attrs.field(init=False)
    auto_commit: AutoCommit = attrs.field(init=False)
    positions: CommittedPositions = attrs.field(init=False)
    _closed: bool = attrs.field(init=False, default=False)

    #: The protocol type of consumer groups, for the membership.
    protocol_type = CONSUMER_PROTOCOL_TYPE

    def __attrs_post_init__(self) -> None:
        self.protocol = common_protocol(self.assignors)
        group = self.settings.membership
        self.hooks = RebalanceHooks(
            self.reactor,
            self.metadata,
            self.subscriptions,
            self.assignors,
            self.protocol,
            self.invoke_listener,
            client_rack=group.client_rack if group else None,
            rebalance_timeout_ms=group.rebalance_timeout_ms if group else 300000,
            retry_backoff_ms=self.settings.retry_backoff_ms,
        )
        self.membership = (
            None
            if group is None
            else GroupMembership(self.reactor, self.metadata, self.pool, group, self)
        )
        self.committer = OffsetCommitter(
            self.reactor,
            self.membership,
            self.subscriptions,
            retry_backoff_ms=self.settings.retry_backoff_ms,
            retry_backoff_max_ms=self.settings.retry_backoff_max_ms,
        )
        self.auto_commit = AutoCommit(
            self.reactor,
            self.committer,
            self.subscriptions,
            self.settings.auto_commit_interval_ms,
            self.settings.retry_backoff_ms,
        )
        self.positions = CommittedPositions(
            self.committer, self.subscriptions, self.settings.default_api_timeout_ms
        )
        self.metadata.listeners.append(self._metadata_updated)

    def _now_ms(self) -> float:
        return self.reactor.seconds() * 1000

    @property
    def pending_error(self) -> BaseException | None:
        """
        The first error of the rebalance listener (or an assignor, or a fenced
        asynchronous commit) not yet raised; the next L{poll} raises it.
        """
        return self.hooks.pending_error or self.committer.fatal_error

    def _raise_pending(self) -> None:
        error = self.hooks.pending_error or self.committer.fatal_error
        self.hooks.pending_error = None
        self.committer.fatal_error = None
        if error is not None:
            raise error

    # -- MembershipHooks

    def join_protocols(self) -> list[tuple[str, bytes]]:
        """
        @return: each assignor's name and the subscription announced with it: the
            sorted topics, the assignor's user data, the partitions owned (with
            the cooperative protocol), the generation and C{client.rack}.
        """
        generation = self.membership.generation if self.membership else NO_GENERATION
        return self.hooks.join_protocols(generation)

    def on_join_prepare(self, generation: Generation) -> Deferred[None]:
        """
        Before a JoinGroup: commit what was consumed (with auto-commit, waiting
        at most the rebalance timeout; failures are logged), then give up
        partitions: all of them with the eager protocol (the listener's
        C{on_partitions_revoked}), those of topics no longer subscribed with the
        cooperative one, and all of them as lost when the generation was lost.

        @param generation: the generation the member was in.
        @return: a Deferred firing when done; it never fails.
        """
        return Deferred.fromCoroutine(self._on_join_prepare(generation))

    async def _on_join_prepare(self, generation: Generation) -> None:
        # The membership calls this while the member is still stable in its
        # generation (or after losing it), so the commits below and those of the
        # listener are made in the generation being left.
        valid = generation.generation_id >= 0 and bool(generation.member_id)
        if (
            self.settings.enable_auto_commit
            and valid
            and not self.hooks.generation_lost
        ):
            if self.protocol is RebalanceProtocol.EAGER:
                self.subscriptions.mark_pending_revocation(
                    self.subscriptions.assigned_partitions()
                )
            group = self._group().settings
            await self._commit_consumed(
                group.rebalance_timeout_ms, "before rebalancing"
            )
        await self.hooks.prepare(generation)

    async def _commit_consumed(self, timeout_ms: int, when: str) -> None:
        offsets = self.subscriptions.all_consumed()
        try:
            await self.committer.commit_sync(offsets, timeout_ms)
        except Exception as error:
            _log.warn(
                "Synchronous auto-commit of offsets {offsets} {when} failed: {error}",
                offsets={str(tp): o.offset for tp, o in offsets.items()},
                when=when,
                error=str(error),
            )

    def perform_assignment(
        self, leader_id: str, protocol: str, members: list[JoinedMember]
    ) -> Deferred[dict[str, bytes]]:
        """
        As the leader, assign the group's partitions with the assignor the
        coordinator chose: watch every member's topics, refresh the metadata,
        and (cooperative protocol) check that no owned partition moves straight
        to another member.

        @param leader_id: this member's id.
        @param protocol: the assignor's name.
        @param members: every member and its subscription.
        @return: a Deferred firing with each member's encoded assignment.
        """
        return Deferred.fromCoroutine(self.hooks.assign(protocol, members))

    def on_join_complete(
        self, generation: Generation, protocol: str, assignment: bytes
    ) -> Deferred[None]:
        """
        After SyncGroup: take the assignment. With the cooperative protocol the
        partitions taken away are revoked first (and a rejoin requested); the
        listener's C{on_partitions_assigned} gets the partitions added (all of
        them with the eager protocol). The auto-commit timer restarts.

        @param generation: the generation joined.
        @param protocol: the assignor the coordinator chose.
        @param assignment: this member's encoded assignment.
        @return: a Deferred firing when done.
        """
        self.auto_commit.restart()
        membership = self._group()
        return Deferred.fromCoroutine(
            self.hooks.complete(membership, generation, protocol, assignment)
        )

    def on_generation_lost(self, reason: str) -> None:
        """
        The member lost its generation: its partitions are reported lost (not
        revoked) before the next join, or when it leaves.

        @param reason: why, for the log.
        """
        if self.subscriptions.assigned_partitions():
            _log.info(
                "Generation lost ({reason}): the assigned partitions will be "
                "reported lost",
                reason=reason,
            )
        self.hooks.generation_lost = True

    # -- the group

    def _group(self) -> GroupMembership:
        if self.membership is None:
            raise errors.InvalidGroupIdError(
                "To use the group management or offset commit APIs, you must "
                "provide a valid group.id in the consumer configuration."
            )
        return self.membership

    def request_rejoin(self, reason: str) -> None:
        """
        Rebalance at the next poll (the subscription changed ...).

        @param reason: why, sent in the JoinGroup request.
        """
        if self.membership is not None:
            self.membership.request_rejoin(reason)

    def needs_join(self) -> bool:
        """
        @return: whether the group assigns the partitions and the member must
            join (or rejoin) before it is stable; a subscription changed since the
            last join asks for a rejoin.
        """
        group = self.membership
        if group is None or not self.subscriptions.has_auto_assigned_partitions():
            return False
        joined = self.hooks.joined_subscription
        if joined is not None and joined != self.subscriptions.subscription:
            group.request_rejoin(
                f"subscription has changed from {sorted(joined)} at the beginning of "
                f"the rebalance to {sorted(self.subscriptions.subscription)}"
            )
            return True
        return group.rejoin_needed() or group.state is not MemberState.STABLE

    def is_stable(self) -> bool:
        """
        @return: whether the member is in a stable generation and needs no
            rejoin (with a manual assignment: whether there is a group).
        """
        group = self.membership
        if group is None:
            return False
        if not self.subscriptions.has_auto_assigned_partitions():
            return True
        return group.state is MemberState.STABLE and not self.needs_join()

    def _metadata_updated(self, cluster: ClusterMetadata) -> None:
        if self._closed:
            return
        subscriptions = self.subscriptions
        if subscriptions.subscription_type is SubscriptionType.AUTO_PATTERN:
            excluded = (
                cluster.internal_topics
                if self.settings.exclude_internal_topics
                else frozenset()
            )
            if subscriptions.match_pattern(
                topic for topic in cluster.partitions if topic not in excluded
            ):
                self.metadata.add_topics(subscriptions.subscription)
                self.request_rejoin(
                    "the topics matching the subscribed pattern changed to "
                    f"{sorted(subscriptions.subscription)}"
                )
        if subscriptions.has_auto_assigned_partitions():
            reason = self.hooks.metadata_changed(cluster)
            if reason is not None:
                self.request_rejoin(reason)

    # -- polling

    def poll(self, now_ms: float) -> Deferred[None]:
        """
        The per-poll step of the consumer's faces: record the poll (for
        C{max.poll.interval.ms}), join the group if the subscription asks for it
        and a rebalance is needed, commit automatically when due, and look up the
        committed offsets of partitions without a position (seeking there, or
        asking for a reset by C{auto.offset.reset} when none was committed).

        Cancelling the Deferred only stops waiting: the join and the lookups
        carry on, and the next poll picks them up.

        @param now_ms: the current time.
        @return: a Deferred firing when the group is stable and the positions
            are initialized, or failing with the error a previous step kept (a
            failed rebalance listener ...), a fatal group error or the lookup's
            error.
        """
        return Deferred.fromCoroutine(self._poll(now_ms))

    async def _poll(self, now_ms: float) -> None:
        self._raise_pending()
        group = self.membership
        subscriptions = self.subscriptions
        if group is None:
            for tp in subscriptions.initializing_partitions():
                subscriptions.request_reset(tp)
            return
        if subscriptions.has_auto_assigned_partitions():
            if self.protocol is None:
                raise errors.IllegalStateError(
                    "User configured partition.assignment.strategy to empty while "
                    "trying to subscribe for group protocol to auto assign partitions"
                )
            group.poll_heartbeat(int(now_ms))
            joins = 0
            while self.needs_join() and joins < _MAX_JOINS_PER_POLL:
                joins += 1
                await group.ensure_active_group()
                self._raise_pending()
            now_ms = self._now_ms()
            if group.state is not MemberState.STABLE:
                return
        self.maybe_auto_commit_async(now_ms)
        await self.positions.initialize(group.generation)
        self._raise_pending()

    def maybe_auto_commit_async(self, now_ms: float, force: bool = False) -> None:
        """
        With C{enable.auto.commit}, commit the consumed positions asynchronously
        when C{auto.commit.interval.ms} passed since the last auto-commit (or the
        last join), or at once with C{force}; not while a subscribed member is
        rebalancing. A retriable failure brings the next try forward to
        C{retry.backoff.ms}; failures are logged.

        @param now_ms: the current time.
        @param force: commit now, whatever the timer says.
        """
        group = self.membership
        if not self.settings.enable_auto_commit or group is None:
            return
        if self.subscriptions.has_auto_assigned_partitions() and (
            group.state is not MemberState.STABLE
        ):
            return
        self.auto_commit.maybe_commit(now_ms, force)

    # -- offsets

    def commit_offsets_sync(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], timeout_ms: int
    ) -> Deferred[None]:
        """See L{OffsetCommitter.commit_sync}."""
        return self.committer.commit_sync(offsets, timeout_ms)

    def commit_offsets_async(
        self,
        offsets: Mapping[TopicPartition, OffsetAndMetadata],
        callback: CommitCallback | None = None,
    ) -> Deferred[None]:
        """
        See L{OffsetCommitter.commit_async}: C{callback(offsets, error_or_None)}
        is called on the reactor thread.
        """
        return self.committer.commit_async(offsets, callback)

    def fetch_committed_offsets(
        self, partitions: Sequence[TopicPartition], timeout_ms: int
    ) -> Deferred[dict[TopicPartition, OffsetAndMetadata | None]]:
        """See L{OffsetCommitter.fetch_committed}."""
        return self.committer.fetch_committed(partitions, timeout_ms)

    # -- leaving

    def leave(self, reason: str) -> Deferred[None]:
        """
        Leave the group (the consumer unsubscribed): the listener's
        C{on_partitions_revoked} (or C{on_partitions_lost}) for every partition
        owned, then LeaveGroup. Call it before changing the subscription.

        @param reason: why, sent with LeaveGroup.
        @return: a Deferred firing when done; a listener's failure is kept for
            the next poll, and the LeaveGroup's is logged.
        """
        return Deferred.fromCoroutine(self._leave(reason))

    async def _leave(self, reason: str) -> None:
        group = self.membership
        if group is None:
            return
        await self.hooks.leave(group.generation, group.state)
        await group.maybe_leave_group(reason)

    def close(self, timeout_ms: int) -> Deferred[None]:
        """
        Close: commit what was consumed (with auto-commit), wait for the
        asynchronous commits under way, give up the partitions (the listener's
        revoked or lost hook; unless C{leave_group_on_close} is off) and close the
        membership (LeaveGroup for a dynamic member). Bounded by C{timeout_ms},
        but for the listener; errors are logged.

        @param timeout_ms: how long to take.
        @return: a Deferred firing when done; it never fails.
        """
        return Deferred.fromCoroutine(self._close(timeout_ms))

    async def _close(self, timeout_ms: int) -> None:
        if self._closed:
            return
        deadline = self._now_ms() + timeout_ms
        group = self.membership
        try:
            if group is not None:
                if self.settings.enable_auto_commit:
                    await self._commit_consumed(timeout_ms, "on close")
                await self.committer.commit_sync(
                    {}, max(0, int(deadline - self._now_ms()))
                )
                if group.settings.leave_group_on_close:
                    await self.hooks.leave(group.generation, group.state)
        except Exception:
            _log.failure("Giving up the partitions on close failed")
        finally:
            self._closed = True
            if self._metadata_updated in self.metadata.listeners:
                self.metadata.listeners.remove(self._metadata_updated)
            if group is not None:
                await group.close(max(0, int(deadline - self._now_ms())))
