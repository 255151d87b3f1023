"""
Tests for L{odradek.broker.service}: starting the assembled broker on a
C{MemoryReactorClock} (children in order, listeners bound, periodic log work), and
what happens when it cannot start.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import fail
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker import tap
from odradek.broker.config import ConfigError, KafkaConfig
from odradek.broker.coordinator.group.service import GroupCoordinatorService
from odradek.broker.log import CLEAN_SHUTDOWN_FILE, LogManager
from odradek.broker.metadata import LocalMetadataStore
from odradek.broker.replication import ReplicaManager
from odradek.broker.service import BrokerService, ListenersService, LogManagerService
from odradek.broker.test.test_service import Broker
from odradek.client.errors import KafkaStorageError


class StartTests(SynchronousTestCase):
    """
    Starting the broker starts its parts in order.
    """

    def test_children(self) -> None:
        """
        The broker's children are the log manager, the replica manager, the
        listeners and the group coordinator, in that order (so that the group
        coordinator stops first).
        """
        broker = Broker(self)
        children = list(broker.service)
        self.assertEqual(
            [type(child) for child in children],
            [
                LogManagerService,
                ReplicaManager,
                ListenersService,
                GroupCoordinatorService,
            ],
        )
        self.assertEqual(
            [child.name for child in children],
            ["log-manager", "replica-manager", "listeners", "group-coordinator"],
        )

    def test_listeners_bound(self) -> None:
        """
        Every listener listens on its interface and port, and one line names them
        all.
        """
        broker = Broker(self)
        broker.service.startService()
        self.assertEqual(
            [(port, interface) for port, _, _, interface in broker.reactor.tcpServers],
            [(9092, "127.0.0.1"), (9093, "127.0.0.1")],
        )
        [line] = [
            e
            for e in broker.events
            if e.get("log_format", "").startswith("Odradek broker listening")
        ]
        self.assertEqual(
            line["bound"],
            [
                "PLAINTEXT://127.0.0.1:9092 (0.0.0.0:9092)",
                "REPLICATION://127.0.0.1:9093 (0.0.0.0:9093)",
            ],
        )
        self.successResultOf(broker.service.stopService())

    def test_periodic_work(self) -> None:
        """
        Retention, the two checkpoints and the expiry of committed offsets are
        scheduled with their configured periods; the flush scheduler's default
        period means never.
        """
        broker = Broker(self, {"log.retention.check.interval.ms": "5000"})
        calls: list[str] = []
        for name in (
            "cleanup_logs",
            "flush_dirty_logs",
            "checkpoint_recovery_points",
            "checkpoint_log_start_offsets",
        ):
            self.patch(LogManager, name, lambda manager, name=name: calls.append(name))
        broker.service.startService()
        self.assertEqual(
            sorted(call.getTime() - broker.reactor.seconds()
                   for call in broker.reactor.getDelayedCalls()),
            [5.0, 60.0, 60.0, 600.0],
        )  # fmt: skip
        broker.reactor.pump([5] * 12)
        self.assertEqual(
            sorted(calls),
            ["checkpoint_log_start_offsets", "checkpoint_recovery_points"]
            + ["cleanup_logs"] * 12,
        )

    def test_failing_task(self) -> None:
        """
        A periodic task that fails is logged and runs again at its next period.
        """
        broker = Broker(self, {"log.retention.check.interval.ms": "1000"})
        runs: list[int] = []

        def fail(manager: LogManager) -> None:
            runs.append(1)
            raise OSError("disk on fire")

        self.patch(LogManager, "cleanup_logs", fail)
        broker.service.startService()
        broker.reactor.advance(1)
        broker.reactor.advance(1)
        self.assertEqual(len(runs), 2)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 2)
        self.successResultOf(broker.service.stopService())

    def test_unsupported_listener(self) -> None:
        """
        A listener with a security protocol not served yet stops the assembly with
        a configuration error naming it.
        """
        config = KafkaConfig.from_properties(
            {
                "node.id": "1",
                "listeners": "PLAINTEXT://:9092,SECURE://127.0.0.1:9093",
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SECURE:SSL",
                "log.dirs": "x",
            }
        )
        error = self.assertRaises(
            ConfigError,
            BrokerService.assemble,
            config,
            Broker(self).metadata,
            node_id=1,
            log_dirs=("x",),
            reactor=MemoryReactorClock(),
        )
        self.assertIn("SSL is not supported yet", error.message)

    def test_cannot_listen(self) -> None:
        """
        A listener that cannot listen is logged and stops the reactor, so that
        twistd stops the broker.
        """
        broker = Broker(self)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise CannotListenError("127.0.0.1", 9092, OSError("in use"))

        broker.reactor.listenTCP = refuse  # type: ignore[method-assign]
        broker.reactor.running = True
        broker.service.startService()
        self.assertTrue(broker.reactor.hasStopped)
        self.assertEqual(len(self.flushLoggedErrors(CannotListenError)), 1)
        self.successResultOf(broker.service.stopService())

    def test_recovery_reported(self) -> None:
        """
        The start-up line names the log directories whose logs were recovered after
        an unclean shutdown; a new log directory is not one of them.
        """
        first = Broker(self)
        first.service.startService()
        first.create_topic()
        [loaded] = [e for e in first.events if "unclean_log_dirs" in e]
        self.assertEqual(loaded["unclean_log_dirs"], [])
        # No stop: the next start finds no clean shutdown marker.
        again = Broker(self, log_dir=first.log_dir)
        again.service.startService()
        [loaded] = [e for e in again.events if "unclean_log_dirs" in e]
        self.assertEqual(loaded["unclean_log_dirs"], [first.log_dir])
        self.successResultOf(again.service.stopService())

    def test_metadata_fails(self) -> None:
        """
        If the metadata store cannot start, no child starts, the failure is logged
        and the reactor is stopped.
        """
        broker = Broker(self)
        broker.reactor.running = True
        self.patch(
            LocalMetadataStore, "start", lambda store: fail(OSError("unreachable"))
        )
        broker.service.startService()
        self.assertEqual([child.running for child in broker.service], [0, 0, 0, 0])
        self.assertTrue(broker.reactor.hasStopped)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_logs_fail_to_load(self) -> None:
        """
        If the logs cannot be loaded, the broker stops without shutting the log
        manager down, so no clean shutdown marker claims the logs are consistent.
        """
        broker = Broker(self)
        broker.reactor.running = True

        def broken(manager: LogManager) -> None:
            raise KafkaStorageError("cannot read log dir")

        self.patch(LogManager, "startup", broken)
        broker.service.startService()
        self.assertTrue(broker.reactor.hasStopped)
        self.assertEqual(len(self.flushLoggedErrors(KafkaStorageError)), 1)
        self.successResultOf(broker.service.stopService())
        self.assertFalse(
            os.path.exists(os.path.join(broker.log_dir, CLEAN_SHUTDOWN_FILE))
        )

    def test_tap(self) -> None:
        """
        twistd's C{makeService} assembles the whole broker.
        """
        base = os.path.abspath(self.mktemp())
        os.makedirs(base)
        path = os.path.join(base, "server.properties")
        with open(path, "w") as stream:
            stream.write(f"listeners=PLAINTEXT://localhost:0\nlog.dirs={base}/logs\n")
        options = tap.Options()
        options.parseOptions(["--config", path])
        service = tap.makeService(options)
        self.assertEqual(
            [child.name for child in service],
            ["log-manager", "replica-manager", "listeners", "group-coordinator"],
        )
