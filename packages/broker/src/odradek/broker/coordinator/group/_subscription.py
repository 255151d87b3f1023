"""
The topics of a consumer's subscription, read from the metadata a consumer sends in
JoinGroup: an int16 version, then Kafka's C{ConsumerProtocolSubscription} of that
version, decoded with kio's schema (a version newer than kio's is read as the newest
kio knows, as Kafka's C{ConsumerProtocol} does).
"""

from __future__ import annotations

import struct
from typing import Any, Final

from kio.schema.consumer_protocol_subscription import v0, v1, v2, v3
from kio.serial import entity_reader

__all__ = ["CONSUMER_PROTOCOL_TYPE", "subscribed_topics"]

CONSUMER_PROTOCOL_TYPE: Final = "consumer"

_VERSION = struct.Struct(">h")
_READERS: Final[tuple[Any, ...]] = tuple(
    entity_reader(module.ConsumerProtocolSubscription) for module in (v0, v1, v2, v3)
)


def subscribed_topics(metadata: bytes) -> frozenset[str] | None:
    """
    Read the topics a consumer subscribes to.

    @param metadata: the consumer's metadata for the group's protocol.
    @return: its topics, or C{None} if C{metadata} is not a subscription this
        module can read.
    """
    try:
        (version,) = _VERSION.unpack_from(metadata, 0)
        if version < 0:
            return None
        reader = _READERS[min(version, len(_READERS) - 1)]
        subscription, _ = reader(bytes(metadata), _VERSION.size)
    except Exception:
        # Whatever kio raises for bytes that are no subscription: none is read.
        return None
    return frozenset(subscription.topics)
