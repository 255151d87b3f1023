"""
Helpers for the tests of the control-plane APIs (this module holds no tests): a
broker's metadata store and log manager in a temporary directory, a registry with
the handlers under test, and requests sent through a server connection on a
C{StringTransport}, so that every response is encoded and decoded on its way back.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from kio.index import load_request_schema
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import ILogObserver, Logger
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis import HandlerRegistry, register_api_versions
from odradek.broker.config import KafkaConfig
from odradek.broker.log import LogManager
from odradek.broker.metadata import (
    BrokerRegistration,
    LocalMetadataStore,
    TopicMetadata,
)
from odradek.broker.server import KafkaServerProtocol, ServerSettings
from odradek.broker.test._servertools import request_frame, responses

__all__ = ["CLUSTER_ID", "ControlPlane", "build", "request_class"]

CLUSTER_ID = "OdradekTestCluster0001"

_SERVER = IPv4Address("TCP", "127.0.0.1", 9092)
_CLIENT = IPv4Address("TCP", "127.0.0.1", 50000)


def request_class(api_key: int, version: int) -> type[Any]:
    """
    @return: the kio request class of an API version.
    """
    return cast(type[Any], load_request_schema(api_key, version))


def build(api_key: int, version: int, **fields: Any) -> Any:
    """
    Build a request, nested entities given as dicts (or lists of dicts) of their
    fields.

    @return: the kio request of that API and version.
    """
    return _entity(request_class(api_key, version), fields)


_BLANKS: dict[str, Any] = {
    "bool": False,
    "string": "",
    "uuid": None,
    "timedelta_i32": datetime.timedelta(0),
    "timedelta_i64": datetime.timedelta(0),
}


def _entity(entity_class: type[Any], fields: Mapping[str, Any]) -> Any:
    """
    Build a kio entity from field values, nested entities given as dicts; a field
    neither given nor defaulted in the schema is left empty (false, zero, empty,
    or null where it may be null).
    """
    values: dict[str, Any] = {}
    for field in dataclasses.fields(entity_class):
        if typing.get_origin(field.type) is tuple:
            members: tuple[Any, ...] = (field.type,)
        else:
            members = typing.get_args(field.type) or (field.type,)
        element = None
        for member in members:
            if typing.get_origin(member) is tuple:
                candidate = typing.get_args(member)[0]
                if dataclasses.is_dataclass(candidate):
                    element = candidate
        if field.name in fields:
            value = fields[field.name]
            if isinstance(value, list):
                value = tuple(value)
            if element is not None and value is not None:
                value = tuple(
                    _entity(cast(type[Any], element), item)
                    if isinstance(item, dict)
                    else item
                    for item in value
                )
            values[field.name] = value
        elif field.default is dataclasses.MISSING:
            if type(None) in members:
                values[field.name] = None
            elif typing.get_origin(field.type) is tuple:
                values[field.name] = ()
            else:
                values[field.name] = _BLANKS.get(
                    str(field.metadata.get("kafka_type")), 0
                )
    unknown = set(fields) - {field.name for field in dataclasses.fields(entity_class)}
    assert not unknown, f"{entity_class.__name__} has no fields {sorted(unknown)}"
    return entity_class(**values)


class ControlPlane:
    """
    A broker's metadata store, log manager and handlers in a temporary directory.

    @ivar config: the broker's configuration.
    @ivar clock: the reactor of the connections.
    @ivar metadata: the embedded metadata store.
    @ivar log_manager: the log manager, started.
    @ivar registry: the handlers.
    @ivar events: what the handlers' connections logged.
    """

    def __init__(
        self,
        case: SynchronousTestCase,
        properties: Mapping[str, str] | None = None,
        *,
        register: Sequence[Callable[[ControlPlane], object]] = (),
        endpoints: str = "PLAINTEXT://broker.test:9092",
    ) -> None:
        """
        @param case: the test, for its temporary directory and results.
        @param properties: broker properties on top of the defaults here.
        @param register: functions adding handlers to L{registry}.
        @param endpoints: the advertised listeners of the broker.
        """
        self.case = case
        self.base = os.path.abspath(case.mktemp())
        self.log_dir = os.path.join(self.base, "logs")
        os.makedirs(self.log_dir)
        names = ",".join(e.split("://")[0] + ":PLAINTEXT" for e in endpoints.split(","))
        listeners = ",".join(
            f"{e.split('://')[0]}://:{19092 + i}"
            for i, e in enumerate(endpoints.split(","))
        )
        self.config = KafkaConfig.from_properties(
            {
                "node.id": "1",
                "log.dirs": self.log_dir,
                "listener.security.protocol.map": names,
                "listeners": listeners,
                "advertised.listeners": endpoints,
                "inter.broker.listener.name": endpoints.split("://")[0],
                **(properties or {}),
            }
        )
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.metadata = self.open_store()
        self.log_manager = LogManager.start(
            (self.log_dir,),
            self.config.log_config,
            lambda: int(self.clock.seconds() * 1000),
        )
        self.registry = HandlerRegistry()
        register_api_versions(self.registry)
        for add in register:
            add(self)
        self.events: list[dict[str, Any]] = []

    def open_store(self) -> LocalMetadataStore:
        """
        @return: the metadata store of the log directory, (re)opened.
        """
        broker = BrokerRegistration(
            broker_id=1,
            endpoints=self.config.advertised_endpoints("localhost"),
            rack="rack-a",
        )
        return LocalMetadataStore.open(
            self.log_dir, cluster_id=CLUSTER_ID, broker=broker
        )

    def create_topic(
        self, name: str, partitions: int = 1, configs: Mapping[str, str] | None = None
    ) -> TopicMetadata:
        """
        @return: a new topic, created in the store directly.
        """
        return self.case.successResultOf(
            self.metadata.create_topic(name, [[1]] * partitions, configs)
        )

    def send(self, request: Any, *, listener: str = "PLAINTEXT") -> Any:
        """
        Send one request on a new connection and read its response.

        @param request: a kio request.
        @param listener: the listener the connection came in on.
        @return: the decoded response.
        @raise AssertionError: if the server answered with anything but one frame.
        """
        protocol = KafkaServerProtocol(
            self.registry,
            ServerSettings(),
            self.clock,
            listener_name=listener,
            index=1,
            log=Logger(observer=cast(ILogObserver, self.events.append)),
        )
        transport = StringTransport(_SERVER, _CLIENT)
        protocol.makeConnection(transport)
        protocol.dataReceived(request_frame(request, correlation_id=77))
        kind = type(request)
        [(correlation_id, response)] = responses(
            transport.value(), (kind.__api_key__, kind.__version__)
        )
        assert correlation_id == 77
        protocol.connectionLost()
        return response
