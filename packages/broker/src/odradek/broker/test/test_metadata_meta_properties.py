"""
Tests for L{odradek.broker.metadata.meta_properties} and Kafka-style ids.
"""

from __future__ import annotations

import os
import re
import uuid

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import load_properties
from odradek.broker.metadata import MetadataStoreError
from odradek.broker.metadata.meta_properties import (
    DEFAULT_NODE_ID,
    META_PROPERTIES,
    MetaProperties,
    ensure_meta_properties,
    generate_cluster_id,
    read_meta_properties,
    write_meta_properties,
)
from odradek.broker.metadata.model import (
    kafka_uuid_from_string,
    kafka_uuid_string,
)

_CLUSTER_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{21}")


class KafkaUuidTests(SynchronousTestCase):
    """
    Ids are written as Kafka writes them.
    """

    def test_round_trip(self) -> None:
        """
        An id survives being written and read back.
        """
        value = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
        text = kafka_uuid_string(value)
        self.assertEqual(text, "Dx4tPEtaaXiHlqW0w9Lh8A")
        self.assertEqual(kafka_uuid_from_string(text), value)

    def test_bad_strings(self) -> None:
        """
        Strings that are not 22 characters of base64 are refused.
        """
        for text in ["", "short", "Dx4tPEtaaXiHlqW0w9Lh8A=", "Dx4tPEtaaXiHlqW0w9Lh8!"]:
            self.assertRaises(ValueError, kafka_uuid_from_string, text)

    def test_generate_cluster_id(self) -> None:
        """
        A new cluster id is 22 characters of URL-safe base64 not starting with C{-}.
        """
        ids = {generate_cluster_id() for _ in range(50)}
        self.assertEqual(len(ids), 50)
        for cluster_id in ids:
            self.assertTrue(_CLUSTER_ID.fullmatch(cluster_id), cluster_id)


class ReadWriteTests(SynchronousTestCase):
    """
    C{meta.properties} is read in both of Kafka's versions and written in version 1.
    """

    def setUp(self) -> None:
        self.directory = self.mktemp()
        os.makedirs(self.directory)
        self.path = os.path.join(self.directory, META_PROPERTIES)

    def write(self, text: str) -> None:
        with open(self.path, "w") as stream:
            stream.write(text)

    def test_missing(self) -> None:
        """
        A directory without the file has none.
        """
        self.assertIsNone(read_meta_properties(self.directory))

    def test_write(self) -> None:
        """
        The file holds version 1 with C{cluster.id} and C{node.id}.
        """
        write_meta_properties(self.directory, MetaProperties(1, "abc", 3))
        with open(self.path) as stream:
            properties = load_properties(stream.read())
        self.assertEqual(
            properties, {"version": "1", "cluster.id": "abc", "node.id": "3"}
        )
        self.assertEqual(
            read_meta_properties(self.directory), MetaProperties(1, "abc", 3)
        )
        self.assertFalse(os.path.exists(self.path + ".tmp"))

    def test_version_0(self) -> None:
        """
        Version 0 has C{broker.id}, and either id may be missing.
        """
        self.write("#\nversion=0\nbroker.id=5\ncluster.id=xyz\n")
        self.assertEqual(
            read_meta_properties(self.directory), MetaProperties(0, "xyz", 5)
        )
        self.write("version=0\n")
        self.assertEqual(
            read_meta_properties(self.directory), MetaProperties(0, None, None)
        )

    def test_bad_files(self) -> None:
        """
        Unreadable contents raise L{MetadataStoreError} naming the file.
        """
        for text in [
            "version=2\nnode.id=1\ncluster.id=x\n",
            "version=1\nnode.id=1\n",
            "version=1\nnode.id=one\ncluster.id=x\n",
            "version=x\n",
        ]:
            self.write(text)
            error = self.assertRaises(
                MetadataStoreError, read_meta_properties, self.directory
            )
            self.assertIn(self.path, str(error))


class EnsureMetaPropertiesTests(SynchronousTestCase):
    """
    L{ensure_meta_properties} ties log directories to one cluster and one broker.
    """

    def setUp(self) -> None:
        base = self.mktemp()
        self.dirs = [os.path.join(base, "one"), os.path.join(base, "two")]

    def test_first_start(self) -> None:
        """
        New directories are created and get a new cluster id and the default node
        id.
        """
        meta = ensure_meta_properties(self.dirs, -1, new_cluster_id=lambda: "new")
        self.assertEqual(meta, MetaProperties(1, "new", DEFAULT_NODE_ID))
        for directory in self.dirs:
            self.assertEqual(read_meta_properties(directory), meta)

    def test_configured_node_id(self) -> None:
        """
        A configured node id is written.
        """
        meta = ensure_meta_properties(self.dirs, 7, new_cluster_id=lambda: "new")
        self.assertEqual(meta.node_id, 7)

    def test_restart(self) -> None:
        """
        On a later start the stored ids are kept, with or without a configured id.
        """
        first = ensure_meta_properties(self.dirs, 4)
        self.assertEqual(ensure_meta_properties(self.dirs, -1), first)
        self.assertEqual(ensure_meta_properties(self.dirs, 4), first)

    def test_new_directory_joins(self) -> None:
        """
        A directory added to C{log.dirs} gets the others' ids.
        """
        first = ensure_meta_properties(self.dirs[:1], 2)
        self.assertEqual(ensure_meta_properties(self.dirs, -1), first)
        self.assertEqual(read_meta_properties(self.dirs[1]), first)

    def test_version_0_upgraded(self) -> None:
        """
        A version 0 file without a cluster id keeps its broker id and gains the
        cluster id.
        """
        os.makedirs(self.dirs[0])
        with open(os.path.join(self.dirs[0], META_PROPERTIES), "w") as stream:
            stream.write("version=0\nbroker.id=9\n")
        meta = ensure_meta_properties(self.dirs[:1], -1, new_cluster_id=lambda: "c")
        self.assertEqual(meta, MetaProperties(1, "c", 9))
        self.assertEqual(read_meta_properties(self.dirs[0]), meta)

    def test_node_id_mismatch(self) -> None:
        """
        A configured node id other than the stored one is refused, naming the
        directory and both ids.
        """
        ensure_meta_properties(self.dirs, 1)
        error = self.assertRaises(
            MetadataStoreError, ensure_meta_properties, self.dirs, 2
        )
        self.assertIn(f"log directory {self.dirs[0]} belongs to node.id 1", str(error))
        self.assertIn("the configuration has node.id 2", str(error))

    def test_directories_disagree(self) -> None:
        """
        Directories of different clusters or brokers are refused, naming both.
        """
        write_meta_properties(self.make(0), MetaProperties(1, "A", 1))
        write_meta_properties(self.make(1), MetaProperties(1, "B", 1))
        error = self.assertRaises(
            MetadataStoreError, ensure_meta_properties, self.dirs, 1
        )
        self.assertIn(
            f"log directory {self.dirs[1]} belongs to cluster.id B", str(error)
        )
        self.assertIn(
            f"log directory {self.dirs[0]} belongs to cluster.id A", str(error)
        )
        write_meta_properties(self.dirs[1], MetaProperties(1, "A", 2))
        error = self.assertRaises(
            MetadataStoreError, ensure_meta_properties, self.dirs, -1
        )
        self.assertIn("node.id 2", str(error))

    def make(self, index: int) -> str:
        os.makedirs(self.dirs[index])
        return self.dirs[index]
