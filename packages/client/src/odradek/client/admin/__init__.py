"""
The admin client: topics, partitions, configurations, records, offsets, log
directories, leaders, consumer groups and ACLs of a Kafka cluster.

Two faces share one core: L{AdminClient} blocks the calling thread (its I/O runs
on the SDK's reactor thread), L{TwistedAdminClient} returns Deferreds on the
reactor. Calls that act on several items return L{ItemResults}, so that one
failed item does not hide the others' outcomes.
"""

from odradek.client.admin.acls import (
    AccessControlEntry,
    AccessControlEntryFilter,
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    FilterResult,
    FilterResults,
    PatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from odradek.client.admin.admin_client import AdminClient
from odradek.client.admin.groups import (
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
    MemberDescription,
)
from odradek.client.admin.results import ItemResults, ListConsumerGroupsResult
from odradek.client.admin.twisted_admin import TwistedAdminClient
from odradek.client.admin.types import (
    AlterConfigOp,
    AlterConfigOpType,
    ClusterDescription,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
    ConfigSynonym,
    ConfigType,
    CreatedTopic,
    DeletedRecords,
    ElectionType,
    ListOffsetsResultInfo,
    LogDirDescription,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ReplicaInfo,
    TopicDescription,
    TopicListing,
    TopicPartitionInfo,
)

__all__ = [
    "AccessControlEntry",
    "AccessControlEntryFilter",
    "AclBinding",
    "AclBindingFilter",
    "AclOperation",
    "AclPermissionType",
    "AdminClient",
    "AlterConfigOp",
    "AlterConfigOpType",
    "ClusterDescription",
    "Config",
    "ConfigEntry",
    "ConfigResource",
    "ConfigResourceType",
    "ConfigSource",
    "ConfigSynonym",
    "ConfigType",
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "CreatedTopic",
    "DeletedRecords",
    "ElectionType",
    "FilterResult",
    "FilterResults",
    "ItemResults",
    "ListConsumerGroupsResult",
    "ListOffsetsResultInfo",
    "LogDirDescription",
    "MemberDescription",
    "NewPartitions",
    "NewTopic",
    "OffsetSpec",
    "PatternType",
    "ReplicaInfo",
    "ResourcePattern",
    "ResourcePatternFilter",
    "ResourceType",
    "TopicDescription",
    "TopicListing",
    "TopicPartitionInfo",
    "TwistedAdminClient",
]
