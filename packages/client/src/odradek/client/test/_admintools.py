"""
Fakes for the admin client's tests: a cluster of fake brokers (L{AdminCluster})
that answers Metadata from its topics and every other API through handlers a
test sets, an admin core wired to it (L{AdminTestCase}), and L{kio_value}, which
builds any kio request or response entity from the fields a test cares about.
"""

from __future__ import annotations

import dataclasses
import datetime
import sys
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from kio.schema.errors import ErrorCode
from kio.schema.metadata.v12 import response as metadata_v12
from kio.schema.types import BrokerId, TopicName
from kio.static.primitive import i32
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from odradek.client.admin.core import AdminCore
from odradek.client.blocking import ReactorThread
from odradek.client.config import AdminClientConfig
from odradek.client.network.cluster import Node, PartitionInfo
from odradek.client.network.pool import ConnectionPool
from odradek.client.protocol import (
    SUPPORTED_VERSIONS,
    ApiKey,
    FrameDecoder,
    RequestHeader,
    decode_request,
    request_type,
    response_type,
)
from odradek.client.test._networktools import NO_THROTTLE, FakeBroker, FakeNetwork
from odradek.client.test._producertools import FakeReactor

__all__ = [
    "ADMIN_RANGES",
    "B1",
    "B2",
    "B3",
    "BOOT",
    "NODES",
    "AdminCluster",
    "AdminHandler",
    "AdminTestCase",
    "ImmediateReactorThread",
    "entity",
    "holding",
    "kio_value",
    "partitions",
    "reply",
    "use_admin_network",
]

BOOT = ("boot", 9000)
B1 = Node(1, "b1", 9092)
B2 = Node(2, "b2", 9093)
B3 = Node(3, "b3", 9094)
NODES = (B1, B2, B3)

_ADMIN_APIS = (
    ApiKey.LIST_OFFSETS,
    ApiKey.FIND_COORDINATOR,
    ApiKey.DESCRIBE_GROUPS,
    ApiKey.LIST_GROUPS,
    ApiKey.OFFSET_FETCH,
    ApiKey.OFFSET_COMMIT,
    ApiKey.CREATE_TOPICS,
    ApiKey.DELETE_TOPICS,
    ApiKey.DELETE_RECORDS,
    ApiKey.DESCRIBE_ACLS,
    ApiKey.CREATE_ACLS,
    ApiKey.DELETE_ACLS,
    ApiKey.DESCRIBE_CONFIGS,
    ApiKey.ALTER_CONFIGS,
    ApiKey.DESCRIBE_LOG_DIRS,
    ApiKey.CREATE_PARTITIONS,
    ApiKey.DELETE_GROUPS,
    ApiKey.ELECT_LEADERS,
    ApiKey.INCREMENTAL_ALTER_CONFIGS,
    ApiKey.OFFSET_DELETE,
    ApiKey.DESCRIBE_CLUSTER,
)

#: What the fake brokers advertise: every admin API in every version the client
#: supports, and Metadata up to version 12 (the fakes answer in version 12).
ADMIN_RANGES: Mapping[int, tuple[int, int]] = {
    ApiKey.METADATA: (0, 12),
    ApiKey.API_VERSIONS: (0, 4),
    **{
        key: (SUPPORTED_VERSIONS[key].min_version, SUPPORTED_VERSIONS[key].max_version)
        for key in _ADMIN_APIS
    },
}

#: A handler of L{AdminCluster}: given the node id, the request's header and
#: body, the response, or C{None} to leave the request unanswered.
AdminHandler = Callable[[int, RequestHeader, Any], object]


def holding(node_id: int, header: RequestHeader, request: Any) -> object:
    """An L{AdminHandler} that never answers."""
    return None


def partitions(topic: str, leaders: list[int]) -> list[PartitionInfo]:
    """
    @return: the partitions of C{topic}, partition I{i} led by C{leaders[i]} and
        replicated on every node.
    """
    replicas = tuple(node.node_id for node in NODES)
    return [
        PartitionInfo(topic, index, leader, 0, replicas, replicas)
        for index, leader in enumerate(leaders)
    ]


def _default(field: dataclasses.Field[Any]) -> object:
    hints = typing.get_args(field.type)
    if type(None) in hints:
        return None
    kind = field.metadata.get("kafka_type")
    if kind == "error_code":
        return ErrorCode.none
    if kind in ("timedelta_i32", "timedelta_i64"):
        return datetime.timedelta(0)
    if kind == "bool":
        return False
    if kind == "string":
        return ""
    if kind == "uuid":
        return None
    if typing.get_origin(field.type) is tuple:
        return ()
    return 0


def kio_value(cls: Any, **fields: object) -> Any:
    """
    Build a kio entity, giving the fields not named a neutral value (0, C{""},
    C{False}, C{None} when nullable, no error, no throttle, empty arrays), and
    turning ints given for error codes into C{ErrorCode}s and milliseconds into
    timedeltas.

    @param cls: the kio class.
    @return: the entity.
    """
    values: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        kind = field.metadata.get("kafka_type")
        if field.name in fields:
            value = fields.pop(field.name)
            if kind == "error_code" and isinstance(value, int):
                value = ErrorCode(value)
            elif kind in ("timedelta_i32", "timedelta_i64") and isinstance(value, int):
                value = datetime.timedelta(milliseconds=value)
            values[field.name] = value
        elif field.default is dataclasses.MISSING:
            values[field.name] = _default(field)
    if fields:
        raise TypeError(f"{cls.__qualname__} has no fields {sorted(fields)}")
    return cls(**values)


def reply(api_key: ApiKey, version: int, **fields: object) -> Any:
    """@return: a response of C{api_key} and C{version} (see L{kio_value})."""
    return kio_value(response_type(api_key, version), **fields)


def entity(api_key: ApiKey, version: int, class_name: str, **fields: object) -> Any:
    """
    @return: an entity nested in a response (or else in a request), by its kio
        class name.
    """
    module = sys.modules[response_type(api_key, version).__module__]
    found = getattr(module, class_name, None)
    if found is None:
        found = getattr(
            sys.modules[request_type(api_key, version).__module__], class_name
        )
    return kio_value(found, **fields)


class _AdminBroker(FakeBroker):
    """One broker of an L{AdminCluster}."""

    def __init__(self, cluster: AdminCluster, node_id: int) -> None:
        super().__init__(NODES, cluster.topics, cluster.ranges)
        self.cluster = cluster
        self.node_id = node_id

    def connectionMade(self) -> None:
        self._decoder = FrameDecoder()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.held.clear()

    def dataReceived(self, data: bytes) -> None:
        for frame in self._decoder.feed(data):
            header, request = decode_request(frame)
            self.requests.append((header, request))
            self.cluster.received.append((self.node_id, header, request))
            if header.api_key == ApiKey.API_VERSIONS:
                response = self._api_versions(header, request)
            elif header.api_key == ApiKey.METADATA and (
                ApiKey.METADATA not in self.cluster.handlers
            ):
                response = self.cluster.metadata(self.node_id, header, request)
            else:
                handler = self.cluster.handlers.get(ApiKey(header.api_key))
                if handler is None:
                    raise AssertionError(f"no handler for {header}")
                response = handler(self.node_id, header, request)
            if response is None:
                self.held.append((header, request))
            else:
                self.reply(header, response)


class AdminCluster:
    """
    Brokers 1, 2 and 3 (C{b1:9092}, C{b2:9093}, C{b3:9094}) and a bootstrap
    server (C{boot:9000}, node 0 here) on a L{FakeNetwork}, sharing one set of
    topics. Metadata (version 12) is answered from L{topics}, L{topic_ids},
    L{internal} and L{controller_id}; every other API by the handler set for it
    in L{handlers}.

    @ivar network: the fake network.
    @ivar topics: each topic's partitions, or a topic error code.
    @ivar received: every request, as (node id, header, body).
    """

    def __init__(
        self,
        reactor: FakeReactor,
        topics: dict[str, Any] | None = None,
        ranges: Mapping[int, tuple[int, int]] = ADMIN_RANGES,
    ) -> None:
        self.network = FakeNetwork(reactor)
        self.topics: dict[str, Any] = topics if topics is not None else {}
        self.topic_ids: dict[str, uuid.UUID] = {}
        self.internal: set[str] = set()
        self.controller_id = 1
        self.cluster_id = "fake-cluster"
        self.ranges = ranges
        self.live = list(NODES)
        self.handlers: dict[ApiKey, AdminHandler] = {}
        self.received: list[tuple[int, RequestHeader, Any]] = []
        self.brokers: dict[int, _AdminBroker] = {}
        for node_id, address in [
            (0, BOOT),
            *((n.node_id, (n.host, n.port)) for n in NODES),
        ]:
            broker = _AdminBroker(self, node_id)
            self.network.brokers[address] = broker
            self.brokers[node_id] = broker

    def metadata(self, node_id: int, header: RequestHeader, request: Any) -> object:
        """Answer a Metadata request (version 12) from the cluster's state."""
        assert header.api_version == 12, header.api_version
        if request.topics is None:
            names = list(self.topics)
        else:
            names = [topic.name for topic in request.topics]
        entries = []
        for name in names:
            described = self.topics.get(
                name, ErrorCode.unknown_topic_or_partition.value
            )
            error = (
                ErrorCode(described) if isinstance(described, int) else ErrorCode.none
            )
            infos = () if isinstance(described, int) else described
            entries.append(
                metadata_v12.MetadataResponseTopic(
                    error_code=error,
                    name=TopicName(name),
                    topic_id=self.topic_ids.get(name),
                    is_internal=name in self.internal,
                    partitions=tuple(
                        metadata_v12.MetadataResponsePartition(
                            error_code=ErrorCode(info.error_code),
                            partition_index=i32(info.partition),
                            leader_id=BrokerId(info.leader),
                            leader_epoch=i32(info.leader_epoch),
                            replica_nodes=tuple(BrokerId(n) for n in info.replicas),
                            isr_nodes=tuple(BrokerId(n) for n in info.isr),
                            offline_replicas=(),
                        )
                        for info in infos
                    ),
                )
            )
        return metadata_v12.MetadataResponse(
            throttle_time=NO_THROTTLE,
            brokers=tuple(
                metadata_v12.MetadataResponseBroker(
                    node_id=BrokerId(node.node_id),
                    host=node.host,
                    port=i32(node.port),
                    rack=node.rack,
                )
                for node in self.live
            ),
            cluster_id=self.cluster_id,
            controller_id=BrokerId(self.controller_id),
            topics=tuple(entries),
        )

    def requests(self, api_key: ApiKey) -> list[tuple[int, RequestHeader, Any]]:
        """@return: the requests of one API received, as (node id, header, body)."""
        return [entry for entry in self.received if entry[1].api_key == api_key]

    def bodies(self, api_key: ApiKey) -> list[Any]:
        """@return: the bodies of the requests of one API received."""
        return [body for _, _, body in self.requests(api_key)]

    def nodes_of(self, api_key: ApiKey) -> list[int]:
        """@return: the node ids the requests of one API went to, in order."""
        return [node for node, _, _ in self.requests(api_key)]

    def answer_held(
        self, node_id: int, response_for: Callable[[RequestHeader, Any], object]
    ) -> None:
        """Answer the requests node C{node_id} held, with C{response_for}."""
        broker = self.brokers[node_id]
        held, broker.held = broker.held, []
        for header, request in held:
            broker.reply(header, response_for(header, request))


class AdminTestCase(SynchronousTestCase):
    """
    An L{AdminCore} talking to an L{AdminCluster} whose controller is node 1,
    with C{request.timeout.ms} 1000, C{default.api.timeout.ms} 5000,
    C{retry.backoff.ms} 100 and C{retry.backoff.max.ms} 1000, no jitter.
    """

    ranges: Mapping[int, tuple[int, int]] = ADMIN_RANGES

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.cluster = AdminCluster(self.reactor, ranges=self.ranges)

    def admin(self, **settings: object) -> AdminCore:
        """@return: an admin core on the fake cluster, closed after the test."""
        values: dict[str, object] = {
            "bootstrap.servers": "boot:9000",
            "request.timeout.ms": 1000,
            "default.api.timeout.ms": 5000,
            "retry.backoff.ms": 100,
            "retry.backoff.max.ms": 1000,
        }
        values.update(settings)
        core = AdminCore(AdminClientConfig(values), self.reactor, random=lambda: 0.5)
        core.pool.endpoint_factory = self.cluster.network.endpoint
        core.pool.random = lambda: 0.5
        self.addCleanup(self._close, core)
        return core

    def _close(self, core: AdminCore) -> None:
        core.close(0)
        self.reactor.settle()
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def run_for(self, seconds: float, step: float = 0.05) -> None:
        """Let C{seconds} pass in steps of C{step}, running what falls due."""
        end = round(self.reactor.seconds() + seconds, 9)
        while self.reactor.seconds() < end:
            self.reactor.advance(min(step, round(end - self.reactor.seconds(), 9)))

    def result(self, deferred: Any) -> Any:
        """@return: the result of C{deferred} once the reactor settled."""
        self.reactor.settle()
        return self.successResultOf(deferred)


def use_admin_network(case: SynchronousTestCase, cluster: AdminCluster) -> None:
    """
    For the rest of C{case}, make the pools that clients build from their
    configuration connect through C{cluster}'s network, with a fixed jitter.
    """
    original = ConnectionPool.from_config

    def from_config(reactor: Any, config: Any) -> ConnectionPool:
        pool = original(reactor, config)
        pool.endpoint_factory = cluster.network.endpoint
        pool.random = lambda: 0.5
        return pool

    case.patch(ConnectionPool, "from_config", from_config)


class ImmediateReactorThread(ReactorThread):
    """
    A L{ReactorThread} over an L{ImmediateReactor
    <odradek.client.test._producertools.ImmediateReactor>}: calls run at once on
    the calling thread, which does not count as the reactor thread.
    """

    def in_reactor_thread(self) -> bool:
        return False
