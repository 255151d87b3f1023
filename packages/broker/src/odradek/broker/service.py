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

Children start one after the other, each once the metadata store has started, and
stop in the reverse order, each once the one before it has stopped: the listeners
stop accepting and answer the requests in progress, then the replica manager stops,
then the log manager flushes every log, writes the checkpoints and the clean shutdown
marker, and last the metadata store is released. twistd stops the tree on SIGTERM
and waits for all of it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Final

from twisted.application.service import MultiService, Service
from twisted.internet.defer import Deferred, gatherResults, maybeDeferred, succeed
from twisted.internet.interfaces import IListeningPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from odradek.broker.apis import build_registry
from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.config import ConfigError, Endpoint, KafkaConfig
from odradek.broker.log import LogConfig, LogManager
from odradek.broker.metadata import (
    BrokerConfigChanged,
    BrokerRegistration,
    IMetadataStore,
    LocalMetadataStore,
    MetadataChange,
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

_NEVER_MS: Final = 10 * 365 * 24 * 3600 * 1000
"""Periods longer than this (Kafka's default flush period is 2**63-1 ms) mean never."""


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


class LogManagerService(Service):
    """
    Runs a L{LogManager}: loads (and if need be recovers) the logs when it starts,
    runs the log manager's periodic work on the reactor's clock, applies new dynamic
    topic defaults, and shuts the log manager down when it stops.

    The periodic work, as in Kafka: retention (L{LogManager.cleanup_logs}) every
    C{log.retention.check.interval.ms}, flushes of logs whose C{flush.ms} passed
    every C{log.flush.scheduler.interval.ms} (never, by default), and checkpoints of
    recovery points and log start offsets every
    C{log.flush.offset.checkpoint.interval.ms} and
    C{log.flush.start.offset.checkpoint.interval.ms}.

    @ivar log_manager: the log manager.
    """

    name = "log-manager"
    _log = Logger()

    def __init__(
        self,
        log_manager: LogManager,
        config: KafkaConfig,
        dynamic: DynamicBrokerConfig,
        reactor: Any,
    ) -> None:
        """
        @param log_manager: the log manager, not yet started.
        @param config: the broker's configuration, for the periods.
        @param dynamic: the broker's configuration in effect, whose topic defaults
            the logs follow.
        @param reactor: the clock of the periodic work (an C{IReactorTime}).
        """
        self.log_manager = log_manager
        self._config = config
        self._dynamic = dynamic
        self._reactor = reactor
        self._loops: list[LoopingCall] = []
        self._unsubscribe: Callable[[], None] | None = None

    def startService(self) -> None:
        manager = self.log_manager
        started = self._reactor.seconds()
        # Running only once loaded: a log manager that failed to load must not be
        # shut down, which would mark its log dirs as cleanly shut down.
        manager.startup()
        super().startService()  # type: ignore[no-untyped-call]
        holding = {os.path.dirname(log.directory) for log in manager.logs.values()}
        unclean = [
            log_dir
            for log_dir, clean in manager.had_clean_shutdown.items()
            if not clean and log_dir in holding
        ]
        self._log.info(
            "Loaded {count} partition logs from {log_dirs} in {seconds:.3f} s"
            "{recovered}",
            count=len(manager.logs),
            log_dirs=", ".join(manager.log_dirs),
            seconds=self._reactor.seconds() - started,
            recovered=f"; recovered after an unclean shutdown: {', '.join(unclean)}"
            if unclean
            else "",
            unclean_log_dirs=unclean,
        )
        self._unsubscribe = self._dynamic.metadata.subscribe(self._metadata_changed)
        config = self._config
        self._every(config.log_retention_check_interval_ms, manager.cleanup_logs)
        self._every(config.log_flush_scheduler_interval_ms, manager.flush_dirty_logs)
        self._every(
            config.log_flush_offset_checkpoint_interval_ms,
            manager.checkpoint_recovery_points,
        )
        self._every(
            config.log_flush_start_offset_checkpoint_interval_ms,
            manager.checkpoint_log_start_offsets,
        )

    def _every(self, period_ms: int, task: Callable[[], object]) -> None:
        if not 0 < period_ms <= _NEVER_MS:
            return
        loop = LoopingCall(self._run, task)
        loop.clock = self._reactor
        loop.start(period_ms / 1000, now=False)
        self._loops.append(loop)

    def _run(self, task: Callable[[], object]) -> None:
        name = getattr(task, "__name__", repr(task))
        try:
            result = task()
        except Exception:
            self._log.failure("Periodic log task {task} failed", task=name)
            return
        if name == "cleanup_logs" and result:
            self._log.info("Retention deleted {segments} segments", segments=result)

    def _metadata_changed(self, change: MetadataChange) -> None:
        if isinstance(change, BrokerConfigChanged):
            self.apply_dynamic_defaults()

    def apply_dynamic_defaults(self) -> None:
        """
        Give every log the topic defaults now in effect, after a dynamic broker
        config changed.
        """
        defaults = self._dynamic.log_config()
        manager = self.log_manager
        if defaults == manager.default_config:
            return
        manager.default_config = defaults
        for name, topic in self._dynamic.metadata.topics().items():
            manager.update_config(
                name, LogConfig.from_properties(topic.configs, defaults)
            )
        self._log.info("Applied new dynamic topic defaults to every log")

    def stopService(self) -> Deferred[None]:
        super().stopService()  # type: ignore[no-untyped-call]
        for loop in self._loops:
            if loop.running:
                loop.stop()
        self._loops.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        count = len(self.log_manager.logs)
        self.log_manager.shutdown()
        self._log.info(
            "Flushed and closed {count} partition logs; checkpoints and clean "
            "shutdown markers written",
            count=count,
        )
        return succeed(None)


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
        Put a broker together: its log manager, replica manager, request handlers
        and listeners, as the children of a new L{BrokerService}. Nothing is read
        from disk or bound until the service starts.

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
        registry = build_registry(
            config=config,
            metadata=metadata,
            log_manager=log_manager,
            replica_manager=replica_manager,
            reactor=reactor,
            node_id=node_id,
        )
        settings = ServerSettings.from_config(config)
        _adopt(service, ListenersService(reactor, config.listeners, registry, settings))
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
