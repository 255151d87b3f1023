"""
Tests for the offset, listing, deletion and loading requests of
L{odradek.broker.coordinator.group.coordinator.GroupCoordinator}, and for
L{odradek.broker.coordinator.group.config.GroupConfig}.
"""

from __future__ import annotations

import attrs
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.results import LeavingMember
from odradek.broker.coordinator.group.values import CommittedOffset, LoadedPartition
from odradek.broker.test.test_coordinator_group_coordinator import (
    GROUP,
    PARTITION,
    GroupTestCase,
    make_coordinator,
)
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    GroupIdNotFoundError,
    GroupNotEmptyError,
    GroupSubscribedToTopicError,
    IllegalGenerationError,
    NotCoordinatorError,
    OffsetMetadataTooLargeError,
    RebalanceInProgressError,
    UnknownMemberIdError,
    UnstableOffsetCommitError,
)
from odradek.client.structs import TopicPartition

ORDERS = TopicPartition("orders", 0)
OTHER = TopicPartition("payments", 1)


class CommitTests(GroupTestCase):
    """
    OffsetCommit and OffsetFetch.
    """

    def commit(
        self,
        offsets: dict[TopicPartition, CommittedOffset],
        *,
        generation_id: int = -1,
        member_id: str = "",
        group_id: str = GROUP,
        retention_ms: int = -1,
    ) -> dict[TopicPartition, int]:
        return self.successResultOf(
            self.coordinator.commit_offsets(
                group_id=group_id,
                generation_id=generation_id,
                member_id=member_id,
                group_instance_id=None,
                offsets=offsets,
                retention_ms=retention_ms,
            )
        )

    def test_simple_commit(self) -> None:
        """
        A commit with generation -1 creates an Empty group, stamps the offsets
        with the commit time, stores them and makes them fetchable.
        """
        codes = self.commit({ORDERS: CommittedOffset(5, 2, "meta")})
        self.assertEqual(codes, {ORDERS: 0})
        self.assertEqual(self.state(), "Empty")
        [(_, group_id, stored)] = self.store.named("store_offsets")
        self.assertEqual(group_id, GROUP)
        self.assertEqual(stored, {ORDERS: CommittedOffset(5, 2, "meta", 1000000)})
        fetched = self.coordinator.fetch_offsets(
            group_id=GROUP, partitions=[ORDERS, OTHER]
        )
        self.assertEqual(fetched.error_code, 0)
        self.assertEqual(
            (fetched.offsets[ORDERS].offset, fetched.offsets[ORDERS].metadata),
            (5, "meta"),
        )
        self.assertEqual(fetched.offsets[ORDERS].leader_epoch, 2)
        self.assertEqual(fetched.offsets[OTHER].offset, -1)
        everything = self.coordinator.fetch_offsets(group_id=GROUP, partitions=None)
        self.assertEqual(list(everything.offsets), [ORDERS])

    def test_retention(self) -> None:
        """
        An explicit retention sets the expiry time.
        """
        self.commit({ORDERS: CommittedOffset(1)}, retention_ms=500)
        stored = self.store.named("store_offsets")[0][2]
        assert isinstance(stored, dict)
        self.assertEqual(stored[ORDERS].expire_timestamp_ms, 1000500)

    def test_metadata_too_large(self) -> None:
        """
        Metadata longer than C{offset.metadata.max.bytes} is refused for that
        partition only.
        """
        codes = self.commit(
            {ORDERS: CommittedOffset(1, metadata="x" * 4097), OTHER: CommittedOffset(2)}
        )
        self.assertEqual(codes, {ORDERS: OffsetMetadataTooLargeError.code, OTHER: 0})

    def test_member_commit(self) -> None:
        """
        Members commit with their generation; wrong generations, unknown members and
        anonymous commits to a group with members are refused.
        """
        leader, _ = self.stable_group()
        ok = self.commit(
            {ORDERS: CommittedOffset(3)},
            generation_id=leader.generation_id,
            member_id=leader.member_id,
        )
        self.assertEqual(ok, {ORDERS: 0})
        stale = self.commit(
            {ORDERS: CommittedOffset(3)}, generation_id=0, member_id=leader.member_id
        )
        self.assertEqual(stale, {ORDERS: IllegalGenerationError.code})
        unknown = self.commit(
            {ORDERS: CommittedOffset(3)}, generation_id=1, member_id="x"
        )
        self.assertEqual(unknown, {ORDERS: UnknownMemberIdError.code})
        anonymous = self.commit({ORDERS: CommittedOffset(3)})
        self.assertEqual(anonymous, {ORDERS: UnknownMemberIdError.code})
        missing = self.commit(
            {ORDERS: CommittedOffset(3)}, generation_id=1, group_id="x"
        )
        self.assertEqual(missing, {ORDERS: IllegalGenerationError.code})

    def test_commit_completing(self) -> None:
        """
        A commit while the group completes a rebalance is C{REBALANCE_IN_PROGRESS}.
        """
        [joined] = self.join_all(None)
        codes = self.commit(
            {ORDERS: CommittedOffset(3)},
            generation_id=joined.generation_id,
            member_id=joined.member_id,
        )
        self.assertEqual(codes, {ORDERS: RebalanceInProgressError.code})

    def test_store_failure(self) -> None:
        """
        A failed write answers its error and leaves the previous offset.
        """
        self.commit({ORDERS: CommittedOffset(1)})
        self.store.failure = NotCoordinatorError()
        codes = self.commit({ORDERS: CommittedOffset(2)})
        self.assertEqual(codes, {ORDERS: NotCoordinatorError.code})
        fetched = self.coordinator.fetch_offsets(group_id=GROUP, partitions=[ORDERS])
        self.assertEqual(fetched.offsets[ORDERS].offset, 1)

    def test_require_stable(self) -> None:
        """
        While a commit is being written, a fetch requiring stable offsets gets
        C{UNSTABLE_OFFSET_COMMIT} for it.
        """
        self.store.hold = True
        pending = self.coordinator.commit_offsets(
            group_id=GROUP,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            offsets={ORDERS: CommittedOffset(4)},
        )
        fetched = self.coordinator.fetch_offsets(
            group_id=GROUP, partitions=[ORDERS], require_stable=True
        )
        self.assertEqual(
            fetched.offsets[ORDERS].error_code, UnstableOffsetCommitError.code
        )
        self.store.held[0].callback(None)
        self.assertEqual(self.successResultOf(pending), {ORDERS: 0})

    def test_not_coordinator(self) -> None:
        """
        Offsets of groups not served here answer the coordinator's status.
        """
        self.coordinator.unload(PARTITION)
        self.assertEqual(
            self.commit({ORDERS: CommittedOffset(1)}),
            {ORDERS: NotCoordinatorError.code},
        )
        self.coordinator.begin_loading(PARTITION)
        fetched = self.coordinator.fetch_offsets(group_id=GROUP, partitions=None)
        self.assertEqual(fetched.error_code, CoordinatorLoadInProgressError.code)


class DeleteTests(GroupTestCase):
    """
    OffsetDelete and DeleteGroups.
    """

    def commit(self, *partitions: TopicPartition) -> None:
        self.successResultOf(
            self.coordinator.commit_offsets(
                group_id=GROUP,
                generation_id=-1,
                member_id="",
                group_instance_id=None,
                offsets={tp: CommittedOffset(1) for tp in partitions},
            )
        )

    def test_delete_offsets_of_empty_group(self) -> None:
        """
        Offsets of an Empty group are deleted and tombstoned; once none is left the
        group goes.
        """
        self.commit(ORDERS, OTHER)
        result = self.successResultOf(
            self.coordinator.delete_offsets(group_id=GROUP, partitions=[ORDERS])
        )
        self.assertEqual(result, (0, {ORDERS: 0}))
        self.assertEqual(
            self.store.named("remove_offsets"), [("remove_offsets", GROUP, [ORDERS])]
        )
        self.successResultOf(
            self.coordinator.delete_offsets(group_id=GROUP, partitions=[OTHER])
        )
        self.assertEqual(self.state(), "Dead")
        self.assertEqual(self.store.named("remove_group"), [])

    def test_delete_subscribed(self) -> None:
        """
        A consumer group with members keeps offsets of topics it subscribes to.
        """
        _leader, _ = self.stable_group()
        result = self.successResultOf(
            self.coordinator.delete_offsets(group_id=GROUP, partitions=[ORDERS, OTHER])
        )
        self.assertEqual(
            result, (0, {ORDERS: GroupSubscribedToTopicError.code, OTHER: 0})
        )

    def test_delete_offsets_errors(self) -> None:
        """
        An unknown group is C{GROUP_ID_NOT_FOUND}; a non-consumer group with members
        is C{NON_EMPTY_GROUP}.
        """
        missing = self.coordinator.delete_offsets(group_id="x", partitions=[ORDERS])
        self.assertEqual(self.successResultOf(missing), (GroupIdNotFoundError.code, {}))
        self.successResultOf(self.join(protocol_type="connect"))
        busy = self.coordinator.delete_offsets(group_id=GROUP, partitions=[ORDERS])
        self.assertEqual(self.successResultOf(busy), (GroupNotEmptyError.code, {}))

    def test_delete_groups(self) -> None:
        """
        Empty groups are deleted with their offsets and tombstoned; groups with
        members and unknown groups are refused.
        """
        [joined] = self.stable_group(1)
        self.commit(ORDERS)  # refused: the group has a member
        self.successResultOf(
            self.coordinator.leave_group(
                group_id=GROUP, members=[LeavingMember(joined.member_id)]
            )
        )
        self.successResultOf(
            self.coordinator.commit_offsets(
                group_id="simple",
                generation_id=-1,
                member_id="",
                group_instance_id=None,
                offsets={ORDERS: CommittedOffset(1)},
            )
        )
        self.successResultOf(self.join(group_id="busy"))
        result = self.successResultOf(
            self.coordinator.delete_groups([GROUP, "simple", "busy", "nobody"])
        )
        self.assertEqual(
            result,
            {
                GROUP: 0,
                "simple": 0,
                "busy": GroupNotEmptyError.code,
                "nobody": GroupIdNotFoundError.code,
            },
        )
        self.assertEqual(self.store.named("remove_group"), [("remove_group", GROUP)])
        self.assertEqual(
            self.store.named("remove_offsets"), [("remove_offsets", "simple", [ORDERS])]
        )
        self.assertEqual(self.state(), "Dead")


class ViewTests(GroupTestCase):
    """
    DescribeGroups and ListGroups.
    """

    def test_describe(self) -> None:
        """
        A Stable group shows its protocol and members with metadata and assignment;
        an unknown group is Dead.
        """
        leader, follower = self.stable_group()
        described, unknown = self.coordinator.describe_groups([GROUP, "nobody"])
        self.assertEqual(
            (described.state, described.protocol_type, described.protocol_data),
            ("Stable", "consumer", "range"),
        )
        members = {m.member_id: m for m in described.members}
        self.assertEqual(
            members[follower.member_id].assignment, follower.member_id.encode()
        )
        self.assertEqual(members[leader.member_id].client_host, "/127.0.0.1")
        self.assertEqual((unknown.state, unknown.error_code), ("Dead", 0))
        self.join(leader.member_id)
        [rebalancing] = self.coordinator.describe_groups([GROUP])
        self.assertEqual(rebalancing.protocol_data, "")
        self.assertEqual({m.assignment for m in rebalancing.members}, {b""})

    def test_list(self) -> None:
        """
        ListGroups filters by state (any case) and type.
        """
        self.stable_group(1)
        self.successResultOf(self.join(group_id="other"))
        code, groups = self.coordinator.list_groups()
        self.assertEqual(code, 0)
        self.assertEqual({g.group_id for g in groups}, {GROUP, "other"})
        _, stable = self.coordinator.list_groups(states=["stable"])
        self.assertEqual([g.group_id for g in stable], [GROUP])
        self.assertEqual(stable[0].protocol_type, "consumer")
        self.assertEqual(self.coordinator.list_groups(types=["consumer"]), (0, []))
        self.assertEqual(len(self.coordinator.list_groups(types=["Classic"])[1]), 2)
        self.coordinator.begin_loading(PARTITION + 100)
        self.assertEqual(
            self.coordinator.list_groups()[0], CoordinatorLoadInProgressError.code
        )


class LoadingTests(SynchronousTestCase):
    """
    Loading, snapshots and expiry.
    """

    def test_snapshot_round_trip(self) -> None:
        """
        What L{GroupCoordinator.snapshot} gives, loaded into another coordinator,
        brings the group back Stable with its members, assignments and offsets,
        and their sessions timed afresh.
        """
        case = _Driver()
        leader, follower = case.run(lambda t: t.stable_group())
        case.run(
            lambda t: t.successResultOf(
                t.coordinator.commit_offsets(
                    group_id=GROUP,
                    generation_id=leader.generation_id,
                    member_id=leader.member_id,
                    group_instance_id=None,
                    offsets={ORDERS: CommittedOffset(9)},
                )
            )
        )
        snapshot = case.test.coordinator.snapshot(PARTITION)
        self.assertEqual(list(snapshot.groups), [GROUP])
        self.assertEqual(snapshot.offsets[GROUP][ORDERS].offset, 9)
        self.assertEqual(
            case.test.coordinator.snapshot(PARTITION + 1),
            LoadedPartition(PARTITION + 1),
        )
        case.test.coordinator.shutdown()

        coordinator, _, clock = make_coordinator()
        coordinator.unload(PARTITION)
        coordinator.begin_loading(PARTITION)
        coordinator.finish_loading(snapshot)
        self.assertEqual(coordinator.snapshot(PARTITION), snapshot)
        [described] = coordinator.describe_groups([GROUP])
        self.assertEqual(described.state, "Stable")
        self.assertEqual(len(described.members), 2)
        clock.advance(5)
        beat = coordinator.heartbeat(
            group_id=GROUP,
            generation_id=leader.generation_id,
            member_id=follower.member_id,
            group_instance_id=None,
        )
        self.assertEqual(self.successResultOf(beat), 0)
        clock.advance(5)
        [described] = coordinator.describe_groups([GROUP])
        self.assertEqual(described.state, "PreparingRebalance")
        coordinator.shutdown()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_expire_offsets(self) -> None:
        """
        Offsets of a group that only commits expire C{offsets.retention.minutes}
        after their commit; the group then goes (without a group tombstone, as it
        never had a generation).
        """
        config = attrs.evolve(
            GroupConfig(), partition_count=4, offsets_retention_ms=1000
        )
        coordinator, store, clock = make_coordinator(config)
        commit = coordinator.commit_offsets(
            group_id=GROUP,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            offsets={ORDERS: CommittedOffset(1)},
        )
        self.successResultOf(commit)
        clock.advance(0.5)
        self.assertEqual(self.successResultOf(coordinator.expire_offsets()), 0)
        clock.advance(0.5)
        self.assertEqual(self.successResultOf(coordinator.expire_offsets()), 1)
        self.assertEqual(
            store.named("remove_offsets"), [("remove_offsets", GROUP, [ORDERS])]
        )
        self.assertEqual(coordinator.describe_groups([GROUP])[0].state, "Dead")
        coordinator.shutdown()

    def test_expire_keeps_subscribed_topics(self) -> None:
        """
        A Stable consumer group keeps offsets of topics it subscribes to; an Empty
        group's offsets expire after it has been empty for the retention time.
        """
        config = GroupConfig(
            initial_rebalance_delay_ms=0, partition_count=4, offsets_retention_ms=60000
        )
        case = _Driver(config)
        [joined] = case.run(lambda t: t.stable_group(1))
        coordinator, clock = case.test.coordinator, case.test.clock
        self.successResultOf(
            coordinator.commit_offsets(
                group_id=GROUP,
                generation_id=joined.generation_id,
                member_id=joined.member_id,
                group_instance_id=None,
                offsets={ORDERS: CommittedOffset(1), OTHER: CommittedOffset(2)},
            )
        )
        for _ in range(7):
            clock.advance(9)
            case.run(lambda t: t.heartbeat(joined))
        self.assertEqual(self.successResultOf(coordinator.expire_offsets()), 1)
        self.assertEqual(
            list(coordinator.fetch_offsets(group_id=GROUP, partitions=None).offsets),
            [ORDERS],
        )
        clock.advance(10)
        self.assertEqual(coordinator.describe_groups([GROUP])[0].state, "Empty")
        clock.advance(59)
        self.assertEqual(self.successResultOf(coordinator.expire_offsets()), 0)
        clock.advance(1)
        self.assertEqual(self.successResultOf(coordinator.expire_offsets()), 1)
        self.assertEqual(
            case.test.store.named("remove_group"), [("remove_group", GROUP)]
        )
        coordinator.shutdown()
        self.assertEqual(clock.getDelayedCalls(), [])


class _Driver:
    """
    Runs L{GroupTestCase} helpers outside a test of that class.
    """

    def __init__(self, config: GroupConfig | None = None) -> None:
        self.test = GroupTestCase()
        if config is not None:
            self.test.config = config
        self.test.setUp()

    def run(self, step):  # type: ignore[no-untyped-def]
        return step(self.test)
