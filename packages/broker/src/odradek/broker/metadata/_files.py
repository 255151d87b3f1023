"""
Crash-safe replacement of small files.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["atomic_write", "fsync_directory"]

# Indirection so that tests can make a write fail at the moment of the rename.
_replace = os.replace


def fsync_directory(directory: str) -> None:
    """
    Make a directory's entries (a new or renamed file in it) durable.

    @param directory: the directory's path.
    """
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: str, data: bytes) -> None:
    """
    Replace a file's contents so that after a crash at any moment the file holds
    either its old contents or the new ones: write a temporary file beside it,
    fsync it, rename it over the file, and fsync the directory.

    @param path: the file to write.
    @param data: its new contents.
    @raise OSError: if a step fails; the file then still holds its old contents
        (the temporary file is removed if possible).
    """
    temporary = path + ".tmp"
    try:
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        _replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    fsync_directory(os.path.dirname(os.path.abspath(path)))
