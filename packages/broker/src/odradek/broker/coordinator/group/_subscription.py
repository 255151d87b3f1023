"""
The topics of a consumer's subscription, read from the metadata a consumer sends in
JoinGroup (Kafka's C{ConsumerProtocolSubscription}, versions 0 to 3, never flexible:
an int16 version, then an int32 count of int16-length UTF-8 topic names, then fields
this module does not need).
"""

from __future__ import annotations

import struct

__all__ = ["CONSUMER_PROTOCOL_TYPE", "subscribed_topics"]

CONSUMER_PROTOCOL_TYPE = "consumer"

_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


def subscribed_topics(metadata: bytes) -> frozenset[str] | None:
    """
    Read the topics a consumer subscribes to.

    @param metadata: the consumer's metadata for the group's protocol.
    @return: its topics, or C{None} if C{metadata} is not a subscription this
        module can read.
    """
    try:
        (version,) = _INT16.unpack_from(metadata, 0)
        if version < 0:
            return None
        (count,) = _INT32.unpack_from(metadata, 2)
        if count < 0 or count > len(metadata):
            return None
        position = 6
        topics = set()
        for _ in range(count):
            (length,) = _INT16.unpack_from(metadata, position)
            position += 2
            if length < 0 or position + length > len(metadata):
                return None
            topics.add(metadata[position : position + length].decode("utf-8"))
            position += length
    except (struct.error, UnicodeDecodeError):
        return None
    return frozenset(topics)
