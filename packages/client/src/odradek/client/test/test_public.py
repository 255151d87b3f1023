"""
The public names of L{odradek.client}, pinned so that a change to them is deliberate.
"""

from twisted.trial.unittest import SynchronousTestCase

import odradek.client


class PublicNamesTests(SynchronousTestCase):
    """
    The package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        C{odradek.client.__all__} lists the package's public names.
        """
        self.assertEqual(
            sorted(odradek.client.__all__),
            [
                "AdminClient",
                "AdminClientConfig",
                "CommitFailedError",
                "ConfigError",
                "ConfigResource",
                "ConfigResourceType",
                "Consumer",
                "ConsumerConfig",
                "ConsumerRecord",
                "CooperativeStickyAssignor",
                "DefaultPartitioner",
                "FutureRecordMetadata",
                "IConsumerRebalanceListener",
                "IDeserializer",
                "IPartitionAssignor",
                "IPartitioner",
                "ISerializer",
                "KafkaError",
                "NewPartitions",
                "NewTopic",
                "NoOffsetForPartitionError",
                "OffsetAndMetadata",
                "OffsetAndTimestamp",
                "OffsetSpec",
                "Producer",
                "ProducerConfig",
                "ProducerRecord",
                "RangeAssignor",
                "RebalanceListener",
                "RecordDeserializationError",
                "RecordMetadata",
                "RoundRobinAssignor",
                "RoundRobinPartitioner",
                "SerializationError",
                "StickyAssignor",
                "TopicPartition",
                "TwistedAdminClient",
                "TwistedConsumer",
                "TwistedProducer",
                "UniformStickyPartitioner",
                "WakeupError",
            ],
        )

    def test_no_namespace_init(self) -> None:
        """
        C{odradek} is a PEP 420 namespace package shared by the distributions.
        """
        import odradek

        self.assertFalse(hasattr(odradek, "__file__") and odradek.__file__)
