"""
A custom partitioner: records keyed ``backtony`` always go to partition 0, every
other key is hashed as the default partitioner would, and a record without a key is
refused.

    python producer_custom_partitioner.py [bootstrap.servers] [topic]
"""

import sys
from collections.abc import Mapping

from zope.interface import implementer

from odradek.client import Producer, ProducerRecord
from odradek.client.errors import InvalidRecordError
from odradek.client.network.cluster import ClusterMetadata
from odradek.client.producer import IPartitioner, murmur2, to_positive


@implementer(IPartitioner)
class CustomPartitioner:
    def partition(
        self,
        topic: str,
        key: object,
        key_bytes: bytes | None,
        value: object,
        value_bytes: bytes | None,
        cluster: ClusterMetadata,
    ) -> int:
        if key_bytes is None:
            raise InvalidRecordError("need message key")
        if key == "backtony":
            return 0
        partitions = cluster.partitions_for_topic(topic)
        return to_positive(murmur2(key_bytes)) % len(partitions)

    def configure(self, configs: Mapping[str, object]) -> None:
        pass

    def close(self) -> None:
        pass


def main(bootstrap: str = "localhost:9092", topic: str = "peter-basic01") -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "key.serializer": "str",
            "value.serializer": "str",
            "partitioner.class": CustomPartitioner,
        }
    )
    try:
        for key in ("backtony", "alice", "bob", "backtony"):
            metadata = producer.send(
                ProducerRecord(topic, f"hello from {key}", key=key)
            ).get(timeout=30)
            print(f"{key} -> {metadata}")
    finally:
        producer.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
