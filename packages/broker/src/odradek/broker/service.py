"""
L{BrokerService}: the root of the broker's service tree, and where its parts are put
together.

For now it owns the configuration and the metadata store; the log manager, replica
manager, coordinators and listeners join it as child services (see
L{BrokerService}).
"""

from __future__ import annotations

import os
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger

from odradek.broker.config import ConfigError, KafkaConfig
from odradek.broker.metadata import (
    BrokerRegistration,
    IMetadataStore,
    LocalMetadataStore,
    ensure_meta_properties,
)

__all__ = ["BrokerService"]


class BrokerService(MultiService):
    """
    A broker, as a tree of services.

    The metadata store starts before the child services and stops after them, so
    that every child can read metadata for as long as it runs. Children start in
    the order they are added and stop in the reverse order; the intended order is
    the log manager (which recovers the logs), the replica manager, the group and
    transaction coordinators, and last the listeners, so that no request arrives
    before the layers below are ready and none is in flight when they stop.

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
    ) -> None:
        """
        @param config: see L{BrokerService.config}.
        @param metadata: see L{BrokerService.metadata}.
        @param node_id: see L{BrokerService.node_id}.
        @param log_dirs: see L{BrokerService.log_dirs}.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self.config = config
        self.metadata = metadata
        self.node_id = node_id
        self.log_dirs = log_dirs

    @classmethod
    def embedded(cls, config: KafkaConfig, *, default_host: str) -> BrokerService:
        """
        Set up a broker that runs alone, with the embedded metadata store: create
        the log directories if needed, check or write their C{meta.properties}, and
        open the store in the first of them.

        @param config: the broker's configuration; C{zookeeper.connect} must be
            unset.
        @param default_host: the host to advertise for listeners that name none.
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
        return cls(config, store, node_id=meta.node_id, log_dirs=log_dirs)

    def startService(self) -> None:
        self._log.info(
            "Odradek broker {node_id} starting in cluster {cluster_id}, "
            "log directories {log_dirs}",
            node_id=self.node_id,
            cluster_id=self.metadata.cluster_id,
            log_dirs=", ".join(self.log_dirs),
        )
        started = self.metadata.start()
        started.addErrback(
            lambda failure: self._log.failure(
                "The metadata store failed to start", failure
            )
        )
        super().startService()  # type: ignore[no-untyped-call]

    def stopService(self) -> Deferred[Any]:
        stopped: Deferred[Any] = maybeDeferred(super().stopService)
        stopped.addCallback(lambda _: self.metadata.stop())
        return stopped
