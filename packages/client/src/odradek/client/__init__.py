"""
Odradek's client SDK: the producer, the consumer and the admin client, each with a
blocking face and a Twisted face, their configuration, serializers, partitioners
and assignors, on top of the Kafka wire protocol and the record batch format.

Example::

    from odradek.client import Consumer, Producer, ProducerRecord

    producer = Producer({"bootstrap.servers": "localhost:9092"})
    metadata = producer.send(ProducerRecord("orders", value=b"hello")).get(10)
    producer.close()

    consumer = Consumer({"bootstrap.servers": "localhost:9092", "group.id": "g"})
    consumer.subscribe(["orders"])
    records = consumer.poll(1.0)
    consumer.close()
"""

from odradek.client.admin import (
    AdminClient,
    ConfigResource,
    ConfigResourceType,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    TwistedAdminClient,
)
from odradek.client.config import (
    AdminClientConfig,
    ConfigError,
    ConsumerConfig,
    ProducerConfig,
)
from odradek.client.consumer import (
    Consumer,
    CooperativeStickyAssignor,
    IConsumerRebalanceListener,
    IPartitionAssignor,
    RangeAssignor,
    RebalanceListener,
    RecordDeserializationError,
    RoundRobinAssignor,
    StickyAssignor,
    TwistedConsumer,
)
from odradek.client.errors import (
    CommitFailedError,
    KafkaError,
    NoOffsetForPartitionError,
    WakeupError,
)
from odradek.client.producer.future import FutureRecordMetadata
from odradek.client.producer.partitioner import (
    DefaultPartitioner,
    IPartitioner,
    RoundRobinPartitioner,
    UniformStickyPartitioner,
)
from odradek.client.producer.producer import Producer
from odradek.client.producer.twisted_producer import TwistedProducer
from odradek.client.serialization import (
    IDeserializer,
    ISerializer,
    SerializationError,
)
from odradek.client.structs import (
    ConsumerRecord,
    OffsetAndMetadata,
    OffsetAndTimestamp,
    ProducerRecord,
    RecordMetadata,
    TopicPartition,
)

__all__ = [
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
]
