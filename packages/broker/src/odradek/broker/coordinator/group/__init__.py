"""
The group coordinator: consumer groups (Kafka's classic protocol) and their
committed offsets, kept in the internal topic C{__consumer_offsets}.

L{GroupCoordinator} runs the groups' state machines and answers the group
requests; an L{IGroupStore} (the broker's L{OffsetsTopicStore}) writes what must
survive as records in Kafka's own formats (L{records
<odradek.broker.coordinator.group.records>}); L{GroupCoordinatorService} loads it
back when the broker starts, expires offsets and keeps the topic's logs bounded
until log compaction exists.
"""

from odradek.broker.coordinator.group.config import GroupConfig
from odradek.broker.coordinator.group.coordinator import GroupCoordinator
from odradek.broker.coordinator.group.group import GroupMetadata, GroupState
from odradek.broker.coordinator.group.interfaces import IGroupStore
from odradek.broker.coordinator.group.member import MemberMetadata
from odradek.broker.coordinator.group.placement import partition_for
from odradek.broker.coordinator.group.service import (
    GroupCoordinatorService,
    assemble_group_coordinator,
)
from odradek.broker.coordinator.group.store import OffsetsTopicStore
from odradek.broker.coordinator.group.values import (
    CommittedOffset,
    GroupSnapshot,
    LoadedPartition,
    MemberSnapshot,
)

__all__ = [
    "CommittedOffset",
    "GroupConfig",
    "GroupCoordinator",
    "GroupCoordinatorService",
    "GroupMetadata",
    "GroupSnapshot",
    "GroupState",
    "IGroupStore",
    "LoadedPartition",
    "MemberMetadata",
    "MemberSnapshot",
    "OffsetsTopicStore",
    "assemble_group_coordinator",
    "partition_for",
]
