"""
L{TopicPartition}, the name of one partition, and how Kafka names its directory.

The client package has no C{TopicPartition} yet; this one lives with the log until it
does, and should then move there (with this module re-exporting it).
"""

from __future__ import annotations

import attrs

__all__ = ["TopicPartition"]


@attrs.frozen(order=True)
class TopicPartition:
    """
    A partition of a topic.

    @ivar topic: the topic's name.
    @ivar partition: the partition's number, from 0.
    """

    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"

    @property
    def dir_name(self) -> str:
        """
        @return: the name of the partition's directory in a log dir,
            C{<topic>-<partition>}.
        """
        return f"{self.topic}-{self.partition}"

    @classmethod
    def from_dir_name(cls, name: str) -> TopicPartition:
        """
        Parse a partition directory's name (topics may themselves hold dashes: the
        partition follows the last one).

        @param name: a name such as C{orders-eu-3}.
        @return: the partition it names.
        @raise ValueError: if C{name} is not C{<topic>-<partition>}.
        """
        topic, dash, number = name.rpartition("-")
        if not dash or not topic or not number.isdigit() or not number.isascii():
            raise ValueError(f"{name!r} does not name a partition directory")
        return cls(topic, int(number))
