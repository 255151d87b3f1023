"""
L{OffsetCheckpointFile}: Kafka's text file of one offset per partition, used for
C{recovery-point-offset-checkpoint} and C{log-start-offset-checkpoint} in each log
dir::

    0                  the format version
    2                  how many entries follow
    orders 0 1200      topic, partition, offset
    orders 1 980

Writing is atomic: the new contents go to C{<name>.tmp}, are fsynced, renamed over the
file, and the directory is fsynced, so a crash leaves either the old file or the new.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Final

import attrs

from odradek.broker.log.topic_partition import TopicPartition
from odradek.client.errors import KafkaStorageError

__all__ = [
    "LOG_START_OFFSET_CHECKPOINT",
    "RECOVERY_POINT_CHECKPOINT",
    "OffsetCheckpointFile",
]

RECOVERY_POINT_CHECKPOINT: Final = "recovery-point-offset-checkpoint"
LOG_START_OFFSET_CHECKPOINT: Final = "log-start-offset-checkpoint"
_VERSION: Final = 0


def fsync_directory(path: str) -> None:
    """
    Make a directory's entries (new, renamed or removed files) durable.

    @param path: the directory.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@attrs.frozen
class OffsetCheckpointFile:
    """
    A checkpoint file of partition offsets.

    @ivar path: the file.
    """

    path: str

    def write(self, offsets: Mapping[TopicPartition, int]) -> None:
        """
        Replace the file's contents atomically.

        @param offsets: the offset of each partition.
        @raise KafkaStorageError: if the file cannot be written.
        """
        lines = [str(_VERSION), str(len(offsets))]
        lines += [
            f"{tp.topic} {tp.partition} {offset}" for tp, offset in offsets.items()
        ]
        data = ("\n".join(lines) + "\n").encode()
        temporary = self.path + ".tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
            fsync_directory(os.path.dirname(self.path) or ".")
        except OSError as e:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise KafkaStorageError(f"cannot write checkpoint {self.path}: {e}") from e

    def read(self) -> dict[TopicPartition, int]:
        """
        @return: the offset of each partition; empty if the file does not exist.
        @raise KafkaStorageError: if the file cannot be read or is malformed, naming
            the file and the bad line.
        """
        try:
            with open(self.path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as e:
            raise KafkaStorageError(f"cannot read checkpoint {self.path}: {e}") from e
        lines = text.splitlines()

        def malformed(line: str, why: str) -> KafkaStorageError:
            return KafkaStorageError(
                f"malformed line in checkpoint file {self.path}: {line!r} ({why})"
            )

        if len(lines) < 2:
            raise KafkaStorageError(
                f"checkpoint file {self.path} is truncated: {len(lines)} lines"
            )
        if lines[0].strip() != str(_VERSION):
            raise malformed(lines[0], f"unknown version, expected {_VERSION}")
        try:
            expected = int(lines[1])
        except ValueError:
            raise malformed(lines[1], "the entry count is not a number") from None
        entries = lines[2:]
        if expected < 0 or len(entries) != expected:
            raise KafkaStorageError(
                f"checkpoint file {self.path} declares {expected} entries but holds"
                f" {len(entries)}"
            )
        offsets: dict[TopicPartition, int] = {}
        for line in entries:
            fields = line.split(" ")
            if len(fields) != 3:
                raise malformed(line, "expected: topic partition offset")
            topic, partition, offset = fields
            try:
                offsets[TopicPartition(topic, int(partition))] = int(offset)
            except ValueError:
                raise malformed(line, "partition and offset must be numbers") from None
        return offsets
