"""
Tests for L{odradek.client.consumer.listener}: the rebalance listener interface, its
no-op base class, duck-typed listeners and Java's default for lost partitions.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from odradek.client.consumer.listener import (
    LISTENER_METHODS,
    ON_PARTITIONS_ASSIGNED,
    ON_PARTITIONS_LOST,
    ON_PARTITIONS_REVOKED,
    IConsumerRebalanceListener,
    RebalanceListener,
    as_rebalance_listener,
    invoke_rebalance_listener,
)
from odradek.client.structs import TopicPartition

T0 = TopicPartition("t", 0)
T1 = TopicPartition("t", 1)


class _Recording(RebalanceListener):
    """Records the revoked and assigned calls only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[TopicPartition]]] = []

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("revoked", partitions))

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("assigned", partitions))


class _Duck:
    """A listener that does not declare the interface and has no lost method."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[TopicPartition]]] = []

    def on_partitions_revoked(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("revoked", partitions))

    def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("assigned", partitions))


class _FullDuck(_Duck):
    """A duck-typed listener with all three methods."""

    def on_partitions_lost(self, partitions: list[TopicPartition]) -> None:
        self.calls.append(("lost", partitions))


class RebalanceListenerTests(SynchronousTestCase):
    """
    Tests for L{RebalanceListener} and L{IConsumerRebalanceListener}.
    """

    def test_provides_interface(self) -> None:
        """RebalanceListener instances provide IConsumerRebalanceListener."""
        self.assertTrue(verifyObject(IConsumerRebalanceListener, RebalanceListener()))

    def test_no_ops(self) -> None:
        """The base class's methods change nothing."""
        listener = RebalanceListener()
        partitions = [T0]
        listener.on_partitions_revoked(partitions)
        listener.on_partitions_assigned(partitions)
        listener.on_partitions_lost(partitions)
        self.assertEqual(vars(listener), {})
        self.assertEqual(partitions, [T0])

    def test_lost_defaults_to_revoked(self) -> None:
        """on_partitions_lost calls on_partitions_revoked, as Java's default does."""
        listener = _Recording()
        listener.on_partitions_lost([T0, T1])
        self.assertEqual(listener.calls, [("revoked", [T0, T1])])

    def test_method_names(self) -> None:
        """The method name constants name the interface's methods."""
        self.assertEqual(
            LISTENER_METHODS,
            (ON_PARTITIONS_REVOKED, ON_PARTITIONS_ASSIGNED, ON_PARTITIONS_LOST),
        )
        for name in LISTENER_METHODS:
            self.assertIn(name, IConsumerRebalanceListener.names())


class AsRebalanceListenerTests(SynchronousTestCase):
    """
    Tests for L{as_rebalance_listener} and L{invoke_rebalance_listener}.
    """

    def test_provider_returned_as_is(self) -> None:
        """An object providing the interface is returned unchanged."""
        listener = RebalanceListener()
        self.assertIs(as_rebalance_listener(listener), listener)

    def test_full_duck_returned_as_is(self) -> None:
        """A duck-typed object with all three methods is returned unchanged."""
        listener = _FullDuck()
        self.assertIs(as_rebalance_listener(listener), listener)

    def test_duck_without_lost_adapted(self) -> None:
        """A duck without on_partitions_lost gets lost reported as revoked."""
        duck = _Duck()
        adapted = as_rebalance_listener(duck)
        self.assertTrue(verifyObject(IConsumerRebalanceListener, adapted))
        adapted.on_partitions_lost([T1])
        adapted.on_partitions_assigned([T0])
        self.assertEqual(duck.calls, [("revoked", [T1]), ("assigned", [T0])])

    def test_missing_methods_rejected(self) -> None:
        """An object lacking a required method is a TypeError naming it."""
        error = self.assertRaises(TypeError, as_rebalance_listener, object())
        self.assertIn("on_partitions_revoked", str(error))
        self.assertIn("on_partitions_assigned", str(error))

    def test_invoke_by_name(self) -> None:
        """invoke_rebalance_listener calls the named method with the partitions."""
        duck = _FullDuck()
        invoke_rebalance_listener(duck, ON_PARTITIONS_LOST, [T0])
        invoke_rebalance_listener(duck, ON_PARTITIONS_ASSIGNED, [T1])
        self.assertEqual(duck.calls, [("lost", [T0]), ("assigned", [T1])])

    def test_invoke_lost_on_duck(self) -> None:
        """Invoking on_partitions_lost on a duck without it calls its revoked."""
        duck = _Duck()
        invoke_rebalance_listener(duck, ON_PARTITIONS_LOST, [T0])
        self.assertEqual(duck.calls, [("revoked", [T0])])

    def test_invoke_unknown_method(self) -> None:
        """Invoking a name that is not a listener method is a ValueError."""
        self.assertRaises(
            ValueError, invoke_rebalance_listener, _FullDuck(), "on_everything", []
        )

    def test_invoke_propagates_errors(self) -> None:
        """An exception the listener raises propagates to the caller."""

        class Failing(RebalanceListener):
            def on_partitions_assigned(self, partitions: list[TopicPartition]) -> None:
                raise RuntimeError("boom")

        self.assertRaises(
            RuntimeError,
            invoke_rebalance_listener,
            Failing(),
            ON_PARTITIONS_ASSIGNED,
            [T0],
        )


class SubscribeListenerCheckTests(SynchronousTestCase):
    """
    A consumer refuses a listener without the listener's methods when it
    subscribes, not at the first rebalance.
    """

    def test_refused_at_subscribe(self) -> None:
        """subscribe with an object lacking the hooks raises TypeError naming them."""
        from twisted.internet.testing import MemoryReactorClock

        from odradek.client.consumer.twisted_consumer import TwistedConsumer

        reactor = MemoryReactorClock()
        consumer = TwistedConsumer(
            {"bootstrap.servers": "localhost:9092", "group.id": "g"}, reactor=reactor
        )
        error = self.assertRaises(TypeError, consumer.subscribe, ["t"], object())
        self.assertIn("on_partitions_assigned", str(error))
        self.assertEqual(consumer.subscription(), set())
        self.successResultOf(consumer.close(0))
