"""
L{LogManagerService}: runs the broker's L{LogManager} in its service tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from odradek.broker.apis._configs_dynamic import DynamicBrokerConfig
from odradek.broker.config import KafkaConfig
from odradek.broker.log import LogConfig, LogManager
from odradek.broker.metadata import BrokerConfigChanged, MetadataChange

__all__ = ["LogManagerService"]

_NEVER_MS: Final = 10 * 365 * 24 * 3600 * 1000
"""Periods longer than this (Kafka's default flush period is 2**63-1 ms) mean never."""


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
