"""
Tests for L{odradek.broker.apis.log_dirs}: DescribeLogDirs in every version, through
a server connection.
"""

from __future__ import annotations

import os
from typing import Any

from kio.schema.errors import ErrorCode
from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.apis.log_dirs import DescribeLogDirsHandler
from odradek.broker.log import LogManager, TopicPartition
from odradek.broker.test._controltools import ControlPlane, build
from odradek.broker.test._logtools import make_batch
from odradek.client.protocol import ApiKey, VersionRange

DESCRIBE_LOG_DIRS = 35


class _Stats:
    f_blocks, f_bavail, f_frsize = 1000, 250, 4096


def _statvfs(path: str) -> Any:
    if path.endswith("broken"):
        raise OSError("no such file system")
    return _Stats()


def plane(case: SynchronousTestCase, *, broken: bool = False) -> ControlPlane:
    """
    @param broken: whether to add a second log directory, whose file system cannot
        be queried.
    @return: a control plane serving DescribeLogDirs.
    """
    control = ControlPlane(case)
    log_dirs = [control.log_dir]
    if broken:
        log_dirs.append(os.path.join(control.base, "broken"))
    control.log_manager = LogManager.start(
        log_dirs,
        control.config.log_config,
        lambda: int(control.clock.seconds() * 1000),
    )
    handler = DescribeLogDirsHandler(control.log_manager, _statvfs)
    control.registry.register(
        ApiKey.DESCRIBE_LOG_DIRS, handler.handle, VersionRange(1, 5)
    )
    return control


def append(control: ControlPlane, tp: TopicPartition, count: int) -> int:
    """
    Append C{count} batches to a partition's log, created in the first log
    directory.

    @return: the log's size.
    """
    log = control.log_manager.get_or_create_log(tp)
    assert os.path.dirname(log.directory) == control.log_dir
    for _ in range(count):
        log.append_as_leader(make_batch(), leader_epoch=0)
    return log.size


def sizes(result: Any) -> dict[tuple[str, int], tuple[int, int, bool]]:
    """
    @return: each partition's size, offset lag and future flag in a result.
    """
    return {
        (topic.name, p.partition_index): (
            p.partition_size,
            p.offset_lag,
            p.is_future_key,
        )
        for topic in result.topics
        for p in topic.partitions
    }


class DescribeLogDirsTests(SynchronousTestCase):
    """
    DescribeLogDirs reports each log directory and the partitions in it.
    """

    def test_every_version(self) -> None:
        """
        Versions 1 to 5 list each log directory with its partitions' sizes; from
        version 4 its file system's total and usable bytes.
        """
        control = plane(self, broken=True)
        orders = TopicPartition("orders", 0)
        control.log_manager.get_or_create_log(orders)
        for version in range(1, 6):
            with self.subTest(version=version):
                response = control.send(build(DESCRIBE_LOG_DIRS, version, topics=None))
                good, broken = response.results
                self.assertEqual(good.log_dir, control.log_dir)
                self.assertEqual(good.error_code, ErrorCode.none)
                self.assertIn(("orders", 0), sizes(good))
                self.assertEqual(broken.error_code, ErrorCode.kafka_storage_error)
                self.assertEqual(broken.topics, ())
                if version >= 4:
                    self.assertEqual(
                        (good.total_bytes, good.usable_bytes),
                        (1000 * 4096, 250 * 4096),
                    )
                    self.assertEqual(
                        (broken.total_bytes, broken.usable_bytes), (-1, -1)
                    )

    def test_sizes(self) -> None:
        """
        Each partition's size is the size of its segments, with no lag and no
        future replica.
        """
        control = plane(self)
        size = append(control, TopicPartition("orders", 1), 3)
        self.assertGreater(size, 0)
        append(control, TopicPartition("orders", 0), 0)
        response = control.send(build(DESCRIBE_LOG_DIRS, 4, topics=None))
        self.assertEqual(
            sizes(response.results[0]),
            {("orders", 0): (0, 0, False), ("orders", 1): (size, 0, False)},
        )

    def test_selected_partitions(self) -> None:
        """
        Topics named in the request restrict the answer to their listed
        partitions.
        """
        control = plane(self)
        for tp in (
            TopicPartition("a", 0),
            TopicPartition("a", 1),
            TopicPartition("b", 0),
        ):
            control.log_manager.get_or_create_log(tp)
        response = control.send(
            build(
                DESCRIBE_LOG_DIRS,
                4,
                topics=[
                    {"topic": "a", "partitions": [1]},
                    {"topic": "c", "partitions": [0]},
                ],
            )
        )
        self.assertEqual(list(sizes(response.results[0])), [("a", 1)])
