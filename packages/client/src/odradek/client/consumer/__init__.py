"""
The consumer: L{Consumer} (blocking) and L{TwistedConsumer} (Deferreds) over one
core of subscription state, a prefetching fetcher, offset lookups and the group
coordinator with its partition assignors and rebalance listener.
"""

from odradek.client.consumer.assignors import (
    IPartitionAssignor,
    RangeAssignor,
    RoundRobinAssignor,
)
from odradek.client.consumer.consumer import Consumer
from odradek.client.consumer.fetcher import RecordDeserializationError
from odradek.client.consumer.listener import (
    IConsumerRebalanceListener,
    RebalanceListener,
)
from odradek.client.consumer.protocol import Assignment, RebalanceProtocol, Subscription
from odradek.client.consumer.sticky import CooperativeStickyAssignor, StickyAssignor
from odradek.client.consumer.twisted_consumer import TwistedConsumer

__all__ = [
    "Assignment",
    "Consumer",
    "CooperativeStickyAssignor",
    "IConsumerRebalanceListener",
    "IPartitionAssignor",
    "RangeAssignor",
    "RebalanceListener",
    "RebalanceProtocol",
    "RecordDeserializationError",
    "RoundRobinAssignor",
    "StickyAssignor",
    "Subscription",
    "TwistedConsumer",
]
