"""
L{BrokerService}: the root of the broker's service tree, and where its parts are put
together (L{BrokerService.assemble}).

The tree, in start order::

    BrokerService            the metadata store, started first and stopped last
      LogManagerService      "log-manager": loads and recovers the logs, runs
                             retention, flushes and checkpoints on timers
      ReplicaManager         "replica-manager": the partitions, kept in step with
                             the metadata store
      ListenersService       "listeners": one listening port per listener
      GroupCoordinatorService
                             "group-coordinator": loads the groups and offsets of
                             __consumer_offsets, expires offsets, bounds its logs

Children start one after the other, each once the metadata store has started, and
stop in the reverse order, each once the one before it has stopped: the group
coordinator answers the requests waiting for a rebalance and cancels its timers,
the listeners stop accepting and answer the requests in progress, then the replica
manager stops, then the log manager flushes
every log, writes the checkpoints and the clean shutdown marker, and last the
metadata store is released. twistd stops the tree on SIGTERM and waits for all of
it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Final

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger

from odradek.broker._log_service import LogManagerService
from odradek.broker.apis import build_registry
from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import ConfigError, Endpoint, KafkaConfig
from odradek.broker.coordinator.group.service import assemble_group_coordinator
from odradek.broker.log import LogManager
from odradek.broker.metadata import (
    BrokerRegistration,
    IMetadataStore,
    LocalMetadataStore,
    ensure_meta_properties,
)
from odradek.broker.replication import ReplicaManager
from odradek.broker.server import (
    KafkaServerFactory,
    ServerSettings,
    check_supported,
    listen,
)

__all__ = [
    "SHUTDOWN_GRACE_SECONDS",
    "BrokerService",
    "ListenersService",
    "LogManagerService",
]

SHUTDOWN_GRACE_SECONDS: Final = 30.0
"""
How long a stopping broker waits for the requests in progress before it aborts the
connections still open (a client that stopped reading would otherwise hold the
shutdown forever).
"""


def _adopt(parent: MultiService, child: Service) -> None:
    """
    Make C{child} the last child of C{parent}.
    """
    child.setServiceParent(parent)  # type: ignore[no-untyped-call]


def _stop_reactor(reactor: Any) -> None:
    """
    Stop the reactor after a fatal start-up error, so that twistd stops the services
    that did start and exits.
    """
    when_running = getattr(reactor, "callWhenRunning", None)
    if when_running is not None:
        when_running(reactor.stop)


class ListenersService(Service):
    """
    Listens on every listener, and on stop closes the ports, then every connection
    once the request it is working on is answered.

    @ivar factories: the protocol factory of each listener.
    @ivar ports: the listening ports, once listening.
    @ivar listening: fires with the ports once every listener listens.
    @ivar grace_seconds: how long stopping waits for the requests in progress
        before the connections still open are aborted.
    """

    name = "listeners"
    _log = Logger()

    def __init__(
        self,
        reactor: Any,
        endpoints: Sequence[Endpoint],
        registry: HandlerRegistry,
        settings: ServerSettings,
    ) -> None:
        """
        @param reactor: the reactor to listen with.
        @param endpoints: the listeners (C{listeners} of the configuration).
        @param registry: the request handlers.
        @param settings: the network front's limits and timeouts.
        """
        self._reactor = reactor
        self._endpoints = tuple(endpoints)
        self._registry = registry
        self._settings = settings
        self.factories: list[KafkaServerFactory] = []
        self.ports: list[IListeningPort] = []
        self.listening: Deferred[list[IListeningPort]] | None = None
        self.grace_seconds = SHUTDOWN_GRACE_SECONDS

    def _factory_for(self, endpoint: Endpoint) -> KafkaServerFactory:
        factory = KafkaServerFactory.for_endpoint(
            self._registry, self._settings, self._reactor, endpoint
        )
        # Twisted's Factory logs its repr when it starts and stops; this service
        # logs the listeners itself.
        factory.noisy = False
        self.factories.append(factory)
        return factory

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        listening = listen(self._reactor, self._endpoints, self._factory_for)
        listening.addCallback(self._listening)
        listening.addErrback(self._failed)
        self.listening = listening

    def _listening(self, ports: list[IListeningPort]) -> list[IListeningPort]:
        self.ports = ports
        bound = []
        for endpoint, port in zip(self._endpoints, ports, strict=True):
            address = port.getHost()
            host = getattr(address, "host", "?")
            host = f"[{host}]" if ":" in host else host
            bound.append(f"{endpoint} ({host}:{getattr(address, 'port', '?')})")
        self._log.info(
            "Odradek broker listening on {listeners}",
            listeners=", ".join(bound),
            bound=bound,
        )
        return ports

    def _failed(self, failure: Any) -> None:
        self._log.failure("The broker cannot listen; it stops", failure)
        _stop_reactor(self._reactor)

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        ports, self.ports = self.ports, []
        await gatherResults([maybeDeferred(port.stopListening) for port in ports])
        connections = sum(len(factory.connections) for factory in self.factories)
        self._log.info(
            "Stopped accepting connections; finishing the requests in progress on "
            "{connections} connections",
            connections=connections,
        )
        closed = gatherResults([factory.shutdown() for factory in self.factories])
        deadline = self._reactor.callLater(self.grace_seconds, self._abort)
        await closed
        if deadline.active():
            deadline.cancel()
        self._log.info("Closed every client connection")

    def _abort(self) -> None:
        connections = [c for f in self.factories for c in list(f.connections)]
        self._log.warn(
            "Aborting {connections} connections whose requests did not finish "
            "within {seconds} s",
            connections=len(connections),
            seconds=self.grace_seconds,
        )
        for connection in connections:
            transport = connection.transport
            if transport is not None:
                transport.abortConnection()  # type: ignore[attr-defined]


class BrokerService(MultiService):
    """
    A broker, as a tree of services.

    The metadata store starts before the child services and stops after them, so
    that every child can read metadata for as long as it runs. Children start in
    the order they are added and stop one at a time in the reverse order (see the
    module's description).

    @ivar config: the broker's configuration.
    @ivar metadata: the cluster's metadata.
    @ivar node_id: this broker's id (the configured one, or the one stored in its
        log directories).
    @ivar log_dirs: the log directories, as absolute paths.
    """

    _log = Logger()

    def __init__(
        self,
        config: KafkaConfig,
        metadata: IMetadataStore,
        *,
        node_id: int,
        log_dirs: tuple[str, ...],
        reactor: Any = None,
    ) -> None:
        """
        @param config: see L{BrokerService.config}.
        @param metadata: see L{BrokerService.metadata}.
        @param node_id: see L{BrokerService.node_id}.
        @param log_dirs: see L{BrokerService.log_dirs}.
        @param reactor: the reactor to stop if the broker cannot start, so that
            twistd exits; C{None} to only log the failure.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self.config = config
        self.metadata = metadata
        self.node_id = node_id
        self.log_dirs = log_dirs
        self._reactor = reactor
        self.started: Deferred[None] | None = None

    @classmethod
    def embedded(
        cls, config: KafkaConfig, *, default_host: str, reactor: Any
    ) -> BrokerService:
        """
        Set up a broker that runs alone, with the embedded metadata store: create
        the log directories if needed, check or write their C{meta.properties}, open
        the store in the first of them, and L{assemble} the broker.

        @param config: the broker's configuration; C{zookeeper.connect} must be
            unset.
        @param default_host: the host to advertise for listeners that name none.
        @param reactor: the reactor to run on (time, timers, listening ports).
        @return: the broker, not yet started.
        @raise ConfigError: if C{zookeeper.connect} is set.
        @raise odradek.broker.metadata.MetadataStoreError: if the log directories
            belong to another broker or cluster, or the store's file is corrupt.
        @raise OSError: if a log directory cannot be created, read or written.
        """
        if config.zookeeper_connect is not None:
            raise ConfigError(
                f"zookeeper.connect is {config.zookeeper_connect}, but cluster mode "
                f"with ZooKeeper is not available yet; leave it unset to run one "
                f"broker with the embedded metadata store",
                key="zookeeper.connect",
                value=config.zookeeper_connect,
            )
        log_dirs = tuple(os.path.abspath(d) for d in config.log_dirs)
        meta = ensure_meta_properties(log_dirs, config.node_id)
        assert meta.cluster_id is not None and meta.node_id is not None
        broker = BrokerRegistration(
            broker_id=meta.node_id,
            endpoints=config.advertised_endpoints(default_host),
            rack=config.broker_rack,
        )
        store = LocalMetadataStore.open(
            log_dirs[0], cluster_id=meta.cluster_id, broker=broker
        )
        return cls.assemble(
            config, store, node_id=meta.node_id, log_dirs=log_dirs, reactor=reactor
        )

    @classmethod
    def assemble(
        cls,
        config: KafkaConfig,
        metadata: IMetadataStore,
        *,
        node_id: int,
        log_dirs: tuple[str, ...],
        reactor: Any,
    ) -> BrokerService:
        """
        Put a broker together: its log manager, replica manager, group
        coordinator, request handlers and listeners, as the children of a new
        L{BrokerService}. Nothing is read from disk or bound until the service
        starts.

        @param config: the broker's configuration.
        @param metadata: the cluster's metadata store.
        @param node_id: this broker's id.
        @param log_dirs: the log directories, as absolute paths.
        @param reactor: the reactor to run on: an C{IReactorTime} that can listen
            on TCP ports.
        @return: the broker, not yet started.
        @raise ConfigError: naming the listener, if its security protocol is not
            served yet.
        """
        for endpoint in config.listeners:
            try:
                check_supported(endpoint)
            except ValueError as error:
                raise ConfigError(str(error), key="listeners") from None
        service = cls(
            config, metadata, node_id=node_id, log_dirs=log_dirs, reactor=reactor
        )
        dynamic = DynamicBrokerConfig(config, metadata, node_id)
        expiration_ms = config.get("producer.id.expiration.ms")
        assert isinstance(expiration_ms, int)
        log_manager = LogManager(
            log_dirs=log_dirs,
            default_config=dynamic.log_config(),
            now_ms=lambda: int(reactor.seconds() * 1000),
            producer_id_expiration_ms=expiration_ms,
            topic_configs={
                name: dynamic.topic_config(topic.configs)
                for name, topic in metadata.topics().items()
                if topic.configs
            },
        )
        _adopt(service, LogManagerService(log_manager, config, dynamic, reactor))
        replica_manager = ReplicaManager(
            node_id=node_id,
            log_manager=log_manager,
            metadata=metadata,
            config=config,
            reactor=reactor,
        )
        replica_manager.name = "replica-manager"
        _adopt(service, replica_manager)
        coordinator, groups = assemble_group_coordinator(
            replica_manager=replica_manager,
            metadata=metadata,
            config=config,
            reactor=reactor,
        )
        registry = build_registry(
            config=config,
            metadata=metadata,
            log_manager=log_manager,
            replica_manager=replica_manager,
            reactor=reactor,
            node_id=node_id,
            group_coordinator=coordinator,
            ensure_offsets_topic=groups.ensure_offsets_topic,
        )
        settings = ServerSettings.from_config(config)
        _adopt(service, ListenersService(reactor, config.listeners, registry, settings))
        # Last, so that it stops first: requests waiting for a rebalance are
        # answered at once, and the listeners need not wait for them.
        _adopt(service, groups)
        return service

    def startService(self) -> None:
        self._log.info(
            "Odradek broker {node_id} starting in cluster {cluster_id}, "
            "log directories {log_dirs}",
            node_id=self.node_id,
            cluster_id=self.metadata.cluster_id,
            log_dirs=", ".join(self.log_dirs),
        )
        Service.startService(self)  # type: ignore[no-untyped-call]
        started: Deferred[None] = self.metadata.start()
        started.addCallback(lambda _: self._start_children())
        started.addErrback(self._failed)
        self.started = started

    def _failed(self, failure: Any) -> None:
        self._log.failure("The broker failed to start; it stops", failure)
        _stop_reactor(self._reactor)

    def _start_children(self) -> None:
        for child in self:
            if self.running and not child.running:
                child.startService()

    def stopService(self) -> Deferred[Any]:
        return Deferred.fromCoroutine(self._stop())

    async def _stop(self) -> None:
        Service.stopService(self)  # type: ignore[no-untyped-call]
        self._log.info("Broker {node_id} shutting down", node_id=self.node_id)
        for child in reversed(list(self)):
            if not child.running:
                continue
            name = child.name or type(child).__name__
            self._log.info("Stopping {service}", service=name)
            try:
                await maybeDeferred(child.stopService)
            except Exception:
                self._log.failure("Stopping {service} failed", service=name)
            else:
                self._log.info("Stopped {service}", service=name)
        self._log.info("Stopping the metadata store")
        await self.metadata.stop()
        self._log.info("Broker {node_id} shut down", node_id=self.node_id)
