"""
Tests for L{odradek.client.producer.sender}, against fake brokers on a fake network.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError

from odradek.client import errors
from odradek.client.protocol import ApiKey
from odradek.client.structs import RecordMetadata, TopicPartition
from odradek.client.test._networktools import BROKER_RANGES
from odradek.client.test._producertools import (
    SenderTestCase,
    outcome,
    partitions_in,
)

O0, O1, O2 = (TopicPartition("orders", p) for p in range(3))
LOST = TopicPartition("lost", 0)
NOT_LEADER = errors.NotLeaderOrFollowerError.code


class DrainTests(SenderTestCase):
    """
    Ready batches go out in one Produce request per leader.
    """

    def test_one_request_per_node(self) -> None:
        """
        The batches of the partitions a node leads share one request, in the
        negotiated version; each record gets its offset.
        """
        futures = [self.send(tp) for tp in (O0, O1, O2)]
        self.reactor.settle()
        [(_, header, request)] = [p for p in self.cluster.produced if p[0] == 1]
        self.assertEqual(sorted(partitions_in(request)), [O0, O2])
        self.assertEqual(header.api_version, 12)
        self.assertEqual(request.acks, -1)
        self.assertEqual(partitions_in(self.cluster.requests_to(2)[0]), [O1])
        self.assertEqual(
            [outcome(f) for f in futures],
            [
                RecordMetadata("orders", tp.partition, 0, 1000, -1, 1)
                for tp in (O0, O1, O2)
            ],
        )
        self.assertEqual(self.sender.in_flight_requests(), 0)

    def test_offsets_follow_the_log(self) -> None:
        """
        Records of one batch get consecutive offsets; the next batch follows.
        """
        first = [self.send(O0, b"a"), self.send(O0, b"b")]
        self.reactor.settle()
        second = self.send(O0, b"c")
        self.reactor.settle()
        self.assertEqual([outcome(f).offset for f in [*first, second]], [0, 1, 2])  # type: ignore[union-attr]
        self.assertEqual(self.values(O0), [b"a", b"b", b"c"])

    def test_max_in_flight_per_node(self) -> None:
        """
        No more than C{max.in.flight.requests.per.connection} requests wait for
        answers from one node; the next goes once one is answered.
        """
        self.cluster.hold.add(1)
        futures = []
        for value in (b"a", b"b", b"c", b"d", b"e", b"f"):
            futures.append(self.send(O0, value))
            self.reactor.settle()
        self.assertEqual(len(self.cluster.requests_to(1)), 5)
        self.assertEqual(self.sender.in_flight_requests(), 5)
        self.cluster.release(1)
        self.reactor.settle()
        self.assertEqual([outcome(f).offset for f in futures], list(range(6)))  # type: ignore[union-attr]
        self.assertEqual(self.values(O0), [b"a", b"b", b"c", b"d", b"e", b"f"])

    def test_linger(self) -> None:
        """
        A batch that is not full waits C{linger.ms} before it goes out.
        """
        self.accumulator.linger_ms = 20
        future = self.send(O0)
        self.advance(0.019)
        self.assertEqual(self.cluster.produced, [])
        self.advance(0.001)
        self.assertIsInstance(outcome(future), RecordMetadata)

    def test_wakeups_coalesce(self) -> None:
        """
        Several wake-ups before the sender runs queue one run.
        """
        self.sender.wakeup()
        self.sender.wakeup()
        self.sender.wakeup()
        self.assertEqual(len(self.reactor.from_thread), 1)


class OlderBrokerTests(SenderTestCase):
    """
    The Produce version is negotiated with each broker.
    """

    ranges = {**BROKER_RANGES, ApiKey.PRODUCE: (3, 7)}

    def test_negotiated_version(self) -> None:
        """
        A broker supporting Produce up to version 7 gets version 7.
        """
        future = self.send(O0)
        self.reactor.settle()
        [(_, header, _)] = self.cluster.produced
        self.assertEqual(header.api_version, 7)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]


class NoProduceBrokerTests(SenderTestCase):
    """
    A broker that does not support Produce at all.
    """

    ranges = {k: v for k, v in BROKER_RANGES.items() if k != ApiKey.PRODUCE}

    def test_unsupported(self) -> None:
        """
        The records fail with C{UnsupportedVersionError}; nothing is left queued.
        """
        future = self.send(O0)
        self.reactor.settle()
        self.assertIsInstance(outcome(future), errors.UnsupportedVersionError)
        self.assertFalse(self.accumulator.has_incomplete())


class AcksZeroTests(SenderTestCase):
    """
    With C{acks=0} no answer is awaited.
    """

    acks = 0
    retries = 0

    def test_no_response(self) -> None:
        """
        The records complete once written, with offset -1, and nothing stays in
        flight.
        """
        futures = [self.send(O0), self.send(O1)]
        self.reactor.settle()
        self.assertEqual(
            [outcome(f) for f in futures],
            [
                RecordMetadata("orders", 0, -1, 1000, -1, 1),
                RecordMetadata("orders", 1, -1, 1000, -1, 1),
            ],
        )
        self.assertEqual([r.acks for _, _, r in self.cluster.produced], [0, 0])
        self.assertEqual(self.sender.in_flight_requests(), 0)
        self.assertEqual(self.values(O0), [b"v"])


class RetryTests(SenderTestCase):
    """
    Retriable errors put the batch back; it goes again after its backoff.
    """

    def test_not_leader_then_new_leader(self) -> None:
        """
        After C{NOT_LEADER_OR_FOLLOWER} the metadata is refreshed and the batch
        goes to the new leader.
        """
        self.cluster.errors[O0] = [NOT_LEADER]
        self.cluster.set_leader(O0, 2)
        refreshes = self.cluster.metadata_requests()
        future = self.send(O0)
        self.reactor.settle()
        self.assertIsNone(outcome(future))
        self.advance(0.1)
        self.assertEqual(self.cluster.metadata_requests(), refreshes + 1)
        self.assertEqual(outcome(future), RecordMetadata("orders", 0, 0, 1000, -1, 1))
        self.assertEqual(len(self.cluster.requests_to(1)), 1)
        self.assertEqual(partitions_in(self.cluster.requests_to(2)[0]), [O0])

    def test_request_timed_out_error(self) -> None:
        """
        A C{REQUEST_TIMED_OUT} partition error is retried after the backoff.
        """
        self.cluster.errors[O0] = [errors.RequestTimedOutError.code]
        future = self.send(O0)
        self.reactor.settle()
        self.advance(0.099)
        self.assertIsNone(outcome(future))
        self.advance(0.001)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(len(self.cluster.produced), 2)

    def test_disconnect(self) -> None:
        """
        A connection lost with the request in flight fails it with a network
        error; the batch goes again on a new connection and is stored once.
        """
        self.cluster.hold.add(1)
        future = self.send(O0)
        self.reactor.settle()
        self.cluster.hold.clear()
        self.cluster.disconnect(1)
        self.reactor.settle()
        self.assertIsNone(outcome(future))
        self.advance(0.1)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(len(self.cluster.requests_to(1)), 2)
        self.assertEqual(self.values(O0), [b"v"])

    def test_request_timeout(self) -> None:
        """
        A request unanswered within C{request.timeout.ms} is retried.
        """
        self.cluster.hold.add(1)
        future = self.send(O0)
        self.reactor.settle()
        self.advance(1.0)
        self.cluster.hold.clear()
        self.assertIsNone(outcome(future))
        self.advance(0.1)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]

    def test_connection_refused_backs_off(self) -> None:
        """
        When the leader refuses the connection, the sender tries again after the
        pool's reconnect backoff and then sends.
        """
        broker = self.cluster.network.brokers.pop(("b1", 9092))
        future = self.send(O0)
        self.reactor.settle()
        self.assertEqual(self.cluster.network.connects.count(("b1", 9092)), 1)
        self.advance(0.049)
        self.assertEqual(self.cluster.network.connects.count(("b1", 9092)), 1)
        self.cluster.network.brokers[("b1", 9092)] = broker
        self.advance(0.001)
        self.assertEqual(outcome(future).offset, 0)  # type: ignore[union-attr]
        self.assertEqual(self.cluster.network.connects.count(("b1", 9092)), 2)


class FatalErrorTests(SenderTestCase):
    """
    Errors that are not retriable fail exactly the partition they name.
    """

    def assert_fails_alone(self, error: type[errors.KafkaError]) -> None:
        """
        Answer C{error} for orders-0: its record fails with that class, while
        orders-2 in the same request succeeds, and nothing is retried.
        """
        self.cluster.errors[O0] = [error.code]
        failing, fine = self.send(O0), self.send(O2)
        self.advance(1.0, 10)
        self.assertIsInstance(outcome(failing), error)
        self.assertEqual(outcome(fine), RecordMetadata("orders", 2, 0, 1000, -1, 1))
        self.assertEqual(len(self.cluster.produced), 1)
        self.assertFalse(self.accumulator.has_incomplete())

    def test_message_too_large(self) -> None:
        """C{MESSAGE_TOO_LARGE} fails the partition's records."""
        self.assert_fails_alone(errors.RecordTooLargeError)

    def test_invalid_record(self) -> None:
        """C{INVALID_RECORD} fails the partition's records."""
        self.assert_fails_alone(errors.InvalidRecordError)

    def test_topic_authorization_failed(self) -> None:
        """C{TOPIC_AUTHORIZATION_FAILED} fails the partition's records."""
        self.assert_fails_alone(errors.TopicAuthorizationError)


class ExhaustedTests(SenderTestCase):
    """
    Retries end with C{retries} or C{delivery.timeout.ms}.
    """

    retries = 2
    delivery_timeout_ms = 2000

    def test_retries_exhausted(self) -> None:
        """
        After C{retries} retries the batch fails with the last error.
        """
        self.cluster.errors[O0] = [NOT_LEADER] * 10
        future = self.send(O0)
        self.advance(1.0, 100)
        self.assertIsInstance(outcome(future), errors.NotLeaderOrFollowerError)
        self.assertEqual(len(self.cluster.produced), 3)

    def test_delivery_timeout(self) -> None:
        """
        A batch that could not be sent within C{delivery.timeout.ms} fails with
        C{RequestTimedOutError}, saying how many records expired.
        """
        futures = [self.send(LOST, b"a"), self.send(LOST, b"b")]
        self.advance(1.999, 10)
        self.assertEqual([outcome(f) for f in futures], [None, None])
        self.advance(0.001)
        error = outcome(futures[0])
        self.assertIsInstance(error, errors.RequestTimedOutError)
        self.assertIs(outcome(futures[1]), error)
        self.assertIn("Expiring 2 record(s) for lost-0: ", str(error))
        self.assertEqual(self.cluster.produced, [])

    def test_unknown_leader_is_no_busy_loop(self) -> None:
        """
        While a partition has no leader, the metadata is refreshed at most once
        per C{retry.backoff.ms}.
        """
        self.send(LOST)
        before = self.cluster.metadata_requests()
        self.reactor.settle()
        self.advance(1.0, 100)
        self.assertLessEqual(self.cluster.metadata_requests() - before, 11)


class OrderingTests(SenderTestCase):
    """
    With one request in flight per connection and no idempotence, a partition
    never has two batches in flight: its records keep their order.
    """

    max_in_flight = 1

    def test_leader_change_keeps_order(self) -> None:
        """
        While a batch waits for its answer from the old leader, the next batch is
        not sent to the new one; the first is retried there, then the second.
        """
        self.send(O1)  # connects to node 2, which then answers Metadata
        self.reactor.settle()
        to_node_2 = len(self.cluster.requests_to(2))
        self.cluster.hold.add(1)
        first = self.send(O0, b"first")
        self.reactor.settle()
        self.cluster.set_leader(O0, 2)
        self.successResultOf(self.metadata.refresh())
        second = self.send(O0, b"second")
        self.reactor.settle()
        self.assertEqual(len(self.cluster.requests_to(2)), to_node_2)
        self.cluster.errors[O0] = [NOT_LEADER]
        self.cluster.release(1)
        self.advance(0.5, 5)
        self.assertEqual(self.values(O0), [b"first", b"second"])
        self.assertEqual([outcome(f).offset for f in (first, second)], [0, 1])  # type: ignore[union-attr]


class IdleTests(SenderTestCase):
    """
    L{Sender.when_idle}, L{Sender.force_close} and L{Sender.stop}.
    """

    linger_ms = 1000

    def test_idle_at_once(self) -> None:
        """
        With nothing queued or in flight, C{when_idle} fires on the next run.
        """
        d = self.sender.when_idle()
        self.reactor.settle()
        self.assertIsNone(self.successResultOf(d))

    def test_idle_after_answers(self) -> None:
        """
        C{when_idle} waits for queued batches and requests in flight.
        """
        self.accumulator.linger_ms = 0
        self.cluster.hold.add(1)
        future = self.send(O0)
        d = self.sender.when_idle()
        self.reactor.settle()
        self.assertNoResult(d)
        self.cluster.release(1)
        self.reactor.settle()
        self.successResultOf(d)
        self.assertIsInstance(outcome(future), RecordMetadata)

    def test_cancel_idle_wait(self) -> None:
        """
        Cancelling C{when_idle}'s Deferred stops the wait and nothing else.
        """
        self.send(O0)
        d = self.sender.when_idle()
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.advance(1.0)
        self.assertFalse(self.accumulator.has_incomplete())

    def test_force_close(self) -> None:
        """
        C{force_close} fails queued and in-flight records with the error given,
        ignores the answers that come later and leaves no delayed call.
        """
        self.accumulator.linger_ms = 0
        self.cluster.hold.add(1)
        in_flight = self.send(O0)
        self.reactor.settle()
        self.accumulator.linger_ms = 1000
        queued = self.send(O1)
        self.reactor.settle()
        waiting = self.sender.when_idle()
        error = errors.IllegalStateError("closing")
        self.sender.force_close(error)
        self.assertEqual([outcome(in_flight), outcome(queued)], [error, error])
        self.successResultOf(waiting)
        self.successResultOf(self.sender.when_idle())
        self.cluster.release(1)
        self.metadata.stop()
        self.pool.close()
        self.reactor.settle()
        self.assertIs(outcome(in_flight), error)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_stop(self) -> None:
        """
        After C{stop} no delayed call is left and wake-ups are ignored.
        """
        self.send(O0)
        self.reactor.settle()
        self.assertNotEqual(self.reactor.getDelayedCalls(), [])
        self.sender.stop()
        self.metadata.stop()
        self.sender.wakeup()
        self.reactor.settle()
        self.assertTrue(self.reactor.idle())

    def test_stop_with_answer_pending(self) -> None:
        """
        An answer that comes after C{stop} schedules nothing.
        """
        self.accumulator.linger_ms = 0
        self.cluster.hold.add(1)
        self.cluster.errors[O0] = [NOT_LEADER]
        self.send(O0)
        self.reactor.settle()
        self.sender.stop()
        self.metadata.stop()
        self.cluster.release(1)
        self.reactor.settle()
        self.assertEqual(self.reactor.getDelayedCalls(), [])
