"""
Tests for L{odradek.client.blocking} (L{ReactorThread}) and the producer's
blocking face, L{odradek.client.producer.producer}.
"""

from __future__ import annotations

import threading
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.selectreactor import SelectReactor
from twisted.python import threadable
from twisted.trial.unittest import SynchronousTestCase

from odradek.client import (
    ConfigError,
    Producer,
    ProducerRecord,
    RecordMetadata,
    errors,
)
from odradek.client.blocking import ReactorThread
from odradek.client.test._producertools import (
    FakeCluster,
    ImmediateReactor,
    partitions,
    use_fake_network,
)

BOOTSTRAP = {"bootstrap.servers": "boot:9000"}


class FakeReactorThread(ReactorThread):
    """
    A L{ReactorThread} over an L{ImmediateReactor}: calls run at once on the
    calling thread, which counts as the reactor thread only while C{inside} is
    set.

    @ivar calls: the functions given to L{call}, in order.
    """

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.inside = False
        self.calls: list[object] = []

    def in_reactor_thread(self) -> bool:
        return self.inside

    def call(self, function: Any, *args: object, timeout: float | None = None) -> Any:
        self.calls.append(function)
        return super().call(function, *args, timeout=timeout)


class ReactorThreadTests(SynchronousTestCase):
    """
    L{ReactorThread.call} runs a function on the reactor thread and waits.
    """

    def setUp(self) -> None:
        self.reactor = ImmediateReactor()
        self.thread = FakeReactorThread(self.reactor)

    def test_result(self) -> None:
        """The function's result, or its Deferred's, is returned."""
        self.assertEqual(self.thread.call(lambda x: x + 1, 41), 42)
        self.assertEqual(self.thread.call(succeed, "done"), "done")

    def test_errors(self) -> None:
        """What the function raises, or its Deferred fails with, is raised."""

        def broken() -> None:
            raise ValueError("broken")

        self.assertRaises(ValueError, self.thread.call, broken)
        self.assertRaises(
            errors.NetworkError, self.thread.call, fail, errors.NetworkError("down")
        )

    def test_later_result(self) -> None:
        """A Deferred fired later by the reactor's own work gives the result."""
        d: Deferred[str] = Deferred()
        self.reactor.callLater(0, d.callback, "later")
        self.assertEqual(self.thread.call(lambda: d), "later")

    def test_timeout(self) -> None:
        """
        A result that does not come within the timeout raises
        C{RequestTimedOutError}.
        """
        error = self.assertRaises(
            errors.RequestTimedOutError, self.thread.call, Deferred, timeout=0
        )
        self.assertIn("within 0 s", str(error))

    def test_on_reactor_thread(self) -> None:
        """A blocking call from the reactor thread raises at once."""
        self.thread.inside = True
        ran: list[int] = []
        error = self.assertRaises(
            errors.IllegalStateError, self.thread.call, ran.append, 1
        )
        self.assertIn("TwistedProducer", str(error))
        self.assertEqual(ran, [])

    def test_reactor_not_running(self) -> None:
        """A call while the reactor does not run raises instead of hanging."""
        self.reactor.running = False
        self.assertRaises(errors.IllegalStateError, self.thread.call, int)

    def test_start_running_reactor(self) -> None:
        """C{start} leaves a reactor that runs already to its owner."""
        self.thread.start()
        self.assertFalse(self.thread.owned)
        self.thread.stop()
        self.assertTrue(self.reactor.running)

    def test_call_soon(self) -> None:
        """C{call_soon} hands the call to the reactor without waiting."""
        ran: list[int] = []
        self.thread.call_soon(ran.append, 1)
        self.assertEqual(ran, [1])


class RealReactorThreadTests(SynchronousTestCase):
    """
    L{ReactorThread} runs a reactor of its own in a daemon thread.
    """

    def test_run_and_stop(self) -> None:
        """
        C{start} runs a stopped reactor in a thread named C{odradek-reactor};
        calls run there; a call made there raises; C{stop} ends the thread.
        """
        self.patch(threadable, "ioThread", threadable.ioThread)
        reactor = SelectReactor()
        thread = ReactorThread(reactor)
        thread.start()
        self.addCleanup(thread.stop)
        self.assertTrue(thread.owned)
        self.assertFalse(thread.in_reactor_thread())
        self.assertEqual(
            thread.call(lambda: threading.current_thread().name, timeout=30),
            "odradek-reactor",
        )
        self.assertTrue(thread.call(thread.in_reactor_thread, timeout=30))
        self.assertRaises(
            errors.IllegalStateError, thread.call, thread.call, int, timeout=30
        )
        thread.stop()
        self.assertFalse(reactor.running)
        self.assertFalse(
            any(t.name == "odradek-reactor" for t in threading.enumerate())
        )


class ProducerTests(SynchronousTestCase):
    """
    L{Producer}, the blocking face, through a L{FakeReactorThread}.
    """

    def setUp(self) -> None:
        self.reactor = ImmediateReactor()
        self.cluster = FakeCluster(
            self.reactor, {"orders": partitions("orders", [1, 2, 1])}
        )
        use_fake_network(self, self.cluster)
        self.thread = FakeReactorThread(self.reactor)

    def producer(self, **settings: object) -> Producer:
        """@return: a producer with C{linger_ms=0} unless C{settings} say else."""
        settings.setdefault("linger_ms", 0)
        producer = Producer(BOOTSTRAP, reactor_thread=self.thread, **settings)
        self.addCleanup(producer.close, 0)
        return producer

    def test_send(self) -> None:
        """
        C{send} waits for the topic's metadata, then returns the record's future;
        callbacks get the metadata.
        """
        producer = self.producer()
        seen: list[object] = []
        future = producer.send(
            ProducerRecord("orders", b"v", partition=2, timestamp=3),
            lambda metadata, error: seen.append(metadata),
        )
        expected = RecordMetadata("orders", 2, 0, 3, -1, 1)
        self.assertEqual(future.get(0), expected)
        self.assertEqual(seen, [expected])

    def test_send_does_not_hop(self) -> None:
        """
        Once the topic is known, C{send} appends on the caller's thread without
        a blocking call into the reactor thread.
        """
        producer = self.producer()
        producer.send(ProducerRecord("orders", b"v"))
        calls = len(self.thread.calls)
        for _ in range(10):
            producer.send(ProducerRecord("orders", b"v"))
        self.assertEqual(len(self.thread.calls), calls)

    def test_topic_metadata_timeout(self) -> None:
        """
        A topic that never appears fails C{send} after C{max.block.ms}.
        """
        producer = self.producer(max_block_ms=0)
        self.assertRaises(
            errors.RequestTimedOutError, producer.send, ProducerRecord("fresh", b"v")
        )

    def test_missing_partition(self) -> None:
        """
        A record naming a partition the topic does not have fails C{send} with
        C{UnknownTopicOrPartitionError} once fresh metadata still lacks it.
        """
        producer = self.producer()
        error = self.assertRaises(
            errors.UnknownTopicOrPartitionError,
            producer.send,
            ProducerRecord("orders", b"v", partition=3),
        )
        self.assertEqual(
            str(error.message),
            "partition 3 of topic orders is not in the metadata: the topic has 3 "
            "partition(s)",
        )

    def test_flush(self) -> None:
        """
        C{flush} returns once every record sent was delivered.
        """
        producer = self.producer(linger_ms=60_000)
        futures = [
            producer.send(ProducerRecord("orders", b"v", partition=p)) for p in range(3)
        ]
        self.assertFalse(any(f.done() for f in futures))
        producer.flush()
        self.assertEqual([f.get(0).offset for f in futures], [0, 0, 0])

    def test_flush_timeout(self) -> None:
        """
        C{flush} raises C{RequestTimedOutError} when records are still in flight
        after its timeout.
        """
        producer = self.producer()
        self.cluster.hold.add(1)
        future = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.assertRaises(errors.RequestTimedOutError, producer.flush, 0)
        self.assertFalse(future.done())

    def test_partitions_for(self) -> None:
        """C{partitions_for} lists the topic's partitions."""
        producer = self.producer()
        self.assertEqual(
            producer.partitions_for("orders"), partitions("orders", [1, 2, 1])
        )

    def test_close(self) -> None:
        """
        C{close} delivers what was sent; closing again makes no call; C{send}
        afterwards raises C{IllegalStateError}.
        """
        producer = self.producer(linger_ms=60_000)
        future = producer.send(ProducerRecord("orders", b"v", partition=0))
        producer.close()
        self.assertEqual(future.get(0).offset, 0)
        calls = len(self.thread.calls)
        producer.close()
        self.assertEqual(len(self.thread.calls), calls)
        self.assertRaises(
            errors.IllegalStateError, producer.send, ProducerRecord("fresh", b"v")
        )
        self.assertEqual(len(self.thread.calls), calls)
        self.assertTrue(self.reactor.idle())

    def test_close_now(self) -> None:
        """
        C{close(0)} fails the records not yet delivered.
        """
        producer = self.producer(linger_ms=60_000)
        future = producer.send(ProducerRecord("orders", b"v", partition=0))
        producer.close(0)
        self.assertIsInstance(future.exception(0), errors.IllegalStateError)

    def test_close_from_reactor_thread(self) -> None:
        """
        C{close} called on the reactor thread raises, and a later C{close} from
        another thread still closes.
        """
        producer = self.producer(linger_ms=60_000)
        future = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.thread.inside = True
        self.assertRaises(errors.IllegalStateError, producer.close)
        self.thread.inside = False
        producer.close()
        self.assertEqual(future.get(0).offset, 0)

    def test_context_manager(self) -> None:
        """
        C{with Producer(...)} closes the producer at the end of the block.
        """
        with self.producer(linger_ms=60_000) as producer:
            future = producer.send(ProducerRecord("orders", b"v", partition=0))
            self.assertFalse(future.done())
        self.assertEqual(future.get(0).offset, 0)
        self.assertRaises(
            errors.IllegalStateError, producer.send, ProducerRecord("orders", b"v")
        )

    def test_settings(self) -> None:
        """
        Keyword settings and dotted names combine; an unknown key is an error
        naming it, raised before any call into the reactor.
        """
        producer = self.producer(batch_size=100, linger_ms=5)
        self.assertEqual(
            (producer.config.batch_size, producer.config.linger_ms), (100, 5)
        )
        self.assertTrue(producer.config.bootstrap_servers)
        calls = len(self.thread.calls)
        error = self.assertRaises(
            ConfigError, Producer, BOOTSTRAP, reactor_thread=self.thread, lingr_ms=5
        )
        self.assertEqual(error.name, "lingr_ms")
        self.assertEqual(len(self.thread.calls), calls)
