"""
Listeners: the configuration's C{listeners} (parsed by L{odradek.broker.config} into
L{Endpoint}s) turned into Twisted server endpoints, and the factory that builds a
L{KafkaServerProtocol} for each connection they accept.

Only the C{PLAINTEXT} security protocol is served so far; a listener with C{SSL},
C{SASL_PLAINTEXT} or C{SASL_SSL} is refused, with a message saying so, before any
listener starts. An empty host listens on every IPv4 interface; an IPv6 address
listens with C{tcp6}.

The broker's service puts them together roughly so::

    settings = ServerSettings.from_config(config)
    listen(
        reactor,
        config.listeners,
        lambda endpoint: KafkaServerFactory.for_endpoint(
            registry, settings, reactor, endpoint
        ),
    )
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from attrs import define, field
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import (
    IAddress,
    IListeningPort,
    IProtocolFactory,
    IReactorTime,
)
from twisted.internet.protocol import Factory
from twisted.logger import Logger

from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import Endpoint, SecurityProtocol
from odradek.broker.server.protocol import KafkaServerProtocol
from odradek.broker.server.settings import ServerSettings

__all__ = [
    "KafkaServerFactory",
    "check_supported",
    "endpoint_description",
    "listen",
]

_SUPPORTED = frozenset({SecurityProtocol.PLAINTEXT})


def check_supported(endpoint: Endpoint) -> None:
    """
    @param endpoint: a listener.
    @raise ValueError: if its security protocol is not served yet, naming the
        listener and the protocol.
    """
    protocol = endpoint.security_protocol
    if protocol not in _SUPPORTED:
        raise ValueError(
            f"listener {endpoint}: security protocol {protocol.name} is not "
            "supported yet; only PLAINTEXT listeners can be served"
        )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")


def endpoint_description(endpoint: Endpoint) -> str:
    """
    @param endpoint: a PLAINTEXT listener.
    @return: the Twisted server endpoint description that listens where it says,
        for C{serverFromString}: C{tcp:port=9092:interface=127.0.0.1}, or C{tcp6}
        with escaped colons for an IPv6 address.
    @raise ValueError: if the listener's security protocol is not served yet.
    """
    check_supported(endpoint)
    kind = "tcp6" if ":" in endpoint.host else "tcp"
    description = f"{kind}:port={endpoint.port}"
    if endpoint.host:
        description += f":interface={_escape(endpoint.host)}"
    return description


@define
class KafkaServerFactory(Factory):
    """
    Builds the protocol of each connection a listener accepts, and keeps track of
    the open ones.

    @ivar registry: the handlers.
    @ivar settings: limits and timeouts.
    @ivar reactor: the reactor, for time and timers.
    @ivar listener_name: the listener's name.
    @ivar security_protocol: the listener's security protocol.
    @ivar log: the logger handed to each connection, or C{None} for the default.
    @ivar connections: the connections open now.
    @ivar accepted: how many connections were accepted so far.
    """

    registry: HandlerRegistry
    settings: ServerSettings
    reactor: IReactorTime
    listener_name: str = "PLAINTEXT"
    security_protocol: str = "PLAINTEXT"
    log: Logger | None = None
    connections: set[KafkaServerProtocol] = field(factory=set, init=False)
    accepted: int = field(default=0, init=False)

    @classmethod
    def for_endpoint(
        cls,
        registry: HandlerRegistry,
        settings: ServerSettings,
        reactor: IReactorTime,
        endpoint: Endpoint,
    ) -> KafkaServerFactory:
        """
        @param registry: the handlers.
        @param settings: limits and timeouts.
        @param reactor: the reactor.
        @param endpoint: the listener the factory serves.
        @return: a factory for that listener.
        """
        return cls(
            registry,
            settings,
            reactor,
            endpoint.listener_name,
            endpoint.security_protocol.name,
        )

    def buildProtocol(self, addr: IAddress | None) -> KafkaServerProtocol:
        self.accepted += 1
        connection = _TrackedProtocol(
            self.registry,
            self.settings,
            self.reactor,
            listener_name=self.listener_name,
            security_protocol=self.security_protocol,
            index=self.accepted,
            log=self.log,
        )
        connection.factory = self
        self.connections.add(connection)
        return connection

    def shutdown(self) -> Deferred[Any]:
        """
        Close every connection once its request in progress is answered.

        @return: a Deferred that fires when all are closed.
        """
        return gatherResults(
            [connection.shutdown() for connection in list(self.connections)]
        )


class _TrackedProtocol(KafkaServerProtocol):
    """
    A connection that leaves its factory's set of connections when it closes.
    """

    factory: KafkaServerFactory

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.connections.discard(self)
        if reason is None:
            super().connectionLost()
        else:
            super().connectionLost(reason)


def _server_endpoint(reactor: Any, description: str) -> Any:
    return serverFromString(reactor, description)  # type: ignore[no-untyped-call]


def listen(
    reactor: Any,
    endpoints: Iterable[Endpoint],
    factory_for: Callable[[Endpoint], IProtocolFactory],
) -> Deferred[list[IListeningPort]]:
    """
    Start listening on every listener.

    Every listener is checked before the first one listens, so an unsupported one
    starts nothing.

    @param reactor: the reactor to listen with (an C{IReactorTCP}).
    @param endpoints: the listeners, such as C{KafkaConfig.listeners}.
    @param factory_for: returns the factory for a listener, usually
        L{KafkaServerFactory.for_endpoint}.
    @return: a Deferred firing with the listening ports, in the listeners' order,
        or failing with the first error if one cannot listen (the ports that did
        start are then stopped).
    @raise ValueError: if a listener's security protocol is not served yet.
    """
    plans = [(endpoint, endpoint_description(endpoint)) for endpoint in endpoints]
    started = [
        _server_endpoint(reactor, description).listen(factory_for(endpoint))
        for endpoint, description in plans
    ]
    result: Deferred[list[IListeningPort]] = gatherResults(started, consumeErrors=True)

    def stop_the_others(failure: Any) -> Any:
        for deferred in started:
            deferred.addCallback(lambda port: port.stopListening())
            deferred.addErrback(lambda _: None)
        return failure.value.subFailure

    result.addErrback(stop_the_others)
    return result
