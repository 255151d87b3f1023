"""
The cluster's metadata: L{IMetadataStore} and its embedded implementation
L{LocalMetadataStore}, the rules for topic names and replica assignment, and
C{meta.properties}.
"""

from odradek.broker.metadata.errors import MetadataStoreError
from odradek.broker.metadata.interfaces import IMetadataStore
from odradek.broker.metadata.local import LocalMetadataStore
from odradek.broker.metadata.meta_properties import (
    DEFAULT_NODE_ID,
    MetaProperties,
    ensure_meta_properties,
    generate_cluster_id,
)
from odradek.broker.metadata.model import (
    BrokerConfigChanged,
    BrokerRegistration,
    MetadataChange,
    PartitionsCreated,
    PartitionState,
    PartitionStateChanged,
    TopicConfigChanged,
    TopicCreated,
    TopicDeleted,
    TopicMetadata,
)
from odradek.broker.metadata.topics import (
    INTERNAL_TOPICS,
    assign_replicas,
    validate_assignment,
    validate_topic_name,
)

__all__ = [
    "DEFAULT_NODE_ID",
    "INTERNAL_TOPICS",
    "BrokerConfigChanged",
    "BrokerRegistration",
    "IMetadataStore",
    "LocalMetadataStore",
    "MetaProperties",
    "MetadataChange",
    "MetadataStoreError",
    "PartitionState",
    "PartitionStateChanged",
    "PartitionsCreated",
    "TopicConfigChanged",
    "TopicCreated",
    "TopicDeleted",
    "TopicMetadata",
    "assign_replicas",
    "ensure_meta_properties",
    "generate_cluster_id",
    "validate_assignment",
    "validate_topic_name",
]
