"""
Fixtures of the tests of L{odradek.admin.cli.topics}: hand-built brokers,
partitions and configs, and a fake admin client answering from memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from odradek.client.admin import (
    ClusterDescription,
    Config,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    CreatedTopic,
    ItemResults,
    NewPartitions,
    NewTopic,
    TopicDescription,
    TopicListing,
    TopicPartitionInfo,
)
from odradek.client.network.cluster import Node

BOOTSTRAP = ["--bootstrap-server", "localhost:9092"]
TOPIC_ID = uuid.UUID("e430d613-c0cc-4ac6-997e-6ddb8c310fca")


def node(node_id: int) -> Node:
    """@return: a broker with id C{node_id}."""
    return Node(node_id, "localhost", 9092 + node_id)


def partition(
    index: int, leader: int | None, replicas: Iterable[int], isr: Iterable[int]
) -> TopicPartitionInfo:
    """@return: a partition with these broker ids."""
    return TopicPartitionInfo(
        index,
        None if leader is None else node(leader),
        tuple(node(b) for b in replicas),
        tuple(node(b) for b in isr),
    )


def config(**values: str) -> Config:
    """@return: a topic config: each value set on the topic, plus two defaults."""
    entries = {
        "cleanup.policy": ConfigEntry(
            "cleanup.policy", "delete", ConfigSource.DEFAULT_CONFIG, is_default=True
        ),
        "min.insync.replicas": ConfigEntry(
            "min.insync.replicas", "2", ConfigSource.DEFAULT_CONFIG, is_default=True
        ),
    }
    for key, value in values.items():
        name = key.replace("_", ".")
        entries[name] = ConfigEntry(name, value, ConfigSource.DYNAMIC_TOPIC_CONFIG)
    return Config(entries)


class FakeAdmin:
    """
    The admin calls of C{odradek-topics}, answered from memory.

    @ivar topics: each topic's description.
    @ivar configs: each topic's config.
    @ivar calls: the calls made, by name, with their main argument.
    @ivar errors: the error to answer each topic's creation or growth with.
    """

    def __init__(self) -> None:
        self.topics: dict[str, TopicDescription] = {}
        self.configs: dict[str, Config] = {}
        self.internal: set[str] = set()
        self.calls: list[tuple[str, Any]] = []
        self.errors: dict[str, BaseException] = {}
        self.live = (node(1), node(2))

    def add(self, name: str, *partitions: TopicPartitionInfo, **values: str) -> None:
        """Add a topic."""
        self.topics[name] = TopicDescription(name, TOPIC_ID, False, partitions)
        self.configs[name] = config(**values)

    def list_topics(
        self, list_internal: bool = False, timeout: float | None = None
    ) -> dict[str, TopicListing]:
        self.calls.append(("list_topics", list_internal))
        return {
            name: TopicListing(name, TOPIC_ID, name in self.internal)
            for name in self.topics
            if list_internal or name not in self.internal
        }

    def describe_topics(
        self, names: Iterable[str], timeout: float | None = None
    ) -> ItemResults[str, TopicDescription]:
        names = list(names)
        self.calls.append(("describe_topics", names))
        return ItemResults.of(names, {name: self.topics[name] for name in names})

    def describe_configs(
        self, resources: Iterable[ConfigResource], timeout: float | None = None
    ) -> ItemResults[ConfigResource, Config]:
        resources = list(resources)
        return ItemResults.of(resources, {r: self.configs[r.name] for r in resources})

    def describe_cluster(self, timeout: float | None = None) -> ClusterDescription:
        return ClusterDescription("cluster", self.live[0], self.live)

    def create_topics(
        self, new_topics: Iterable[NewTopic], timeout: float | None = None
    ) -> ItemResults[str, CreatedTopic]:
        new = list(new_topics)
        self.calls.append(("create_topics", new))
        outcomes: dict[str, CreatedTopic | BaseException] = {
            t.name: self.errors.get(t.name) or CreatedTopic(t.name, TOPIC_ID, 1, 1)
            for t in new
        }
        return ItemResults.of([t.name for t in new], outcomes)

    def create_partitions(
        self, new: Mapping[str, NewPartitions], timeout: float | None = None
    ) -> ItemResults[str, None]:
        self.calls.append(("create_partitions", dict(new)))
        return ItemResults.of(new, {n: self.errors.get(n) for n in new})

    def delete_topics(
        self, names: Iterable[str], timeout: float | None = None
    ) -> ItemResults[str, None]:
        names = list(names)
        self.calls.append(("delete_topics", names))
        return ItemResults.of(names, dict.fromkeys(names))
