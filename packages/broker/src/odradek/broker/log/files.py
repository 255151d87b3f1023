"""
The names of the files in a partition directory, as Kafka names them: each segment's
files and each producer state snapshot carry a base offset written as 20
zero-padded digits, followed by their extension and, while being deleted or swapped,
a suffix.
"""

from __future__ import annotations

import os
from typing import Final

__all__ = [
    "CLEANED_SUFFIX",
    "DELETED_SUFFIX",
    "INDEX_SUFFIX",
    "LOG_SUFFIX",
    "SNAPSHOT_SUFFIX",
    "SWAP_SUFFIX",
    "TIME_INDEX_SUFFIX",
    "TXN_INDEX_SUFFIX",
    "filename_prefix",
    "list_snapshots",
    "snapshot_path",
]

LOG_SUFFIX: Final = ".log"
INDEX_SUFFIX: Final = ".index"
TIME_INDEX_SUFFIX: Final = ".timeindex"
TXN_INDEX_SUFFIX: Final = ".txnindex"
SNAPSHOT_SUFFIX: Final = ".snapshot"
DELETED_SUFFIX: Final = ".deleted"
CLEANED_SUFFIX: Final = ".cleaned"
SWAP_SUFFIX: Final = ".swap"


def filename_prefix(offset: int) -> str:
    """
    @param offset: a base offset.
    @return: the offset as Kafka names segment files: 20 digits, zero-padded.
    """
    return f"{offset:020d}"


def snapshot_path(directory: str, offset: int) -> str:
    """
    @return: the path of the producer state snapshot taken at C{offset}.
    """
    return os.path.join(directory, filename_prefix(offset) + SNAPSHOT_SUFFIX)


def list_snapshots(directory: str) -> list[int]:
    """
    @return: the offsets of the producer state snapshots in C{directory}, in order.
    """
    offsets = []
    for name in os.listdir(directory):
        stem, _, suffix = name.partition(".")
        if "." + suffix == SNAPSHOT_SUFFIX and stem.isdigit():
            offsets.append(int(stem))
    return sorted(offsets)
