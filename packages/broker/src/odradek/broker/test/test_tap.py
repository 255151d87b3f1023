"""
Tests for L{odradek.broker.tap}, L{odradek.broker.service} and the twistd plugin.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from twisted.application.service import IServiceMaker, Service
from twisted.internet.defer import Deferred, succeed
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker import tap
from odradek.broker.config import KafkaConfig
from odradek.broker.metadata import LocalMetadataStore
from odradek.broker.metadata.meta_properties import read_meta_properties
from odradek.broker.service import BrokerService


def _options(*argv: str) -> tap.Options:
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """
    L{tap.Options} takes a configuration file and overrides.
    """

    def test_config(self) -> None:
        """
        C{--config} (or C{-c}) names the file.
        """
        self.assertEqual(_options("--config", "a.properties")["config"], "a.properties")
        self.assertEqual(_options("-c", "b.properties")["config"], "b.properties")

    def test_config_required(self) -> None:
        """
        Without C{--config}, parsing fails with a usage error saying so.
        """
        error = self.assertRaises(usage.UsageError, _options)
        self.assertIn("--config is required", str(error))

    def test_overrides(self) -> None:
        """
        C{--override KEY=VALUE} may be repeated; later ones win, and a value may
        contain C{=}.
        """
        options = _options(
            "--config",
            "x",
            "--override",
            "num.partitions=2",
            "--override",
            "log.dirs=a=b",
            "--override",
            "num.partitions=3",
        )
        self.assertEqual(
            options["overrides"], {"num.partitions": "3", "log.dirs": "a=b"}
        )

    def test_bad_override(self) -> None:
        """
        An override without C{=} or without a key is a usage error.
        """
        for value in ("num.partitions", "=3"):
            self.assertRaises(
                usage.UsageError, _options, "--config", "x", "--override", value
            )


class MakeServiceTests(SynchronousTestCase):
    """
    L{tap.makeService} builds the broker, or stops twistd with one clear line.
    """

    def setUp(self) -> None:
        self.base = os.path.abspath(self.mktemp())
        os.makedirs(self.base)
        self.logs = os.path.join(self.base, "logs")
        self.path = os.path.join(self.base, "server.properties")
        self.write(
            f"node.id=3\nlisteners=PLAINTEXT://localhost:9092\nlog.dirs={self.logs}\n"
        )

    def write(self, text: str) -> None:
        with open(self.path, "w", encoding="utf-8") as stream:
            stream.write(text)

    def make(self, *argv: str) -> BrokerService:
        return tap.makeService(_options("--config", self.path, *argv))

    def exit_message(self, *argv: str) -> str:
        error = self.assertRaises(SystemExit, self.make, *argv)
        message = error.code
        assert isinstance(message, str)
        self.assertNotIn("\n", message)
        return message

    def test_builds_broker(self) -> None:
        """
        A valid configuration gives a L{BrokerService} with the embedded store in
        the first log directory, and C{meta.properties} written.
        """
        service = self.make("--override", "num.partitions=4")
        self.assertIsInstance(service, BrokerService)
        self.assertIsInstance(service.config, KafkaConfig)
        self.assertEqual(service.config.num_partitions, 4)
        self.assertEqual(service.node_id, 3)
        self.assertEqual(service.log_dirs, (self.logs,))
        self.assertIsInstance(service.metadata, LocalMetadataStore)
        [broker] = service.metadata.brokers().values()
        self.assertEqual(broker.broker_id, 3)
        self.assertEqual(
            [str(e) for e in broker.endpoints], ["PLAINTEXT://localhost:9092"]
        )
        meta = read_meta_properties(self.logs)
        assert meta is not None
        self.assertEqual(meta.node_id, 3)
        self.assertEqual(meta.cluster_id, service.metadata.cluster_id)
        self.assertTrue(
            os.path.exists(os.path.join(self.logs, LocalMetadataStore.FILE_NAME))
        )

    def test_relative_log_dirs(self) -> None:
        """
        A relative log directory is relative to the working directory.
        """
        self.write("log.dirs=relative/logs\nlisteners=PLAINTEXT://localhost:9092\n")
        service = self.make()
        self.assertEqual(service.log_dirs, (os.path.abspath("relative/logs"),))
        self.assertTrue(os.path.isdir("relative/logs"))

    def test_same_cluster_on_restart(self) -> None:
        """
        A second start finds the first one's cluster id and topics.
        """
        first = self.make()
        self.successResultOf(first.metadata.create_topic("t", [[3]]))
        second = self.make()
        self.assertEqual(second.metadata.cluster_id, first.metadata.cluster_id)
        self.assertEqual(list(second.metadata.topics()), ["t"])

    def test_default_host(self) -> None:
        """
        An endpoint without a host is advertised under the machine's fully
        qualified name, as Kafka does.
        """
        self.patch(socket, "getfqdn", lambda: "broker.example")
        service = self.make("--override", "listeners=PLAINTEXT://:9092")
        [broker] = service.metadata.brokers().values()
        self.assertEqual(
            [str(e) for e in broker.endpoints], ["PLAINTEXT://broker.example:9092"]
        )

    def test_bad_value(self) -> None:
        """
        A bad value in the file stops twistd with a line naming the file, the key
        and the value.
        """
        self.write(f"log.dirs={self.logs}\nlog.segment.bytes=abc\n")
        self.assertEqual(
            self.exit_message(),
            f"odradek: {self.path}: Invalid value abc for configuration "
            f"log.segment.bytes: Not a number of type INT",
        )

    def test_bad_override_value(self) -> None:
        """
        A bad value given with C{--override} is reported as such.
        """
        self.assertEqual(
            self.exit_message("--override", "num.partitions=0"),
            "odradek: --override: Invalid value 0 for configuration num.partitions: "
            "Value must be at least 1",
        )

    def test_missing_file(self) -> None:
        """
        A configuration file that cannot be read stops twistd, naming it.
        """
        os.remove(self.path)
        self.assertEqual(
            self.exit_message(),
            f"odradek: {self.path}: cannot read the file: No such file or directory",
        )

    def test_not_utf8(self) -> None:
        """
        A file that is not UTF-8 stops twistd, naming it.
        """
        with open(self.path, "wb") as stream:
            stream.write(b"a=\xff\n")
        self.assertIn("is not UTF-8 text", self.exit_message())

    def test_zookeeper(self) -> None:
        """
        C{zookeeper.connect} is refused until cluster mode exists.
        """
        message = self.exit_message("--override", "zookeeper.connect=zk:2181")
        self.assertIn("zookeeper.connect is zk:2181", message)

    def test_other_broker(self) -> None:
        """
        Log directories of another node id stop twistd, naming the directory and
        both ids.
        """
        self.make()
        message = self.exit_message("--override", "node.id=4")
        self.assertIn(f"log directory {self.logs} belongs to node.id 3", message)
        self.assertIn("node.id 4", message)

    def test_corrupt_metadata(self) -> None:
        """
        A corrupt metadata file stops twistd, naming it.
        """
        self.make()
        path = os.path.join(self.logs, LocalMetadataStore.FILE_NAME)
        with open(path, "w") as stream:
            stream.write("{")
        self.assertIn(f"{path} is not a valid", self.exit_message())

    def test_unusable_log_dir(self) -> None:
        """
        A log directory that cannot be created stops twistd with the system's
        reason.
        """
        with open(self.logs, "w") as stream:
            stream.write("a file, not a directory")
        self.assertIn("File exists", self.exit_message())


class _Recorder(Service):
    """
    A child service that records when it starts and stops.
    """

    def __init__(self, record: list[str]) -> None:
        self.record = record

    def startService(self) -> None:
        self.record.append("child started")
        super().startService()

    def stopService(self) -> Deferred[None]:
        self.record.append("child stopped")
        super().stopService()
        return succeed(None)


class _RecordingStore:
    """
    Just enough of a metadata store to see when the service starts and stops it.
    """

    cluster_id = "cluster"
    controller_id = 1

    def __init__(self, record: list[str]) -> None:
        self.record = record

    def start(self) -> Deferred[None]:
        self.record.append("metadata started")
        return succeed(None)

    def stop(self) -> Deferred[None]:
        self.record.append("metadata stopped")
        return succeed(None)


class BrokerServiceTests(SynchronousTestCase):
    """
    L{BrokerService} runs the metadata store around its child services.
    """

    def test_order(self) -> None:
        """
        The store starts before the children and stops after them; stopping fires
        when all have stopped.
        """
        record: list[str] = []
        store: Any = _RecordingStore(record)
        service = BrokerService(
            KafkaConfig.from_properties({}), store, node_id=1, log_dirs=("/x",)
        )
        _Recorder(record).setServiceParent(service)
        service.startService()
        self.assertTrue(service.running)
        self.successResultOf(service.stopService())
        self.assertEqual(
            record,
            ["metadata started", "child started", "child stopped", "metadata stopped"],
        )


class PluginTests(SynchronousTestCase):
    """
    twistd finds the plugin.
    """

    def test_discoverable(self) -> None:
        """
        The C{odradek} service maker is among twistd's plugins and points at the
        tap module.
        """
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        maker = makers["odradek"]
        self.assertEqual(maker.options, tap.Options)
        self.assertEqual(maker.makeService, tap.makeService)
        self.assertIn("Kafka", maker.description)
