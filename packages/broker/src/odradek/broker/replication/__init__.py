"""
Replication: this broker's partition replicas (L{Partition}), the L{ReplicaManager}
through which request handlers append to and read from them, and the purgatories
where requests wait (L{DelayedFetch}, L{DelayedProduce}).

With one broker every partition is led here, its ISR is this broker alone and the high
watermark follows the log end offset; the same code keeps the high watermark at the
smallest log end offset of the ISR once followers exist.
"""

from odradek.broker.replication.delayed_fetch import DelayedFetch, FetchPartitionStatus
from odradek.broker.replication.delayed_produce import (
    DelayedProduce,
    ProducePartitionStatus,
)
from odradek.broker.replication.manager import ReplicaManager
from odradek.broker.replication.partition import (
    LATEST_TIERED_TIMESTAMP,
    LogOffsetSnapshot,
    LogReadInfo,
    Partition,
)
from odradek.broker.replication.producer_id_manager import (
    PRODUCER_ID_BLOCK_SIZE,
    ProducerIdManager,
)
from odradek.broker.replication.purgatory import (
    DelayedOperation,
    DelayedOperationPurgatory,
)
from odradek.broker.replication.results import (
    CONSUMER_REPLICA_ID,
    DEBUGGING_REPLICA_ID,
    UNKNOWN_OFFSET_METADATA,
    AbortedTransaction,
    AppendOrigin,
    DeleteRecordsResult,
    FetchIsolation,
    FetchParams,
    IsolationLevel,
    LogReadResult,
    PartitionFetchInfo,
    PartitionProduceResult,
)

__all__ = [
    "CONSUMER_REPLICA_ID",
    "DEBUGGING_REPLICA_ID",
    "LATEST_TIERED_TIMESTAMP",
    "PRODUCER_ID_BLOCK_SIZE",
    "UNKNOWN_OFFSET_METADATA",
    "AbortedTransaction",
    "AppendOrigin",
    "DelayedFetch",
    "DelayedOperation",
    "DelayedOperationPurgatory",
    "DelayedProduce",
    "DeleteRecordsResult",
    "FetchIsolation",
    "FetchParams",
    "FetchPartitionStatus",
    "IsolationLevel",
    "LogOffsetSnapshot",
    "LogReadInfo",
    "LogReadResult",
    "Partition",
    "PartitionFetchInfo",
    "PartitionProduceResult",
    "ProducePartitionStatus",
    "ProducerIdManager",
    "ReplicaManager",
]
