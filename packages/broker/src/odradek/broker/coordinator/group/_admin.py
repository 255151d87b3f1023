"""
Loading, unloading and the views (DescribeGroups, ListGroups) of L{GroupCoordinator
<odradek.broker.coordinator.group.coordinator.GroupCoordinator>}.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from odradek.broker.coordinator.group._offsets import OffsetManager
from odradek.broker.coordinator.group.group import GroupMetadata, GroupState
from odradek.broker.coordinator.group.results import DescribedGroup, ListedGroup
from odradek.broker.coordinator.group.values import LoadedPartition
from odradek.client.errors import (
    CoordinatorLoadInProgressError,
    CoordinatorNotAvailableError,
)

__all__: list[str] = []

_EMPTY = GroupState.EMPTY


class GroupAdmin(OffsetManager):
    """
    The partitions a coordinator owns, and what it shows of its groups.
    """

    # Loading.

    def begin_loading(self, partition: int) -> None:
        """
        Start loading a partition: requests for its groups answer
        C{COORDINATOR_LOAD_IN_PROGRESS} until L{finish_loading}.

        @param partition: a partition of C{__consumer_offsets}.
        """
        self._active = True
        self._loading.add(partition)

    def finish_loading(self, loaded: LoadedPartition) -> None:
        """
        Take a loaded partition's groups and offsets (Kafka's C{onGroupLoaded}):
        groups with members come back C{Stable} with fresh session timers.

        @param loaded: what the store read.
        """
        self._active = True
        partition = loaded.partition
        self._loading.discard(partition)
        self._owned.add(partition)
        now = self._now_ms()
        for group_id in dict.fromkeys([*loaded.groups, *loaded.offsets]):
            if group_id in self._groups:
                self._log.warn("Group {group_id} is already loaded", group_id=group_id)
                continue
            offsets = loaded.offsets.get(group_id, {})
            snapshot = loaded.groups.get(group_id)
            if snapshot is None:
                group = GroupMetadata(group_id, _EMPTY, now)
                group.offsets.update(offsets)
            else:
                group = GroupMetadata.from_snapshot(snapshot, offsets)
            self._groups[group_id] = group
            if group.size > self._config.max_size:
                self._prepare_rebalance(group, "freshly-loaded group is over capacity")
            for member in group.members.values():
                self._schedule_heartbeat(group, member)

    def unload(self, partition: int) -> None:
        """
        Give up a partition: its groups become Dead and are dropped, their waiting
        requests answered C{NOT_COORDINATOR}, their timers cancelled.

        @param partition: a partition of C{__consumer_offsets}.
        """
        self._loading.discard(partition)
        self._owned.discard(partition)
        for group_id, group in list(self._groups.items()):
            if self._partition(group_id) == partition:
                del self._groups[group_id]
                self._on_group_unloaded(group)

    def owned_partitions(self) -> frozenset[int]:
        """
        @return: the partitions loaded here (not those still loading).
        """
        return frozenset(self._owned)

    def snapshot(self, partition: int) -> LoadedPartition:
        """
        @param partition: a partition of C{__consumer_offsets}.
        @return: what loading it from the store should give now: the metadata
            last stored for each live group and their committed offsets.
        """
        loaded = LoadedPartition(partition)
        for group_id, group in self._groups.items():
            if self._partition(group_id) != partition:
                continue
            if group.stored is not None:
                loaded.groups[group_id] = group.stored
            if group.offsets:
                loaded.offsets[group_id] = dict(group.offsets)
        return loaded

    def shutdown(self) -> None:
        """
        Stop: cancel every timer and answer every waiting request
        C{NOT_COORDINATOR}; later requests get C{COORDINATOR_NOT_AVAILABLE}.
        """
        for partition in sorted(self._owned | self._loading):
            self.unload(partition)
        self._active = False

    # Views.

    def describe_groups(self, group_ids: Sequence[str]) -> list[DescribedGroup]:
        """
        Describe groups (DescribeGroups); an unknown group is C{Dead}.

        @param group_ids: the groups.
        @return: one description each, in order.
        """
        described = []
        for group_id in group_ids:
            code = self._group_error(group_id, allow_empty=True)
            group = self._groups.get(group_id)
            if code:
                described.append(
                    DescribedGroup(group_id=group_id, error_code=code, state="")
                )
            elif group is None:
                described.append(DescribedGroup(group_id=group_id, error_code=0))
            else:
                described.append(group.describe())
        return described

    def list_groups(
        self, *, states: Collection[str] = (), types: Collection[str] = ()
    ) -> tuple[int, list[ListedGroup]]:
        """
        List the groups here (ListGroups).

        @param states: keep only groups in these states (any case); all if empty.
        @param types: keep only groups of these types; all groups here are
            C{"classic"}.
        @return: the error code (C{COORDINATOR_LOAD_IN_PROGRESS} while a partition
            loads) and the groups.
        """
        if not self._active:
            return CoordinatorNotAvailableError.code, []
        code = CoordinatorLoadInProgressError.code if self._loading else 0
        if types and "classic" not in {t.lower() for t in types}:
            return code, []
        wanted = {s.lower() for s in states}
        return code, [
            group.overview()
            for group in self._groups.values()
            if not wanted or group.state.value.lower() in wanted
        ]
