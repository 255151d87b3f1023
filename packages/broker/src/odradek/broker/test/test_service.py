"""
Tests for L{odradek.broker.service}: the broker assembled on a C{MemoryReactorClock},
its start (listeners bound, periodic log work scheduled), its graceful stop (ports
closed, requests in progress answered, then the replica manager, the log manager and
the metadata store, each awaited), and a restart that finds everything again.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from typing import Any, cast

from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.logger import ILogObserver, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry
from odradek.broker.config import KafkaConfig
from odradek.broker.log import CLEAN_SHUTDOWN_FILE, TopicPartition
from odradek.broker.metadata import (
    BrokerRegistration,
    LocalMetadataStore,
    ensure_meta_properties,
)
from odradek.broker.service import SHUTDOWN_GRACE_SECONDS, BrokerService
from odradek.broker.test._brokertools import fetch_request, produce_request
from odradek.broker.test._controltools import build
from odradek.broker.test._logtools import START_MS, make_batch
from odradek.broker.test._servertools import read_frames, request_frame, responses
from odradek.client.protocol import decode_response

CREATE_TOPICS, FETCH, PRODUCE, LIST_OFFSETS = 19, 1, 0, 2
TP = TopicPartition("orders", 0)


class Broker:
    """
    A broker assembled in a test's temporary directory on a C{MemoryReactorClock},
    with the log events of the test.

    @ivar reactor: the reactor.
    @ivar service: the broker.
    @ivar events: every log event emitted while the test runs.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        properties: Mapping[str, str] | None = None,
        *,
        log_dir: str | None = None,
    ) -> None:
        self.case = case
        self.log_dir = log_dir or os.path.abspath(case.mktemp())
        self.config = KafkaConfig.from_properties(
            {
                "node.id": "1",
                "log.dirs": self.log_dir,
                "listeners": "PLAINTEXT://127.0.0.1:9092,REPLICATION://127.0.0.1:9093",
                "listener.security.protocol.map": (
                    "PLAINTEXT:PLAINTEXT,REPLICATION:PLAINTEXT"
                ),
                **(properties or {}),
            }
        )
        self.reactor = MemoryReactorClock()
        self.reactor.advance(START_MS / 1000)
        meta = ensure_meta_properties((self.log_dir,), 1)
        assert meta.cluster_id is not None
        self.metadata = LocalMetadataStore.open(
            self.log_dir,
            cluster_id=meta.cluster_id,
            broker=BrokerRegistration(1, self.config.advertised_endpoints("localhost")),
        )
        self.service = BrokerService.assemble(
            self.config,
            self.metadata,
            node_id=1,
            log_dirs=(self.log_dir,),
            reactor=self.reactor,
        )
        self.events: list[dict[str, Any]] = []
        observer = cast(ILogObserver, self.events.append)
        globalLogPublisher.addObserver(observer)
        case.addCleanup(globalLogPublisher.removeObserver, observer)

    def child(self, name: str) -> Any:
        """
        @return: the child service of that name.
        """
        return self.service.getServiceNamed(name)

    def messages(
        self,
        namespace: str | tuple[str, ...] = (
            "odradek.broker.service",
            "odradek.broker._log_service",
        ),
    ) -> list[str]:
        """
        @return: the format strings logged by the services, in order.
        """
        return [
            event["log_format"]
            for event in self.events
            if event.get("log_namespace", "").startswith(namespace)
        ]

    def connect(self, listener: int = 0) -> tuple[Any, StringTransport]:
        """
        @return: a new client connection to a listener, and its transport.
        """
        factory: Any = self.reactor.tcpServers[listener][1]
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 40000))
        transport = StringTransport(
            IPv4Address("TCP", "127.0.0.1", 9092 + listener),
            IPv4Address("TCP", "127.0.0.1", 40000),
        )
        protocol.makeConnection(transport)
        return protocol, transport

    def send(self, request: Any) -> Any:
        """
        Send a request that is answered at once on a new connection.

        @return: the decoded response.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(request_frame(request))
        kind = type(request)
        [(_, response)] = responses(
            transport.value(), (kind.__api_key__, kind.__version__)
        )
        protocol.connectionLost()
        return response

    def create_topic(self, name: str = "orders") -> None:
        """
        Create a topic with CreateTopics.
        """
        request = build(
            CREATE_TOPICS,
            7,
            topics=[{"name": name, "num_partitions": 1, "replication_factor": 1}],
        )
        [result] = self.send(request).topics
        assert result.error_code == 0, result


class StopTests(SynchronousTestCase):
    """
    Stopping the broker stops its parts one at a time, the group coordinator and
    the listeners first and the metadata store last, losing nothing.
    """

    def test_order(self) -> None:
        """
        Each part stops after the one before it has; every log is flushed with its
        checkpoints and the clean shutdown marker, and no timer is left.
        """
        broker = Broker(self)
        broker.service.startService()
        broker.create_topic()
        self.successResultOf(broker.service.stopService())
        self.assertEqual(
            [m for m in broker.messages() if m.startswith(("Stopp", "Flushed"))],
            [
                "Stopping {service}",
                "Stopped {service}",
                "Stopping {service}",
                "Stopped accepting connections; finishing the requests in progress "
                "on {connections} connections",
                "Stopped {service}",
                "Stopping {service}",
                "Stopped {service}",
                "Stopping {service}",
                "Flushed and closed {count} partition logs; checkpoints and clean "
                "shutdown markers written",
                "Stopped {service}",
                "Stopping the metadata store",
            ],
        )
        stopped = [
            e["service"]
            for e in broker.events
            if e.get("log_format") == "Stopped {service}"
        ]
        self.assertEqual(
            stopped,
            ["group-coordinator", "listeners", "replica-manager", "log-manager"],
        )
        self.assertTrue(
            os.path.exists(os.path.join(broker.log_dir, CLEAN_SHUTDOWN_FILE))
        )
        self.assertEqual(broker.reactor.getDelayedCalls(), [])
        self.assertFalse(broker.service.running)

    def test_request_in_progress(self) -> None:
        """
        A request waiting when the broker stops is answered before its connection
        closes, and only then do the replica and log managers stop.
        """
        broker = Broker(self)
        broker.service.startService()
        broker.create_topic()
        protocol, transport = broker.connect()
        protocol.dataReceived(
            request_frame(fetch_request(12, [(TP, 0)], max_wait_ms=500, min_bytes=1))
        )
        self.assertEqual(transport.value(), b"")
        stopping = broker.service.stopService()
        self.assertNoResult(stopping)
        self.assertTrue(broker.child("replica-manager").running)
        broker.reactor.advance(0.5)
        [frame] = read_frames(transport.value())
        _, response = cast(Any, decode_response(frame, FETCH, 12))
        self.assertEqual(response.responses[0].partitions[0].error_code, 0)
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost()
        self.successResultOf(stopping)
        self.assertFalse(broker.child("replica-manager").running)

    def test_stuck_connection(self) -> None:
        """
        A connection whose request does not finish within the grace period is
        aborted, and the stop goes on.
        """
        broker = Broker(self)
        broker.service.startService()
        broker.create_topic()
        protocol, transport = broker.connect()
        protocol.dataReceived(
            request_frame(fetch_request(12, [(TP, 0)], max_wait_ms=120_000))
        )
        stopping = broker.service.stopService()
        broker.reactor.advance(SHUTDOWN_GRACE_SECONDS - 1)
        self.assertNoResult(stopping)
        broker.reactor.advance(1)
        self.assertTrue(transport.disconnected)
        protocol.connectionLost()
        self.successResultOf(stopping)
        self.assertIn(
            "Aborting {connections} connections whose requests did not finish "
            "within {seconds} s",
            broker.messages(),
        )
        self.assertEqual(broker.reactor.getDelayedCalls(), [])

    def test_restart(self) -> None:
        """
        After a stop, a broker on the same log directory has the topic and its
        records, and found the clean shutdown marker.
        """
        broker = Broker(self)
        broker.service.startService()
        broker.create_topic()
        [topic] = broker.send(
            produce_request(9, [(TP, make_batch(3))], acks=-1)
        ).responses
        self.assertEqual(topic.partition_responses[0].error_code, 0)
        self.successResultOf(broker.service.stopService())

        again = Broker(self, log_dir=broker.log_dir)
        again.service.startService()
        manager = again.child("log-manager").log_manager
        self.assertEqual(manager.had_clean_shutdown, {broker.log_dir: True})
        log = manager.get_log(TP)
        assert log is not None
        self.assertEqual(log.log_end_offset, 3)
        self.assertEqual(list(again.metadata.topics()), ["orders"])
        self.successResultOf(again.service.stopService())


class DynamicDefaultsTests(SynchronousTestCase):
    """
    Dynamic broker configs reach the logs.
    """

    def test_applied(self) -> None:
        """
        A cluster-wide C{log.retention.ms} becomes the default of every log, and
        a topic's override still wins.
        """
        broker = Broker(self)
        broker.service.startService()
        broker.create_topic("plain")
        broker.create_topic("special")
        self.successResultOf(
            broker.metadata.alter_topic_config("special", {"retention.ms": "5"})
        )
        self.successResultOf(
            broker.metadata.alter_broker_config(None, {"log.retention.ms": "1000"})
        )
        manager = broker.child("log-manager").log_manager
        self.assertEqual(manager.default_config.retention_ms, 1000)
        plain = manager.get_log(TopicPartition("plain", 0))
        special = manager.get_log(TopicPartition("special", 0))
        assert plain is not None and special is not None
        self.assertEqual(
            (plain.config.retention_ms, special.config.retention_ms), (1000, 5)
        )
        self.successResultOf(broker.service.stopService())

    def test_at_start(self) -> None:
        """
        Dynamic configs stored before the start are the log manager's defaults
        from the start.
        """
        first = Broker(self)
        self.successResultOf(
            first.metadata.alter_broker_config(1, {"log.segment.bytes": "2097152"})
        )
        again = Broker(self, log_dir=first.log_dir)
        manager = again.child("log-manager").log_manager
        self.assertEqual(manager.default_config.segment_bytes, 2097152)


class RegistryTests(SynchronousTestCase):
    """
    The assembled broker serves the data, control plane and group APIs.
    """

    def test_apis(self) -> None:
        """
        The listeners' registry has the data, control plane and group APIs.
        """
        broker = Broker(self)
        broker.service.startService()
        factory: Any = broker.reactor.tcpServers[0][1]
        registry: HandlerRegistry = factory.registry
        self.assertEqual(
            sorted(int(entry.api_key) for entry in registry),
            [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 21, 22,
             29, 30, 31, 32, 33, 35, 37, 42, 43, 44, 47, 60],
        )  # fmt: skip
        self.successResultOf(broker.service.stopService())


def served(broker: Broker, request: Any) -> Any:
    """
    Send a request that may wait for timers of the group coordinator (a rebalance
    completes on the next tick when C{group.initial.rebalance.delay.ms} is 0).

    @return: the decoded response.
    """
    protocol, transport = broker.connect()
    protocol.dataReceived(request_frame(request))
    broker.reactor.advance(0)
    broker.reactor.advance(0)
    kind = type(request)
    [(_, response)] = responses(transport.value(), (kind.__api_key__, kind.__version__))
    protocol.connectionLost()
    return response


class GroupTests(SynchronousTestCase):
    """
    The assembled broker runs consumer groups, their offsets kept in
    C{__consumer_offsets} across a restart.
    """

    properties = {
        "offsets.topic.num.partitions": "2",
        "offsets.topic.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
    }

    def test_group_and_restart(self) -> None:
        """
        FindCoordinator creates C{__consumer_offsets} and names this broker; a
        member joins, syncs and commits; after a restart the commit is fetched.
        """
        broker = Broker(self, self.properties)
        broker.service.startService()
        found = served(broker, build(10, 3, key="billing"))
        self.assertEqual((found.error_code, found.node_id), (0, 1))
        broker.create_topic()
        join = {
            "group_id": "billing",
            "session_timeout": datetime.timedelta(seconds=10),
            "rebalance_timeout": datetime.timedelta(seconds=10),
            "member_id": "",
            "protocol_type": "consumer",
            "protocols": [{"name": "range", "metadata": b"sub"}],
        }
        required = served(broker, build(11, 5, **join))
        joined = served(
            broker, build(11, 5, **{**join, "member_id": required.member_id})
        )
        self.assertEqual((joined.error_code, joined.generation_id), (0, 1))
        member = joined.member_id
        synced = served(
            broker,
            build(14, 3, group_id="billing", generation_id=1, member_id=member,
                  assignments=[{"member_id": member, "assignment": b"asg"}]),
        )  # fmt: skip
        self.assertEqual((synced.error_code, synced.assignment), (0, b"asg"))
        committed = served(
            broker,
            build(8, 8, group_id="billing", generation_id_or_member_epoch=1,
                  member_id=member, topics=[{"name": "orders", "partitions": [
                      {"partition_index": 0, "committed_offset": 42,
                       "committed_metadata": "m"}]}]),
        )  # fmt: skip
        self.assertEqual(committed.topics[0].partitions[0].error_code, 0)
        self.successResultOf(broker.service.stopService())
        again = Broker(self, self.properties, log_dir=broker.log_dir)
        again.service.startService()
        fetched = served(again, build(9, 6, group_id="billing", topics=None))
        [topic] = fetched.topics
        self.assertEqual(
            [(p.partition_index, p.committed_offset, p.metadata)
             for p in topic.partitions],
            [(0, 42, "m")],
        )  # fmt: skip
        self.successResultOf(again.service.stopService())
        self.assertEqual(again.reactor.getDelayedCalls(), [])
