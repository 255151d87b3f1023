"""
C{meta.properties}: the file in each log directory that ties it to one cluster and
one broker, in Kafka's format.

Kafka writes two versions: version 0 (ZooKeeper-era brokers) with C{broker.id} and an
optional C{cluster.id}, and version 1 with C{node.id} and C{cluster.id}. Odradek reads
both and writes version 1. A broker refuses to start when its log directories
disagree with each other or with its configured C{node.id}, so that data is never
served under another broker's id or in another cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Final

import attrs

from odradek.broker.config import ConfigError, load_properties
from odradek.broker.metadata._files import atomic_write
from odradek.broker.metadata.errors import MetadataStoreError
from odradek.broker.metadata.model import kafka_uuid_string, random_kafka_uuid

__all__ = [
    "DEFAULT_NODE_ID",
    "META_PROPERTIES",
    "MetaProperties",
    "ensure_meta_properties",
    "generate_cluster_id",
    "read_meta_properties",
    "write_meta_properties",
]

META_PROPERTIES: Final = "meta.properties"
"""The file's name in each log directory."""

DEFAULT_NODE_ID: Final = 1
"""
The node id of a broker whose configuration sets none and whose log directories are
new. (Kafka requires C{node.id} with KRaft, and with ZooKeeper generates ids from
1001; a single broker with the embedded store has nothing to coordinate with, and 1
is the id of Kafka's own single-node sample configuration.)
"""


@attrs.frozen
class MetaProperties:
    """
    The contents of one C{meta.properties}.

    @ivar version: 0 or 1.
    @ivar cluster_id: the cluster's id (optional in version 0).
    @ivar node_id: the broker's id (optional in version 0).
    """

    version: int
    cluster_id: str | None
    node_id: int | None


def generate_cluster_id() -> str:
    """
    @return: a new cluster id as Kafka makes them (C{kafka-storage random-uuid}):
        a random id in URL-safe base64, 22 characters.
    """
    return kafka_uuid_string(random_kafka_uuid())


def _int(path: str, properties: dict[str, str], key: str) -> int | None:
    raw = properties.get(key)
    if raw is None:
        return None
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise MetadataStoreError(f"{path}: {key} is {raw!r}, not a number") from None


def read_meta_properties(directory: str) -> MetaProperties | None:
    """
    @param directory: a log directory.
    @return: its C{meta.properties}, or C{None} if it has none.
    @raise MetadataStoreError: if the file cannot be read or lacks what its version
        requires.
    """
    path = os.path.join(directory, META_PROPERTIES)
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise MetadataStoreError(f"{path} cannot be read: {error}") from error
    try:
        properties = load_properties(text)
    except ConfigError as error:
        raise MetadataStoreError(f"{path}: {error.message}") from error
    version = _int(path, properties, "version")
    if version not in (0, 1):
        raise MetadataStoreError(f"{path}: version {version} is not 0 or 1")
    cluster_id = properties.get("cluster.id")
    node_id = _int(path, properties, "node.id" if version else "broker.id")
    if version == 1 and (cluster_id is None or node_id is None):
        raise MetadataStoreError(f"{path}: version 1 needs cluster.id and node.id")
    return MetaProperties(version, cluster_id, node_id)


def write_meta_properties(directory: str, meta: MetaProperties) -> None:
    """
    Write a directory's C{meta.properties} atomically, as version 1.

    @param directory: a log directory.
    @param meta: what to write; both ids must be known.
    """
    assert meta.cluster_id is not None and meta.node_id is not None
    text = (
        "#\n# Written by Odradek: the cluster and broker of this log directory.\n"
        f"version=1\ncluster.id={meta.cluster_id}\nnode.id={meta.node_id}\n"
    )
    atomic_write(os.path.join(directory, META_PROPERTIES), text.encode("utf-8"))


def _agreed(
    found: Sequence[tuple[str, MetaProperties]],
    field: str,
    name: str,
) -> str | int | None:
    agreed: tuple[str, str | int] | None = None
    for directory, meta in found:
        value = getattr(meta, field)
        if value is None:
            continue
        if agreed is not None and agreed[1] != value:
            raise MetadataStoreError(
                f"log directory {directory} belongs to {name} {value}, but log "
                f"directory {agreed[0]} belongs to {name} {agreed[1]} "
                f"(see {META_PROPERTIES} in each)"
            )
        agreed = (directory, value)
    return None if agreed is None else agreed[1]


def ensure_meta_properties(
    log_dirs: Sequence[str],
    node_id: int,
    *,
    new_cluster_id: Callable[[], str] = generate_cluster_id,
) -> MetaProperties:
    """
    Check the C{meta.properties} of every log directory and write the missing ones,
    creating the directories if needed.

    The stored files must agree with each other, and with C{node_id} if it is
    configured. The cluster id is the stored one, or a new one on first start; the
    node id is the configured one, else the stored one, else L{DEFAULT_NODE_ID}.

    @param log_dirs: the broker's log directories.
    @param node_id: the configured node id, or -1 if none is configured.
    @param new_cluster_id: makes a cluster id when no directory has one.
    @return: the cluster id and node id the broker runs with (version 1).
    @raise MetadataStoreError: naming the directory and both values, if two
        directories disagree or one disagrees with C{node_id}.
    @raise OSError: if a directory cannot be created or written.
    """
    found: list[tuple[str, MetaProperties]] = []
    for directory in log_dirs:
        os.makedirs(directory, exist_ok=True)
        meta = read_meta_properties(directory)
        if meta is not None:
            found.append((directory, meta))
    cluster_id = _agreed(found, "cluster_id", "cluster.id")
    stored_node_id = _agreed(found, "node_id", "node.id")
    if node_id >= 0 and stored_node_id is not None and stored_node_id != node_id:
        directory = next(d for d, meta in found if meta.node_id is not None)
        raise MetadataStoreError(
            f"log directory {directory} belongs to node.id {stored_node_id} (see "
            f"{META_PROPERTIES}), but the configuration has node.id {node_id}; "
            f"configure node.id={stored_node_id}, or empty the log directories to "
            f"start a new broker"
        )
    if node_id < 0:
        node_id = DEFAULT_NODE_ID if stored_node_id is None else int(stored_node_id)
    result = MetaProperties(
        1, new_cluster_id() if cluster_id is None else str(cluster_id), node_id
    )
    stored = dict(found)
    for directory in log_dirs:
        meta = stored.get(directory)
        if meta is None or meta.cluster_id is None or meta.node_id is None:
            write_meta_properties(directory, result)
    return result
