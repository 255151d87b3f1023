"""
L{LogManager}: every partition log of a broker, across its C{log.dirs}.

Each log dir holds the partition directories, two checkpoint files
(C{recovery-point-offset-checkpoint}, C{log-start-offset-checkpoint}) and, after a
clean shutdown, the marker C{.kafka_cleanshutdown}. The marker is removed once the
logs are loaded, so that only a shutdown that completes leaves it: when it is absent,
every log recovers its segments after its recovery point.

The broker service drives the periodic work: L{LogManager.cleanup_logs} every
C{log.retention.check.interval.ms}, L{LogManager.flush_dirty_logs} every
C{log.flush.scheduler.interval.ms}, L{LogManager.checkpoint_recovery_points} and
L{LogManager.checkpoint_log_start_offsets} every
C{log.flush.offset.checkpoint.interval.ms} /
C{log.flush.start.offset.checkpoint.interval.ms}. Everything here is synchronous.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

import attrs
from twisted.logger import Logger

from odradek.broker.log.checkpoint import (
    LOG_START_OFFSET_CHECKPOINT,
    RECOVERY_POINT_CHECKPOINT,
    OffsetCheckpointFile,
    fsync_directory,
)
from odradek.broker.log.config import LogConfig
from odradek.broker.log.log import Log
from odradek.broker.log.topic_partition import (
    TopicPartition,
    parse_partition_dir,
    partition_dir_name,
)
from odradek.client.errors import KafkaStorageError

__all__ = ["CLEAN_SHUTDOWN_FILE", "DELETE_DIR_SUFFIX", "LogManager"]

CLEAN_SHUTDOWN_FILE: Final = ".kafka_cleanshutdown"
DELETE_DIR_SUFFIX: Final = "-delete"
_log = Logger()


def _as_tuple(dirs: Iterable[str]) -> tuple[str, ...]:
    return tuple(dirs)


@attrs.define(eq=False)
class LogManager:
    """
    The broker's partition logs: C{LogManager(log_dirs, default_config, now_ms)},
    then L{startup} to load them (or L{LogManager.start} for both).

    @ivar log_dirs: the log directories (C{log.dirs}).
    @ivar default_config: the broker-wide topic defaults.
    @ivar now_ms: the clock.
    @ivar producer_id_expiration_ms: how long an idle producer's state is kept
        (C{producer.id.expiration.ms}).
    @ivar topic_configs: each topic's config, where it has overrides.
    @ivar had_clean_shutdown: whether the last shutdown completed, per log dir.
    """

    log_dirs: tuple[str, ...] = attrs.field(converter=_as_tuple)
    default_config: LogConfig
    now_ms: Callable[[], int] = attrs.field(repr=False)
    producer_id_expiration_ms: int = 86400000
    topic_configs: dict[str, LogConfig] = attrs.field(factory=dict)
    had_clean_shutdown: dict[str, bool] = attrs.field(factory=dict)
    rng: random.Random = attrs.field(factory=random.Random, repr=False)
    _logs: dict[TopicPartition, Log] = attrs.field(factory=dict, repr=False)
    _dir_of: dict[TopicPartition, str] = attrs.field(factory=dict, repr=False)
    _pending: list[tuple[int, Log, str]] = attrs.field(factory=list, repr=False)

    @classmethod
    def start(
        cls,
        log_dirs: Sequence[str],
        default_config: LogConfig,
        now_ms: Callable[[], int],
        *,
        topic_configs: Mapping[str, LogConfig] | None = None,
        producer_id_expiration_ms: int = 86400000,
        rng: random.Random | None = None,
    ) -> LogManager:
        """
        Create the log dirs if need be and load every partition in them.

        @param log_dirs: the log directories.
        @param default_config: the broker-wide topic defaults.
        @param now_ms: the clock.
        @param topic_configs: the config of each topic with overrides.
        @param producer_id_expiration_ms: see L{producer_id_expiration_ms}.
        @param rng: draws segment roll jitter.
        @return: the manager, logs loaded.
        @raise KafkaStorageError: if a log dir cannot be created or read.
        """
        manager = cls(
            log_dirs=log_dirs,
            default_config=default_config,
            now_ms=now_ms,
            producer_id_expiration_ms=producer_id_expiration_ms,
            topic_configs=dict(topic_configs or {}),
            rng=rng or random.Random(),
        )
        manager.startup()
        return manager

    def startup(self) -> None:
        """
        Create the log dirs if need be and load every partition in them, recovering
        those of a log dir without the clean shutdown marker.

        @raise KafkaStorageError: if a log dir cannot be created or read.
        """
        for log_dir in self.log_dirs:
            self._load_dir(log_dir)

    def _read_checkpoint(self, path: str) -> dict[TopicPartition, int]:
        try:
            return OffsetCheckpointFile(path).read()
        except KafkaStorageError as e:
            _log.warn(
                "Ignoring a bad checkpoint, recovering from 0: {error}", error=str(e)
            )
            return {}

    def _load_dir(self, log_dir: str) -> None:
        try:
            os.makedirs(log_dir, exist_ok=True)
            names = sorted(os.listdir(log_dir))
        except OSError as e:
            raise KafkaStorageError(f"cannot read log dir {log_dir}: {e}") from e
        marker = os.path.join(log_dir, CLEAN_SHUTDOWN_FILE)
        clean = os.path.exists(marker)
        self.had_clean_shutdown[log_dir] = clean
        recovery_points = self._read_checkpoint(
            os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)
        )
        start_offsets = self._read_checkpoint(
            os.path.join(log_dir, LOG_START_OFFSET_CHECKPOINT)
        )
        for name in names:
            path = os.path.join(log_dir, name)
            if not os.path.isdir(path):
                continue
            if name.endswith(DELETE_DIR_SUFFIX):
                _log.info("Removing the deleted log {path}", path=path)
                shutil.rmtree(path, ignore_errors=True)
                continue
            try:
                tp = parse_partition_dir(name)
            except ValueError:
                _log.warn("Ignoring {path}: not a partition directory", path=path)
                continue
            if tp in self._logs:
                raise KafkaStorageError(
                    f"duplicate log directories for {tp}: {path} and"
                    f" {self._logs[tp].directory}"
                )
            self._logs[tp] = Log.open(
                path,
                tp,
                self.config_for(tp.topic),
                self.now_ms,
                log_start_offset=start_offsets.get(tp, 0),
                recovery_point=recovery_points.get(tp, 0),
                had_clean_shutdown=clean,
                rng=self.rng,
            )
            self._dir_of[tp] = log_dir
        if clean:
            os.unlink(marker)

    def config_for(self, topic: str) -> LogConfig:
        """
        @return: the topic's config: its overrides, or the broker defaults.
        """
        return self.topic_configs.get(topic, self.default_config)

    @property
    def logs(self) -> Mapping[TopicPartition, Log]:
        """
        @return: every log, by partition.
        """
        return self._logs

    def get_log(self, tp: TopicPartition) -> Log | None:
        """
        @return: the partition's log, if this broker has one.
        """
        return self._logs.get(tp)

    def get_or_create_log(
        self, tp: TopicPartition, config: LogConfig | None = None
    ) -> Log:
        """
        Return the partition's log, creating it in the log dir holding the fewest
        partitions if need be.

        @param tp: the partition.
        @param config: the topic's config, remembered for the topic; by default its
            known config or the broker defaults.
        @return: the log.
        """
        if config is not None:
            self.topic_configs[tp.topic] = config
        log = self._logs.get(tp)
        if log is not None:
            return log
        counts = dict.fromkeys(self.log_dirs, 0)
        for log_dir in self._dir_of.values():
            counts[log_dir] += 1
        log_dir = min(self.log_dirs, key=lambda d: counts[d])
        log = Log.open(
            os.path.join(log_dir, partition_dir_name(tp)),
            tp,
            self.config_for(tp.topic),
            self.now_ms,
            had_clean_shutdown=True,
            rng=self.rng,
        )
        self._logs[tp] = log
        self._dir_of[tp] = log_dir
        return log

    def delete_log(self, tp: TopicPartition) -> bool:
        """
        Rename the partition's directory to C{<name>.<uuid>-delete} and remove it
        C{file.delete.delay.ms} later (or at shutdown).

        @return: whether there was a log to delete.
        """
        log = self._logs.pop(tp, None)
        if log is None:
            return False
        log_dir = self._dir_of.pop(tp)
        renamed = os.path.join(
            log_dir, f"{partition_dir_name(tp)}.{uuid.uuid4().hex}{DELETE_DIR_SUFFIX}"
        )
        try:
            os.rename(log.directory, renamed)
            fsync_directory(log_dir)
        except OSError as e:
            raise KafkaStorageError(f"cannot delete log {log.directory}: {e}") from e
        deadline = self.now_ms() + log.config.file_delete_delay_ms
        self._pending.append((deadline, log, renamed))
        return True

    def _remove_pending(self, force: bool) -> None:
        now = self.now_ms()
        keep = []
        for deadline, log, path in self._pending:
            if force or deadline <= now:
                log.close_handlers()
                shutil.rmtree(path, ignore_errors=True)
            else:
                keep.append((deadline, log, path))
        self._pending = keep

    def update_config(self, topic: str, config: LogConfig) -> None:
        """
        Apply a topic's new config to its logs.
        """
        self.topic_configs[topic] = config
        for tp, log in self._logs.items():
            if tp.topic == topic:
                log.update_config(config)

    def remove_topic_config(self, topic: str) -> None:
        """
        Forget a deleted topic's config.
        """
        self.topic_configs.pop(topic, None)

    # Periodic work.

    def cleanup_logs(self) -> int:
        """
        Apply retention to every log, remove segments and logs whose deletion delay
        passed, and expire idle producers.

        @return: how many segments retention deleted.
        """
        deleted = 0
        now = self.now_ms()
        for log in list(self._logs.values()):
            deleted += log.delete_old_segments()
            log.remove_deleted_segments()
            log.producer_state.remove_expired_producers(
                now, self.producer_id_expiration_ms
            )
        self._remove_pending(force=False)
        return deleted

    def flush_dirty_logs(self) -> None:
        """
        Flush the logs whose last flush is older than their C{flush.ms}.
        """
        now = self.now_ms()
        for log in self._logs.values():
            if now - log.last_flush_ms >= log.config.flush_ms:
                log.flush()

    def _by_dir(
        self, offset: Callable[[Log], int]
    ) -> dict[str, dict[TopicPartition, int]]:
        result: dict[str, dict[TopicPartition, int]] = {d: {} for d in self.log_dirs}
        for tp, log in self._logs.items():
            result[self._dir_of[tp]][tp] = offset(log)
        return result

    def checkpoint_recovery_points(self) -> None:
        """
        Flush the segments that rolled since their last flush (Kafka flushes a rolled
        segment in the background), then write each log dir's recovery points.
        """
        for log in self._logs.values():
            log.flush(up_to=log.active_segment.base_offset)
        for log_dir, offsets in self._by_dir(lambda log: log.recovery_point).items():
            OffsetCheckpointFile(
                os.path.join(log_dir, RECOVERY_POINT_CHECKPOINT)
            ).write(offsets)

    def checkpoint_log_start_offsets(self) -> None:
        """
        Write each log dir's log start offsets.
        """
        for log_dir, offsets in self._by_dir(lambda log: log.log_start_offset).items():
            OffsetCheckpointFile(
                os.path.join(log_dir, LOG_START_OFFSET_CHECKPOINT)
            ).write(offsets)

    def shutdown(self) -> None:
        """
        Flush and close every log, write the checkpoints, and leave the clean
        shutdown marker in each log dir.
        """
        for log in self._logs.values():
            log.flush()
        self.checkpoint_recovery_points()
        self.checkpoint_log_start_offsets()
        for log in self._logs.values():
            log.close()
        self._remove_pending(force=True)
        for log_dir in self.log_dirs:
            marker = os.path.join(log_dir, CLEAN_SHUTDOWN_FILE)
            with open(marker, "w") as f:
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(OSError):
                fsync_directory(log_dir)
