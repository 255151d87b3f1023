"""
Errors of the metadata stores that are not Kafka protocol errors.
"""

from __future__ import annotations

__all__ = ["MetadataStoreError"]


class MetadataStoreError(Exception):
    """
    The stored metadata cannot be used: a file is corrupt, or the log directories
    belong to another broker or another cluster. The broker refuses to start; the
    message names the file or directory and the values that disagree.
    """
