"""
The settings of the group coordinator, taken from the broker's configuration.
"""

from __future__ import annotations

import attrs

from odradek.broker.config import KafkaConfig

__all__ = ["GroupConfig"]


def _int(config: KafkaConfig, name: str) -> int:
    value = config.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    return value


@attrs.frozen
class GroupConfig:
    """
    What the L{GroupCoordinator
    <odradek.broker.coordinator.group.coordinator.GroupCoordinator>} needs to know
    of the broker's configuration (Kafka's C{GroupConfig} and C{OffsetConfig}).

    @ivar min_session_timeout_ms: C{group.min.session.timeout.ms}.
    @ivar max_session_timeout_ms: C{group.max.session.timeout.ms}.
    @ivar initial_rebalance_delay_ms: C{group.initial.rebalance.delay.ms}: how long
        the first rebalance of an empty group waits for more members.
    @ivar max_size: C{group.max.size}.
    @ivar offset_metadata_max_bytes: C{offset.metadata.max.bytes}: the longest
        metadata string of a commit (counted, as Kafka counts it, in UTF-16 code
        units).
    @ivar offsets_retention_ms: C{offsets.retention.minutes}, in milliseconds.
    @ivar partition_count: C{offsets.topic.num.partitions}.
    """

    min_session_timeout_ms: int = 6000
    max_session_timeout_ms: int = 1800000
    initial_rebalance_delay_ms: int = 3000
    max_size: int = 2**31 - 1
    offset_metadata_max_bytes: int = 4096
    offsets_retention_ms: int = 7 * 24 * 3600 * 1000
    partition_count: int = 50

    @classmethod
    def from_config(cls, config: KafkaConfig) -> GroupConfig:
        """
        Read the group coordinator's settings.

        @param config: the broker's configuration.
        @return: the settings.
        """
        return cls(
            min_session_timeout_ms=_int(config, "group.min.session.timeout.ms"),
            max_session_timeout_ms=_int(config, "group.max.session.timeout.ms"),
            initial_rebalance_delay_ms=_int(config, "group.initial.rebalance.delay.ms"),
            max_size=_int(config, "group.max.size"),
            offset_metadata_max_bytes=_int(config, "offset.metadata.max.bytes"),
            offsets_retention_ms=_int(config, "offsets.retention.minutes") * 60 * 1000,
            partition_count=_int(config, "offsets.topic.num.partitions"),
        )
