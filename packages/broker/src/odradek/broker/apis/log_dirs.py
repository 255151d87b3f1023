"""
DescribeLogDirs (API key 35, versions 1 to 5): for each log directory, the partitions
stored in it with their sizes, and (from version 4) the bytes of its file system,
total and usable by the broker.

Odradek has no future replicas (logs being moved between directories), so every
partition has C{offset_lag} 0 and C{is_future_key} false, and no directory is
cordoned (version 5). A directory whose file system cannot be queried is reported
with C{KAFKA_STORAGE_ERROR}.

The sizes are read from the log manager directly: this is a report on storage, not
a read of records, so it does not go through the replica manager.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Final

import attrs

from odradek.broker.apis._schema import NO_THROTTLE, build, element, response_class
from odradek.broker.apis.context import RequestContext
from odradek.broker.apis.errors import kio_error_code
from odradek.broker.apis.registry import HandlerRegistry
from odradek.broker.log import LogManager, TopicPartition
from odradek.client.errors import KafkaStorageError
from odradek.client.protocol import ApiKey, VersionRange

__all__ = ["DescribeLogDirsHandler", "register"]

DESCRIBE_LOG_DIRS_VERSIONS: Final = VersionRange(1, 5)


@attrs.frozen
class DescribeLogDirsHandler:
    """
    Answer DescribeLogDirs requests.

    @ivar log_manager: the broker's logs.
    @ivar statvfs: C{os.statvfs}, or a stand-in for tests.
    """

    log_manager: LogManager
    statvfs: Callable[[str], Any] = os.statvfs

    def handle(self, context: RequestContext, request: Any) -> Any:
        """
        @param context: the request's context.
        @param request: the kio DescribeLogDirs request.
        @return: the response, one result per log directory.
        """
        wanted: set[TopicPartition] | None = None
        if request.topics is not None:
            wanted = {
                TopicPartition(topic.topic, partition)
                for topic in request.topics
                for partition in topic.partitions
            }
        sizes: dict[str, dict[str, list[tuple[int, int]]]] = {
            os.path.normpath(log_dir): {} for log_dir in self.log_manager.log_dirs
        }
        for tp, log in sorted(self.log_manager.logs.items()):
            if wanted is not None and tp not in wanted:
                continue
            log_dir = os.path.normpath(os.path.dirname(log.directory))
            topics = sizes.setdefault(log_dir, {})
            topics.setdefault(tp.topic, []).append((tp.partition, log.size))
        response = response_class(context)
        result_class = element(response, "results")
        topic_class = element(result_class, "topics")
        partition_class = element(topic_class, "partitions")
        results = []
        for log_dir, topics in sizes.items():
            code, total, usable = 0, -1, -1
            try:
                stats = self.statvfs(log_dir)
            except OSError:
                code = KafkaStorageError.code
            else:
                total = stats.f_blocks * stats.f_frsize
                usable = stats.f_bavail * stats.f_frsize
            results.append(
                build(
                    result_class,
                    error_code=kio_error_code(code),
                    log_dir=log_dir,
                    topics=tuple(
                        build(
                            topic_class,
                            name=name,
                            partitions=tuple(
                                build(
                                    partition_class,
                                    partition_index=partition,
                                    partition_size=size,
                                    offset_lag=0,
                                    is_future_key=False,
                                )
                                for partition, size in partitions
                            ),
                        )
                        for name, partitions in topics.items()
                    )
                    if code == 0
                    else (),
                    total_bytes=total,
                    usable_bytes=usable,
                    is_cordoned=False,
                )
            )
        return build(
            response,
            throttle_time=NO_THROTTLE,
            error_code=kio_error_code(0),
            results=tuple(results),
        )


def register(registry: HandlerRegistry, *, log_manager: LogManager) -> None:
    """
    Register DescribeLogDirs.

    @param registry: the registry to add it to.
    @param log_manager: the broker's logs.
    """
    handler = DescribeLogDirsHandler(log_manager)
    registry.register(
        ApiKey.DESCRIBE_LOG_DIRS, handler.handle, DESCRIBE_LOG_DIRS_VERSIONS
    )
