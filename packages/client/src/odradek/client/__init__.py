"""
Odradek's client SDK: the producer (blocking and Twisted faces), its configuration,
serializers and partitioners, on top of the Kafka wire protocol and the record batch
format.

Example::

    from odradek.client import Producer, ProducerRecord

    producer = Producer({"bootstrap.servers": "localhost:9092"})
    metadata = producer.send(ProducerRecord("orders", value=b"hello")).get(10)
    producer.close()
"""

from odradek.client.config import ConfigError, ProducerConfig
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
from odradek.client.structs import ProducerRecord, RecordMetadata, TopicPartition

__all__ = [
    "ConfigError",
    "DefaultPartitioner",
    "FutureRecordMetadata",
    "IDeserializer",
    "IPartitioner",
    "ISerializer",
    "Producer",
    "ProducerConfig",
    "ProducerRecord",
    "RecordMetadata",
    "RoundRobinPartitioner",
    "SerializationError",
    "TopicPartition",
    "TwistedProducer",
    "UniformStickyPartitioner",
]
