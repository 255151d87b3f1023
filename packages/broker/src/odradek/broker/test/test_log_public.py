"""
The public names of L{odradek.broker.log}, pinned so that a change to them is
deliberate.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

import odradek.broker.log


class LogPublicNamesTests(SynchronousTestCase):
    """
    The storage package exports exactly the names it documents.
    """

    def test_all(self) -> None:
        """
        C{odradek.broker.log.__all__} lists the storage layer's public names.
        """
        self.assertEqual(
            sorted(odradek.broker.log.__all__),
            sorted(
                [
                    "CLEAN_SHUTDOWN_FILE",
                    "EARLIEST_LOCAL_TIMESTAMP",
                    "EARLIEST_TIMESTAMP",
                    "LATEST_TIMESTAMP",
                    "LOG_START_OFFSET_CHECKPOINT",
                    "MAX_TIMESTAMP",
                    "RECOVERY_POINT_CHECKPOINT",
                    "TOPIC_CONFIGS",
                    "BatchInfo",
                    "BatchMetadata",
                    "BrokerSynonym",
                    "ConfigType",
                    "CorruptIndexError",
                    "FetchDataInfo",
                    "FileRecords",
                    "LocalLog",
                    "Log",
                    "LogAppendInfo",
                    "LogConfig",
                    "LogLoader",
                    "LogManager",
                    "LogOffsetMetadata",
                    "LogSegment",
                    "LogValidator",
                    "OffsetCheckpointFile",
                    "OffsetIndex",
                    "ProducerStateEntry",
                    "ProducerStateManager",
                    "TimeIndex",
                    "TimestampAndOffset",
                    "TopicConfigKey",
                    "TopicPartition",
                ]
            ),
        )

    def test_exported(self) -> None:
        """
        Every listed name is importable from the package.
        """
        for name in odradek.broker.log.__all__:
            self.assertTrue(hasattr(odradek.broker.log, name), name)

    def test_no_reactor(self) -> None:
        """
        The storage layer imports nothing of the server, the APIs or the reactor.
        """
        import sys

        for module in list(sys.modules):
            if module.startswith("odradek.broker.log"):
                source = getattr(sys.modules[module], "__file__", "") or ""
                if source.endswith(".py"):
                    with open(source) as f:
                        text = f.read()
                    for forbidden in (
                        "twisted.internet",
                        "odradek.broker.server",
                        "odradek.broker.apis",
                    ):
                        self.assertNotIn(forbidden, text, module)
