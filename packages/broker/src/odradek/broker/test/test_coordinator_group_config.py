"""
Tests for L{odradek.broker.coordinator.group.config}.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from odradek.broker.config import KafkaConfig
from odradek.broker.coordinator.group.config import GroupConfig


class GroupConfigTests(SynchronousTestCase):
    """
    L{GroupConfig.from_config} reads the broker's keys.
    """

    def test_defaults(self) -> None:
        """
        The broker's defaults give Kafka's defaults.
        """
        self.assertEqual(
            GroupConfig.from_config(KafkaConfig.from_properties({})), GroupConfig()
        )

    def test_keys(self) -> None:
        """
        Every key is read, the retention converted to milliseconds.
        """
        config = KafkaConfig.from_properties(
            {
                "group.min.session.timeout.ms": "1000",
                "group.max.session.timeout.ms": "2000",
                "group.initial.rebalance.delay.ms": "0",
                "group.max.size": "10",
                "offset.metadata.max.bytes": "20",
                "offsets.retention.minutes": "2",
                "offsets.topic.num.partitions": "3",
            }
        )
        self.assertEqual(
            GroupConfig.from_config(config),
            GroupConfig(1000, 2000, 0, 10, 20, 120000, 3),
        )
