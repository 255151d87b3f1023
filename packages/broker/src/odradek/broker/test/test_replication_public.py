"""
The public names of L{odradek.broker.replication}, pinned so that a change to them is
deliberate.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.replication


class ReplicationPublicNamesTests(SynchronousTestCase):
    """
    The replication package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        The package exports exactly these names, each defined.
        """
        names = [
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
        self.assertEqual(sorted(odradek.broker.replication.__all__), sorted(names))
        for name in names:
            self.assertTrue(hasattr(odradek.broker.replication, name), name)
