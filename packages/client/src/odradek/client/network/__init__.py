"""
The client's network layer on Twisted: connections to brokers with request/response
correlation, the pool of connections per node, and the metadata of the cluster.
"""

from odradek.client.network.address import parse_bootstrap_servers
from odradek.client.network.cluster import ClusterMetadata, Node, PartitionInfo
from odradek.client.network.connection import KafkaConnection
from odradek.client.network.metadata import MetadataManager
from odradek.client.network.pool import ConnectionPool
from odradek.client.network.requests import CLIENT_MAX_VERSIONS, PartitionProduceResult

__all__ = [
    "CLIENT_MAX_VERSIONS",
    "ClusterMetadata",
    "ConnectionPool",
    "KafkaConnection",
    "MetadataManager",
    "Node",
    "PartitionInfo",
    "PartitionProduceResult",
    "parse_bootstrap_servers",
]
