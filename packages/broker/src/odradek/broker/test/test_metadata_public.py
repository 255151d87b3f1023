"""
The public names of L{odradek.broker.metadata} and L{odradek.broker.config}, pinned
so that a change to them is deliberate.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.config
import odradek.broker.metadata


class PublicNamesTests(SynchronousTestCase):
    """
    The packages export exactly the names they document.
    """

    def test_metadata(self) -> None:
        """
        C{odradek.broker.metadata.__all__} lists the store, its values and rules.
        """
        self.assertEqual(
            sorted(odradek.broker.metadata.__all__),
            [
                "BrokerConfigChanged",
                "BrokerRegistration",
                "DEFAULT_NODE_ID",
                "IMetadataStore",
                "INTERNAL_TOPICS",
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
            ],
        )
        for name in odradek.broker.metadata.__all__:
            self.assertTrue(hasattr(odradek.broker.metadata, name), name)

    def test_config(self) -> None:
        """
        C{odradek.broker.config.__all__} lists the configuration's names.
        """
        self.assertEqual(
            sorted(odradek.broker.config.__all__),
            [
                "BROKER_CONFIGS",
                "ConfigError",
                "ConfigKey",
                "Endpoint",
                "Importance",
                "KafkaConfig",
                "SecurityProtocol",
                "load_properties",
            ],
        )
        for name in odradek.broker.config.__all__:
            self.assertTrue(hasattr(odradek.broker.config, name), name)
