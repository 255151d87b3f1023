"""
The JSON document in which L{LocalMetadataStore
<odradek.broker.metadata.local.LocalMetadataStore>} keeps the cluster's metadata.

Layout (version 1)::

    {"format": "odradek-metadata", "version": 1, "cluster_id": "<22 chars>",
     "topics": [{"name": "orders", "topic_id": "<22 chars>",
                 "configs": {"retention.ms": "60000"},
                 "partitions": [{"replicas": [1], "isr": [1], "leader": 1,
                                 "leader_epoch": 0, "partition_epoch": 0}]}],
     "broker_configs": {"cluster_default": {"key": "value"},
                        "brokers": {"1": {"key": "value"}}}}

Topics are listed by name and keys sorted, so that the file changes only where the
metadata does.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import Any, Final

import attrs

from odradek.broker.metadata.model import (
    PartitionState,
    TopicMetadata,
    kafka_uuid_from_string,
    kafka_uuid_string,
)

__all__ = ["ClusterDocument", "decode", "encode"]

FORMAT: Final = "odradek-metadata"
VERSION: Final = 1


@attrs.frozen
class ClusterDocument:
    """
    Everything the embedded store keeps on disk.

    @ivar cluster_id: the cluster's id.
    @ivar topics: every topic by name.
    @ivar broker_configs: dynamic broker config overrides by broker id, with
        C{None} for the cluster-wide defaults.
    """

    cluster_id: str
    topics: Mapping[str, TopicMetadata]
    broker_configs: Mapping[int | None, Mapping[str, str]]


def frozen_strings(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """
    @param mapping: key to value, both text.
    @return: a read-only copy, in key order.
    """
    return types.MappingProxyType(dict(sorted(mapping.items())))


def encode(document: ClusterDocument) -> bytes:
    """
    @param document: the metadata.
    @return: its JSON text, as UTF-8.
    """
    topics = [
        {
            "name": topic.name,
            "topic_id": kafka_uuid_string(topic.topic_id),
            "configs": dict(topic.configs),
            "partitions": [
                {
                    "replicas": list(state.replicas),
                    "isr": list(state.isr),
                    "leader": state.leader,
                    "leader_epoch": state.leader_epoch,
                    "partition_epoch": state.partition_epoch,
                }
                for state in topic.partitions
            ],
        }
        for _, topic in sorted(document.topics.items())
    ]
    brokers = {
        str(broker_id): dict(configs)
        for broker_id, configs in sorted(
            (item for item in document.broker_configs.items() if item[0] is not None),
            key=lambda item: item[0] or 0,
        )
    }
    value = {
        "format": FORMAT,
        "version": VERSION,
        "cluster_id": document.cluster_id,
        "topics": topics,
        "broker_configs": {
            "cluster_default": dict(document.broker_configs.get(None, {})),
            "brokers": brokers,
        },
    }
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _strings(value: Any, what: str) -> Mapping[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{what} is not an object of strings")
    return frozen_strings(value)


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(type(item) is int for item in value):
        raise ValueError(f"{what} is not a list of integers")
    return tuple(value)


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise ValueError(f"{what} is not an integer")
    return value


def _topic(value: Any) -> TopicMetadata:
    name = value["name"]
    if not isinstance(name, str):
        raise ValueError("a topic name is not a string")
    where = f"topic {name!r}"
    partitions = tuple(
        PartitionState(
            replicas=_ints(p["replicas"], f"{where} replicas"),
            isr=_ints(p["isr"], f"{where} isr"),
            leader=_int(p["leader"], f"{where} leader"),
            leader_epoch=_int(p["leader_epoch"], f"{where} leader_epoch"),
            partition_epoch=_int(p["partition_epoch"], f"{where} partition_epoch"),
        )
        for p in value["partitions"]
    )
    return TopicMetadata(
        name=name,
        topic_id=kafka_uuid_from_string(value["topic_id"]),
        partitions=partitions,
        configs=_strings(value["configs"], f"{where} configs"),
    )


def decode(data: bytes) -> ClusterDocument:
    """
    @param data: what L{encode} wrote.
    @return: the metadata.
    @raise ValueError: saying what is wrong, if C{data} is not such a document.
    """
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not valid JSON ({error})") from None
    try:
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise ValueError(f'no "format": "{FORMAT}" field')
        if value.get("version") != VERSION:
            raise ValueError(f"version {value.get('version')!r} is not {VERSION}")
        cluster_id = value["cluster_id"]
        if not isinstance(cluster_id, str):
            raise ValueError("cluster_id is not a string")
        topics = {topic.name: topic for topic in map(_topic, value["topics"])}
        if len(topics) != len(value["topics"]):
            raise ValueError("a topic is listed twice")
        raw = value["broker_configs"]
        configs: dict[int | None, Mapping[str, str]] = {
            None: _strings(raw["cluster_default"], "cluster_default")
        }
        for broker_id, broker_configs in raw["brokers"].items():
            configs[int(broker_id)] = _strings(broker_configs, f"broker {broker_id}")
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"malformed ({type(error).__name__}: {error})") from None
    return ClusterDocument(cluster_id, types.MappingProxyType(topics), configs)
