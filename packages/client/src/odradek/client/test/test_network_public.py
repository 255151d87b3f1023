"""
The public names of L{odradek.client.network}, pinned so that a change to them is
deliberate.
"""

from twisted.trial.unittest import SynchronousTestCase

import odradek.client.network


class NetworkPublicNamesTests(SynchronousTestCase):
    """
    L{odradek.client.network} exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        C{__all__} lists the package's public names, each importable.
        """
        self.assertEqual(
            sorted(odradek.client.network.__all__),
            [
                "CLIENT_MAX_VERSIONS",
                "ClusterMetadata",
                "ConnectionPool",
                "KafkaConnection",
                "MetadataManager",
                "Node",
                "PartitionInfo",
                "PartitionProduceResult",
                "parse_bootstrap_servers",
            ],
        )
        for name in odradek.client.network.__all__:
            self.assertTrue(hasattr(odradek.client.network, name), name)
