"""
Tests for L{odradek.client.producer.twisted_producer}: the producer's Deferred face.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from odradek.client import (
    ConfigError,
    ProducerConfig,
    ProducerRecord,
    RecordMetadata,
    TwistedProducer,
    errors,
)
from odradek.client.producer.buffer import BufferExhaustedError
from odradek.client.structs import TopicPartition
from odradek.client.test._producertools import (
    FakeCluster,
    FakeReactor,
    partitions,
    use_fake_network,
)

BOOTSTRAP = {"bootstrap.servers": "boot:9000"}


class _TwistedTestCase(SynchronousTestCase):
    """
    A L{TwistedProducer} talking to a L{FakeCluster} with topic orders (three
    partitions: node 1 leads 0 and 2, node 2 leads 1).
    """

    def setUp(self) -> None:
        self.reactor = FakeReactor()
        self.cluster = FakeCluster(
            self.reactor, {"orders": partitions("orders", [1, 2, 1])}
        )
        use_fake_network(self, self.cluster)

    def producer(self, **settings: object) -> TwistedProducer:
        """@return: a producer with C{linger_ms=0} unless C{settings} say else."""
        settings.setdefault("linger_ms", 0)
        producer = TwistedProducer(BOOTSTRAP, reactor=self.reactor, **settings)
        self.addCleanup(self._close, producer)
        return producer

    def _close(self, producer: TwistedProducer) -> None:
        producer.close(0)
        self.reactor.settle()


class SendTests(_TwistedTestCase):
    """
    L{TwistedProducer.send} returns a Deferred of the record's metadata.
    """

    def test_send(self) -> None:
        """
        The Deferred fires with the record's metadata once the broker stored it;
        the topic's metadata is fetched first.
        """
        producer = self.producer()
        seen: list[object] = []
        d = producer.send(
            ProducerRecord("orders", b"v", partition=1, timestamp=9),
            lambda metadata, error: seen.append((metadata, error)),
        )
        self.assertNoResult(d)
        self.reactor.settle()
        expected = RecordMetadata("orders", 1, 0, 9, -1, 1)
        self.assertEqual(self.successResultOf(d), expected)
        self.assertEqual(seen, [(expected, None)])

    def test_waits_for_topic(self) -> None:
        """
        A record for a topic not known yet waits until the topic appears.
        """
        producer = self.producer()
        d = producer.send(ProducerRecord("fresh", b"v"))
        self.reactor.advance(0.5)
        self.assertNoResult(d)
        self.cluster.topics["fresh"] = partitions("fresh", [2])
        self.reactor.advance(0.1)
        self.assertEqual(
            self.successResultOf(d).topic_partition, TopicPartition("fresh", 0)
        )

    def test_topic_never_appears(self) -> None:
        """
        When the topic is not in the metadata within C{max.block.ms}, the send
        fails with C{RequestTimedOutError}, and the callback hears of it.
        """
        producer = self.producer(max_block_ms=1000)
        seen: list[object] = []
        d = producer.send(
            ProducerRecord("fresh", b"v"),
            lambda metadata, error: seen.append(error),
        )
        self.reactor.advance(0.999)
        self.assertNoResult(d)
        self.reactor.advance(0.001)
        error = self.failureResultOf(d, errors.RequestTimedOutError).value
        self.assertIn("Topic fresh not present in metadata after 1000 ms.", str(error))
        self.assertEqual(seen, [error])

    def test_missing_partition(self) -> None:
        """
        A record naming a partition the topic does not have fails with
        C{UnknownTopicOrPartitionError} once the topic's metadata is known, and
        the callback hears of it.
        """
        producer = self.producer()
        seen: list[object] = []
        d = producer.send(
            ProducerRecord("orders", b"v", partition=7),
            lambda metadata, error: seen.append(error),
        )
        self.reactor.settle()
        error = self.failureResultOf(d, errors.UnknownTopicOrPartitionError).value
        self.assertIn("partition 7 of topic orders", str(error))
        self.assertEqual(seen, [error])

    def test_refused_record(self) -> None:
        """
        A record the core refuses fails the Deferred and goes to the callback; a
        callback that raises is logged.
        """
        producer = self.producer(max_request_size=100)

        def broken(metadata: object, error: object) -> None:
            raise RuntimeError("broken callback")

        d = producer.send(ProducerRecord("orders", b"x" * 100), broken)
        self.reactor.settle()
        self.failureResultOf(d, errors.RecordTooLargeError)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_buffer_full_does_not_block(self) -> None:
        """
        On the reactor thread, a full C{buffer.memory} fails the send at once
        instead of blocking the reactor for C{max.block.ms}.
        """
        producer = self.producer(
            buffer_memory=2000, batch_size=1500, linger_ms=60_000, max_block_ms=60_000
        )
        first = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.reactor.settle()
        second = producer.send(ProducerRecord("orders", b"v", partition=1))
        error = self.failureResultOf(second, BufferExhaustedError).value
        self.assertIn("max blocking time 0 ms", str(error))
        self.assertNoResult(first)
        producer.close(0)
        self.failureResultOf(first, errors.IllegalStateError)

    def test_partitions_for(self) -> None:
        """
        C{partitions_for} fetches the topic's metadata and lists its partitions.
        """
        producer = self.producer()
        d = producer.partitions_for("orders")
        self.reactor.settle()
        self.assertEqual(self.successResultOf(d), partitions("orders", [1, 2, 1]))


class LifecycleTests(_TwistedTestCase):
    """
    L{TwistedProducer.flush} and L{TwistedProducer.close}.
    """

    def test_flush(self) -> None:
        """
        C{flush} fires once every record sent was delivered.
        """
        producer = self.producer(linger_ms=60_000)
        sends = [
            producer.send(ProducerRecord("orders", b"v", partition=p)) for p in range(3)
        ]
        self.reactor.settle()
        for d in sends:
            self.assertNoResult(d)
        flushed = producer.flush()
        self.reactor.settle()
        self.successResultOf(flushed)
        self.assertEqual([self.successResultOf(d).offset for d in sends], [0, 0, 0])

    def test_close_delivers_then_releases(self) -> None:
        """
        C{close} delivers what was sent, then leaves no delayed call; closing
        again gives the same Deferred.
        """
        producer = self.producer(linger_ms=60_000)
        sent = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.reactor.settle()
        closing = producer.close(5.0)
        self.assertIs(producer.close(), closing)
        self.reactor.settle()
        self.successResultOf(closing)
        self.assertEqual(self.successResultOf(sent).offset, 0)
        self.assertTrue(self.reactor.idle())

    def test_close_now_after_close(self) -> None:
        """
        C{close(0)} cuts short a close still delivering.
        """
        producer = self.producer()
        self.cluster.hold.add(1)
        sent = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.reactor.settle()
        closing = producer.close()
        self.reactor.settle()
        self.assertNoResult(closing)
        self.assertIs(producer.close(0), closing)
        self.successResultOf(closing)
        self.failureResultOf(sent, errors.IllegalStateError)

    def test_close_now(self) -> None:
        """
        C{close(0)} fails the records not yet delivered with C{IllegalStateError}.
        """
        producer = self.producer(linger_ms=60_000)
        sent = producer.send(ProducerRecord("orders", b"v", partition=0))
        self.reactor.settle()
        self.successResultOf(producer.close(0))
        self.failureResultOf(sent, errors.IllegalStateError)
        self.reactor.settle()
        self.assertTrue(self.reactor.idle())
        self.assertEqual(self.cluster.produced, [])

    def test_close_while_waiting_for_topic(self) -> None:
        """
        A send waiting for its topic's metadata fails on close, and no delayed
        call is left.
        """
        producer = self.producer()
        waiting = producer.send(ProducerRecord("fresh", b"v"))
        self.reactor.advance(0.25)
        producer.close(1.0)
        self.reactor.settle()
        self.failureResultOf(waiting, errors.IllegalStateError)
        self.assertTrue(self.reactor.idle())

    def test_send_after_close(self) -> None:
        """
        A send after close fails with C{IllegalStateError} and tells the callback.
        """
        producer = self.producer()
        producer.close()
        seen: list[object] = []
        d = producer.send(ProducerRecord("orders", b"v"), lambda m, e: seen.append(e))
        error = self.failureResultOf(d, errors.IllegalStateError).value
        self.assertEqual(seen, [error])


class ConfigurationTests(_TwistedTestCase):
    """
    The producer takes settings by Kafka's names and as keyword arguments.
    """

    def test_keywords_and_dotted_names(self) -> None:
        """
        Keyword settings and dotted names combine.
        """
        producer = TwistedProducer(
            {**BOOTSTRAP, "acks": "1"}, reactor=self.reactor, linger_ms=5
        )
        self.addCleanup(producer.close, 0)
        self.assertEqual((producer.config.linger_ms, producer.config.acks), (5, 1))
        self.assertEqual(producer.config.bootstrap_servers, ["boot:9000"])

    def test_config_object_with_overrides(self) -> None:
        """
        A L{ProducerConfig} can be given, its keys overridden by keywords.
        """
        config = ProducerConfig(BOOTSTRAP, linger_ms=5, batch_size=100)
        producer = TwistedProducer(config, reactor=self.reactor, linger_ms=7)
        self.addCleanup(producer.close, 0)
        self.assertEqual(
            (producer.config.linger_ms, producer.config.batch_size), (7, 100)
        )
        same = TwistedProducer(config, reactor=self.reactor)
        self.addCleanup(same.close, 0)
        self.assertIs(same.config, config)

    def test_unknown_key(self) -> None:
        """
        An unknown key is an error naming it, as a keyword or a dotted name, with
        or without a L{ProducerConfig}.
        """
        cases: list[tuple[Any, dict[str, object], str]] = [
            ({**BOOTSTRAP, "linger.mss": 5}, {}, "linger.mss"),
            (BOOTSTRAP, {"lingr_ms": 5}, "lingr_ms"),
            (ProducerConfig(BOOTSTRAP), {"bogus_key": 1}, "bogus_key"),
        ]
        for config, settings, name in cases:
            error = self.assertRaises(
                ConfigError, TwistedProducer, config, reactor=self.reactor, **settings
            )
            self.assertEqual(error.name, name)
            self.assertIn(repr(name), str(error))
