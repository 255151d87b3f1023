"""
Being told when a consumer group's rebalance moves partitions: Kafka's
C{ConsumerRebalanceListener}.

An application passes a listener to C{subscribe} to commit what it processed
before a partition goes to another member, or to load state for a partition it
receives. L{IConsumerRebalanceListener} names the three calls; L{RebalanceListener}
is a base class whose methods do nothing, to override selectively.

A listener need not declare the interface: any object with the methods is
accepted (duck typing), and one lacking C{on_partitions_lost} gets Java's default
for it, L{on_partitions_revoked <IConsumerRebalanceListener.on_partitions_revoked>}.
L{as_rebalance_listener} checks an object and adapts it;
L{invoke_rebalance_listener} makes one call by its method name.

The consumer calls a listener on the application's thread, inside C{poll} (or
C{close}, C{unsubscribe}), so the listener may call the consumer's methods, such as
C{commit_sync}. Partitions are given as a list sorted by topic, then partition.
"""

from __future__ import annotations

from typing import Final

from zope.interface import Interface, implementer

from odradek.client.structs import TopicPartition

__all__ = [
    "LISTENER_METHODS",
    "ON_PARTITIONS_ASSIGNED",
    "ON_PARTITIONS_LOST",
    "ON_PARTITIONS_REVOKED",
    "IConsumerRebalanceListener",
    "RebalanceListener",
    "as_rebalance_listener",
    "invoke_rebalance_listener",
]

#: The name of L{IConsumerRebalanceListener.on_partitions_revoked}.
ON_PARTITIONS_REVOKED: Final = "on_partitions_revoked"
#: The name of L{IConsumerRebalanceListener.on_partitions_assigned}.
ON_PARTITIONS_ASSIGNED: Final = "on_partitions_assigned"
#: The name of L{IConsumerRebalanceListener.on_partitions_lost}.
ON_PARTITIONS_LOST: Final = "on_partitions_lost"
#: The names of the three methods of L{IConsumerRebalanceListener}.
LISTENER_METHODS: Final = (
    ON_PARTITIONS_REVOKED,
    ON_PARTITIONS_ASSIGNED,
    ON_PARTITIONS_LOST,
)


class IConsumerRebalanceListener(Interface):
    """
    Told when a rebalance of the consumer's group takes partitions away from it or
    gives it partitions (Kafka's C{ConsumerRebalanceListener}).

    With the eager protocol every member gives up all its partitions at the start
    of each rebalance (L{on_partitions_revoked}, always called, maybe with an empty
    list) and receives its new ones at the end (L{on_partitions_assigned}). With
    the cooperative protocol a member gives up only the partitions that move, at
    the end of the rebalance, and L{on_partitions_revoked} is called only when
    there are some. L{on_partitions_assigned} is called after every rebalance,
    with the partitions added (maybe none).
    """

    def on_partitions_revoked(partitions: list[TopicPartition]) -> None:
        """
        The consumer gives up partitions it still owns: commit what was processed
        of them now, since another member will start from the committed offsets.

        @param partitions: the partitions revoked, sorted.
        """

    def on_partitions_assigned(partitions: list[TopicPartition]) -> None:
        """
        A rebalance completed and gave the consumer these partitions (the new
        ones only, with the cooperative protocol). Their fetch positions are
        known by the time the next C{poll} returns records.

        @param partitions: the partitions assigned, sorted; maybe empty.
        """

    def on_partitions_lost(partitions: list[TopicPartition]) -> None:
        """
        The consumer lost partitions without a rebalance revoking them: it was
        no longer a member of the group (it missed heartbeats or polls), so the
        partitions may already belong to another member and committing their
        offsets would fail. Java's default, and L{RebalanceListener}'s, calls
        L{on_partitions_revoked}.

        @param partitions: the partitions lost, sorted.
        """


@implementer(IConsumerRebalanceListener)
class RebalanceListener:
    """
    A rebalance listener that does nothing: subclass it and override what you
    need. L{on_partitions_lost} calls L{on_partitions_revoked}, as Java's default
    method does.
    """

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        """
        Do nothing.

        @param partitions: the partitions revoked.
        """

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        """
        Do nothing.

        @param partitions: the partitions assigned.
        """

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        """
        Call L{on_partitions_revoked}.

        @param partitions: the partitions lost.
        """
        self.on_partitions_revoked(partitions)


@implementer(IConsumerRebalanceListener)
class _LostAsRevoked:
    """
    A duck-typed listener without C{on_partitions_lost}, given Java's default:
    lost partitions are reported as revoked.
    """

    def __init__(self, wrapped: object) -> None:
        self.wrapped = wrapped

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        getattr(self.wrapped, ON_PARTITIONS_REVOKED)(partitions)

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        getattr(self.wrapped, ON_PARTITIONS_ASSIGNED)(partitions)

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        self.on_partitions_revoked(partitions)


def as_rebalance_listener(listener: object) -> IConsumerRebalanceListener:
    """
    Check that an object can serve as a rebalance listener.

    @param listener: an object providing L{IConsumerRebalanceListener}, or any
        object with callable C{on_partitions_revoked} and
        C{on_partitions_assigned} methods (and optionally
        C{on_partitions_lost}).
    @return: C{listener} itself, or, when it has no C{on_partitions_lost}, an
        adapter reporting lost partitions to its C{on_partitions_revoked}.
    @raise TypeError: if a required method is missing or not callable.
    """
    if IConsumerRebalanceListener.providedBy(listener):
        return listener
    missing = [
        name
        for name in (ON_PARTITIONS_REVOKED, ON_PARTITIONS_ASSIGNED)
        if not callable(getattr(listener, name, None))
    ]
    if missing:
        raise TypeError(
            f"A rebalance listener needs the methods {', '.join(LISTENER_METHODS)}; "
            f"{listener!r} lacks {', '.join(missing)}"
        )
    if callable(getattr(listener, ON_PARTITIONS_LOST, None)):
        return listener  # type: ignore[return-value]
    return _LostAsRevoked(listener)


def invoke_rebalance_listener(
    listener: object, method: str, partitions: list[TopicPartition]
) -> object:
    """
    Make one call of a rebalance listener, as the consumer's faces do.

    @param listener: a listener accepted by L{as_rebalance_listener}.
    @param method: one of L{LISTENER_METHODS}.
    @param partitions: the partitions to pass.
    @raise ValueError: if C{method} is not a listener method.
    @raise TypeError: if C{listener} is not a listener.
    @return: what the method returned (a hook of the Twisted face may return a
        Deferred to wait for).
    @raise Exception: whatever the listener raises.
    """
    if method not in LISTENER_METHODS:
        raise ValueError(f"Not a rebalance listener method: {method!r}")
    return getattr(as_rebalance_listener(listener), method)(partitions)
