"""
The admin client's value types, all frozen attrs classes and enums: what to create
or change, and what the cluster describes. The consumer-group and ACL values live
in L{odradek.client.admin.groups} and L{odradek.client.admin.acls}; every one of
them is also importable from L{odradek.client.admin}.
"""

from odradek.client.admin._configtypes import (
    AlterConfigOp,
    AlterConfigOpType,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigResourceType,
    ConfigSource,
    ConfigSynonym,
    ConfigType,
)
from odradek.client.admin._recordtypes import (
    DeletedRecords,
    ListOffsetsResultInfo,
    LogDirDescription,
    OffsetSpec,
    ReplicaInfo,
)
from odradek.client.admin._topictypes import (
    ClusterDescription,
    CreatedTopic,
    ElectionType,
    NewPartitions,
    NewTopic,
    TopicDescription,
    TopicListing,
    TopicPartitionInfo,
)

__all__ = [
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
    "CreatedTopic",
    "DeletedRecords",
    "ElectionType",
    "ListOffsetsResultInfo",
    "LogDirDescription",
    "NewPartitions",
    "NewTopic",
    "OffsetSpec",
    "ReplicaInfo",
    "TopicDescription",
    "TopicListing",
    "TopicPartitionInfo",
]
